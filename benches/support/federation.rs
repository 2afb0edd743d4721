//! What the federation benches share: fake remote servers on 127.0.0.1, a real node, a local
//! user with a token, and small HTTP helpers.
//!
//! A fake host is a tiny axum server on its own ephemeral port (so each is a different
//! `host:port` authority). It serves an actor document for any `/users/{name}` (a `Person` with
//! a personal inbox, the host's shared inbox `/inbox` and the one public key all fake actors
//! share), and answers every POST to an inbox with 202 after recording what arrived (which
//! host, path, activity type and id, body, and the instant it was read). It checks no
//! signature: it stands for a peer, not for a second node.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use peerpx::{Node, NodeConfig};
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::{AccountCommand, Role};
use peerpx_api::AppState;
use peerpx_projections::log::metadata;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub type BoxError = Box<dyn Error + Send + Sync>;
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Marks the bench's own baseline POSTs, so the fake hosts record them apart.
pub const BASELINE_HEADER: &str = "x-peerpx-bench-baseline";

pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(default),
    }
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// One POST a fake host received.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Index of the fake host, in the order they were started.
    pub host: usize,
    pub path: String,
    /// The activity's `type` and `id` (empty when the body is not an activity).
    pub kind: String,
    pub id: String,
    pub body: Bytes,
    /// When the body had been read.
    pub at: Instant,
    /// Sent by the bench's baseline client, not by the node.
    pub baseline: bool,
}

/// Every POST every fake host received, in arrival order, and a counter to wait on.
pub struct Recorder {
    receipts: Mutex<Vec<Receipt>>,
    count: watch::Sender<usize>,
    /// Actor documents served (key fetches and account lookups).
    documents: AtomicUsize,
}

impl Recorder {
    fn new() -> Self {
        Self {
            receipts: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            documents: AtomicUsize::new(0),
        }
    }

    fn push(&self, receipt: Receipt) {
        if let Ok(mut r) = self.receipts.lock() {
            r.push(receipt);
            let n = r.len();
            self.count.send_replace(n);
        }
    }

    /// How many actor documents the hosts have served so far.
    pub fn documents(&self) -> usize {
        self.documents.load(Ordering::SeqCst)
    }

    /// How many POSTs have arrived so far (a mark for [`Recorder::since`]).
    pub fn len(&self) -> usize {
        self.receipts.lock().map_or(0, |r| r.len())
    }

    /// The receipts after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Receipt> {
        self.receipts.lock().map_or_else(
            |_| Vec::new(),
            |r| r.get(mark..).unwrap_or_default().to_vec(),
        )
    }

    /// Waits until `done` holds for the receipts after `mark`; checks again on each arrival.
    pub async fn wait_until(
        &self,
        mark: usize,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Receipt]) -> bool,
    ) -> Result<Vec<Receipt>> {
        let mut arrivals = self.count.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            arrivals.borrow_and_update();
            let got = self.since(mark);
            if done(&got) {
                return Ok(got);
            }
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                Ok(Ok(())) => {}
                _ => {
                    return Err(format!(
                        "timed out after {timeout:?} waiting for {what} ({} POSTs arrived)",
                        got.len()
                    )
                    .into())
                }
            }
        }
    }
}

#[derive(Clone)]
struct HostState {
    index: usize,
    base: Arc<str>,
    public_pem: Arc<str>,
    recorder: Arc<Recorder>,
}

/// Fake remote hosts, each on its own 127.0.0.1 port; stopped when dropped.
pub struct FakeHosts {
    pub bases: Vec<String>,
    pub recorder: Arc<Recorder>,
    servers: Vec<JoinHandle<()>>,
}

impl Drop for FakeHosts {
    fn drop(&mut self) {
        for s in &self.servers {
            s.abort();
        }
    }
}

