//! peerpx-api, the client edge: Mastodon-compatible REST and OAuth routes on axum, and the web
//! UI's serving.
//!
//! Handlers parse and check input, hash passwords, run commands through
//! `peerpx_projections::Commands`, wait until the read models have applied the resulting events
//! (read-your-writes) and render read models as Mastodon entities. Domain rules live in
//! `peerpx-aggregates`; nothing here writes a read model directly. OAuth credentials (apps,
//! tokens, codes) are the exception: they are secrets, not history, and live in their own tables.
//!
//! Depends on every library crate: `peerpx-federation` for what crosses nodes (following,
//! resolving, deleting), `peerpx-storage` and `peerpx-media` for photos. Nothing depends on it
//! but the `peerpx` package, which wires it.

pub mod accounts;
pub mod admin;
pub mod admin_federation;
pub mod attachments;
pub mod auth;
pub mod captions;
pub mod domain_blocks;
pub mod entities;
pub mod error;
pub mod favourites;
pub mod follows;
pub mod gc;
pub mod instance;
pub mod media_entities;
pub mod notifications;
pub mod oauth;
pub mod oauth_apps;
pub mod paging;
pub mod params;
pub mod profile_images;
pub mod reblogs;
pub mod search;
pub mod status_views;
pub mod statuses;
pub mod timelines;
pub mod upload_stream;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::Router;
use peerpx_federation::Federation;
use peerpx_projections::{Commands, Db, Projector};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};

/// What the API needs to know about the node.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Public host[:port] used in every id and URL.
    pub domain: String,
    /// `https` in production, `http` for local testing.
    pub protocol: String,
    pub data_dir: PathBuf,
    /// Access tokens expire after this long; `None` = never (Mastodon's default).
    pub token_lifetime: Option<Duration>,
    pub login_failures_per_account: u32,
    pub login_attempts_per_ip: u32,
    pub login_window: Duration,
    /// Largest avatar or header upload, in bytes.
    pub max_profile_image_bytes: usize,
    /// Largest photo upload, in bytes.
    pub max_upload_bytes: u64,
    /// Largest photo, in decoded pixels.
    pub max_upload_pixels: u64,
    /// Photos processed at once.
    pub media_workers: usize,
    /// Most photos on one post (at most `peerpx_aggregates::status::MEDIA_MAX`).
    pub max_media_per_status: usize,
}

impl ApiConfig {
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.protocol, self.domain)
    }
}

pub struct Inner {
    pub db: Db,
    pub commands: Commands,
    pub projector: Arc<Projector>,
    pub config: ApiConfig,
    pub limiter: auth::LoginLimiter,
    pub blobs: peerpx_storage::BlobStore,
    /// Content-addressed blocks (photos as IPFS files), served at `/ipfs/{cid}`.
    pub ipfs: peerpx_storage::BlockStore,
    /// One permit per photo being processed (`ApiConfig::media_workers`).
    pub media_slots: tokio::sync::Semaphore,
    /// ActivityPub: what the client API calls to follow, resolve and delete across nodes (on the
    /// same database, commands and read models as the fields above).
    pub federation: Federation,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The IPFS gateway (`peerpx_storage::gateway::routes`) reads the block store from the state.
impl axum::extract::FromRef<AppState> for peerpx_storage::BlockStore {
    fn from_ref(state: &AppState) -> Self {
        state.ipfs.clone()
    }
}

/// Federation's routes and middleware (`peerpx_federation::routes`) take their own state.
impl axum::extract::FromRef<AppState> for Federation {
    fn from_ref(state: &AppState) -> Self {
        state.federation.clone()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        db: Db,
        commands: Commands,
        projector: Arc<Projector>,
        config: ApiConfig,
        federation: Federation,
    ) -> Self {
        let limiter = auth::LoginLimiter::new(
            config.login_failures_per_account,
            config.login_attempts_per_ip,
            config.login_window,
        );
        let blobs = peerpx_storage::BlobStore::new(config.data_dir.join("blobs"));
        let ipfs = peerpx_storage::BlockStore::new(config.data_dir.join("blocks"));
        let media_slots = tokio::sync::Semaphore::new(config.media_workers.max(1));
        Self(Arc::new(Inner {
            media_slots,
            federation,
            db,
            commands,
            projector,
            config,
            limiter,
            blobs,
            ipfs,
        }))
    }

