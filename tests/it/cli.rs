//! The real binary: the README's run command, admin commands beside a serving node, replay,
//! configuration precedence, an unreachable database and graceful shutdown.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{eventually, expect_json};

const BIN: &str = env!("CARGO_BIN_EXE_peerpx");

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn peerpx(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("PEERPX_DATABASE_URL")
        .env_remove("PEERPX_DOMAIN")
        .env_remove("PEERPX_CONFIG");
    c
}

fn run(mut c: Command, stdin: Option<&str>) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn peerpx");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(mut c: Command, port: u16) -> Self {
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        let child = c.spawn().expect("spawn serve");
        let base = format!("http://127.0.0.1:{port}");
        let probe = format!("{base}/api/v2/instance");
        eventually(Duration::from_secs(20), "the node to answer", || {
            let probe = probe.clone();
            async move {
                reqwest::get(&probe)
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            }
        })
        .await;
        Self { child, base }
    }

    async fn instance(&self) -> serde_json::Value {
        expect_json(
            reqwest::get(format!("{}/api/v2/instance", self.base))
                .await
                .expect("get"),
            StatusCode::OK,
        )
        .await
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("peerpx did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_node_runs_on_embedded_sqlite_and_admin_commands_reach_it_while_it_serves() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start(
        peerpx(&[
            "serve",
            "--data-dir",
            data,
            "--listen",
            &listen,
            "--domain",
            &listen,
            "--protocol",
            "http",
        ]),
        port,
    )
    .await;
    assert!(
        std::path::Path::new(data).join("peerpx.db").exists(),
        "SQLite file in the data dir"
    );
    assert_eq!(server.instance().await["registrations"]["mode"], "approval");

    // Admin commands on the same database while the node serves.
    let out = run(
        peerpx(&[
            "admin",
            "create-user",
            "ann",
            "--email",
            "ann@example.org",
            "--admin",
            "--password-stdin",
            "--data-dir",
            data,
        ]),
        Some("ann's long password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        peerpx(&["admin", "set-registrations", "open", "--data-dir", data]),
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = std::time::Instant::now();
    eventually(
        Duration::from_secs(3),
        "the node to see the new mode",
        || {
            let base = server.base.clone();
            async move {
                let v: serde_json::Value = reqwest::get(format!("{base}/api/v2/instance"))
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (v["registrations"]["mode"] == "open").then_some(())
            }
        },
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "picked up in {:?}",
        started.elapsed()
    );

    // The created admin logs in through the serving node.
    let http = reqwest::Client::new();
    let app: serde_json::Value = http
        .post(format!("{}/api/v1/apps", server.base))
        .form(&[
            ("client_name", "cli test"),
            ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            ("scopes", "read admin:read"),
        ])
        .send()
        .await
        .expect("app")
        .json()
        .await
        .expect("json");
    let login = |login: &'static str, password: &'static str, scope: &'static str| {
        let (http, base, app) = (http.clone(), server.base.clone(), app.clone());
        async move {
            let form = [
                ("grant_type", "password"),
                ("client_id", app["client_id"].as_str().expect("id")),
                (
                    "client_secret",
                    app["client_secret"].as_str().expect("secret"),
                ),
                ("username", login),
                ("password", password),
                ("scope", scope),
            ];
            http.post(format!("{base}/oauth/token"))
                .form(&form)
                .send()
                .await
                .expect("token")
        }
    };
    let whoami = |token: &str| {
        let (http, url) = (
            http.clone(),
            format!("{}/api/v1/accounts/verify_credentials", server.base),
        );
        let token = token.to_string();
        async move { http.get(url).bearer_auth(token).send().await.expect("me") }
    };
    let token = login("ann@example.org", "ann's long password", "read admin:read").await;
    let token = expect_json(token, StatusCode::OK).await;
    let me = whoami(token["access_token"].as_str().expect("token")).await;
    let me = expect_json(me, StatusCode::OK).await;
    assert_eq!(me["role"]["name"], "Admin");

    // Role and password changes from the command line reach the serving node too.
    let out = run(
        peerpx(&["admin", "set-role", "ann", "moderator", "--data-dir", data]),
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        peerpx(&[
            "admin",
            "set-password",
            "ann",
            "--password-stdin",
            "--data-dir",
            data,
        ]),
        Some("a brand new password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 token(s) revoked"));
    let r = whoami(token["access_token"].as_str().expect("token")).await;
    assert_eq!(
        expect_json(r, StatusCode::UNAUTHORIZED).await["error"],
        "The access token was revoked"
    );
    let fresh = eventually(Duration::from_secs(3), "the new password to work", || {
        let attempt = login("ann", "a brand new password", "read");
        async move {
            attempt
                .await
                .json::<serde_json::Value>()
                .await
                .ok()
                .filter(|v| v["access_token"].is_string())
        }
    })
    .await;
    let me = whoami(fresh["access_token"].as_str().expect("token")).await;
    assert_eq!(
        expect_json(me, StatusCode::OK).await["role"]["name"],
        "Moderator"
    );
    expect_json(
        login("ann", "ann's long password", "read").await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // A weak password on the command line is refused with a reason.
    let out = run(
        peerpx(&[
            "admin",
            "create-user",
            "bo",
            "--email",
            "bo@example.org",
            "--password-stdin",
            "--data-dir",
            data,
        ]),
        Some("short\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    // Replay on the stopped node's data rebuilds the read models.
    let out = run(peerpx(&["replay", "--data-dir", data]), None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "rebuilt accounts, instance, media, statuses, relationships, engagements, notifications, federation, deliveries, domain_blocks, search from"
        ),
        "{stdout}"
    );
    let out = run(
        peerpx(&["replay", "--projection", "nope", "--data-dir", data]),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_unreachable_database_gives_one_clear_line_without_the_password() {
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"][..]] {
        let mut c = peerpx(args);
        c.args(["--database-url", "postgres://peer:s3cret@127.0.0.1:1/px"]);
        let out = run(c, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" WARN ")).collect();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(lines.len(), 1, "one line, got: {stderr}");
        assert!(
            lines[0].contains("cannot reach the database at postgres://peer:***@127.0.0.1:1/px"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("s3cret") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_beat_environment_which_beats_the_config_file() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_string();
    let file = dir.path().join("peerpx.toml");
    let port = free_port();
    std::fs::write(
        &file,
        format!("domain = \"file.example\"\nlisten = \"127.0.0.1:{port}\"\nprotocol = \"http\"\n"),
    )
    .expect("write");
    let file = file.to_str().expect("utf-8").to_string();
    let domain_with = |env: Option<&str>, flag: Option<&str>| {
        let mut c = peerpx(&["serve", "--config", &file, "--data-dir", &data]);
        if let Some(e) = env {
            c.env("PEERPX_DOMAIN", e);
        }
        if let Some(f) = flag {
            c.args(["--domain", f]);
        }
        c
    };
    for (env, flag, expected) in [
        (None, None, "file.example"),
        (Some("env.example"), None, "env.example"),
        (Some("env.example"), Some("flag.example"), "flag.example"),
    ] {
        let server = Server::start(domain_with(env, flag), port).await;
        assert_eq!(server.instance().await["domain"], expected);
        assert!(server.terminate().success());
    }
    let mut c = peerpx(&["serve", "--config", &file]);
    std::fs::write(&file, "domian = \"typo.example\"\n").expect("write");
    c.args(["--data-dir", &data]);
    let out = run(c, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid config file"));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("dir");
    let mut c = peerpx(&[
        "--log-format",
        "json",
        "migrate",
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
    ]);
    c.env("RUST_LOG", "info");
    let out = run(c, None);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "migrations log what they apply");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{v}"
        );
    }
}

#[test]
fn help_documents_every_serve_option() {
    let out = run(peerpx(&["serve", "--help"]), None);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data-dir",
        "--database-url",
        "--listen",
        "--domain",
        "--protocol",
        "--config",
        "--log-format",
        "--token-lifetime-secs",
        "--login-failures-per-account",
        "--login-attempts-per-ip",
        "--login-window-secs",
        "--max-profile-image-mb",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(
        help.contains("PEERPX_DATABASE_URL"),
        "environment variables are documented"
    );
}
