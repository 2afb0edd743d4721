//! Follows across nodes over real HTTP: two nodes on 127.0.0.1, each with its own database, find
//! each other's users by WebFinger, follow, accept, approve and unfollow; inboxes refuse what
//! they cannot verify and take a redelivered activity once.

use std::time::Duration;

use peerpx_federation::keys;
use peerpx_federation::signatures::Signer;
use peerpx_projections::accounts;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(a_remote_follow_is_requested_then_accepted_and_seen_on_both_nodes);

const WAIT: Duration = Duration::from_secs(20);

async fn two_nodes(engine: Engine) -> Option<(TestNode, TestNode)> {
    let a = TestNode::start_federated(engine).await?;
    let b = TestNode::start_federated(engine).await?;
    Some((a, b))
}

/// `user@domain` looked up from `node` by a signed-in user; returns the account entity.
async fn lookup(node: &TestNode, token: &str, acct: &str) -> Value {
    let path = format!("/api/v1/accounts/lookup?acct={acct}");
    expect_json(node.get(&path, Some(token)).await, StatusCode::OK).await
}

async fn relationship(node: &TestNode, token: &str, id: &str) -> Value {
    let path = format!("/api/v1/accounts/relationships?id[]={id}");
    let v = expect_json(node.get(&path, Some(token)).await, StatusCode::OK).await;
    v[0].clone()
}

async fn act(node: &TestNode, token: &str, path: &str) -> Value {
    expect_json(node.post_form(path, Some(token), &[]).await, StatusCode::OK).await
}

