//! ActivityPub federation: discovery (WebFinger, host-meta), actors, their collections and the
//! objects remote servers fetch from us; inboxes, remote account resolution and deliveries.
//!
//! Only this module knows ActivityPub JSON. Rendering is done by pure functions over read-model
//! rows (`actors`, `objects`, `collections`), tested without a server; the handlers around them
//! only load rows and negotiate between JSON-LD and HTML.

pub mod actors;
pub mod authorized_fetch;
pub mod collections;
pub mod deliver;
pub mod departed;
pub mod domain_blocks;
pub mod fetch;
pub mod html;
pub mod inbox;
pub mod instance_actor;
pub mod interpret;
pub mod keys;
pub mod ld;
pub mod notes;
pub mod objects;
pub mod outbox;
pub mod queue;
pub mod resolve;
pub mod search;
pub mod signatures;
pub mod webfinger;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Everything a remote server (or a browser following a link) GETs from us.
pub fn routes() -> Router<AppState> {
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
        .route("/@{username}", get(html::profile_by_handle))
        .route("/api/v2/search", get(search::search))
        .route(
            "/api/peerpx/v1/admin/federation/deliveries",
            get(queue::admin_deliveries),
        )
        .merge(
            Router::new()
                .route("/users/{username}/inbox", post(inbox::user_inbox))
                .route("/inbox", post(inbox::shared_inbox))
                .layer(DefaultBodyLimit::max(inbox::MAX_ACTIVITY_BYTES)),
        )
}
