//! The peerpx domain: commands, events and aggregates on cqrs-es.
//!
//! Everything here is pure: a command and the aggregate's past events go in, new events come out.
//! No I/O, no clock, no randomness: callers put timestamps, ids and password hashes into commands.
//! This crate depends on no other peerpx crate; every other crate depends on it.

pub mod account;
pub mod instance;
pub mod upcast;

pub use account::{Account, AccountCommand, AccountError, AccountEvent, ProfileChanges, Role};
pub use instance::{Instance, InstanceCommand, InstanceError, InstanceEvent, RegistrationsMode};

/// The aggregate id of the node's single `Instance` aggregate.
pub const INSTANCE_ID: &str = "local";

/// Timestamps in events are milliseconds since the Unix epoch, supplied by the caller.
pub type Millis = i64;
