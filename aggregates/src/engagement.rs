//! Engagements: one account's favourite and bookmark of one status.
//!
//! The aggregate id is `"{account_id}:{status_id}"`. Favouriting twice is not an error (Mastodon
//! answers with the status either way) and appends nothing the second time. Events carry the
//! status's author so the notifications read model needs no lookup.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, PartialEq)]
pub enum EngagementCommand {
    Favourite { target: Target, at: Millis },
    Unfavourite { at: Millis },
    Bookmark { target: Target, at: Millis },
    Unbookmark { at: Millis },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngagementEvent {
    Favourited { target: Target, at: Millis },
    Unfavourited { target: Target, at: Millis },
    Bookmarked { target: Target, at: Millis },
    Unbookmarked { target: Target, at: Millis },
}

impl DomainEvent for EngagementEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Favourited { .. } => "Favourited",
            Self::Unfavourited { .. } => "Unfavourited",
            Self::Bookmarked { .. } => "Bookmarked",
            Self::Unbookmarked { .. } => "Unbookmarked",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngagementError {}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Engagement {
    pub target: Option<Target>,
    pub favourited: bool,
    pub bookmarked: bool,
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
            E::Unfavourited { .. } => self.favourited = false,
            E::Unbookmarked { .. } => self.bookmarked = false,
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
}
