//! The durable delivery queue over real HTTP: a Follow sent while the other node is down is
//! retried until it is back, survives a restart of the sender and arrives once, and admins see
//! the queue and the failing host.

use std::time::Duration;

use peerpx_projections::deliveries::{self, DeliveryRow};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    a_follow_sent_while_the_other_node_is_down_arrives_once_it_is_back,
    a_pending_delivery_is_sent_after_the_sender_restarts_and_only_once,
    admins_see_the_queue_and_the_failing_host,
    a_post_in_the_log_reaches_followers_though_its_request_died,
);

const WAIT: Duration = Duration::from_secs(30);

/// Two federated nodes retrying deliveries every 200 ms at first; `ben` on B is resolved from
/// `ana` on A, then B is halted.
struct Scene {
    a: TestNode,
    b: TestNode,
    ana: String,
    ben_on_a: String,
}

async fn scene(engine: Engine) -> Option<Scene> {
    let fast = |c: &mut peerpx::NodeConfig| c.delivery_backoff_base = Duration::from_millis(200);
    let a = TestNode::start_federated_with(engine, fast).await?;
    let mut b = TestNode::start_federated_with(engine, fast).await?;
    let (_, ana) = a.user("ana").await;
    b.user("ben").await;
    let path = format!("/api/v1/accounts/lookup?acct=ben@{}", b.domain);
    let found = expect_json(a.get(&path, Some(&ana)).await, StatusCode::OK).await;
    let ben_on_a = found["id"].as_str().expect("id").to_string();
    b.halt().await;
    Some(Scene {
        a,
        b,
        ana,
        ben_on_a,
    })
}

async fn follow(s: &Scene) {
    let path = format!("/api/v1/accounts/{}/follow", s.ben_on_a);
    let r = expect_json(
        s.a.post_form(&path, Some(&s.ana), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["requested"], json!(true), "{r}");
}

/// A's only delivery, once it has failed at least `failures` times.
async fn failed_delivery(a: &TestNode, failures: i64) -> DeliveryRow {
    eventually(WAIT, "failed delivery attempts", || async {
        let rows = deliveries::recent(&a.node().state.db, 10)
            .await
            .expect("deliveries");
        // The Follow is queued from the log, just after the request answered.
        assert!(rows.len() <= 1, "{rows:?}");
        let row = rows.into_iter().next()?;
        (row.state == "failed" && row.attempts >= failures).then_some(row)
    })
    .await
}

async fn following(a: &TestNode, token: &str, id: &str) -> bool {
    let path = format!("/api/v1/accounts/relationships?id[]={id}");
    let v = expect_json(a.get(&path, Some(token)).await, StatusCode::OK).await;
    v[0]["following"] == json!(true)
}

async fn wait_following(s: &Scene) {
    eventually(WAIT, "ana to follow ben", || async {
        following(&s.a, &s.ana, &s.ben_on_a).await.then_some(())
    })
    .await;
}

/// Events of `event_type` on aggregate `aggregate_id` in a node's log.
async fn count(node: &TestNode, event_type: &str, aggregate_id: &str) -> i64 {
    let db = &node.node().state.db;
    let row: (i64,) = sqlx::query_as(
        &db.sql("SELECT COUNT(*) FROM events WHERE event_type = ? AND aggregate_id = ?"),
    )
    .bind(event_type)
    .bind(aggregate_id)
    .fetch_one(&db.pool)
    .await
    .expect("count");
    row.0
}

async fn a_follow_sent_while_the_other_node_is_down_arrives_once_it_is_back(engine: Engine) {
    let Some(mut s) = scene(engine).await else {
        return;
    };
    follow(&s).await;
    let row = failed_delivery(&s.a, 2).await;
    assert_eq!(row.inbox, format!("{}/inbox", s.b.base), "the shared inbox");
    assert!(row.last_error.is_some());
    assert!(
        row.next_attempt_at > row.last_attempt_at.expect("attempted"),
        "{row:?}"
    );
    assert!(count(&s.a, "DeliveryFailed", &row.activity_id).await >= 2);
    assert!(!following(&s.a, &s.ana, &s.ben_on_a).await);

    s.b.resume().await;
    wait_following(&s).await;
    let done = deliveries::of_activity(&s.a.node().state.db, &row.activity_id)
        .await
        .expect("deliveries");
    assert_eq!(done[0].state, "delivered", "{done:?}");
    assert_eq!(count(&s.a, "DeliverySucceeded", &row.activity_id).await, 1);
    assert_eq!(count(&s.b, "ActivityReceived", &row.activity_id).await, 1);
    // B's Accept went through B's own queue.
    let b_rows = deliveries::recent(&s.b.node().state.db, 10)
        .await
        .expect("deliveries");
    assert_eq!(b_rows.len(), 1, "{b_rows:?}");
    assert_eq!(b_rows[0].inbox, format!("{}/inbox", s.a.base));
    // The queue and the hosts are rebuilt from the log as they were.
    let projector = &s.a.node().state.projector;
    let before = projector.snapshot().await.expect("snapshot");
    assert!(before["deliveries"].len() == 1 && before["delivery_hosts"].len() == 1);
    projector.replay(Some("deliveries")).await.expect("replay");
    assert_eq!(projector.snapshot().await.expect("snapshot"), before);
    s.a.stop().await;
    s.b.stop().await;
}

async fn a_pending_delivery_is_sent_after_the_sender_restarts_and_only_once(engine: Engine) {
    let Some(mut s) = scene(engine).await else {
        return;
    };
    follow(&s).await;
    let row = failed_delivery(&s.a, 1).await;
    s.a.halt().await;
    s.b.resume().await;
    s.a.resume().await;
    wait_following(&s).await;
    // Long enough for a second send, had the worker lost track of the first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count(&s.a, "DeliverySucceeded", &row.activity_id).await, 1);
    assert_eq!(count(&s.b, "ActivityReceived", &row.activity_id).await, 1);
    let rows = deliveries::of_activity(&s.a.node().state.db, &row.activity_id)
        .await
        .expect("deliveries");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "delivered");
    assert_eq!(rows[0].attempts, row.attempts + 1, "{rows:?}");
    s.a.stop().await;
    s.b.stop().await;
}

