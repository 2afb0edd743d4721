//! The node itself as an aggregate: registration mode and the settings an admin edits.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::account::ActorKey;
use crate::Millis;

/// Who may create an account on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationsMode {
    /// Anyone may register and log in at once.
    Open,
    /// Anyone may register; an admin approves the account before it can log in.
    #[default]
    Approval,
    /// Only admins create accounts.
    Closed,
}

impl RegistrationsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approval => "approval",
            Self::Closed => "closed",
        }
    }
}

impl std::str::FromStr for RegistrationsMode {
    type Err = InstanceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "approval" => Ok(Self::Approval),
            "closed" => Ok(Self::Closed),
            other => Err(InstanceError::UnknownRegistrationsMode(other.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InstanceSettings {
    pub title: Option<String>,
    pub description: Option<String>,
    pub contact_email: Option<String>,
    pub contact_username: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InstanceCommand {
    SetRegistrationsMode {
        mode: RegistrationsMode,
        at: Millis,
    },
    UpdateSettings {
        settings: InstanceSettings,
        at: Millis,
    },
    /// Gives the node's own actor (the instance actor, which signs the node's fetches) its key
    /// pair, once.
    GenerateActorKey {
        key: ActorKey,
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InstanceEvent {
    /// Version 2.0: `mode`. Version 1.0 carried `open: bool` (see `upcast`).
    RegistrationsModeChanged {
        mode: RegistrationsMode,
        at: Millis,
    },
    InstanceSettingsUpdated {
        settings: InstanceSettings,
        at: Millis,
    },
    InstanceActorKeyGenerated {
        key: ActorKey,
        at: Millis,
    },
}

impl DomainEvent for InstanceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::RegistrationsModeChanged { .. } => "RegistrationsModeChanged",
            Self::InstanceSettingsUpdated { .. } => "InstanceSettingsUpdated",
            Self::InstanceActorKeyGenerated { .. } => "InstanceActorKeyGenerated",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        match self {
            Self::RegistrationsModeChanged { .. } => "2.0",
            Self::InstanceSettingsUpdated { .. } | Self::InstanceActorKeyGenerated { .. } => "1.0",
        }
        .to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InstanceError {
    #[error("unknown registrations mode {0:?}: use open, approval or closed")]
    UnknownRegistrationsMode(String),
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    #[error("the instance actor already has a key")]
    KeyExists,
}

impl InstanceError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownRegistrationsMode(_) => "unknown_registrations_mode",
            Self::TooLong { .. } => "too_long",
            Self::KeyExists => "key_exists",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Instance {
    pub mode: RegistrationsMode,
    pub settings: InstanceSettings,
    /// Whether the instance actor has its key (snapshots older than the key lack the field).
    #[serde(default)]
    pub actor_key: bool,
}

fn check_len(field: &'static str, value: &Option<String>, max: usize) -> Result<(), InstanceError> {
    match value {
        Some(v) if v.chars().count() > max => Err(InstanceError::TooLong { field, max }),
        _ => Ok(()),
    }
}

impl Aggregate for Instance {
    const TYPE: &'static str = "instance";
    type Command = InstanceCommand;
    type Event = InstanceEvent;
    type Error = InstanceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            InstanceCommand::SetRegistrationsMode { mode, at } => {
                if mode != self.mode {
                    sink.write(InstanceEvent::RegistrationsModeChanged { mode, at }, self)
                        .await;
                }
            }
            InstanceCommand::UpdateSettings { settings, at } => {
                check_len("title", &settings.title, 200)?;
                check_len("description", &settings.description, 5000)?;
                check_len("contact_email", &settings.contact_email, 254)?;
                if settings != self.settings {
                    sink.write(
                        InstanceEvent::InstanceSettingsUpdated { settings, at },
                        self,
                    )
                    .await;
                }
            }
            InstanceCommand::GenerateActorKey { key, at } => {
                if self.actor_key {
                    return Err(InstanceError::KeyExists);
                }
                sink.write(InstanceEvent::InstanceActorKeyGenerated { key, at }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            InstanceEvent::RegistrationsModeChanged { mode, .. } => self.mode = mode,
            InstanceEvent::InstanceSettingsUpdated { settings, .. } => self.settings = settings,
            InstanceEvent::InstanceActorKeyGenerated { .. } => self.actor_key = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn instance() -> TestFramework<Instance> {
        TestFramework::with(())
    }

    #[test]
    fn changing_the_mode_records_it() {
        instance()
            .given_no_previous_events()
            .when(InstanceCommand::SetRegistrationsMode {
                mode: RegistrationsMode::Open,
                at: 1,
            })
            .then_expect_events(vec![InstanceEvent::RegistrationsModeChanged {
                mode: RegistrationsMode::Open,
                at: 1,
            }]);
    }

    #[test]
    fn setting_the_current_mode_again_records_nothing() {
        instance()
            .given(vec![InstanceEvent::RegistrationsModeChanged {
                mode: RegistrationsMode::Closed,
                at: 1,
            }])
            .when(InstanceCommand::SetRegistrationsMode {
                mode: RegistrationsMode::Closed,
                at: 2,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_overlong_title_is_refused() {
        let settings = InstanceSettings {
            title: Some("x".repeat(201)),
            ..Default::default()
        };
        instance()
            .given_no_previous_events()
            .when(InstanceCommand::UpdateSettings { settings, at: 1 })
            .then_expect_error(InstanceError::TooLong {
                field: "title",
                max: 200,
            });
    }

    #[test]
    fn the_instance_actor_gets_one_key() {
        let key = || ActorKey {
            public_pem: "public".into(),
            private_pem: "private".into(),
        };
        let generated = InstanceEvent::InstanceActorKeyGenerated { key: key(), at: 1 };
        instance()
            .given_no_previous_events()
            .when(InstanceCommand::GenerateActorKey { key: key(), at: 1 })
            .then_expect_events(vec![generated.clone()]);
        instance()
            .given(vec![generated])
            .when(InstanceCommand::GenerateActorKey { key: key(), at: 2 })
            .then_expect_error(InstanceError::KeyExists);
    }

    #[test]
    fn modes_parse_from_their_names_only() {
        assert_eq!("approval".parse(), Ok(RegistrationsMode::Approval));
        assert!("maybe".parse::<RegistrationsMode>().is_err());
    }
}
