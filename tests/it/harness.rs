//! Real nodes for tests: each on a 127.0.0.1 ephemeral port, with its own data directory and its
//! own fresh database on the engine under test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use peerpx::{Node, NodeConfig};
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::{AccountCommand, Role};
use peerpx_projections::log::metadata;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

/// A database made for one test and dropped after it.
pub struct TestDb {
    pub url: Option<String>,
    drop_with: Option<(String, String)>,
}

impl TestDb {
    /// `None` (and a loud line on stderr) when the engine's server is not configured.
    pub async fn create(engine: Engine) -> Option<Self> {
        let var = match engine {
            Engine::Sqlite => {
                return Some(Self {
                    url: None,
                    drop_with: None,
                })
            }
            Engine::Postgres => "PEERPX_TEST_POSTGRES_URL",
            Engine::MySql => "PEERPX_TEST_MYSQL_URL",
        };
        let Ok(admin_url) = std::env::var(var) else {
            eprintln!("\n*** SKIPPED: {var} is not set, so this {engine:?} test did not run ***\n");
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("peerpx_t_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{var}={admin_url} is set but unreachable: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin_url).expect("database URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: Some(url.to_string()),
            drop_with: Some((admin_url, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.drop_with.take() else {
            return;
        };
        // Drop runs outside async code; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                    let force = if admin_url.starts_with("postgres") {
                        " WITH (FORCE)"
                    } else {
                        ""
                    };
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Warnings and errors from the node show in a failing test's output.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

pub fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub struct TestNode {
    node: Option<Node>,
    /// What it was started with, to start it again on the same address, data and database.
    config: NodeConfig,
    addr: std::net::SocketAddr,
    pub base: String,
    pub domain: String,
    pub http: Client,
    pub dir: tempfile::TempDir,
    _db: TestDb,
}

impl TestNode {
    pub async fn start(engine: Engine) -> Option<Self> {
        Self::start_with(engine, |_| {}).await
    }

    pub async fn start_with(engine: Engine, tweak: impl FnOnce(&mut NodeConfig)) -> Option<Self> {
        init_tracing();
        let db = TestDb::create(engine).await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let domain = format!("127.0.0.1:{}", addr.port());
        let mut config = NodeConfig::new(dir.path().to_path_buf(), db.url.clone(), &domain);
        config.protocol = "http".into();
        tweak(&mut config);
        let node = Node::start(config.clone(), listener)
            .await
            .expect("node starts");
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Generous: a loaded 2-core CI machine processing 12 MP photos in a debug build is
            // slow, and no test measures time through this client.
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        Some(Self {
            node: Some(node),
            config,
            addr,
            base: format!("http://{addr}"),
            domain,
            http,
            dir,
            _db: db,
        })
    }

    /// A node other nodes on 127.0.0.1 can federate with: its domain is its real listen address
    /// (`start_with` binds first, so ids carry the port), it speaks plain http and fetches from
    /// and delivers to loopback addresses.
    pub async fn start_federated(engine: Engine) -> Option<Self> {
        Self::start_with(engine, |c| {
            c.protocol = "http".into();
            c.allow_private_addresses = true;
        })
        .await
    }

    /// [`TestNode::start_federated`] with a further change to the configuration.
    pub async fn start_federated_with(
        engine: Engine,
        tweak: impl FnOnce(&mut NodeConfig),
    ) -> Option<Self> {
        Self::start_with(engine, |c| {
            c.protocol = "http".into();
            c.allow_private_addresses = true;
            tweak(c);
        })
        .await
    }

    /// Shuts the node down and keeps its data and database: nothing answers on its address
    /// until [`TestNode::resume`].
    pub async fn halt(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await.expect("clean shutdown");
        }
    }

    /// Starts the halted node again, on the same address, data directory and database.
    pub async fn resume(&mut self) {
        assert!(self.node.is_none(), "the node is running");
        let listener = TcpListener::bind(self.addr).await.expect("bind again");
        let node = Node::start(self.config.clone(), listener)
            .await
            .expect("node starts again");
        self.node = Some(node);
    }

    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("node is running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await.expect("clean shutdown");
        }
    }

    /// The last position in the event log.
    pub async fn head(&self) -> i64 {
        self.node()
            .state
            .commands
            .log()
            .head()
            .await
            .expect("log head")
    }

    /// Waits until every received activity is interpreted and every read model has reached the
    /// log's head: the node has nothing left to do about what it was sent.
    pub async fn quiet(&self) {
        eventually(
            Duration::from_secs(60),
            "the inbox worker and the read models to finish",
            || async {
                let state = &self.node().state;
                let head = self.head().await;
                state.settle(head).await;
                let pending = peerpx_projections::federation::pending(&state.db, 0, 1)
                    .await
                    .expect("inbox queue");
                (pending.is_empty() && self.head().await == head).then_some(())
            },
        )
        .await;
    }

    /// Once the node is [`quiet`](Self::quiet), replaying the whole log gives every read model
    /// exactly the rows it had.
    pub async fn assert_replays_identically(&self) {
        self.quiet().await;
        let projector = &self.node().state.projector;
        let before = projector.snapshot().await.expect("snapshot");
        projector.replay(None).await.expect("replay");
        assert_eq!(projector.snapshot().await.expect("snapshot"), before);
    }

    /// Creates an approved account directly through the domain (as `peerpx admin` does).
    pub async fn create_account(&self, username: &str, password: &str, role: Role) -> String {
        let state = &self.node().state;
        let id = peerpx_api::auth::new_id();
        let key = peerpx_federation::keys::generate_blocking()
            .await
            .expect("actor key");
        let registration = Registration {
            id: id.clone(),
            username: username.into(),
            email: format!("{username}@example.org"),
            password_hash: peerpx_api::auth::hash_password(password.into())
                .await
                .expect("hash"),
            locale: "en".into(),
            reason: None,
            role,
            approved: true,
            at: peerpx_projections::now_millis(),
            key: Some(key),
        };
        let p = state
            .commands
            .account(
                username,
                AccountCommand::Register(registration),
                metadata(None, "test"),
            )
            .await
            .expect("register");
        state.settle(p).await;
        id
    }

    pub async fn post_form(
        &self,
        path: &str,
        token: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.http.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn put_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.http.put(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// An approved account `name` (password `"password of {name}"`) and its token with the
    /// scopes `read write follow`; returns (account id, token).
    pub async fn user(&self, name: &str) -> (String, String) {
        let password = format!("password of {name}");
        let id = self.create_account(name, &password, Role::User).await;
        let app = self.app().await;
        let token = self.login(&app, name, &password, "read write follow").await;
        (id, token)
    }

    /// `PATCH /api/v1/accounts/update_credentials` with a multipart form.
    pub async fn patch_profile(&self, token: &str, form: reqwest::multipart::Form) -> Response {
        self.http
            .patch(self.url("/api/v1/accounts/update_credentials"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("patch")
    }

    /// `POST /api/v1/accounts` for `username` (email `username@example.org`) with an app token.
    pub async fn register(&self, app_token: &str, username: &str, password: &str) -> Response {
        let email = format!("{username}@example.org");
        let fields = [
            ("username", username),
            ("email", email.as_str()),
            ("password", password),
            ("agreement", "true"),
        ];
        self.post_form("/api/v1/accounts", Some(app_token), &fields)
            .await
    }

    /// Registers an app with every scope; returns (client_id, client_secret).
    pub async fn app(&self) -> (String, String) {
        let r = self
            .post_form(
                "/api/v1/apps",
                None,
                &[
                    ("client_name", "peerpx tests"),
                    (
                        "redirect_uris",
                        "urn:ietf:wg:oauth:2.0:oob\nhttp://127.0.0.1/callback",
                    ),
                    ("scopes", "read write follow push admin:read admin:write"),
                ],
            )
            .await;
        let v = expect_json(r, StatusCode::OK).await;
        (
            v["client_id"].as_str().expect("id").into(),
            v["client_secret"].as_str().expect("secret").into(),
        )
    }

    pub async fn app_token(&self, app: &(String, String), scope: &str) -> String {
        let r = self
            .post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &app.0),
                    ("client_secret", &app.1),
                    ("scope", scope),
                ],
            )
            .await;
        expect_json(r, StatusCode::OK).await["access_token"]
            .as_str()
            .expect("token")
            .into()
    }

    /// Logs in with the password grant; returns the raw response.
    pub async fn password_grant(
        &self,
        app: &(String, String),
        login: &str,
        password: &str,
        scope: &str,
    ) -> Response {
        self.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &app.0),
                ("client_secret", &app.1),
                ("username", login),
                ("password", password),
                ("scope", scope),
            ],
        )
        .await
    }

    pub async fn login(
        &self,
        app: &(String, String),
        login: &str,
        password: &str,
        scope: &str,
    ) -> String {
        let r = self.password_grant(app, login, password, scope).await;
        expect_json(r, StatusCode::OK).await["access_token"]
            .as_str()
            .expect("token")
            .into()
    }

    /// An admin account and a token with every scope.
    pub async fn admin(&self) -> String {
        self.create_account("root", "admin password 1", Role::Admin)
            .await;
        let app = self.app().await;
        self.login(
            &app,
            "root",
            "admin password 1",
            "read write follow admin:read admin:write",
        )
        .await
    }
}

/// Asserts the status, then parses the body as JSON, showing the body when the status is wrong.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Generates one test per engine for an `async fn(TestNode-less engine)`.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::harness::Engine;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { super::$name(Engine::Sqlite).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { super::$name(Engine::Postgres).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() { super::$name(Engine::MySql).await }
            }
        )*
    };
}

/// The holder of `token` on `from` follows `username` of node `to` (looked up by its address)
/// and waits until `to` accepted; returns the followed account's id on `from`.
pub async fn follow_across(from: &TestNode, token: &str, to: &TestNode, username: &str) -> String {
    let json_of = |path: String| async move {
        expect_json(from.get(&path, Some(token)).await, StatusCode::OK).await
    };
    let found = json_of(format!(
        "/api/v1/accounts/lookup?acct={username}@{}",
        to.domain
    ))
    .await;
    let target = found["id"].as_str().expect("id").to_string();
    let r = from
        .post_form(
            &format!("/api/v1/accounts/{target}/follow"),
            Some(token),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    eventually(
        Duration::from_secs(30),
        "the follow to be accepted",
        || async {
            let path = format!("/api/v1/accounts/relationships?id[]={target}");
            (json_of(path).await[0]["following"] == true).then_some(())
        },
    )
    .await;
    target
}

/// `GET path` as the holder of `token`, expecting 200 and JSON.
pub async fn json_of(node: &TestNode, path: &str, token: &str) -> Value {
    expect_json(node.get(path, Some(token)).await, StatusCode::OK).await
}
