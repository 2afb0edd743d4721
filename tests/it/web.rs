//! The node serves the web UI (`web/dist`, built by `npm run build --prefix web`; `scripts/test`
//! builds it): app routes get `index.html`, files are served by path, node paths never fall back.

use reqwest::StatusCode;

use crate::harness::{Engine, TestNode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_the_web_app_and_keeps_its_own_paths() {
    assert!(
        peerpx_api::web::available(),
        "web/dist is not built: run `npm ci --prefix web && npm run build --prefix web` \
         (scripts/test does)"
    );
    let node = TestNode::start(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    // App routes, deep links included, load the app.
    let mut index = None;
    for path in [
        "/",
        "/explore",
        "/@ana/123",
        "/oauth/callback?code=x",
        "/tags/cats",
        "/search?q=ana",
        // Mastodon's remote-follow entry point (the app redirects it to a search).
        "/authorize_interaction?uri=http%3A%2F%2Fx%2Fusers%2Fa",
    ] {
        let r = node.get(path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let kind = r.headers()["content-type"]
            .to_str()
            .expect("type")
            .to_string();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let body = r.text().await.expect("body");
        assert!(body.contains("<div id=\"app\">"), "{path}: {body}");
        assert_eq!(index.get_or_insert_with(|| body.clone()), &body, "{path}");
    }
    // The app's script is served with its type and cached for ever.
    let index = index.expect("index");
    let script = index
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().expect("quote"))
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("an /assets/*.js script in index.html");
    let r = node.get(script, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("type")
        .contains("javascript"));
    assert!(r.headers()["cache-control"]
        .to_str()
        .expect("cache")
        .contains("immutable"));
    assert_eq!(
        node.get("/assets/missing-0000.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
    // Node paths answer as the API does, never with the app.
    for path in [
        "/api/v1/nope",
        "/ipfs/bafynope",
        "/oauth/token",
        "/users/nobody",
    ] {
        let r = node.get(path, None).await;
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        let body = r.text().await.expect("body");
        assert!(
            !body.contains("<div id=\"app\">"),
            "{path} fell back to the app"
        );
    }
    // A profile URL is the app for browsers and the actor for ActivityPub.
    node.user("ana").await;
    let r = node
        .http
        .get(node.url("/@ana"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("profile");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("body"), index);
    let r = node
        .http
        .get(node.url("/@ana"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("actor");
    assert_eq!(r.status(), StatusCode::OK);
    let actor: serde_json::Value = r.json().await.expect("actor JSON");
    assert_eq!(actor["preferredUsername"], "ana");
    let r = node.post_form("/explore", None, &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    node.stop().await;
}
