//! The peerpx domain: commands, events and aggregates on cqrs-es.
//!
//! Everything here is pure: a command and the aggregate's past events go in, new events come out.
//! No I/O, no clock, no randomness: callers put timestamps, ids and password hashes into commands.
//! This crate depends on no other peerpx crate; every other crate depends on it.

pub mod account;
pub mod activity;
pub mod domain_block;
pub mod engagement;
pub mod instance;
pub mod media;
pub mod relationship;
pub mod remote_account;
pub mod status;
pub mod text;
pub mod upcast;

pub use account::{Account, AccountCommand, AccountError, AccountEvent, ProfileChanges, Role};
pub use activity::{
    ActivityError, Inbound, InboundCommand, InboundEvent, Outbound, OutboundCommand, OutboundEvent,
};
pub use domain_block::{
    BlockSettings, DomainBlock, DomainBlockCommand, DomainBlockError, DomainBlockEvent, Severity,
};
pub use engagement::{Engagement, EngagementCommand, EngagementError, EngagementEvent};
pub use instance::{Instance, InstanceCommand, InstanceError, InstanceEvent, RegistrationsMode};
pub use media::{Media, MediaCommand, MediaError, MediaEvent};
pub use relationship::{Relationship, RelationshipCommand, RelationshipError, RelationshipEvent};
pub use remote_account::{
    RemoteAccount, RemoteAccountCommand, RemoteAccountError, RemoteAccountEvent, RemoteProfile,
};
pub use status::{Status, StatusCommand, StatusError, StatusEvent, Visibility};

/// The aggregate id of the node's single `Instance` aggregate.
pub const INSTANCE_ID: &str = "local";

/// Timestamps in events are milliseconds since the Unix epoch, supplied by the caller.
pub type Millis = i64;
