//! peerpx-federation: ActivityPub between nodes. Discovery (WebFinger, host-meta), actors, their
//! collections and the objects remote servers fetch from us; HTTP signatures; guarded fetches;
//! inboxes and the inbox worker that interprets received activities; the outbox worker that turns
//! the log into activities to send, and the delivery queue that sends them.
//!
//! Only this crate knows ActivityPub JSON. Rendering is done by pure functions over read-model
//! rows (`actors`, `objects`, `collections`), tested without a server; the handlers around them
//! only load rows and negotiate between JSON-LD and HTML (`html`: minimal pages for people who
//! open an actor's or a post's URL).
//!
//! Depends on `peerpx-aggregates` (commands), `peerpx-projections` (the log and read models) and
//! `peerpx-storage` (the blob store's URLs), never on `peerpx-api`: the Mastodon client API calls
//! into this crate (to follow, resolve, delete), not the other way round. The node builds one
//! [`Federation`] and hands it to the API and to the three workers.
//!
//! **Invariant:** nothing is appended for an inbox request whose signature does not verify;
//! every activity received or sent is in the log, raw, before it has any effect.

pub mod actors;
pub mod authorized_fetch;
pub mod collections;
pub mod deliver;
pub mod departed;
pub mod domain_blocks;
pub mod error;
pub mod fetch;
pub mod html;
pub mod inbox;
pub mod instance_actor;
pub mod interpret;
pub mod keys;
pub mod ld;
pub mod local;
pub mod notes;
pub mod objects;
pub mod outbox;
pub mod queue;
pub mod resolve;
pub mod signatures;
pub mod webfinger;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use axum::Router;
use peerpx_projections::{Commands, Db, Projector};

pub use error::{Error, Result};

/// What federation needs to know about the node.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    /// Public host[:port] used in every id and URL.
    pub domain: String,
    /// `https` in production, `http` for local testing.
    pub protocol: String,
    /// Fetch from and deliver to loopback, private and link-local addresses (multi-node tests on
    /// 127.0.0.1); refused otherwise (`fetch`).
    pub allow_private_addresses: bool,
    /// Serve ActivityPub documents only to signed requests from domains not blocked
    /// (`authorized_fetch`).
    pub authorized_fetch: bool,
    /// Retries of outgoing activities (`queue`).
    pub delivery: queue::DeliveryConfig,
}

impl FederationConfig {
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.protocol, self.domain)
    }
}

pub struct Inner {
    pub db: Db,
    pub commands: Commands,
    pub projector: Arc<Projector>,
    pub config: FederationConfig,
    /// The guarded client for remote ActivityPub documents and deliveries.
    pub fetcher: fetch::Fetcher,
}

/// The node's federation side: its database, commands, read models, settings and HTTP client.
/// Cheap to clone; handlers take it as their state.
#[derive(Clone)]
pub struct Federation(Arc<Inner>);

impl std::ops::Deref for Federation {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Federation {
    pub fn new(
        db: Db,
        commands: Commands,
        projector: Arc<Projector>,
        config: FederationConfig,
    ) -> std::result::Result<Self, fetch::FetchError> {
        let fetcher = fetch::Fetcher::new(fetch::FetchConfig::for_node(&config))?;
        Ok(Self(Arc::new(Inner {
            db,
            commands,
            projector,
            config,
            fetcher,
        })))
    }

    /// Waits until the read models include `position`, so the caller reads its own write.
    pub async fn settle(&self, position: i64) {
        if position > 0
            && !self
                .projector
                .wait_for(position, Duration::from_secs(10))
                .await
        {
            tracing::warn!(position, "read models did not catch up within 10 s");
        }
    }
}

/// Everything a remote server (or a browser following a link) GETs from us, and the inboxes,
/// for any router state a [`Federation`] can be taken from.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Federation: FromRef<S>,
{
    Router::new()
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route("/.well-known/host-meta", get(webfinger::host_meta))
        .route(
            "/.well-known/host-meta.json",
            get(webfinger::host_meta_json),
        )
        .route("/ns", get(ld::namespace_document))
        .route("/actor", get(instance_actor::actor))
        .route("/users/{username}", get(actors::actor))
        .route("/users/{username}/outbox", get(collections::outbox))
        .route("/users/{username}/followers", get(collections::followers))
        .route("/users/{username}/following", get(collections::following))
        .route("/users/{username}/statuses/{id}", get(objects::status))
        .route(
            "/users/{username}/statuses/{id}/activity",
            get(objects::status_activity),
        )
        .merge(
            Router::new()
                .route("/users/{username}/inbox", post(inbox::user_inbox))
                .route("/inbox", post(inbox::shared_inbox))
                .layer(DefaultBodyLimit::max(inbox::MAX_ACTIVITY_BYTES)),
        )
}
