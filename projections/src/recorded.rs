//! Events as projections read them: typed, upcast, with their global position.

use cqrs_es::persist::SerializedEvent;
use peerpx_aggregates::upcast::upcast;
use peerpx_aggregates::{
    AccountEvent, DomainBlockEvent, EngagementEvent, InboundEvent, InstanceEvent, MediaEvent,
    OutboundEvent, RelationshipEvent, RemoteAccountEvent, StatusEvent,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::TextRow;

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    Account(AccountEvent),
    Instance(InstanceEvent),
    Media(MediaEvent),
    Status(StatusEvent),
    Relationship(RelationshipEvent),
    Engagement(EngagementEvent),
    RemoteAccount(RemoteAccountEvent),
    Inbound(InboundEvent),
    Outbound(OutboundEvent),
    DomainBlock(DomainBlockEvent),
    /// An aggregate type this build does not know; projections skip it.
    Other {
        aggregate_type: String,
        event_type: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub position: i64,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event: DomainEvent,
}

pub const SELECT_RECORDED: &str = "SELECT position, aggregate_type, aggregate_id, sequence, \
    event_type, event_version, payload FROM events WHERE position > ? ORDER BY position LIMIT ?";

/// Whether any upcaster rewrites events of this type and version.
fn needs_upcast(event_type: &str, event_version: &str) -> bool {
    static ALL: std::sync::OnceLock<Vec<Box<dyn cqrs_es::persist::EventUpcaster>>> =
        std::sync::OnceLock::new();
    ALL.get_or_init(peerpx_aggregates::upcast::upcasters)
        .iter()
        .any(|u| u.can_upcast(event_type, event_version))
}

fn parse<T: serde::de::DeserializeOwned>(
    payload: &str,
    bad: impl Fn(String) -> Error,
) -> Result<T> {
    serde_json::from_str(payload).map_err(|e| bad(e.to_string()))
}

fn event_of(
    aggregate_type: &str,
    payload: &str,
    bad: impl Fn(String) -> Error,
) -> Result<DomainEvent> {
    Ok(match aggregate_type {
        "account" => DomainEvent::Account(parse(payload, bad)?),
        "instance" => DomainEvent::Instance(parse(payload, bad)?),
        "media" => DomainEvent::Media(parse(payload, bad)?),
        "status" => DomainEvent::Status(parse(payload, bad)?),
        "relationship" => DomainEvent::Relationship(parse(payload, bad)?),
        "engagement" => DomainEvent::Engagement(parse(payload, bad)?),
        "remote_account" => DomainEvent::RemoteAccount(parse(payload, bad)?),
        "inbound" => DomainEvent::Inbound(parse(payload, bad)?),
        "outbound" => DomainEvent::Outbound(parse(payload, bad)?),
        "domain_block" => DomainEvent::DomainBlock(parse(payload, bad)?),
        _ => DomainEvent::Other {
            aggregate_type: aggregate_type.to_string(),
            event_type: String::new(),
        },
    })
}

impl Recorded {
    pub fn from_row(row: &AnyRow) -> Result<Self> {
        let position: i64 = row.try_get("position")?;
        let bad = |reason: String| Error::BadEvent { position, reason };
        let payload: String = row.text("payload")?;
        let aggregate_type = row.text("aggregate_type")?;
        let aggregate_id = row.text("aggregate_id")?;
        let event_type = row.text("event_type")?;
        let event_version = row.text("event_version")?;
        let sequence = row.try_get("sequence")?;
        // Most events are in their current shape: decoded straight from the stored text, not
        // through a `serde_json::Value` (a third of the replay's decoding time went there).
        if !needs_upcast(&event_type, &event_version) {
            let event = match event_of(&aggregate_type, &payload, bad)? {
                DomainEvent::Other { aggregate_type, .. } => DomainEvent::Other {
                    aggregate_type,
                    event_type,
                },
                event => event,
            };
            return Ok(Self {
                position,
                aggregate_id,
                sequence,
                event,
            });
        }
        let serialized = SerializedEvent {
            aggregate_type,
            aggregate_id,
            sequence: 0,
            event_type,
            event_version,
            payload: serde_json::from_str(&payload).map_err(|e| bad(e.to_string()))?,
            metadata: serde_json::Value::Null,
        };
        let e = upcast(serialized);
        let payload = e.payload.to_string();
        let event = match event_of(&e.aggregate_type, &payload, bad)? {
            DomainEvent::Other { aggregate_type, .. } => DomainEvent::Other {
                aggregate_type,
                event_type: e.event_type,
            },
            event => event,
        };
        Ok(Self {
            position,
            aggregate_id: e.aggregate_id,
            sequence,
            event,
        })
    }
}