    /// Waits until the read models include `position`, so the caller reads its own write.
    pub async fn settle(&self, position: i64) {
        self.federation.settle(position).await;
    }
}

/// The client's IP address, when the server was started with connect info.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip()),
        ))
    }
}

async fn log_internal_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    // One cause type for the whole node: `peerpx_federation`'s errors carry the same one.
    if let Some(cause) = response.extensions().get::<error::InternalCause>() {
        tracing::error!(%method, %path, cause = %cause.0, "request failed");
    }
    response
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/apps", post(oauth_apps::create_app))
        .route(
            "/api/v1/apps/verify_credentials",
            get(oauth_apps::verify_app),
        )
        .route(
            "/oauth/authorize",
            get(oauth::authorize_page).post(oauth::authorize_submit),
        )
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/api/v1/accounts", post(accounts::register))
        .route(
            "/api/v1/accounts/verify_credentials",
            get(accounts::verify_credentials),
        )
        .route(
            "/api/v1/accounts/update_credentials",
            patch(accounts::update_credentials),
        )
        .route("/api/v1/accounts/lookup", get(accounts::lookup))
        .route("/api/v1/accounts/{id}", get(accounts::show))
        .route("/api/v1/admin/accounts", get(admin::list_v1))
        .route("/api/v2/admin/accounts", get(admin::list_v2))
        .route(
            "/api/v1/admin/accounts/{id}",
            get(admin::show).delete(admin::delete_account),
        )
        .route("/api/v1/admin/accounts/{id}/approve", post(admin::approve))
        .route("/api/v1/admin/accounts/{id}/reject", post(admin::reject))
        .route("/api/v1/admin/accounts/{id}/action", post(admin::action))
        .route(
            "/api/v1/admin/accounts/{id}/unsuspend",
            post(admin::unsuspend),
        )
        .route(
            "/api/peerpx/v1/admin/settings",
            get(admin::settings).patch(admin::update_settings),
        )
        .route("/api/v1/instance", get(instance::v1))
        .route("/api/v2/instance", get(instance::v2))
        // Rails ignores a trailing slash and Mastodon.py asks for `/api/v{1,2}/instance/`; a 404
        // there leaves it unable to detect the version (its `log_in` then recurses until it dies).
        .route("/api/v1/instance/", get(instance::v1))
        .route("/api/v2/instance/", get(instance::v2))
        .route("/.well-known/nodeinfo", get(instance::nodeinfo_links))
        .route("/nodeinfo/2.1", get(instance::nodeinfo))
        .route("/system/media/{file}", get(profile_images::serve))
        .route(
            "/avatars/original/missing.png",
            get(profile_images::missing_avatar),
        )
        .route(
            "/headers/original/missing.png",
            get(profile_images::missing_header),
        )
        .merge(peerpx_storage::gateway::routes())
        .merge(attachments::routes())
        .merge(domain_blocks::routes())
        .route("/@{username}", get(web::profile_by_handle))
        .route("/api/v2/search", get(search::search))
        .merge(admin_federation::routes())
        .merge(peerpx_federation::routes())
        .merge(follows::routes())
        .merge(statuses::routes())
        .merge(favourites::routes())
        .merge(timelines::routes())
        .merge(notifications::routes())
        .merge(reblogs::routes())
        .fallback(web::fallback)
        .layer(DefaultBodyLimit::max(
            state.config.max_profile_image_bytes * 2 + 64 * 1024,
        ))
        .layer(middleware::from_fn_with_state(
            state.federation.clone(),
            peerpx_federation::authorized_fetch::authorized_fetch,
        ))
        .layer(middleware::from_fn(log_internal_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
