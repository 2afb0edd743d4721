//! Engagements: one account's favourite, bookmark and reblog (boost) of one status.
//!
//! The aggregate id is `"{account_id}:{status_id}"`. Favouriting or reblogging twice is not an
//! error (Mastodon answers with the status either way) and appends nothing the second time.
//! Events carry the status's author so the notifications read model needs no lookup.
//!
//! A reblog is, as in Mastodon, a status of its own (its id comes with the command) that points
//! at the original: the statuses read model makes it a row with `reblog_of_id`, so it shows in
//! the booster's followers' home timelines and on the booster's profile. Only public and unlisted
//! statuses can be reblogged.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::status::Visibility;
use crate::Millis;

pub fn engagement_id(account_id: &str, status_id: &str) -> String {
    format!("{account_id}:{status_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub account_id: String,
    pub status_id: String,
    /// The status's author.
    pub status_account_id: String,
}

/// The status a reblog is: its own id and visibility, and for a reblog received from another
/// node, the id of its `Announce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reblog {
    pub id: String,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngagementCommand {
    Favourite {
        target: Target,
        at: Millis,
    },
    Unfavourite {
        at: Millis,
    },
    Bookmark {
        target: Target,
        at: Millis,
    },
    Unbookmark {
        at: Millis,
    },
    /// Reblogs the target, whose visibility (`original`) the API read first.
    Reblog {
        target: Target,
        original: Visibility,
        reblog: Reblog,
        at: Millis,
    },
    Unreblog {
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngagementEvent {
    Favourited {
        target: Target,
        at: Millis,
    },
    Unfavourited {
        target: Target,
        at: Millis,
    },
    Bookmarked {
        target: Target,
        at: Millis,
    },
    Unbookmarked {
        target: Target,
        at: Millis,
    },
    Reblogged {
        target: Target,
        reblog: Reblog,
        at: Millis,
    },
    Unreblogged {
        target: Target,
        reblog: Reblog,
        at: Millis,
    },
}

impl EngagementEvent {
    /// The account, status and author the event is about.
    pub fn target(&self) -> &Target {
        match self {
            Self::Favourited { target, .. }
            | Self::Unfavourited { target, .. }
            | Self::Bookmarked { target, .. }
            | Self::Unbookmarked { target, .. }
            | Self::Reblogged { target, .. }
            | Self::Unreblogged { target, .. } => target,
        }
    }
}

impl DomainEvent for EngagementEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Favourited { .. } => "Favourited",
            Self::Unfavourited { .. } => "Unfavourited",
            Self::Bookmarked { .. } => "Bookmarked",
            Self::Unbookmarked { .. } => "Unbookmarked",
            Self::Reblogged { .. } => "Reblogged",
            Self::Unreblogged { .. } => "Unreblogged",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngagementError {
    #[error("{0} statuses cannot be reblogged")]
    NotReblogable(&'static str),
}

impl EngagementError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotReblogable(_) => "not_reblogable",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Engagement {
    pub target: Option<Target>,
    pub favourited: bool,
    pub bookmarked: bool,
    /// The current reblog, while there is one.
    #[serde(default)]
    pub reblog: Option<Reblog>,
}

impl Aggregate for Engagement {
    const TYPE: &'static str = "engagement";
    type Command = EngagementCommand;
    type Event = EngagementEvent;
    type Error = EngagementError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use EngagementCommand as C;
        use EngagementEvent as E;
        let event = match command {
            C::Favourite { target, at } if !self.favourited => E::Favourited { target, at },
            C::Bookmark { target, at } if !self.bookmarked => E::Bookmarked { target, at },
            C::Unfavourite { at } if self.favourited => match &self.target {
                Some(target) => E::Unfavourited {
                    target: target.clone(),
                    at,
                },
                None => return Ok(()),
            },
            C::Unbookmark { at } if self.bookmarked => match &self.target {
                Some(target) => E::Unbookmarked {
                    target: target.clone(),
                    at,
                },
                None => return Ok(()),
            },
            C::Reblog {
                target,
                original,
                reblog,
                at,
            } => {
                if matches!(original, Visibility::Private | Visibility::Direct) {
                    let kind = if original == Visibility::Private {
                        "Followers-only"
                    } else {
                        "Direct"
                    };
                    return Err(EngagementError::NotReblogable(kind));
                }
                if self.reblog.is_some() {
                    return Ok(());
                }
                E::Reblogged { target, reblog, at }
            }
            C::Unreblog { at } => match (&self.target, &self.reblog) {
                (Some(target), Some(reblog)) => E::Unreblogged {
                    target: target.clone(),
                    reblog: reblog.clone(),
                    at,
                },
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use EngagementEvent as E;
        match event {
            E::Favourited { target, .. } => {
                self.target = Some(target);
                self.favourited = true;
            }
            E::Bookmarked { target, .. } => {
                self.target = Some(target);
                self.bookmarked = true;
            }
            E::Reblogged { target, reblog, .. } => {
                self.target = Some(target);
                self.reblog = Some(reblog);
            }
            E::Unfavourited { .. } => self.favourited = false,
            E::Unbookmarked { .. } => self.bookmarked = false,
            E::Unreblogged { .. } => self.reblog = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use EngagementCommand as C;
    use EngagementEvent as E;

    fn target() -> Target {
        Target {
            account_id: "1".into(),
            status_id: "9".into(),
            status_account_id: "2".into(),
        }
    }

    #[test]
    fn favourites_toggle_and_repeat_harmlessly() {
        TestFramework::<Engagement>::with(())
            .given_no_previous_events()
            .when(C::Favourite {
                target: target(),
                at: 1,
            })
            .then_expect_events(vec![E::Favourited {
                target: target(),
                at: 1,
            }]);
        TestFramework::<Engagement>::with(())
            .given(vec![E::Favourited {
                target: target(),
                at: 1,
            }])
            .when(C::Favourite {
                target: target(),
                at: 2,
            })
            .then_expect_events(vec![]);
        TestFramework::<Engagement>::with(())
            .given(vec![E::Favourited {
                target: target(),
                at: 1,
            }])
            .when(C::Unfavourite { at: 2 })
            .then_expect_events(vec![E::Unfavourited {
                target: target(),
                at: 2,
            }]);
        TestFramework::<Engagement>::with(())
            .given_no_previous_events()
            .when(C::Unbookmark { at: 2 })
            .then_expect_events(vec![]);
    }

    #[test]
    fn bookmarks_are_independent_of_favourites() {
        TestFramework::<Engagement>::with(())
            .given(vec![E::Favourited {
                target: target(),
                at: 1,
            }])
            .when(C::Bookmark {
                target: target(),
                at: 2,
            })
            .then_expect_events(vec![E::Bookmarked {
                target: target(),
                at: 2,
            }]);
    }

    fn reblog(id: &str) -> Reblog {
        Reblog {
            id: id.into(),
            visibility: Visibility::Public,
            uri: None,
        }
    }

    fn reblog_of(original: Visibility, id: &str) -> C {
        C::Reblog {
            target: target(),
            original,
            reblog: reblog(id),
            at: 1,
        }
    }

    #[test]
    fn a_reblog_is_made_once_and_undone_once() {
        TestFramework::<Engagement>::with(())
            .given_no_previous_events()
            .when(reblog_of(Visibility::Unlisted, "50"))
            .then_expect_events(vec![E::Reblogged {
                target: target(),
                reblog: reblog("50"),
                at: 1,
            }]);
        let reblogged = || E::Reblogged {
            target: target(),
            reblog: reblog("50"),
            at: 1,
        };
        // Twice: the first reblog stays, nothing is appended.
        TestFramework::<Engagement>::with(())
            .given(vec![reblogged()])
            .when(reblog_of(Visibility::Public, "51"))
            .then_expect_events(vec![]);
        TestFramework::<Engagement>::with(())
            .given(vec![reblogged()])
            .when(C::Unreblog { at: 2 })
            .then_expect_events(vec![E::Unreblogged {
                target: target(),
                reblog: reblog("50"),
                at: 2,
            }]);
        TestFramework::<Engagement>::with(())
            .given(vec![
                reblogged(),
                E::Unreblogged {
                    target: target(),
                    reblog: reblog("50"),
                    at: 2,
                },
            ])
            .when(C::Unreblog { at: 3 })
            .then_expect_events(vec![]);
        // After an unreblog, a new reblog is a new status.
        TestFramework::<Engagement>::with(())
            .given(vec![
                reblogged(),
                E::Unreblogged {
                    target: target(),
                    reblog: reblog("50"),
                    at: 2,
                },
            ])
            .when(reblog_of(Visibility::Public, "52"))
            .then_expect_events(vec![E::Reblogged {
                target: target(),
                reblog: reblog("52"),
                at: 1,
            }]);
    }

    #[test]
    fn followers_only_and_direct_statuses_cannot_be_reblogged() {
        TestFramework::<Engagement>::with(())
            .given_no_previous_events()
            .when(reblog_of(Visibility::Private, "50"))
            .then_expect_error(EngagementError::NotReblogable("Followers-only"));
        TestFramework::<Engagement>::with(())
            .given_no_previous_events()
            .when(reblog_of(Visibility::Direct, "50"))
            .then_expect_error(EngagementError::NotReblogable("Direct"));
    }

    #[test]
    fn reblogs_are_independent_of_favourites() {
        TestFramework::<Engagement>::with(())
            .given(vec![E::Favourited {
                target: target(),
                at: 1,
            }])
            .when(C::Unreblog { at: 2 })
            .then_expect_events(vec![]);
    }
}
