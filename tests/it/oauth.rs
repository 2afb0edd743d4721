//! OAuth flows over HTTP on every engine: authorization code with PKCE, expiry, rate limits.

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::harness::{expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    authorization_code_with_pkce_logs_a_user_in_through_the_consent_page,
    expired_tokens_are_refused,
    repeated_failed_logins_are_rate_limited,
);

fn location(r: &reqwest::Response) -> url::Url {
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("redirect");
    url::Url::parse(loc).expect("absolute redirect")
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn authorization_code_with_pkce_logs_a_user_in_through_the_consent_page(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    node.create_account("pat", "pat's password", peerpx_aggregates::Role::User)
        .await;
    let app = node.app().await;
    let verifier = "a-very-long-random-verifier-string-for-pkce-0123456789";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    let callback = "http://127.0.0.1/callback";
    let authorize = |extra: &str| {
        format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={callback}&scope=read+write&state=xyz&code_challenge={challenge}&code_challenge_method=S256{extra}",
            app.0
        )
    };
    let page = node.get(&authorize(""), None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("peerpx tests") && html.contains("name=\"password\""),
        "{html}"
    );

    let form = |password: &'static str, decision: &'static str| {
        vec![
            ("response_type", "code".to_string()),
            ("client_id", app.0.clone()),
            ("redirect_uri", callback.to_string()),
            ("scope", "read write".to_string()),
            ("state", "xyz".to_string()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_string()),
            ("login", "pat@example.org".to_string()),
            ("password", password.to_string()),
            ("decision", decision.to_string()),
        ]
    };
    // A wrong password shows the page again with a message, no redirect.
    let r = node
        .http
        .post(node.url("/oauth/authorize"))
        .form(&form("wrong", "approve"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .expect("html")
        .contains("Invalid email or password."));
    // Deny sends the user back with access_denied.
    let r = node
        .http
        .post(node.url("/oauth/authorize"))
        .form(&form("", "deny"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query(&location(&r), "error").as_deref(),
        Some("access_denied")
    );
    // Approve: back to the callback with a code and the state.
    let r = node
        .http
        .post(node.url("/oauth/authorize"))
        .form(&form("pat's password", "approve"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = location(&r);
    assert!(back.as_str().starts_with(callback));
    assert_eq!(query(&back, "state").as_deref(), Some("xyz"));
    let code = query(&back, "code").expect("code");

    let exchange = |verifier: &'static str| {
        let (node, app, code) = (&node, app.clone(), code.clone());
        async move {
            node.post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &app.0),
                    ("redirect_uri", callback),
                    ("code", &code),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let r = exchange("not-the-verifier").await;
    assert_eq!(
        expect_json(r, StatusCode::BAD_REQUEST).await["error"],
        "invalid_grant"
    );
    let token = expect_json(exchange(verifier).await, StatusCode::OK).await;
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "read write");
    let t = token["access_token"].as_str().expect("token");
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(t))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["username"], "pat");
    // A code works once.
    let r = exchange(verifier).await;
    assert_eq!(
        expect_json(r, StatusCode::BAD_REQUEST).await["error"],
        "invalid_grant"
    );
    // The app token sees the app.
    let app_view = expect_json(
        node.get("/api/v1/apps/verify_credentials", Some(t)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app_view["name"], "peerpx tests");

    // Unknown client or unregistered redirect: an error page, never a redirect.
    let r = node
        .get(&authorize("").replace(&app.0, "unknown"), None)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = node
        .get(
            &authorize("").replace(callback, "http://evil.example/cb"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The out-of-band redirect shows the code on a page.
    let mut oob = form("pat's password", "approve");
    oob[2].1 = "urn:ietf:wg:oauth:2.0:oob".into();
    let r = node
        .http
        .post(node.url("/oauth/authorize"))
        .form(&oob)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("html").contains("id=\"code\""));
    node.stop().await;
}

async fn expired_tokens_are_refused(engine: Engine) {
    let Some(node) =
        TestNode::start_with(engine, |c| c.token_lifetime = Some(Duration::from_secs(1))).await
    else {
        return;
    };
    node.create_account("brief", "brief password", peerpx_aggregates::Role::User)
        .await;
    let app = node.app().await;
    let token = node.login(&app, "brief", "brief password", "read").await;
    expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = node
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    assert_eq!(
        expect_json(r, StatusCode::UNAUTHORIZED).await["error"],
        "The access token expired"
    );
    node.stop().await;
}

async fn repeated_failed_logins_are_rate_limited(engine: Engine) {
    let Some(node) = TestNode::start_with(engine, |c| c.login_failures_per_account = 3).await
    else {
        return;
    };
    node.create_account("target", "the real password", peerpx_aggregates::Role::User)
        .await;
    let app = node.app().await;
    for _ in 0..3 {
        let r = node.password_grant(&app, "target", "guess", "read").await;
        expect_json(r, StatusCode::BAD_REQUEST).await;
    }
    // Even the right password is refused while the account is locked out.
    let r = node
        .password_grant(&app, "target", "the real password", "read")
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        expect_json(r, StatusCode::TOO_MANY_REQUESTS).await["error"],
        "Too many requests"
    );
    // Another account is not affected.
    node.create_account("other", "other password", peerpx_aggregates::Role::User)
        .await;
    node.login(&app, "other", "other password", "read").await;
    node.stop().await;
}
