//! Remote accounts: what we last read of an actor on another server.
//!
//! The aggregate id is the actor's URI (its ActivityPub `id`). The first fetch gives the account
//! its local id (a snowflake the caller makes, like every other id); later fetches record only
//! what changed. Fetching the same document again appends nothing. An actor that deleted itself
//! (`Delete` of the actor, signed by it) is gone for good: later documents are refused.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

/// An actor document as we keep it: already checked by the federation layer (the id's host is
/// the domain, the key belongs to the actor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteProfile {
    pub uri: String,
    /// `preferredUsername`.
    pub username: String,
    /// The host (and port) of the actor's WebFinger address.
    pub domain: String,
    pub display_name: String,
    /// `summary`, HTML as the remote server wrote it (sanitised when rendered).
    pub note_html: String,
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    /// The profile page for people.
    pub url: Option<String>,
    pub locked: bool,
    pub bot: bool,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub followers: Option<String>,
    pub following: Option<String>,
    pub public_key_id: String,
    pub public_key_pem: String,
}

// A command lives for one call: boxing the profile would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteAccountCommand {
    /// Record a fetched actor document; `id` is used only the first time.
    Fetch {
        id: String,
        profile: RemoteProfile,
        at: Millis,
    },
    /// The actor deleted itself; deleting it again changes nothing.
    Delete { at: Millis },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteAccountEvent {
    RemoteAccountFetched {
        id: String,
        #[serde(flatten)]
        profile: RemoteProfile,
        at: Millis,
    },
    RemoteAccountRefreshed {
        #[serde(flatten)]
        profile: RemoteProfile,
        at: Millis,
    },
    RemoteAccountDeleted {
        at: Millis,
    },
}

impl DomainEvent for RemoteAccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::RemoteAccountFetched { .. } => "RemoteAccountFetched",
            Self::RemoteAccountRefreshed { .. } => "RemoteAccountRefreshed",
            Self::RemoteAccountDeleted { .. } => "RemoteAccountDeleted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteAccountError {
    /// The document's id is not the actor this aggregate is about.
    #[error("the actor document names another actor ({0})")]
    OtherActor(String),
    /// The actor deleted itself.
    #[error("this account was deleted on its server")]
    Gone,
    #[error("this account is not known")]
    NotFound,
}

impl RemoteAccountError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::OtherActor(_) => "other_actor",
            Self::Gone => "gone",
            Self::NotFound => "not_found",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RemoteAccount {
    pub id: Option<String>,
    pub profile: Option<RemoteProfile>,
    pub deleted: bool,
}

