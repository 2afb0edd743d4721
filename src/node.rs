//! Wiring: a node is a database, the event log, the projections and the HTTP router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use peerpx_api::{ApiConfig, AppState};
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
        }
    }
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
    server: JoinHandle<std::io::Result<()>>,
    followers: Vec<JoinHandle<()>>,
}

impl Node {
    /// Opens the store and serves the API on `listener` until [`Node::shutdown`].
    pub async fn start(config: NodeConfig, listener: TcpListener) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let store = Store::open(&config.data_dir, &config.database_url).await?;
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
        };
        let state = AppState::new(
            store.db.clone(),
            Commands::new(store.log.clone()),
            store.projector.clone(),
            api,
        );
        let app =
            peerpx_api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
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
            server,
            followers,
        })
    }

    /// Stops accepting, finishes in-flight requests, then lets the projections apply the rest.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop_server.send(true);
        self.server.await??;
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
