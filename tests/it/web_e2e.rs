//! The web UI end to end, in a real headless Chromium: `web/e2e/scenario.mjs` (playwright-core
//! driving Debian's `/usr/bin/chromium`) registers, gets approved by the admin, signs in, uploads
//! two photos, checks the grid, the EXIF panel and the upright orientation, likes, comments, edits
//! the profile and signs out, against a real node started here. Screenshots of the main pages
//! land in `target/e2e-screenshots/`.

// Tests may panic on the unexpected (the workspace denies these lints for library code).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{expect_json, Engine, TestNode};

/// The scenario bounds itself to 2 minutes; this is the last resort if a browser hangs.
const HARD_LIMIT: Duration = Duration::from_secs(240);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Chromium the scenario drives (`PEERPX_CHROMIUM` overrides Debian's path).
fn chromium() -> PathBuf {
    std::env::var_os("PEERPX_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

fn show(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Fails (never skips) when something the scenario needs is missing, saying how to install it.
async fn require_tools() {
    let browser = chromium();
    assert!(
        browser.is_file(),
        "{} is missing: install Debian's Chromium with `apt-get update && apt-get install -y \
         chromium` (.ci/run does), or point PEERPX_CHROMIUM at a Chromium binary",
        browser.display()
    );
    match tokio::process::Command::new("node")
        .arg("--version")
        .output()
        .await
    {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout);
            let major: u32 = version
                .trim()
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            assert!(
                major >= 20,
                "Node.js 20 or later is needed, found {}",
                version.trim()
            );
        }
        Ok(output) => panic!("`node --version` failed\n{}", show(&output)),
        Err(e) => panic!("node could not be started ({e}): install Node.js 20 or later"),
    }
    assert!(
        repo()
            .join("web/node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed: run `npm ci --prefix web` (scripts/test does)"
    );
    assert!(
        peerpx_api::web::available(),
        "web/dist is not built: run `npm ci --prefix web && npm run build --prefix web` \
         (scripts/test does)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_e2e_register_approve_upload_like_comment_profile_sign_out_in_chromium() {
    require_tools().await;
    let node = TestNode::start(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    // root / "admin password 1": the scenario signs in as root through the UI to approve.
    let admin = node.admin().await;
    let settings = expect_json(
        node.http
            .patch(node.url("/api/peerpx/v1/admin/settings"))
            .bearer_auth(&admin)
            .json(&json!({ "registrations_mode": "approval" }))
            .send()
            .await
            .expect("settings"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(settings["registrations_mode"], "approval", "{settings}");

    let shots = repo().join("target/e2e-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let started = Instant::now();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(repo().join("web/e2e/scenario.mjs"))
        .arg(&node.base)
        .arg(&shots)
        .current_dir(repo())
        .env("PEERPX_CHROMIUM", chromium())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(HARD_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("the browser scenario ran over {HARD_LIMIT:?}"))
        .unwrap_or_else(|e| panic!("node could not be started ({e})"));
    assert!(
        output.status.success(),
        "the browser scenario failed (screenshots in {})\n{}",
        shots.display(),
        show(&output)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout));
    println!(
        "browser scenario: {} ms; screenshots in {}",
        started.elapsed().as_millis(),
        shots.display()
    );

    // The node agrees with what the browser saw: two photo posts by the approved account, its
    // new profile, the like kept and the comment gone.
    let clara = expect_json(
        node.get("/api/v1/accounts/lookup?acct=clara", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(clara["statuses_count"], 2, "{clara}");
    assert_eq!(clara["display_name"], "Clara Lumière", "{clara}");
    let id = clara["id"].as_str().expect("id");
    let posts = expect_json(
        node.get(&format!("/api/v1/accounts/{id}/statuses"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    let posts = posts.as_array().expect("posts");
    assert_eq!(posts.len(), 2, "{posts:?}");
    let liked: Vec<_> = posts
        .iter()
        .map(|p| (p["favourites_count"].clone(), p["replies_count"].clone()))
        .collect();
    assert!(
        liked.contains(&(json!(1), json!(0))),
        "one post liked once, its comment deleted: {liked:?}"
    );
    node.stop().await;
}