impl Aggregate for RemoteAccount {
    const TYPE: &'static str = "remote_account";
    type Command = RemoteAccountCommand;
    type Event = RemoteAccountEvent;
    type Error = RemoteAccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let (id, profile, at) = match command {
            RemoteAccountCommand::Fetch { id, profile, at } => (id, profile, at),
            RemoteAccountCommand::Delete { at } => {
                if self.profile.is_none() {
                    return Err(RemoteAccountError::NotFound);
                }
                if !self.deleted {
                    sink.write(RemoteAccountEvent::RemoteAccountDeleted { at }, self)
                        .await;
                }
                return Ok(());
            }
        };
        if self.deleted {
            return Err(RemoteAccountError::Gone);
        }
        let event = match &self.profile {
            None => RemoteAccountEvent::RemoteAccountFetched { id, profile, at },
            Some(known) if known.uri != profile.uri => {
                return Err(RemoteAccountError::OtherActor(profile.uri))
            }
            Some(known) if *known == profile => return Ok(()),
            Some(_) => RemoteAccountEvent::RemoteAccountRefreshed { profile, at },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RemoteAccountEvent::RemoteAccountFetched { id, profile, .. } => {
                self.id = Some(id);
                self.profile = Some(profile);
            }
            RemoteAccountEvent::RemoteAccountRefreshed { profile, .. } => {
                self.profile = Some(profile)
            }
            RemoteAccountEvent::RemoteAccountDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    pub(crate) fn profile() -> RemoteProfile {
        RemoteProfile {
            uri: "https://b.example/users/ben".into(),
            username: "ben".into(),
            domain: "b.example".into(),
            display_name: "Ben".into(),
            note_html: "<p>hi</p>".into(),
            avatar_url: None,
            header_url: None,
            url: Some("https://b.example/@ben".into()),
            locked: false,
            bot: false,
            inbox: "https://b.example/users/ben/inbox".into(),
            shared_inbox: Some("https://b.example/inbox".into()),
            followers: None,
            following: None,
            public_key_id: "https://b.example/users/ben#main-key".into(),
            public_key_pem: "pem".into(),
        }
    }

    fn fetch(profile: RemoteProfile) -> RemoteAccountCommand {
        RemoteAccountCommand::Fetch {
            id: "9".into(),
            profile,
            at: 2,
        }
    }

    fn fetched() -> RemoteAccountEvent {
        RemoteAccountEvent::RemoteAccountFetched {
            id: "1".into(),
            profile: profile(),
            at: 1,
        }
    }

    #[test]
    fn the_first_fetch_names_the_account_and_the_same_document_again_changes_nothing() {
        TestFramework::<RemoteAccount>::with(())
            .given_no_previous_events()
            .when(fetch(profile()))
            .then_expect_events(vec![RemoteAccountEvent::RemoteAccountFetched {
                id: "9".into(),
                profile: profile(),
                at: 2,
            }]);
        TestFramework::<RemoteAccount>::with(())
            .given(vec![fetched()])
            .when(fetch(profile()))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_changed_document_is_a_refresh_and_another_actor_is_refused() {
        let mut changed = profile();
        changed.locked = true;
        TestFramework::<RemoteAccount>::with(())
            .given(vec![fetched()])
            .when(fetch(changed.clone()))
            .then_expect_events(vec![RemoteAccountEvent::RemoteAccountRefreshed {
                profile: changed,
                at: 2,
            }]);
        let mut other = profile();
        other.uri = "https://b.example/users/eve".into();
        TestFramework::<RemoteAccount>::with(())
            .given(vec![fetched()])
            .when(fetch(other))
            .then_expect_error(RemoteAccountError::OtherActor(
                "https://b.example/users/eve".into(),
            ));
    }

    #[test]
    fn events_keep_a_flat_payload() {
        let v = serde_json::to_value(fetched()).expect("json");
        let body = &v["RemoteAccountFetched"];
        assert_eq!(body["id"], "1");
        assert_eq!(body["uri"], "https://b.example/users/ben");
        assert_eq!(
            body["public_key_id"],
            "https://b.example/users/ben#main-key"
        );
        let back: RemoteAccountEvent = serde_json::from_value(v).expect("back");
        assert_eq!(back, fetched());
    }

    #[test]
    fn a_deleted_actor_is_gone_for_good() {
        TestFramework::<RemoteAccount>::with(())
            .given(vec![fetched()])
            .when(RemoteAccountCommand::Delete { at: 5 })
            .then_expect_events(vec![RemoteAccountEvent::RemoteAccountDeleted { at: 5 }]);
        let deleted = || {
            vec![
                fetched(),
                RemoteAccountEvent::RemoteAccountDeleted { at: 5 },
            ]
        };
        TestFramework::<RemoteAccount>::with(())
            .given(deleted())
            .when(RemoteAccountCommand::Delete { at: 6 })
            .then_expect_events(vec![]);
        TestFramework::<RemoteAccount>::with(())
            .given(deleted())
            .when(fetch(profile()))
            .then_expect_error(RemoteAccountError::Gone);
        TestFramework::<RemoteAccount>::with(())
            .given_no_previous_events()
            .when(RemoteAccountCommand::Delete { at: 6 })
            .then_expect_error(RemoteAccountError::NotFound);
    }
}