/// The accts of a list of accounts.
fn accts(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|a| a["acct"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Events of one type in a node's log.
async fn count_events(node: &TestNode, event_type: &str) -> i64 {
    let db = &node.node().state.db;
    let row: (i64,) = sqlx::query_as(&db.sql("SELECT COUNT(*) FROM events WHERE event_type = ?"))
        .bind(event_type)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    row.0
}

async fn wait_following(node: &TestNode, token: &str, id: &str, want: bool) {
    eventually(WAIT, "the follow state to change", || async {
        (relationship(node, token, id).await["following"] == want).then_some(())
    })
    .await;
}

async fn a_remote_follow_is_requested_then_accepted_and_seen_on_both_nodes(engine: Engine) {
    let Some((a, b)) = two_nodes(engine).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;

    let found = lookup(&a, &ana, &format!("ben@{}", b.domain)).await;
    assert_eq!(found["acct"], format!("ben@{}", b.domain));
    assert_eq!(found["uri"], format!("{}/users/ben", b.base));
    assert_eq!(found["url"], format!("{}/@ben", b.base));
    let ben_on_a = found["id"].as_str().expect("id").to_string();
    assert_ne!(ben_on_a, ben_id, "a remote account gets an id of its own");
    // Found again by search, as the same account; and not without a user token.
    let path = format!(
        "/api/v2/search?q=@ben@{}&resolve=true&type=accounts",
        b.domain
    );
    let results = expect_json(a.get(&path, Some(&ana)).await, StatusCode::OK).await;
    assert_eq!(results["accounts"][0]["id"], ben_on_a.as_str(), "{results}");
    assert_eq!(results["statuses"], json!([]));
    assert_eq!(a.get(&path, None).await.status(), StatusCode::UNAUTHORIZED);
    // Once known, the account is found without a token too; it is no local account.
    let known = format!("/api/v1/accounts/lookup?acct=ben@{}", b.domain);
    assert_eq!(a.get(&known, None).await.status(), StatusCode::OK);
    let admin = a.admin().await;
    let listed = expect_json(
        a.get("/api/v1/admin/accounts", Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed
            .as_array()
            .expect("list")
            .iter()
            .all(|x| x["username"] != "ben"),
        "{listed}"
    );
    assert_eq!(
        a.get("/api/v1/accounts/lookup?acct=ben", None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let r = act(&a, &ana, &format!("/api/v1/accounts/{ben_on_a}/follow")).await;
    assert_eq!(
        (r["requested"].clone(), r["following"].clone()),
        (json!(true), json!(false))
    );
    wait_following(&a, &ana, &ben_on_a, true).await;

    let followers = expect_json(
        b.get(&format!("/api/v1/accounts/{ben_id}/followers"), Some(&ben))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accts(&followers), vec![format!("ana@{}", a.domain)]);
    let notifications = expect_json(
        b.get("/api/v1/notifications", Some(&ben)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(notifications[0]["type"], "follow", "{notifications}");
    assert_eq!(
        notifications[0]["account"]["acct"],
        format!("ana@{}", a.domain)
    );
    // The ActivityPub followers collection names the remote actor.
    let page = b
        .http
        .get(b.url("/users/ben/followers?page=true"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("collection");
    let page: Value = page.json().await.expect("json");
    assert_eq!(
        page["orderedItems"],
        json!([format!("{}/users/ana", a.base)])
    );

    // Every activity is in both logs: the Follow sent by A and received by B, the Accept sent by
    // B and received by A.
    assert_eq!(count_events(&a, "ActivityQueued").await, 1);
    assert_eq!(count_events(&b, "ActivityReceived").await, 1);
    assert_eq!(count_events(&b, "ActivityQueued").await, 1);
    eventually(WAIT, "A to record the Accept", || async {
        (count_events(&a, "ActivityReceived").await == 1).then_some(())
    })
    .await;
    // Remote accounts, follows and Follow ids rebuild identically from either log.
    for node in [&a, &b] {
        node.assert_replays_identically().await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_remote_account_approves_the_request_and_the_follower_sees_it() {
    let Some((a, b)) = two_nodes(Engine::Sqlite).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;
    let form = reqwest::multipart::Form::new().text("locked", "true");
    let me = expect_json(b.patch_profile(&ben, form).await, StatusCode::OK).await;
    assert_eq!(me["locked"], true);

    let ben_on_a = lookup(&a, &ana, &format!("ben@{}", b.domain)).await;
    assert_eq!(ben_on_a["locked"], true);
    let ben_on_a = ben_on_a["id"].as_str().expect("id").to_string();
    act(&a, &ana, &format!("/api/v1/accounts/{ben_on_a}/follow")).await;

    let requests = eventually(WAIT, "the request to reach B", || async {
        let v = expect_json(
            b.get("/api/v1/follow_requests", Some(&ben)).await,
            StatusCode::OK,
        )
        .await;
        (!accts(&v).is_empty()).then_some(v)
    })
    .await;
    assert_eq!(accts(&requests), vec![format!("ana@{}", a.domain)]);
    let ana_on_b = requests[0]["id"].as_str().expect("id").to_string();
    assert_eq!(relationship(&a, &ana, &ben_on_a).await["requested"], true);

    act(
        &b,
        &ben,
        &format!("/api/v1/follow_requests/{ana_on_b}/authorize"),
    )
    .await;
    wait_following(&a, &ana, &ben_on_a, true).await;
    let followers = expect_json(
        b.get(&format!("/api/v1/accounts/{ben_id}/followers"), Some(&ben))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accts(&followers), vec![format!("ana@{}", a.domain)]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollowing_a_remote_account_removes_the_follower_there() {
    let Some((a, b)) = two_nodes(Engine::Sqlite).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;
    let ben_on_a = lookup(&a, &ana, &format!("ben@{}", b.domain)).await;
    let ben_on_a = ben_on_a["id"].as_str().expect("id").to_string();
    act(&a, &ana, &format!("/api/v1/accounts/{ben_on_a}/follow")).await;
    wait_following(&a, &ana, &ben_on_a, true).await;

    let r = act(&a, &ana, &format!("/api/v1/accounts/{ben_on_a}/unfollow")).await;
    assert_eq!(r["following"], false);
    let followers_path = format!("/api/v1/accounts/{ben_id}/followers");
    eventually(WAIT, "B to drop the follower", || async {
        let v = expect_json(b.get(&followers_path, Some(&ben)).await, StatusCode::OK).await;
        accts(&v).is_empty().then_some(())
    })
    .await;
    a.stop().await;
    b.stop().await;
}

/// POSTs `body` to `url` with `headers`; returns the status and the body's `error`.
async fn post(
    node: &TestNode,
    url: &str,
    headers: reqwest::header::HeaderMap,
    body: &str,
) -> (StatusCode, String) {
    let response = node
        .http
        .post(url)
        .headers(headers)
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    let status = response.status();
    let text = response.text().await.expect("body");
    let error = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    (status, error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inboxes_refuse_unverifiable_activities_and_take_a_redelivery_once() {
    let Some((a, b)) = two_nodes(Engine::Sqlite).await else {
        return;
    };
    a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;
    let ana_row = accounts::by_username(&a.node().state.db, "ana")
        .await
        .expect("read")
        .expect("ana");
    let private = ana_row.private_key_pem.expect("key");
    let actor = format!("{}/users/ana", a.base);
    let key_id = format!("{actor}#main-key");
    let inbox = url::Url::parse(&b.url("/users/ben/inbox")).expect("url");
    let follow = |n: u32, actor: &str| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/test-follows/{n}", a.base),
            "type": "Follow",
            "actor": actor,
            "object": format!("{}/users/ben", b.base),
        })
        .to_string()
    };
    let ana_signs = Signer::new(key_id.clone(), &private).expect("signer");
    let head = b.head().await;

    // Unsigned.
    let (status, reason) = post(&b, inbox.as_str(), Default::default(), &follow(1, &actor)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(reason.contains("not signed"), "{reason}");
    // Signed by another key under ana's key id.
    let other = keys::generate_blocking().await.expect("key");
    let forged = Signer::new(key_id.clone(), &other.private_pem).expect("signer");
    let body = follow(1, &actor);
    let headers = forged.sign_post(&inbox, body.as_bytes()).expect("sign");
    let (status, reason) = post(&b, inbox.as_str(), headers, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(reason.contains("Verification failed"), "{reason}");
    // A body that is not the one signed.
    let headers = ana_signs.sign_post(&inbox, body.as_bytes()).expect("sign");
    let (status, reason) = post(&b, inbox.as_str(), headers, &follow(2, &actor)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(reason.contains("Digest"), "{reason}");
    // Signed by ana, in the name of someone else.
    let body = follow(3, &format!("{}/users/mallory", a.base));
    let headers = ana_signs.sign_post(&inbox, body.as_bytes()).expect("sign");
    let (status, reason) = post(&b, inbox.as_str(), headers, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(reason.contains("actor"), "{reason}");
    assert_eq!(b.head().await, head, "a refused activity appends nothing");

    // A good one, delivered twice.
    let body = follow(4, &actor);
    let headers = ana_signs.sign_post(&inbox, body.as_bytes()).expect("sign");
    let (status, reason) = post(&b, inbox.as_str(), headers.clone(), &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reason}");
    b.quiet().await;
    let after_first = b.head().await;
    assert!(after_first > head);
    let (status, _) = post(&b, inbox.as_str(), headers, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    b.quiet().await;
    assert_eq!(b.head().await, after_first, "a redelivery changes nothing");
    let followers = expect_json(
        b.get(&format!("/api/v1/accounts/{ben_id}/followers"), Some(&ben))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accts(&followers), vec![format!("ana@{}", a.domain)]);
    a.stop().await;
    b.stop().await;
}
