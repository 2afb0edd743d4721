//! Domain blocks and authorized fetch over real HTTP: Mastodon's admin API for domain blocks
//! (every engine), a blocked node refused at the inbox, never delivered to and cut off from its
//! follows, federation restored by lifting the block, and two nodes in authorized-fetch mode
//! still resolving and following each other through signed fetches.

use std::time::Duration;

use peerpx_aggregates::Role;
use peerpx_federation::signatures::Signer;
use peerpx_projections::{accounts, deliveries};
use reqwest::header::{HeaderMap, ACCEPT, LINK};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    admins_create_list_update_and_lift_domain_blocks,
    domain_block_requests_are_checked_and_refused_ones_change_nothing,
    a_blocked_node_is_refused_cut_off_and_welcomed_back_once_unblocked,
);

const WAIT: Duration = Duration::from_secs(30);
const AP: &str = "application/activity+json";
const BLOCKS: &str = "/api/v1/admin/domain_blocks";

async fn block(node: &TestNode, token: &str, form: &[(&str, &str)]) -> Value {
    expect_json(
        node.post_form(BLOCKS, Some(token), form).await,
        StatusCode::OK,
    )
    .await
}

/// Status and JSON body of a response.
async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

async fn admins_create_list_update_and_lift_domain_blocks(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;

    let spam = block(&node, &admin, &[("domain", " Spam.Example. ")]).await;
    assert_eq!(spam["domain"], "spam.example");
    assert_eq!(spam["severity"], "suspend", "suspend is the default");
    assert!(spam["id"].is_string(), "{spam}");
    assert_eq!(
        spam["digest"].as_str().map(str::len),
        Some(64),
        "a SHA-256 digest"
    );
    assert!(spam["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    for (key, want) in [
        ("reject_media", json!(false)),
        ("reject_reports", json!(false)),
        ("private_comment", Value::Null),
        ("public_comment", Value::Null),
        ("obfuscate", json!(false)),
    ] {
        assert_eq!(spam[key], want, "{key}");
    }
    let quiet = expect_json(
        node.post_json(
            BLOCKS,
            Some(&admin),
            &json!({
                "domain": "quiet.example",
                "severity": "silence",
                "reject_media": true,
                "public_comment": "Too loud",
                "private_comment": "reported twice",
                "obfuscate": true,
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            &quiet["severity"],
            &quiet["reject_media"],
            &quiet["public_comment"],
            &quiet["obfuscate"]
        ),
        (
            &json!("silence"),
            &json!(true),
            &json!("Too loud"),
            &json!(true)
        )
    );
    // A node among several on one address: the port narrows the block.
    let one_port = block(&node, &admin, &[("domain", "127.0.0.1:9")]).await;
    assert_eq!(one_port["domain"], "127.0.0.1:9");

    // Newest first, paged with Link.
    let r = node.get(&format!("{BLOCKS}?limit=2"), Some(&admin)).await;
    let link = r
        .headers()
        .get(LINK)
        .and_then(|l| l.to_str().ok())
        .expect("a Link header")
        .to_string();
    let page = expect_json(r, StatusCode::OK).await;
    let domains = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("a list")
            .iter()
            .map(|b| b["domain"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(domains(&page), vec!["127.0.0.1:9", "quiet.example"]);
    let next = link
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .and_then(|l| l.split(['<', '>']).nth(1))
        .expect("a next link");
    assert!(next.contains(&format!("max_id={}", quiet["id"].as_str().expect("id"))));
    let rest = expect_json(
        node.http
            .get(next)
            .bearer_auth(&admin)
            .send()
            .await
            .expect("next page"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(domains(&rest), vec!["spam.example"]);

    let id = spam["id"].as_str().expect("id");
    let shown = expect_json(
        node.get(&format!("{BLOCKS}/{id}"), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown, spam);

    // An update changes what it names and keeps the rest (and the domain).
    let updated = expect_json(
        node.put_json(
            &format!("{BLOCKS}/{id}"),
            Some(&admin),
            &json!({"severity": "noop", "private_comment": "watching", "domain": "other.example"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["domain"], "spam.example");
    assert_eq!(updated["severity"], "noop");
    assert_eq!(updated["private_comment"], "watching");
    assert_eq!(updated["created_at"], spam["created_at"]);
    assert_eq!(updated["id"], spam["id"]);

    // Lifted: gone, and a new block of the domain is a new one.
    let lifted = expect_json(
        node.delete(&format!("{BLOCKS}/{id}"), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(lifted, json!({}));
    assert_eq!(
        node.get(&format!("{BLOCKS}/{id}"), Some(&admin))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        node.delete(&format!("{BLOCKS}/{id}"), Some(&admin))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let again = block(&node, &admin, &[("domain", "spam.example")]).await;
    assert_ne!(again["id"], spam["id"]);
    let all = expect_json(node.get(BLOCKS, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(
        domains(&all),
        vec!["spam.example", "127.0.0.1:9", "quiet.example"]
    );

    // The read model rebuilds identically from the log.
    let state = &node.node().state;
    state.settle(node.head().await).await;
    let before = state.projector.snapshot().await.expect("snapshot");
    assert_eq!(before["domain_blocks"].len(), 3);
    state.projector.replay(None).await.expect("replay");
    assert_eq!(state.projector.snapshot().await.expect("snapshot"), before);
    node.stop().await;
}

async fn domain_block_requests_are_checked_and_refused_ones_change_nothing(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let existing = block(&node, &admin, &[("domain", "spam.example")]).await;
    let head = node.head().await;

    // Bad input: Mastodon-style 422s.
    for (form, field, code) in [
        (vec![("domain", "not a domain")], "domain", "ERR_INVALID"),
        (
            vec![("domain", "https://x.example/")],
            "domain",
            "ERR_INVALID",
        ),
        (vec![("domain", "")], "domain", "ERR_BLANK"),
        (vec![("severity", "silence")], "domain", "ERR_BLANK"),
        (
            vec![("domain", "x.example"), ("severity", "ban")],
            "severity",
            "ERR_INVALID",
        ),
        (
            vec![("domain", "x.example"), ("reject_media", "perhaps")],
            "reject_media",
            "ERR_INVALID",
        ),
    ] {
        let (status, body) = answer(node.post_form(BLOCKS, Some(&admin), &form).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {body}");
        assert_eq!(body["details"][field][0]["error"], code, "{form:?}: {body}");
        assert!(body["error"].is_string());
    }
    let long = "x".repeat(1001);
    let (status, body) = answer(
        node.post_form(
            BLOCKS,
            Some(&admin),
            &[("domain", "x.example"), ("public_comment", &long)],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["details"]["public_comment"][0]["error"],
        "ERR_TOO_LONG"
    );

    // Already blocked, or covered by a block at least as strict: 422 naming that block.
    for domain in ["SPAM.example", "sub.spam.example"] {
        let (status, body) = answer(
            node.post_form(
                BLOCKS,
                Some(&admin),
                &[("domain", domain), ("severity", "silence")],
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{domain}: {body}");
        assert_eq!(
            body["existing_domain_block"]["id"], existing["id"],
            "{body}"
        );
        assert!(body["error"]
            .as_str()
            .is_some_and(|e| e.contains("spam.example")));
    }

    // Unknown ids.
    for path in [format!("{BLOCKS}/1"), format!("{BLOCKS}/nope")] {
        assert_eq!(
            node.get(&path, Some(&admin)).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            node.put_json(&path, Some(&admin), &json!({"severity": "noop"}))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            node.delete(&path, Some(&admin)).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    // Who may: admins with the scope.
    let id = existing["id"].as_str().expect("id");
    let one = format!("{BLOCKS}/{id}");
    assert_eq!(
        node.get(BLOCKS, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, user) = node.user("uma").await;
    node.create_account("moe", "moderator password", Role::Moderator)
        .await;
    let app = node.app().await;
    let moderator = node
        .login(&app, "moe", "moderator password", "admin:read admin:write")
        .await;
    let reader = node
        .login(
            &app,
            "root",
            "admin password 1",
            "read admin:read:domain_blocks",
        )
        .await;
    for token in [&user, &moderator] {
        assert_eq!(
            node.get(BLOCKS, Some(token)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            node.post_form(BLOCKS, Some(token), &[("domain", "y.example")])
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            node.delete(&one, Some(token)).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(node.get(&one, Some(&reader)).await.status(), StatusCode::OK);
    assert_eq!(
        node.put_json(&one, Some(&reader), &json!({"severity": "noop"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Every refused request left the log as it was (the moderator's and user's accounts aside).
    let state = &node.node().state;
    let db = &state.db;
    let blocks: (i64,) =
        sqlx::query_as(&db.sql(
            "SELECT COUNT(*) FROM events WHERE aggregate_type = 'domain_block' AND position > ?",
        ))
        .bind(head)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(blocks.0, 0, "no domain block event after the first");
    let shown = expect_json(node.get(&one, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(shown, existing);
    node.stop().await;
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

async fn lookup(node: &TestNode, token: &str, acct: &str) -> reqwest::Response {
    node.get(&format!("/api/v1/accounts/lookup?acct={acct}"), Some(token))
        .await
}

async fn id_of(node: &TestNode, token: &str, acct: &str) -> String {
    let v = expect_json(lookup(node, token, acct).await, StatusCode::OK).await;
    v["id"].as_str().expect("id").to_string()
}

async fn following(node: &TestNode, token: &str, id: &str) -> bool {
    let path = format!("/api/v1/accounts/relationships?id[]={id}");
    let v = expect_json(node.get(&path, Some(token)).await, StatusCode::OK).await;
    v[0]["following"] == json!(true)
}

async fn wait_following(node: &TestNode, token: &str, id: &str) {
    eventually(WAIT, "the follow to be accepted", || async {
        following(node, token, id).await.then_some(())
    })
    .await;
}

async fn follow(node: &TestNode, token: &str, id: &str) {
    let path = format!("/api/v1/accounts/{id}/follow");
    expect_json(
        node.post_form(&path, Some(token), &[]).await,
        StatusCode::OK,
    )
    .await;
}

async fn followers(node: &TestNode, token: &str, id: &str) -> Vec<String> {
    let path = format!("/api/v1/accounts/{id}/followers");
    let v = expect_json(node.get(&path, Some(token)).await, StatusCode::OK).await;
    v.as_array()
        .expect("list")
        .iter()
        .map(|a| a["acct"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The signer of a local account of `node`, as a test holding its key.
async fn signer_of(node: &TestNode, username: &str) -> Signer {
    let row = accounts::by_username(&node.node().state.db, username)
        .await
        .expect("read")
        .expect("account");
    let key_id = format!("{}/users/{username}#main-key", node.base);
    Signer::new(key_id, &row.private_key_pem.expect("key")).expect("signer")
}

async fn a_blocked_node_is_refused_cut_off_and_welcomed_back_once_unblocked(engine: Engine) {
    let fast = |c: &mut peerpx::NodeConfig| c.delivery_backoff_base = Duration::from_millis(200);
    let Some(mut a) = TestNode::start_federated_with(engine, fast).await else {
        return;
    };
    let Some(b) = TestNode::start_federated_with(engine, fast).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (_, cleo) = a.user("cleo").await;
    let (ben_id, ben) = b.user("ben").await;
    let admin = b.admin().await;
    let ben_on_a = id_of(&a, &ana, &format!("ben@{}", b.domain)).await;
    follow(&a, &ana, &ben_on_a).await;
    wait_following(&a, &ana, &ben_on_a).await;
    assert_eq!(
        followers(&b, &ben, &ben_id).await,
        vec![format!("ana@{}", a.domain)]
    );
    let ana_on_b = id_of(&b, &ben, &format!("ana@{}", a.domain)).await;

    // B suspends A's node (by its address and port): ana's follow of ben ends on B at once.
    let blocked = block(&b, &admin, &[("domain", &a.domain)]).await;
    assert!(followers(&b, &ben, &ben_id).await.is_empty());
    let head = b.head().await;
    let received = count_events(&b, "ActivityReceived").await;

    // A signed Follow from A is refused before B fetches anything, and nothing is appended.
    let inbox = url::Url::parse(&b.url("/inbox")).expect("url");
    let body = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/test-follows/1", a.base),
        "type": "Follow",
        "actor": format!("{}/users/ana", a.base),
        "object": format!("{}/users/ben", b.base),
    })
    .to_string();
    let headers = signer_of(&a, "ana")
        .await
        .sign_post(&inbox, body.as_bytes())
        .expect("sign");
    let (status, refusal) = answer(
        b.http
            .post(inbox.as_str())
            .headers(headers)
            .body(body)
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refusal}");
    assert!(
        refusal["error"]
            .as_str()
            .is_some_and(|e| e.contains("blocked")),
        "{refusal}"
    );
    // The same through A's delivery queue: cleo's Follow gets B's 403 and is retried.
    let ben_for_cleo = id_of(&a, &cleo, &format!("ben@{}", b.domain)).await;
    follow(&a, &cleo, &ben_for_cleo).await;
    eventually(WAIT, "A's delivery to be refused by B", || async {
        let rows = deliveries::recent(&a.node().state.db, 10)
            .await
            .expect("deliveries");
        rows.iter()
            .any(|r| {
                r.state == "failed" && r.last_error.as_deref().is_some_and(|e| e.contains("403"))
            })
            .then_some(())
    })
    .await;
    assert_eq!(
        b.head().await,
        head,
        "B appended nothing for its blocked peer"
    );
    assert_eq!(count_events(&b, "ActivityReceived").await, received);

    // B follows nobody there, and resolves nothing on A any more, known or not.
    let (status, body) = answer(
        b.post_form(
            &format!("/api/v1/accounts/{ana_on_b}/follow"),
            Some(&ben),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(b.head().await, head, "a refused follow appends nothing");
    assert_eq!(
        lookup(&b, &ben, &format!("ana@{}", a.domain))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        lookup(&b, &ben, &format!("cleo@{}", a.domain))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Nothing goes from B to A: an activity queued while A is down is abandoned with the reason
    // when it is due again, not sent when A is back.
    a.halt().await;
    let state = &b.node().state;
    let ben_row = accounts::by_id(&state.db, &ben_id)
        .await
        .expect("db")
        .expect("ben");
    let ana_row = accounts::by_id(&state.db, &ana_on_b)
        .await
        .expect("db")
        .expect("ana");
    b.delete(
        &format!("{BLOCKS}/{}", blocked["id"].as_str().expect("id")),
        Some(&admin),
    )
    .await;
    peerpx_federation::deliver::send_answer(
        &state.federation,
        "Reject",
        &ben_row,
        &ana_row,
        "test",
    )
    .await
    .expect("queued");
    let failed = eventually(WAIT, "B's delivery to fail while A is down", || async {
        let rows = deliveries::recent(&state.db, 1).await.expect("deliveries");
        rows.into_iter()
            .next()
            .filter(|r| r.state == "failed" && r.activity_id.contains("rejects"))
    })
    .await;
    let blocked = block(&b, &admin, &[("domain", &a.domain)]).await;
    a.resume().await;
    let abandoned = eventually(WAIT, "the delivery to be abandoned", || async {
        deliveries::of_activity(&state.db, &failed.activity_id)
            .await
            .expect("deliveries")
            .into_iter()
            .find(|r| r.state == "abandoned")
    })
    .await;
    let reason = abandoned.last_error.unwrap_or_default();
    assert!(reason.contains("blocked by this node"), "{reason}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let db = &a.node().state.db;
    let got: (i64,) = sqlx::query_as(&db.sql(
        "SELECT COUNT(*) FROM events WHERE event_type = 'ActivityReceived' AND payload LIKE ?",
    ))
    .bind(format!("%{}%", failed.activity_id))
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(got.0, 0, "A never received it");

    // Lifted: cleo's Follow, still retried by A, gets through, and new follows too (ana's ended
    // on B and stays ended until she follows again).
    b.delete(
        &format!("{BLOCKS}/{}", blocked["id"].as_str().expect("id")),
        Some(&admin),
    )
    .await;
    wait_following(&a, &cleo, &ben_for_cleo).await;
    let (_, dora) = a.user("dora").await;
    let ben_for_dora = id_of(&a, &dora, &format!("ben@{}", b.domain)).await;
    follow(&a, &dora, &ben_for_dora).await;
    wait_following(&a, &dora, &ben_for_dora).await;
    let mut accts = followers(&b, &ben, &ben_id).await;
    accts.sort();
    assert_eq!(
        accts,
        vec![format!("cleo@{}", a.domain), format!("dora@{}", a.domain)]
    );
    assert_eq!(
        lookup(&b, &ben, &format!("ana@{}", a.domain))
            .await
            .status(),
        StatusCode::OK
    );
    a.stop().await;
    b.stop().await;
}

/// A GET of `url` signed by `signer` (or unsigned), asking for ActivityPub JSON.
async fn ap_get(node: &TestNode, url: &str, signer: Option<&Signer>) -> (StatusCode, Value) {
    let mut headers = HeaderMap::new();
    if let Some(s) = signer {
        headers = s
            .sign_get(&url::Url::parse(url).expect("url"))
            .expect("sign");
    }
    headers.insert(ACCEPT, AP.parse().expect("accept"));
    answer(
        node.http
            .get(url)
            .headers(headers)
            .send()
            .await
            .expect("get"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_in_authorized_fetch_mode_federate_through_signed_fetches() {
    let strict = |c: &mut peerpx::NodeConfig| c.authorized_fetch = true;
    let Some(a) = TestNode::start_federated_with(Engine::Sqlite, strict).await else {
        return;
    };
    let Some(b) = TestNode::start_federated_with(Engine::Sqlite, strict).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;

    // Unsigned: ActivityPub documents are refused, pages and discovery are not.
    let (status, body) = ap_get(&b, &b.url("/users/ben"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("signature")));
    for path in ["/users/ben/outbox", "/users/ben/followers?page=true"] {
        let r = b.get(path, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let page = b
        .http
        .get(b.url("/users/ben"))
        .header(ACCEPT, "text/html")
        .send()
        .await;
    assert_eq!(page.expect("page").status(), StatusCode::OK);
    let webfinger = format!("/.well-known/webfinger?resource=acct:ben@{}", b.domain);
    assert_eq!(b.get(&webfinger, None).await.status(), StatusCode::OK);
    assert_eq!(b.get("/nodeinfo/2.1", None).await.status(), StatusCode::OK);
    let (status, instance) = ap_get(&b, &b.url("/actor"), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the instance actor is served to anyone"
    );
    assert_eq!(instance["id"], b.url("/actor"));
    assert!(instance["publicKey"]["publicKeyPem"]
        .as_str()
        .is_some_and(|k| k.contains("PUBLIC KEY")));
    // A signature that does not verify is refused too.
    let other = peerpx_federation::keys::generate_blocking()
        .await
        .expect("key");
    let forged =
        Signer::new(format!("{}/users/ana#main-key", a.base), &other.private_pem).expect("signer");
    let (status, body) = ap_get(&b, &b.url("/users/ben"), Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Signed: each node fetches from the other, verifying keys through the instance actors.
    let (status, doc) = ap_get(&b, &b.url("/users/ben"), Some(&signer_of(&a, "ana").await)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["id"], b.url("/users/ben"));
    let ben_on_a = id_of(&a, &ana, &format!("ben@{}", b.domain)).await;
    follow(&a, &ana, &ben_on_a).await;
    wait_following(&a, &ana, &ben_on_a).await;
    assert_eq!(
        followers(&b, &ben, &ben_id).await,
        vec![format!("ana@{}", a.domain)]
    );
    let ana_on_b = id_of(&b, &ben, &format!("ana@{}", a.domain)).await;
    assert!(!ana_on_b.is_empty());

    // A blocked domain is refused even with a good signature.
    let admin = b.admin().await;
    block(&b, &admin, &[("domain", &a.domain)]).await;
    let (status, body) = ap_get(&b, &b.url("/users/ben"), Some(&signer_of(&a, "ana").await)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("blocked")));
    a.stop().await;
    b.stop().await;
}
