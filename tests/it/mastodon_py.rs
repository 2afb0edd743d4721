//! A third-party client against a real node: Mastodon.py registers an account, an admin approves
//! it, then it logs in and edits its profile (tests/python/mastodon_py_flow.py does the talking).

// Tests may panic on the unexpected (the workspace denies these lints for library code).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;

use crate::harness::{expect_json, Engine, TestNode};

const INSTALL: &str = "python3 -m pip install -r tests/python/requirements.txt";

/// Runs `python3` with `args` on a blocking thread; traffic to loopback never goes via a proxy.
async fn python3(args: Vec<String>) -> std::io::Result<Output> {
    tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PYTHONUNBUFFERED", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .output()
    })
    .await
    .expect("python3 thread")
}

fn show(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Fails (never skips) when Mastodon.py is missing, saying how to install it.
async fn require_mastodon_py() {
    match python3(vec!["-c".into(), "import mastodon".into()]).await {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "Mastodon.py is not installed for python3; run `{INSTALL}` (the README's test command does)\n{}",
            show(&output)
        ),
        Err(e) => panic!("python3 could not be started ({e}); install Python 3, then run `{INSTALL}`"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_py_registers_gets_approved_logs_in_and_edits_profile() {
    require_mastodon_py().await;
    let node = TestNode::start(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    let admin = node.admin().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/mastodon_py_flow.py");
    let output = python3(vec![script.display().to_string(), node.base.clone(), admin])
        .await
        .unwrap_or_else(|e| panic!("python3 could not be started ({e})"));
    assert!(
        output.status.success(),
        "the Mastodon.py flow failed\n{}",
        show(&output)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout));

    // The node itself agrees: root and the account Mastodon.py registered are both active.
    let instance = expect_json(node.get("/api/v1/instance", None).await, StatusCode::OK).await;
    assert_eq!(instance["stats"]["user_count"], 2, "{instance}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_py_uploads_posts_follows_likes_and_comments() {
    require_mastodon_py().await;
    let node = TestNode::start(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    let (_, ana) = node.user("ana").await;
    let (ben_id, ben) = node.user("ben").await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/mastodon_py_photos.py");
    let output = python3(vec![
        script.display().to_string(),
        node.base.clone(),
        ana,
        ben,
    ])
    .await
    .unwrap_or_else(|e| panic!("python3 could not be started ({e})"));
    assert!(
        output.status.success(),
        "the Mastodon.py photo flow failed\n{}",
        show(&output)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout));
    // The node agrees: the post is gone, the follow and the comment stay.
    let ben_statuses = expect_json(
        node.get(&format!("/api/v1/accounts/{ben_id}/statuses"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ben_statuses.as_array().map(Vec::len),
        Some(1),
        "{ben_statuses}"
    );
    node.stop().await;
}
