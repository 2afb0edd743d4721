//! Wiring: a node is a database, the event log, the projections and the HTTP router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use peerpx_api::{ApiConfig, AppState};
use peerpx_federation::{Federation, FederationConfig};
use peerpx_projections::{migrate, Commands, Db, EventLog, Projector};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub domain: String,
    pub protocol: String,
    pub token_lifetime: Option<Duration>,
    pub login_failures_per_account: u32,
    pub login_attempts_per_ip: u32,
    pub login_window: Duration,
    pub max_profile_image_bytes: usize,
    pub max_upload_bytes: u64,
    pub max_upload_pixels: u64,
    pub media_workers: usize,
    pub max_media_per_status: usize,
    /// Let federation reach loopback, private and link-local addresses (tests on 127.0.0.1).
    pub allow_private_addresses: bool,
    /// Serve ActivityPub documents only to signed requests from domains not blocked.
    pub authorized_fetch: bool,
    /// A delivery still failing this long after its activity was queued is abandoned.
    pub delivery_give_up: Duration,
    /// The pause after a first failed delivery (doubled after each further one). Tests shorten it.
    pub delivery_backoff_base: Duration,
}

impl NodeConfig {
    /// Defaults for a node on `domain` keeping its data in `data_dir`.
    pub fn new(data_dir: PathBuf, database_url: Option<String>, domain: &str) -> Self {
        let database_url =
            database_url.unwrap_or_else(|| peerpx_projections::db::default_sqlite_url(&data_dir));
        Self {
            data_dir,
            database_url,
            domain: domain.to_string(),
            protocol: "https".into(),
            token_lifetime: None,
            login_failures_per_account: 10,
            login_attempts_per_ip: 30,
            login_window: Duration::from_secs(300),
            max_profile_image_bytes: 8 * 1024 * 1024,
            max_upload_bytes: 40 * 1024 * 1024,
            max_upload_pixels: 100_000_000,
            media_workers: default_media_workers(),
            max_media_per_status: peerpx_aggregates::status::MEDIA_MAX,
            allow_private_addresses: false,
            authorized_fetch: false,
            delivery_give_up: Duration::from_secs(48 * 3600),
            delivery_backoff_base: peerpx_federation::queue::DeliveryConfig::default().backoff_base,
        }
    }
}

/// Photos processed at once by default: one per core, so uploads never take every core.
pub fn default_media_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The storage side of a node, as the CLI commands use it too.
pub struct Store {
    pub db: Db,
    pub log: EventLog,
    pub projector: Arc<Projector>,
}

impl Store {
    /// Connects, migrates and brings the read models up to date.
    pub async fn open(data_dir: &std::path::Path, url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        }
        let db = Db::connect(url).await?;
        migrate::run(&db).await?;
        let log = EventLog::new(db.clone());
        let projector = Arc::new(Projector::new(log.clone()));
        projector.init().await?;
        projector.catch_up().await?;
        Ok(Self { db, log, projector })
    }
}

/// A running node.
pub struct Node {
    pub state: AppState,
    pub addr: SocketAddr,
    stop_server: watch::Sender<bool>,
    stop_projections: watch::Sender<bool>,
    stop_delivery: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    delivery: JoinHandle<()>,
    inbox: JoinHandle<()>,
    outbox: JoinHandle<()>,
    followers: Vec<JoinHandle<()>>,
}

impl Node {
    /// Opens the store and serves the API on `listener` until [`Node::shutdown`].
    pub async fn start(config: NodeConfig, listener: TcpListener) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let store = Store::open(&config.data_dir, &config.database_url).await?;
        // Accounts registered before actor keys existed get theirs now, before anyone can ask
        // for their actor document.
        let commands = Commands::new(store.log.clone());
        let (generated, position) = peerpx_federation::keys::generate_missing(&store.db, &commands)
            .await
            .map_err(|e| anyhow::anyhow!("cannot generate actor keys: {e}"))?;
        if position > 0 {
            store.projector.catch_up().await?;
            tracing::info!(accounts = generated, "generated missing actor keys");
        }
        // The node's own key (the instance actor's), which signs its fetches: made at first start.
        if peerpx_federation::instance_actor::ensure_key(&store.db, &commands)
            .await
            .map_err(|e| anyhow::anyhow!("cannot generate the instance actor key: {e}"))?
            > 0
        {
            store.projector.catch_up().await?;
        }
        let (stop_projections, projections_rx) = watch::channel(false);
        let followers = store.projector.spawn(projections_rx);
        let api = ApiConfig {
            domain: config.domain.clone(),
            protocol: config.protocol.clone(),
            data_dir: config.data_dir.clone(),
            token_lifetime: config.token_lifetime,
            login_failures_per_account: config.login_failures_per_account,
            login_attempts_per_ip: config.login_attempts_per_ip,
            login_window: config.login_window,
            max_profile_image_bytes: config.max_profile_image_bytes,
            max_upload_bytes: config.max_upload_bytes,
            max_upload_pixels: config.max_upload_pixels,
            media_workers: config.media_workers,
            max_media_per_status: config.max_media_per_status,
        };
        // Federation runs its commands through its own `Commands` on the same log: appends are
        // serialised by the log, not by the instance.
        let federation = Federation::new(
            store.db.clone(),
            Commands::new(store.log.clone()),
            store.projector.clone(),
            FederationConfig {
                domain: config.domain.clone(),
                protocol: config.protocol.clone(),
                allow_private_addresses: config.allow_private_addresses,
                authorized_fetch: config.authorized_fetch,
                delivery: peerpx_federation::queue::DeliveryConfig {
                    give_up: config.delivery_give_up,
                    backoff_base: config.delivery_backoff_base,
                    ..Default::default()
                },
            },
        )
        .context("cannot build the federation client")?;
        let state = AppState::new(
            store.db.clone(),
            commands,
            store.projector.clone(),
            api,
            federation.clone(),
        );
        let app =
            peerpx_api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let (stop_delivery, delivery_rx) = watch::channel(false);
        let inbox = peerpx_federation::interpret::spawn(federation.clone(), delivery_rx.clone());
        let outbox = peerpx_federation::outbox::spawn(federation.clone(), delivery_rx.clone());
        let delivery = peerpx_federation::queue::spawn(federation, delivery_rx);
        let addr = listener.local_addr()?;
        let (stop_server, mut stop_signal) = watch::channel(false);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_signal.wait_for(|s| *s).await;
                })
                .await
        });
        tracing::info!(%addr, domain = %config.domain, "node listening");
        Ok(Self {
            state,
            addr,
            stop_server,
            stop_projections,
            stop_delivery,
            server,
            delivery,
            inbox,
            outbox,
            followers,
        })
    }

    /// Stops accepting, finishes in-flight requests, then lets the projections apply the rest.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop_server.send(true);
        self.server.await??;
        // The delivery worker lets the deliveries in flight finish and record their outcomes,
        // which needs the projections still running.
        let _ = self.stop_delivery.send(true);
        let _ = self.delivery.await;
        let _ = self.inbox.await;
        let _ = self.outbox.await;
        // Only now: requests that were in flight may have appended events the projections
        // must still apply before the process exits.
        let _ = self.stop_projections.send(true);
        for f in self.followers {
            let _ = f.await;
        }
        self.state.db.close().await;
        Ok(())
    }
}
