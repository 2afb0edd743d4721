//! The web UI end to end, in a real headless Chromium (playwright-core driving Debian's
//! `/usr/bin/chromium`), against real nodes started here. Screenshots of the main pages land in
//! `target/e2e-screenshots/`.
//!
//! - `web/e2e/scenario.mjs`, on one node: a person registers, gets approved by the admin, signs
//!   in, uploads two photos, checks the grid, the EXIF panel and the upright orientation, likes,
//!   comments, edits the profile and signs out.
//! - `web/e2e/federation.mjs`, across two federated nodes as a person sees it: a visitor on ana's
//!   profile on node A follows her from node B with the remote-follow form, signs in on B as
//!   ben on the way and clicks Follow; ana's next photo post shows in ben's Home on B with its
//!   image loaded from A, ben opens it and likes it and A counts the like; on B, searching
//!   `@ana@A` finds her (followed), and her hashtag finds the tag, the photo and the tag's page.
//!   The nodes then agree on the follow and the like.

// Tests may panic on the unexpected (the workspace denies these lints for library code).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use peerpx_aggregates::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{expect_json, Engine, TestNode};
use crate::statuses::{post, upload};

/// The scenarios bound themselves to 2 and 3 minutes; this is the last resort if a browser hangs.
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

/// Runs a browser scenario (`node web/e2e/….mjs` with its arguments) within [`HARD_LIMIT`],
/// asserts it passed and returns what it printed.
async fn run_browser(mut command: tokio::process::Command, shots: &Path) -> String {
    command
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
    String::from_utf8_lossy(&output.stdout).into_owned()
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
        .arg(&shots);
    println!("{}", run_browser(command, &shots).await);
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

/// Ben's password on node B, which the scenario types on B's login page.
const BEN_PASSWORD: &str = "ben’s password 1";
/// Ana's hashtag, on the post made before the follow and on the one the scenario makes.
const HASHTAG: &str = "orbitnight";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_e2e_federation_remote_follow_home_like_and_search_across_two_nodes_in_chromium() {
    require_tools().await;
    let a = TestNode::start_federated(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    let b = TestNode::start_federated(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    let (ana_id, ana) = a.user("ana").await;
    b.create_account("ben", BEN_PASSWORD, Role::User).await;

    // Before anyone follows her, ana has a public photo post with a hashtag (not sent to B).
    let first = upload(
        &a,
        &ana,
        "astronaut-exif-gps.jpg",
        &[(
            "description",
            "An astronaut in an orange flight suit, smiling",
        )],
    )
    .await;
    let first = post(
        &a,
        &ana,
        json!({"status": format!("From the archive #{HASHTAG}"), "visibility": "public",
               "media_ids": [first["id"]], "title": "Astronaut portrait"}),
    )
    .await;
    // The photo of the post the scenario makes once ben follows: uploaded, not yet posted.
    let rocket_alt = "A white rocket on its launch pad at dusk, between towers, lit by floodlights";
    let rocket = upload(&a, &ana, "rocket.jpg", &[("description", rocket_alt)]).await;
    let rocket = rocket["id"].as_str().expect("media id");

    let shots = repo().join("target/e2e-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let started = Instant::now();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(repo().join("web/e2e/federation.mjs"))
        .arg(&a.base)
        .arg(&b.base)
        .arg(&shots)
        .env("PEERPX_E2E_ANA_TOKEN", &ana)
        .env("PEERPX_E2E_ANA_MEDIA", rocket)
        .env("PEERPX_E2E_ANA_MEDIA_ALT", rocket_alt)
        .env("PEERPX_E2E_HASHTAG", HASHTAG)
        .env("PEERPX_E2E_BEN_LOGIN", "ben")
        .env("PEERPX_E2E_BEN_PASSWORD", BEN_PASSWORD);
    let output = run_browser(command, &shots).await;
    println!("{output}");
    println!(
        "federation browser scenario: {} ms; screenshots in {}",
        started.elapsed().as_millis(),
        shots.display()
    );

    // Both nodes agree on what the browser did: ben on B follows ana on A, A lists ben among
    // ana's followers, and ana's post made after the follow carries ben's like.
    let app = b.app().await;
    let ben = b.login(&app, "ben", BEN_PASSWORD, "read").await;
    let ana_on_b = expect_json(
        b.get(
            &format!("/api/v1/accounts/lookup?acct=ana@{}", a.domain),
            Some(&ben),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let ana_on_b = ana_on_b["id"].as_str().expect("id");
    let relationship = expect_json(
        b.get(
            &format!("/api/v1/accounts/relationships?id[]={ana_on_b}"),
            Some(&ben),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(relationship[0]["following"], true, "{relationship}");
    assert_eq!(relationship[0]["requested"], false, "{relationship}");
    let followers = expect_json(
        a.get(&format!("/api/v1/accounts/{ana_id}/followers"), Some(&ana))
            .await,
        StatusCode::OK,
    )
    .await;
    let followers: Vec<_> = followers
        .as_array()
        .expect("followers")
        .iter()
        .map(|f| f["acct"].as_str().expect("acct").to_string())
        .collect();
    assert_eq!(followers, vec![format!("ben@{}", b.domain)]);
    let posts = expect_json(
        a.get(&format!("/api/v1/accounts/{ana_id}/statuses"), Some(&ana))
            .await,
        StatusCode::OK,
    )
    .await;
    let posts: Vec<_> = posts
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| {
            (
                p["media_attachments"][0]["id"].clone(),
                p["favourites_count"].clone(),
            )
        })
        .collect();
    assert_eq!(
        posts,
        vec![
            (json!(rocket), json!(1)),
            (first["media_attachments"][0]["id"].clone(), json!(0))
        ],
        "ana's two posts on A, newest first, the one made after the follow liked once"
    );
    b.stop().await;
    a.stop().await;
}
