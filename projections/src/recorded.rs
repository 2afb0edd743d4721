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

impl Recorded {
    pub fn from_row(row: &AnyRow) -> Result<Self> {
        let position: i64 = row.try_get("position")?;
        let bad = |reason: String| Error::BadEvent { position, reason };
        let payload: String = row.text("payload")?;
        let serialized = SerializedEvent {
            aggregate_type: row.text("aggregate_type")?,
            aggregate_id: row.text("aggregate_id")?,
            sequence: 0,
            event_type: row.text("event_type")?,
            event_version: row.text("event_version")?,
            payload: serde_json::from_str(&payload).map_err(|e| bad(e.to_string()))?,
            metadata: serde_json::Value::Null,
        };
        let e = upcast(serialized);
        fn parse<T: serde::de::DeserializeOwned>(
            payload: serde_json::Value,
            bad: impl Fn(String) -> Error,
        ) -> Result<T> {
            serde_json::from_value(payload).map_err(|e| bad(e.to_string()))
        }
        let event = match e.aggregate_type.as_str() {
            "account" => DomainEvent::Account(parse(e.payload, bad)?),
            "instance" => DomainEvent::Instance(parse(e.payload, bad)?),
            "media" => DomainEvent::Media(parse(e.payload, bad)?),
            "status" => DomainEvent::Status(parse(e.payload, bad)?),
            "relationship" => DomainEvent::Relationship(parse(e.payload, bad)?),
            "engagement" => DomainEvent::Engagement(parse(e.payload, bad)?),
            "remote_account" => DomainEvent::RemoteAccount(parse(e.payload, bad)?),
            "inbound" => DomainEvent::Inbound(parse(e.payload, bad)?),
            "outbound" => DomainEvent::Outbound(parse(e.payload, bad)?),
            "domain_block" => DomainEvent::DomainBlock(parse(e.payload, bad)?),
            _ => DomainEvent::Other {
                aggregate_type: e.aggregate_type,
                event_type: e.event_type,
            },
        };
        Ok(Self {
            position,
            aggregate_id: e.aggregate_id,
            sequence: row.try_get("sequence")?,
            event,
        })
    }
}