impl FakeHosts {
    /// Starts `count` hosts whose actors all publish `public_pem`.
    pub async fn start(count: usize, public_pem: &str) -> Result<Self> {
        let recorder = Arc::new(Recorder::new());
        let public_pem: Arc<str> = Arc::from(public_pem);
        let mut bases = Vec::with_capacity(count);
        let mut servers = Vec::with_capacity(count);
        for index in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let base: Arc<str> = Arc::from(format!("http://{}", listener.local_addr()?));
            bases.push(base.to_string());
            let state = HostState {
                index,
                base,
                public_pem: public_pem.clone(),
                recorder: recorder.clone(),
            };
            let app = Router::new()
                .route("/users/{name}", get(actor))
                .route("/users/{name}/inbox", post(inbox))
                .route("/inbox", post(inbox))
                .with_state(state);
            servers.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    eprintln!("!!! fake host {index} stopped: {e}");
                }
            }));
        }
        Ok(Self {
            bases,
            recorder,
            servers,
        })
    }

    /// The actor URI of `name` on host `host`.
    pub fn actor(&self, host: usize, name: &str) -> String {
        format!("{}/users/{name}", self.bases[host])
    }
}

/// The actor document of `name` on this host.
pub fn actor_document(base: &str, name: &str, public_pem: &str) -> Value {
    let id = format!("{base}/users/{name}");
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "name": format!("Bench actor {name}"),
        "summary": "",
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "following": format!("{id}/following"),
        "manuallyApprovesFollowers": false,
        "endpoints": { "sharedInbox": format!("{base}/inbox") },
        "publicKey": {
            "id": format!("{id}#main-key"),
            "owner": id,
            "publicKeyPem": public_pem,
        },
    })
}

async fn actor(State(host): State<HostState>, Path(name): Path<String>) -> Response {
    host.recorder.documents.fetch_add(1, Ordering::SeqCst);
    let doc = actor_document(&host.base, &name, &host.public_pem);
    (
        [(header::CONTENT_TYPE, "application/activity+json")],
        doc.to_string(),
    )
        .into_response()
}

async fn inbox(
    State(host): State<HostState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let activity: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |k: &str| activity.get(k).and_then(Value::as_str).unwrap_or_default();
    host.recorder.push(Receipt {
        host: host.index,
        path: uri.path().to_string(),
        kind: text("type").to_string(),
        id: text("id").to_string(),
        body: body.clone(),
        at,
        baseline: headers.contains_key(BASELINE_HEADER),
    });
    StatusCode::ACCEPTED
}

/// Where the node keeps its data: SQLite in the data directory, or, when
/// `PEERPX_BENCH_DATABASE_URL` names a PostgreSQL or MySQL server, a fresh database
/// `peerpx_bench_<random>` made there for this run and dropped by [`NodeDb::drop_database`].
pub struct NodeDb {
    pub url: Option<String>,
    pub engine: &'static str,
    created: Option<(String, String)>,
}

impl NodeDb {
    pub async fn from_env() -> Result<Self> {
        let Ok(admin_url) = std::env::var("PEERPX_BENCH_DATABASE_URL") else {
            return Ok(Self {
                url: None,
                engine: "SQLite",
                created: None,
            });
        };
        let admin = peerpx_projections::Db::connect(&admin_url).await?;
        let engine = match admin.backend {
            peerpx_projections::Backend::Postgres => "PostgreSQL",
            peerpx_projections::Backend::MySql => "MySQL",
            peerpx_projections::Backend::Sqlite => "SQLite",
        };
        let name = format!("peerpx_bench_{:08x}", rand::random::<u32>());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&admin.pool)
            .await?;
        admin.close().await;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            url: Some(url.to_string()),
            engine,
            created: Some((admin_url, name)),
        })
    }

    /// Drops the database made for this run (after the node has shut down).
    pub async fn drop_database(self) -> Result<()> {
        let Some((admin_url, name)) = self.created else {
            return Ok(());
        };
        let admin = peerpx_projections::Db::connect(&admin_url).await?;
        let force = match admin.backend {
            peerpx_projections::Backend::Postgres => " WITH (FORCE)",
            _ => "",
        };
        sqlx::raw_sql(&format!("DROP DATABASE {name}{force}"))
            .execute(&admin.pool)
            .await?;
        admin.close().await;
        Ok(())
    }
}

/// A node on 127.0.0.1 with its data in `dir` (and `db`), federating over plain http with
/// loopback peers (what the multi-node tests use).
pub async fn start_node(dir: &std::path::Path, db: &NodeDb) -> Result<Node> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let mut config = NodeConfig::new(dir.join("node"), db.url.clone(), &addr.to_string());
    config.protocol = "http".into();
    config.allow_private_addresses = true;
    Node::start(config, listener)
        .await
        .map_err(|e| format!("{e:#}").into())
}

