//! ActivityPub activities as facts in the log: each one received (`Inbound`) and each one we
//! send (`Outbound`), keyed by the activity's `id`.
//!
//! The raw JSON is kept as text, exactly as received or sent; it is the only place events carry
//! ActivityPub JSON. Keying by the activity id makes receipt idempotent: a redelivered activity
//! finds its aggregate already received and appends nothing, so whoever interprets activities
//! does so once.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedActivity {
    pub activity_id: String,
    /// The verified signer's actor, equal to the activity's `actor`.
    pub actor_uri: String,
    /// `type` (`Follow`, `Undo`…), whatever it is.
    pub kind: String,
    /// The `type` of the embedded object, when the object is embedded.
    pub object_kind: Option<String>,
    /// The activity as received (JSON text).
    pub raw: String,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InboundCommand {
    Receive(ReceivedActivity),
    /// The inbox worker has done what the activity asks (`outcome` says what, for people
    /// reading the log: "applied", "ignored: …", "failed: …").
    Interpret {
        outcome: String,
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboundEvent {
    ActivityReceived(ReceivedActivity),
    ActivityInterpreted { outcome: String, at: Millis },
}

impl DomainEvent for InboundEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ActivityReceived(_) => "ActivityReceived",
            Self::ActivityInterpreted { .. } => "ActivityInterpreted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// Receipt cannot fail: a second receipt is simply nothing new.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActivityError {
    #[error("an activity needs an id")]
    NoId,
    #[error("no such activity was queued")]
    NotQueued,
    #[error("no such activity was received")]
    NotReceived,
}

impl ActivityError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoId => "no_id",
            Self::NotQueued => "not_queued",
            Self::NotReceived => "not_received",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Inbound {
    pub received: bool,
    #[serde(default)]
    pub interpreted: bool,
}

impl Aggregate for Inbound {
    const TYPE: &'static str = "inbound";
    type Command = InboundCommand;
    type Event = InboundEvent;
    type Error = ActivityError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            InboundCommand::Receive(activity) => {
                if activity.activity_id.is_empty() {
                    return Err(ActivityError::NoId);
                }
                if !self.received {
                    sink.write(InboundEvent::ActivityReceived(activity), self)
                        .await;
                }
            }
            InboundCommand::Interpret { outcome, at } => {
                if !self.received {
                    return Err(ActivityError::NotReceived);
                }
                if !self.interpreted {
                    sink.write(InboundEvent::ActivityInterpreted { outcome, at }, self)
                        .await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            InboundEvent::ActivityReceived(_) => self.received = true,
            InboundEvent::ActivityInterpreted { .. } => self.interpreted = true,
        }
    }
}

/// An activity a local account sends, and the inboxes it goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedActivity {
    pub activity_id: String,
    /// The local account whose key signs it.
    pub account_id: String,
    pub kind: String,
    pub inboxes: Vec<String>,
    /// The activity as sent (JSON text).
    pub raw: String,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutboundCommand {
    Queue(QueuedActivity),
    /// The inbox acknowledged the activity.
    RecordSuccess {
        inbox: String,
        at: Millis,
    },
    /// An attempt failed; the next one is due at `retry_at`, unless that is past `give_up_at`,
    /// in which case the delivery is abandoned.
    RecordFailure {
        inbox: String,
        attempt: i64,
        error: String,
        at: Millis,
        retry_at: Millis,
        give_up_at: Millis,
    },
    /// Stop trying (the give-up time has passed without an attempt).
    Abandon {
        inbox: String,
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboundEvent {
    ActivityQueued(QueuedActivity),
    DeliverySucceeded {
        inbox: String,
        at: Millis,
    },
    /// `retry_at` is when the next attempt is due: the sender's backoff schedule
    /// ([`retry_at`]) is decided when the failure happens and kept with it, so replaying the
    /// log gives the same schedule whatever the node's configuration is then.
    DeliveryFailed {
        inbox: String,
        attempt: i64,
        error: String,
        at: Millis,
        retry_at: Millis,
    },
    DeliveryAbandoned {
        inbox: String,
        at: Millis,
    },
}

impl DomainEvent for OutboundEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ActivityQueued(_) => "ActivityQueued",
            Self::DeliverySucceeded { .. } => "DeliverySucceeded",
            Self::DeliveryFailed { .. } => "DeliveryFailed",
            Self::DeliveryAbandoned { .. } => "DeliveryAbandoned",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// When attempt `attempt + 1` is due after attempt `attempt` (1-based) failed at `at`:
/// exponential backoff from `base_ms`, doubled per attempt, capped at `cap_ms`, plus up to a
/// quarter of it as jitter derived from the activity id (deterministic, so that many activities
/// failing at once do not all retry at once, yet one activity always gets the same schedule).
pub fn retry_at(activity_id: &str, attempt: i64, at: Millis, base_ms: i64, cap_ms: i64) -> Millis {
    let exponent = u32::try_from(attempt.clamp(1, 40) - 1).unwrap_or(0);
    let delay = base_ms
        .max(1)
        .saturating_mul(1i64 << exponent.min(40))
        .min(cap_ms.max(1));
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = activity_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let quarter = (delay / 4).max(1);
    let jitter = i64::try_from(hash % u64::try_from(quarter).unwrap_or(1)).unwrap_or(0);
    at.saturating_add(delay).saturating_add(jitter)
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Outbound {
    pub queued: bool,
    /// Inboxes delivered or abandoned: their outcome is final, later results are ignored.
    #[serde(default)]
    pub finished: Vec<String>,
}

impl Aggregate for Outbound {
    const TYPE: &'static str = "outbound";
    type Command = OutboundCommand;
    type Event = OutboundEvent;
    type Error = ActivityError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let inbox = match &command {
            OutboundCommand::Queue(activity) => {
                if activity.activity_id.is_empty() {
                    return Err(ActivityError::NoId);
                }
                if !self.queued {
                    sink.write(OutboundEvent::ActivityQueued(activity.clone()), self)
                        .await;
                }
                return Ok(());
            }
            OutboundCommand::RecordSuccess { inbox, .. }
            | OutboundCommand::RecordFailure { inbox, .. }
            | OutboundCommand::Abandon { inbox, .. } => inbox.clone(),
        };
        if !self.queued {
            return Err(ActivityError::NotQueued);
        }
        if self.finished.contains(&inbox) {
            return Ok(());
        }
        match command {
            OutboundCommand::Queue(_) => {}
            OutboundCommand::RecordSuccess { inbox, at } => {
                sink.write(OutboundEvent::DeliverySucceeded { inbox, at }, self)
                    .await;
            }
            OutboundCommand::RecordFailure {
                inbox,
                attempt,
                error,
                at,
                retry_at,
                give_up_at,
            } => {
                let abandon = retry_at > give_up_at;
                let failed = OutboundEvent::DeliveryFailed {
                    inbox: inbox.clone(),
                    attempt,
                    error,
                    at,
                    retry_at,
                };
                sink.write(failed, self).await;
                if abandon {
                    sink.write(OutboundEvent::DeliveryAbandoned { inbox, at }, self)
                        .await;
                }
            }
            OutboundCommand::Abandon { inbox, at } => {
                sink.write(OutboundEvent::DeliveryAbandoned { inbox, at }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OutboundEvent::ActivityQueued(_) => self.queued = true,
            OutboundEvent::DeliverySucceeded { inbox, .. }
            | OutboundEvent::DeliveryAbandoned { inbox, .. } => self.finished.push(inbox),
            OutboundEvent::DeliveryFailed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn follow() -> ReceivedActivity {
        ReceivedActivity {
            activity_id: "https://b.example/f/1".into(),
            actor_uri: "https://b.example/users/ben".into(),
            kind: "Follow".into(),
            object_kind: None,
            raw: "{}".into(),
            at: 1,
        }
    }

    #[test]
    fn an_activity_is_received_once() {
        TestFramework::<Inbound>::with(())
            .given_no_previous_events()
            .when(InboundCommand::Receive(follow()))
            .then_expect_events(vec![InboundEvent::ActivityReceived(follow())]);
        TestFramework::<Inbound>::with(())
            .given(vec![InboundEvent::ActivityReceived(follow())])
            .when(InboundCommand::Receive(follow()))
            .then_expect_events(vec![]);
        let mut anonymous = follow();
        anonymous.activity_id.clear();
        TestFramework::<Inbound>::with(())
            .given_no_previous_events()
            .when(InboundCommand::Receive(anonymous))
            .then_expect_error(ActivityError::NoId);
    }

    #[test]
    fn an_activity_is_interpreted_once_and_only_after_receipt() {
        let done = || InboundCommand::Interpret {
            outcome: "applied".into(),
            at: 2,
        };
        TestFramework::<Inbound>::with(())
            .given(vec![InboundEvent::ActivityReceived(follow())])
            .when(done())
            .then_expect_events(vec![InboundEvent::ActivityInterpreted {
                outcome: "applied".into(),
                at: 2,
            }]);
        TestFramework::<Inbound>::with(())
            .given(vec![
                InboundEvent::ActivityReceived(follow()),
                InboundEvent::ActivityInterpreted {
                    outcome: "applied".into(),
                    at: 2,
                },
            ])
            .when(done())
            .then_expect_events(vec![]);
        TestFramework::<Inbound>::with(())
            .given_no_previous_events()
            .when(done())
            .then_expect_error(ActivityError::NotReceived);
    }

    #[test]
    fn an_activity_is_queued_once() {
        let queued = QueuedActivity {
            activity_id: "https://a.example/users/ana/follows/1".into(),
            account_id: "7".into(),
            kind: "Follow".into(),
            inboxes: vec!["https://b.example/inbox".into()],
            raw: "{}".into(),
            at: 1,
        };
        TestFramework::<Outbound>::with(())
            .given(vec![OutboundEvent::ActivityQueued(queued.clone())])
            .when(OutboundCommand::Queue(queued))
            .then_expect_events(vec![]);
    }

    fn queued() -> OutboundEvent {
        OutboundEvent::ActivityQueued(QueuedActivity {
            activity_id: "https://a.example/f/1".into(),
            account_id: "7".into(),
            kind: "Follow".into(),
            inboxes: vec!["https://b.example/inbox".into()],
            raw: "{}".into(),
            at: 1,
        })
    }

    fn failure(retry_at: Millis, give_up_at: Millis) -> OutboundCommand {
        OutboundCommand::RecordFailure {
            inbox: "https://b.example/inbox".into(),
            attempt: 1,
            error: "refused".into(),
            at: 10,
            retry_at,
            give_up_at,
        }
    }

    #[test]
    fn a_failure_past_the_give_up_time_abandons_the_delivery() {
        let failed = OutboundEvent::DeliveryFailed {
            inbox: "https://b.example/inbox".into(),
            attempt: 1,
            error: "refused".into(),
            at: 10,
            retry_at: 20,
        };
        TestFramework::<Outbound>::with(())
            .given(vec![queued()])
            .when(failure(20, 100))
            .then_expect_events(vec![failed.clone()]);
        TestFramework::<Outbound>::with(())
            .given(vec![queued()])
            .when(failure(20, 15))
            .then_expect_events(vec![
                failed,
                OutboundEvent::DeliveryAbandoned {
                    inbox: "https://b.example/inbox".into(),
                    at: 10,
                },
            ]);
    }

    #[test]
    fn a_delivered_inbox_takes_no_further_outcome() {
        let success = OutboundCommand::RecordSuccess {
            inbox: "https://b.example/inbox".into(),
            at: 5,
        };
        TestFramework::<Outbound>::with(())
            .given(vec![
                queued(),
                OutboundEvent::DeliverySucceeded {
                    inbox: "https://b.example/inbox".into(),
                    at: 4,
                },
            ])
            .when(success.clone())
            .then_expect_events(vec![]);
        TestFramework::<Outbound>::with(())
            .given_no_previous_events()
            .when(success)
            .then_expect_error(ActivityError::NotQueued);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_by_activity() {
        let a = |attempt| retry_at("https://a/1", attempt, 0, 1000, 60_000);
        assert!((1000..1250).contains(&a(1)));
        assert!((2000..2500).contains(&a(2)));
        assert!((60_000..75_000).contains(&a(20)));
        assert_eq!(a(3), a(3));
        let others: Vec<i64> = (0..20)
            .map(|i| retry_at(&format!("https://a/{i}"), 3, 0, 1000, 60_000))
            .collect();
        assert!(others.iter().any(|t| *t != others[0]), "jitter varies");
    }
}