async fn admins_see_the_queue_and_the_failing_host(engine: Engine) {
    let Some(s) = scene(engine).await else {
        return;
    };
    let admin = s.a.admin().await;
    let path = "/api/peerpx/v1/admin/federation/deliveries";
    let empty = expect_json(s.a.get(path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(
        empty,
        json!({"queue": {"pending": 0, "failed": 0, "delivered": 0, "abandoned": 0},
               "failing_hosts": []})
    );
    follow(&s).await;
    failed_delivery(&s.a, 2).await;
    let v: Value = expect_json(s.a.get(path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(v["queue"]["failed"], json!(1), "{v}");
    assert_eq!(v["queue"]["delivered"], json!(0), "{v}");
    let host = &v["failing_hosts"][0];
    assert_eq!(host["host"], json!(s.b.domain), "{v}");
    assert!(
        host["consecutive_failures"].as_i64().expect("n") >= 2,
        "{v}"
    );
    assert!(
        host["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    assert!(host["next_attempt_at"].is_string(), "{v}");
    // Not for users, nor without a token.
    assert_eq!(
        s.a.get(path, Some(&s.ana)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.a.get(path, None).await.status(), StatusCode::UNAUTHORIZED);
    s.a.stop().await;
}

/// A status appended to the log by nothing but the command (as when the node dies right after
/// the append, before the request could do anything else), then the node stopped at once and
/// started again: the follower on the other node still gets it, once, and its Delete too.
async fn a_post_in_the_log_reaches_followers_though_its_request_died(engine: Engine) {
    use peerpx_aggregates::status::{Content, Post, Visibility};
    use peerpx_aggregates::StatusCommand;
    use peerpx_projections::log::metadata;

    let Some(mut a) = TestNode::start_federated(engine).await else {
        return;
    };
    let Some(b) = TestNode::start_federated(engine).await else {
        return;
    };
    let (ana_id, ana) = a.user("ana").await;
    let (_, ben) = b.user("ben").await;
    let path = format!("/api/v1/accounts/lookup?acct=ana@{}", a.domain);
    let found = expect_json(b.get(&path, Some(&ben)).await, StatusCode::OK).await;
    let ana_on_b = found["id"].as_str().expect("id").to_string();
    let r = b
        .post_form(
            &format!("/api/v1/accounts/{ana_on_b}/follow"),
            Some(&ben),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    eventually(WAIT, "ben to follow ana", || async {
        following(&b, &ben, &ana_on_b).await.then_some(())
    })
    .await;

    let id = peerpx_api::auth::new_id();
    let post = Post {
        id: id.clone(),
        account_id: ana_id.clone(),
        visibility: Visibility::Public,
        in_reply_to: None,
        content: Content {
            text: "Straight from the log".into(),
            html: "<p>Straight from the log</p>".into(),
            spoiler_text: String::new(),
            sensitive: false,
            language: Some("en".into()),
            tags: Vec::new(),
            mentions: Vec::new(),
            media: Vec::new(),
            title: None,
            licence: peerpx_aggregates::status::DEFAULT_LICENCE.into(),
            allow_download: false,
            remote_media: Vec::new(),
        },
        at: peerpx_projections::now_millis(),
        remote: None,
    };
    a.node()
        .state
        .commands
        .status(
            &id,
            StatusCommand::Post(post),
            metadata(Some(&ana_id), "api"),
        )
        .await
        .expect("appended");
    a.halt().await;
    a.resume().await;
    let uri = format!("{}/users/ana/statuses/{id}", a.base);
    eventually(WAIT, "the post in ben's home timeline", || async {
        let home = expect_json(
            b.get("/api/v1/timelines/home", Some(&ben)).await,
            StatusCode::OK,
        )
        .await;
        home.to_string().contains(&uri).then_some(())
    })
    .await;
    let create = format!("{uri}/activity");
    assert_eq!(count(&b, "ActivityReceived", &create).await, 1);
    assert_eq!(count(&a, "ActivityQueued", &create).await, 1);

    // Deleted through the API: the Delete goes where the Create went.
    let r = a
        .delete(&format!("/api/v1/statuses/{id}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    eventually(WAIT, "the post gone from ben's home timeline", || async {
        let home = expect_json(
            b.get("/api/v1/timelines/home", Some(&ben)).await,
            StatusCode::OK,
        )
        .await;
        (!home.to_string().contains(&uri)).then_some(())
    })
    .await;
    a.stop().await;
    b.stop().await;
}
