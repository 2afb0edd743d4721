//! The event log's storage and the read models fed from it.
//!
//! `db` opens SQLite, PostgreSQL or MySQL by URL; `migrate` applies `migrations/<engine>/`; `log`
//! is the cqrs-es event repository with a global position; `commands` runs aggregates against it;
//! `projector` feeds read models (`accounts`, `instance`) from the log by position, keeps one
//! checkpoint per read model in the same transaction as its rows, and rebuilds them on replay.
//!
//! Depends on `peerpx-aggregates` only. Projections never call the network.

pub mod accounts;
pub mod commands;
pub mod db;
pub mod deliveries;
pub mod domain_blocks;
pub mod engagements;
pub mod federation;
pub mod follow_counts;
pub mod home;
pub mod instance;
pub mod log;
pub mod media;
pub mod migrate;
pub mod notifications;
pub mod page;
pub mod projector;
pub mod reblogs;
pub mod recorded;
pub mod relationships;
pub mod search;
pub mod status_accounts;
pub mod status_writes;
pub mod statuses;

pub use commands::Commands;
pub use db::{Backend, Db};
pub use log::EventLog;
pub use page::Page;
pub use projector::{Projection, Projector, Tx};
pub use recorded::Recorded;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Migration(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("event at position {position} cannot be read: {reason}")]
    BadEvent { position: i64, reason: String },
    #[error("unknown projection {0:?} (known: accounts, instance, media, statuses, relationships, engagements, notifications, federation, deliveries, domain_blocks, search)")]
    UnknownProjection(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Milliseconds since the Unix epoch. For the edges that make commands; no projection reads
/// the clock.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new id for an aggregate (a status, a photo, a domain block…), as Mastodon's ids look:
/// the creation time in milliseconds above 16 random bits, so ids sort by creation and two
/// made in one millisecond almost never collide (the aggregate refuses a second one anyway).
/// For the edges that make commands, like [`now_millis`].
pub fn new_id() -> String {
    let millis = u64::try_from(now_millis()).unwrap_or_default();
    let random = u64::from(rand::random::<u16>());
    ((millis << 16) | random).to_string()
}