/// A node started by [`node_with_ana`], its account `ana` and a token of hers.
pub struct BenchNode {
    /// The node's data; removed when dropped.
    pub dir: tempfile::TempDir,
    pub node: Node,
    pub state: AppState,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

/// A node ([`start_node`]) with the approved account `ana` (password `password`) and a token.
pub async fn node_with_ana(db: &NodeDb, password: &str) -> Result<BenchNode> {
    let dir = tempfile::tempdir()?;
    let node = start_node(dir.path(), db).await?;
    let state = node.state.clone();
    let base = format!("http://{}", node.addr);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    create_account(&state, "ana", password).await?;
    let token = token(&http, &base, "ana", password).await?;
    Ok(BenchNode {
        dir,
        node,
        state,
        base,
        http,
        token,
    })
}

/// An approved local account `username` with an actor key; returns its id.
pub async fn create_account(state: &AppState, username: &str, password: &str) -> Result<String> {
    let id = peerpx_api::auth::new_id();
    let key = peerpx_federation::keys::generate_blocking()
        .await
        .map_err(|e| format!("key: {e:?}"))?;
    let password_hash = peerpx_api::auth::hash_password(password.into())
        .await
        .map_err(|e| format!("hash: {e:?}"))?;
    let registration = Registration {
        id: id.clone(),
        username: username.into(),
        email: format!("{username}@example.org"),
        password_hash,
        locale: "en".into(),
        reason: None,
        role: Role::User,
        approved: true,
        at: peerpx_projections::now_millis(),
        key: Some(key),
    };
    let position = state
        .commands
        .account(
            username,
            AccountCommand::Register(registration),
            metadata(None, "bench"),
        )
        .await?;
    state.settle(position).await;
    Ok(id)
}

/// A `read write follow` token for `username`, through `POST /api/v1/apps` and the password
/// grant.
pub async fn token(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> Result<String> {
    let app = expect_json(
        http.post(format!("{base}/api/v1/apps")).form(&[
            ("client_name", "federation bench"),
            ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            ("scopes", "read write follow"),
        ]),
        reqwest::StatusCode::OK,
    )
    .await?;
    let field = |v: &Value, k: &str| -> Result<String> {
        Ok(v[k].as_str().ok_or(format!("no {k} in {v}"))?.to_string())
    };
    let token = expect_json(
        http.post(format!("{base}/oauth/token")).form(&[
            ("grant_type", "password"),
            ("client_id", &field(&app, "client_id")?),
            ("client_secret", &field(&app, "client_secret")?),
            ("username", username),
            ("password", password),
            ("scope", "read write follow"),
        ]),
        reqwest::StatusCode::OK,
    )
    .await?;
    field(&token, "access_token")
}

/// Sends the request, requires `status`, parses the body as JSON.
pub async fn expect_json(
    request: reqwest::RequestBuilder,
    status: reqwest::StatusCode,
) -> Result<Value> {
    let response = request.send().await?;
    let got = response.status();
    let url = response.url().to_string();
    let text = response.text().await?;
    if got != status {
        return Err(format!("{url}: {got} (expected {status}): {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

/// POSTs a signed activity; requires 202.
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<()> {
    let response = http.post(url).headers(headers).body(body).send().await?;
    let status = response.status();
    if status != reqwest::StatusCode::ACCEPTED {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{url}: {status} (expected 202 Accepted): {text}").into());
    }
    Ok(())
}

/// Polls `check` every `every` until it returns `Some`, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        tokio::time::sleep(every).await;
    }
}

/// True when every received activity is interpreted and every read model reached the head.
pub async fn is_quiet(state: &AppState) -> Result<bool> {
    let head = state.commands.log().head().await?;
    state.settle(head).await;
    let pending = peerpx_projections::federation::pending(&state.db, 0, 1).await?;
    Ok(pending.is_empty() && state.commands.log().head().await? == head)
}

/// Waits until [`is_quiet`].
pub async fn quiet(state: &AppState, timeout: Duration) -> Result<()> {
    eventually(
        timeout,
        Duration::from_millis(20),
        "the node to be quiet",
        || async { Ok(is_quiet(state).await?.then_some(())) },
    )
    .await
}

/// Median of a non-empty list.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
