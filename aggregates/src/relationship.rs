//! Relationships: what one account does towards another (follow, follow request, block, mute).
//!
//! The aggregate id is `"{account_id}:{target_id}"`, one aggregate per ordered pair, so each
//! pair's history is short and two people's actions towards each other never conflict. Blocking
//! also breaks the other direction's follow: the API sends `Sever` to the reverse pair.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

pub fn relationship_id(account_id: &str, target_id: &str) -> String {
    format!("{account_id}:{target_id}")
}

#[derive(Debug, Clone, PartialEq)]
pub enum RelationshipCommand {
    /// `locked`: the target approves followers by hand, so this becomes a request.
    Follow {
        account_id: String,
        target_id: String,
        locked: bool,
        at: Millis,
    },
    /// The follower stops following, or withdraws a pending request.
    Unfollow {
        at: Millis,
    },
    /// The target accepts a pending request.
    Authorize {
        at: Millis,
    },
    /// The target refuses a pending request.
    Reject {
        at: Millis,
    },
    /// The target blocked the follower: the follow or request ends.
    Sever {
        at: Millis,
    },
    Block {
        account_id: String,
        target_id: String,
        at: Millis,
    },
    Unblock {
        at: Millis,
    },
    Mute {
        account_id: String,
        target_id: String,
        notifications: bool,
        at: Millis,
    },
    Unmute {
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub account_id: String,
    pub target_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelationshipEvent {
    FollowRequested {
        pair: Pair,
        at: Millis,
    },
    Followed {
        pair: Pair,
        at: Millis,
    },
    FollowRequestRejected {
        pair: Pair,
        at: Millis,
    },
    FollowRequestWithdrawn {
        pair: Pair,
        at: Millis,
    },
    Unfollowed {
        pair: Pair,
        at: Millis,
    },
    Blocked {
        pair: Pair,
        at: Millis,
    },
    Unblocked {
        pair: Pair,
        at: Millis,
    },
    Muted {
        pair: Pair,
        notifications: bool,
        at: Millis,
    },
    Unmuted {
        pair: Pair,
        at: Millis,
    },
}

impl RelationshipEvent {
    pub fn pair(&self) -> &Pair {
        match self {
            Self::FollowRequested { pair, .. }
            | Self::Followed { pair, .. }
            | Self::FollowRequestRejected { pair, .. }
            | Self::FollowRequestWithdrawn { pair, .. }
            | Self::Unfollowed { pair, .. }
            | Self::Blocked { pair, .. }
            | Self::Unblocked { pair, .. }
            | Self::Muted { pair, .. }
            | Self::Unmuted { pair, .. } => pair,
        }
    }
}

impl DomainEvent for RelationshipEvent {
    fn event_type(&self) -> String {
        match self {
            Self::FollowRequested { .. } => "FollowRequested",
            Self::Followed { .. } => "Followed",
            Self::FollowRequestRejected { .. } => "FollowRequestRejected",
            Self::FollowRequestWithdrawn { .. } => "FollowRequestWithdrawn",
            Self::Unfollowed { .. } => "Unfollowed",
            Self::Blocked { .. } => "Blocked",
            Self::Unblocked { .. } => "Unblocked",
            Self::Muted { .. } => "Muted",
            Self::Unmuted { .. } => "Unmuted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelationshipError {
    #[error("you cannot follow, block or mute yourself")]
    SelfTarget,
    #[error("you are blocking this account")]
    Blocking,
    #[error("Record not found")]
    NoRequest,
}

impl RelationshipError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::SelfTarget => "self",
            Self::Blocking => "blocking",
            Self::NoRequest => "not_found",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FollowState {
    #[default]
    None,
    Requested,
    Following,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Relationship {
    pub pair: Option<Pair>,
    pub follow: FollowState,
    pub blocking: bool,
    pub muting: Option<bool>,
}

impl Aggregate for Relationship {
    const TYPE: &'static str = "relationship";
    type Command = RelationshipCommand;
    type Event = RelationshipEvent;
    type Error = RelationshipError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use RelationshipCommand as C;
        use RelationshipEvent as E;
        let pair = |account_id: String, target_id: String| {
            if account_id == target_id {
                Err(RelationshipError::SelfTarget)
            } else {
                Ok(Pair {
                    account_id,
                    target_id,
                })
            }
        };
        let mut events = Vec::new();
        match command {
            C::Follow {
                account_id,
                target_id,
                locked,
                at,
            } => {
                let pair = pair(account_id, target_id)?;
                if self.blocking {
                    return Err(RelationshipError::Blocking);
                }
                match self.follow {
                    FollowState::None if locked => events.push(E::FollowRequested { pair, at }),
                    FollowState::None => events.push(E::Followed { pair, at }),
                    FollowState::Requested | FollowState::Following => {}
                }
            }
            C::Unfollow { at } => {
                if let Some(pair) = self.pair.clone() {
                    match self.follow {
                        FollowState::Requested => {
                            events.push(E::FollowRequestWithdrawn { pair, at })
                        }
                        FollowState::Following => events.push(E::Unfollowed { pair, at }),
                        FollowState::None => {}
                    }
                }
            }
            C::Authorize { at } => match (&self.pair, self.follow) {
                (Some(pair), FollowState::Requested) => events.push(E::Followed {
                    pair: pair.clone(),
                    at,
                }),
                (Some(_), FollowState::Following) => {}
                _ => return Err(RelationshipError::NoRequest),
            },
            C::Reject { at } => match (&self.pair, self.follow) {
                (Some(pair), FollowState::Requested) => events.push(E::FollowRequestRejected {
                    pair: pair.clone(),
                    at,
                }),
                _ => return Err(RelationshipError::NoRequest),
            },
            C::Sever { at } => {
                if let Some(pair) = self.pair.clone() {
                    match self.follow {
                        FollowState::Requested => {
                            events.push(E::FollowRequestRejected { pair, at })
                        }
                        FollowState::Following => events.push(E::Unfollowed { pair, at }),
                        FollowState::None => {}
                    }
                }
            }
            C::Block {
                account_id,
                target_id,
                at,
            } => {
                let pair = pair(account_id, target_id)?;
                if !self.blocking {
                    match self.follow {
                        FollowState::Requested => events.push(E::FollowRequestWithdrawn {
                            pair: pair.clone(),
                            at,
                        }),
                        FollowState::Following => events.push(E::Unfollowed {
                            pair: pair.clone(),
                            at,
                        }),
                        FollowState::None => {}
                    }
                    events.push(E::Blocked { pair, at });
                }
            }
            C::Unblock { at } => {
                if let (Some(pair), true) = (&self.pair, self.blocking) {
                    events.push(E::Unblocked {
                        pair: pair.clone(),
                        at,
                    });
                }
            }
            C::Mute {
                account_id,
                target_id,
                notifications,
                at,
            } => {
                let pair = pair(account_id, target_id)?;
                if self.muting != Some(notifications) {
                    events.push(E::Muted {
                        pair,
                        notifications,
                        at,
                    });
                }
            }
            C::Unmute { at } => {
                if let (Some(pair), Some(_)) = (&self.pair, self.muting) {
                    events.push(E::Unmuted {
                        pair: pair.clone(),
                        at,
                    });
                }
            }
        }
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use RelationshipEvent as E;
        if self.pair.is_none() {
            self.pair = Some(event.pair().clone());
        }
        match event {
            E::FollowRequested { .. } => self.follow = FollowState::Requested,
            E::Followed { .. } => self.follow = FollowState::Following,
            E::FollowRequestRejected { .. }
            | E::FollowRequestWithdrawn { .. }
            | E::Unfollowed { .. } => self.follow = FollowState::None,
            E::Blocked { .. } => self.blocking = true,
            E::Unblocked { .. } => self.blocking = false,
            E::Muted { notifications, .. } => self.muting = Some(notifications),
            E::Unmuted { .. } => self.muting = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use RelationshipCommand as C;
    use RelationshipEvent as E;

    fn relationship() -> TestFramework<Relationship> {
        TestFramework::with(())
    }

    fn pair() -> Pair {
        Pair {
            account_id: "1".into(),
            target_id: "2".into(),
        }
    }

    fn follow(locked: bool) -> C {
        C::Follow {
            account_id: "1".into(),
            target_id: "2".into(),
            locked,
            at: 1,
        }
    }

    #[test]
    fn following_an_open_account_is_immediate_and_idempotent() {
        relationship()
            .given_no_previous_events()
            .when(follow(false))
            .then_expect_events(vec![E::Followed {
                pair: pair(),
                at: 1,
            }]);
        relationship()
            .given(vec![E::Followed {
                pair: pair(),
                at: 1,
            }])
            .when(follow(false))
            .then_expect_events(vec![]);
    }

    #[test]
    fn nobody_follows_themselves() {
        relationship()
            .given_no_previous_events()
            .when(C::Follow {
                account_id: "1".into(),
                target_id: "1".into(),
                locked: false,
                at: 1,
            })
            .then_expect_error(RelationshipError::SelfTarget);
    }

    #[test]
    fn a_locked_account_approves_or_rejects_requests() {
        relationship()
            .given_no_previous_events()
            .when(follow(true))
            .then_expect_events(vec![E::FollowRequested {
                pair: pair(),
                at: 1,
            }]);
        relationship()
            .given(vec![E::FollowRequested {
                pair: pair(),
                at: 1,
            }])
            .when(C::Authorize { at: 2 })
            .then_expect_events(vec![E::Followed {
                pair: pair(),
                at: 2,
            }]);
        relationship()
            .given(vec![E::FollowRequested {
                pair: pair(),
                at: 1,
            }])
            .when(C::Reject { at: 2 })
            .then_expect_events(vec![E::FollowRequestRejected {
                pair: pair(),
                at: 2,
            }]);
        relationship()
            .given_no_previous_events()
            .when(C::Authorize { at: 2 })
            .then_expect_error(RelationshipError::NoRequest);
        relationship()
            .given(vec![E::FollowRequested {
                pair: pair(),
                at: 1,
            }])
            .when(C::Unfollow { at: 2 })
            .then_expect_events(vec![E::FollowRequestWithdrawn {
                pair: pair(),
                at: 2,
            }]);
    }

    #[test]
    fn blocking_ends_the_follow_and_prevents_a_new_one() {
        relationship()
            .given(vec![E::Followed {
                pair: pair(),
                at: 1,
            }])
            .when(C::Block {
                account_id: "1".into(),
                target_id: "2".into(),
                at: 2,
            })
            .then_expect_events(vec![
                E::Unfollowed {
                    pair: pair(),
                    at: 2,
                },
                E::Blocked {
                    pair: pair(),
                    at: 2,
                },
            ]);
        relationship()
            .given(vec![E::Blocked {
                pair: pair(),
                at: 2,
            }])
            .when(follow(false))
            .then_expect_error(RelationshipError::Blocking);
        relationship()
            .given(vec![E::Followed {
                pair: pair(),
                at: 1,
            }])
            .when(C::Sever { at: 3 })
            .then_expect_events(vec![E::Unfollowed {
                pair: pair(),
                at: 3,
            }]);
    }

    #[test]
    fn mutes_record_whether_notifications_are_hidden() {
        relationship()
            .given_no_previous_events()
            .when(C::Mute {
                account_id: "1".into(),
                target_id: "2".into(),
                notifications: true,
                at: 1,
            })
            .then_expect_events(vec![E::Muted {
                pair: pair(),
                notifications: true,
                at: 1,
            }]);
        relationship()
            .given(vec![E::Muted {
                pair: pair(),
                notifications: true,
                at: 1,
            }])
            .when(C::Unmute { at: 2 })
            .then_expect_events(vec![E::Unmuted {
                pair: pair(),
                at: 2,
            }]);
    }
}
