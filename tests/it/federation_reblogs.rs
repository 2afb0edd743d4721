//! Reblogs across nodes over real HTTP: a boost on one node is an `Announce` for the other,
//! which counts it on the original and notifies its author, shows it in the home timelines of
//! the booster's followers there (fetching an original it did not have), and takes it back on
//! `Undo{Announce}`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use peerpx_federation::signatures::Signer;
use peerpx_projections::accounts;
use peerpx_projections::db::TextRow;

use crate::harness::{eventually, expect_json, follow_across, json_of, Engine, TestNode};
use crate::on_every_engine;
use crate::statuses::post;

on_every_engine!(a_boost_on_one_node_reaches_the_author_and_the_booster_s_followers_on_another);

const WAIT: Duration = Duration::from_secs(30);

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The activities of `kind` a node queued, with their inboxes, oldest first.
async fn queued(node: &TestNode, kind: &str) -> Vec<(Value, Vec<String>)> {
    let db = &node.node().state.db;
    let rows = sqlx::query(
        &db.sql("SELECT payload FROM events WHERE event_type = 'ActivityQueued' ORDER BY position"),
    )
    .fetch_all(&db.pool)
    .await
    .expect("events");
    rows.iter()
        .map(|row| {
            // (MySQL gives the column as bytes: read it as the projections do.)
            let payload = row.text("payload").expect("payload text");
            let payload: Value = serde_json::from_str(&payload).expect("payload");
            let queued = &payload["ActivityQueued"];
            let raw: Value =
                serde_json::from_str(queued["raw"].as_str().expect("raw")).expect("activity");
            let inboxes = queued["inboxes"]
                .as_array()
                .expect("inboxes")
                .iter()
                .map(|i| i.as_str().expect("inbox").to_string())
                .collect();
            (raw, inboxes)
        })
        .filter(|(raw, _)| raw["type"] == kind)
        .collect()
}

/// Signs `activity` with `username`'s key on `from` and posts it to `to`'s shared inbox.
async fn deliver_by_hand(from: &TestNode, username: &str, to: &TestNode, activity: &Value) {
    let row = accounts::by_username(&from.node().state.db, username)
        .await
        .expect("read")
        .expect("account");
    let key_id = format!("{}/users/{username}#main-key", from.base);
    let signer = Signer::new(key_id, &row.private_key_pem.expect("key")).expect("signer");
    let inbox = url::Url::parse(&to.url("/inbox")).expect("url");
    let body = activity.to_string();
    let headers = signer.sign_post(&inbox, body.as_bytes()).expect("sign");
    let r = to
        .http
        .post(inbox.as_str())
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// The outcome `node`'s inbox worker recorded for activity `id`, once there is one.
async fn outcome(node: &TestNode, id: &str) -> String {
    let db = &node.node().state.db;
    eventually(WAIT, "the activity to be interpreted", || async {
        let row = sqlx::query(&db.sql(
            "SELECT payload FROM events WHERE event_type = 'ActivityInterpreted' \
             AND aggregate_id = ?",
        ))
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await
        .expect("events")?;
        let payload: Value =
            serde_json::from_str(&row.text("payload").expect("payload")).expect("JSON");
        payload["ActivityInterpreted"]["outcome"]
            .as_str()
            .map(str::to_string)
    })
    .await
}

/// The home timeline entry of `token` on `node` that reblogs the status with ActivityPub id
/// `uri`.
async fn boost_in_home(node: &TestNode, token: &str, uri: &str) -> Option<Value> {
    let home = json_of(node, "/api/v1/timelines/home", token).await;
    home.as_array()?
        .iter()
        .find(|s| s["reblog"]["uri"] == uri)
        .cloned()
}

async fn a_boost_on_one_node_reaches_the_author_and_the_booster_s_followers_on_another(
    engine: Engine,
) {
    let Some(a) = TestNode::start_federated(engine).await else {
        return;
    };
    let Some(b) = TestNode::start_federated(engine).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (_, dan) = a.user("dan").await;
    let (_, ben) = b.user("ben").await;
    let (_, cy) = b.user("cy").await;
    // Ben on b follows Ana on a; Dan on a follows Ben.
    follow_across(&b, &ben, &a, "ana").await;
    let ben_on_a = follow_across(&a, &dan, &b, "ben").await;

    // Ana posts; it reaches Ben, who boosts it.
    let photo = post(&a, &ana, json!({"status": "Boats in the harbour"})).await;
    let photo_id = id(&photo);
    let uri = photo["uri"].as_str().expect("uri").to_string();
    let on_b = eventually(WAIT, "Ana's post in Ben's home timeline", || async {
        let home = json_of(&b, "/api/v1/timelines/home", &ben).await;
        home.as_array()
            .and_then(|l| l.iter().find(|s| s["uri"] == uri.as_str()).cloned())
    })
    .await;
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{}/reblog", id(&on_b)),
            Some(&ben),
            &[],
        )
        .await;
    let boost = expect_json(r, StatusCode::OK).await;
    assert_eq!(boost["reblog"]["uri"], uri.as_str());

    // On a: Ana is told and her photo counts the boost; Dan sees it in his home timeline.
    let note = eventually(WAIT, "a reblog notification for Ana", || async {
        let n = json_of(&a, "/api/v1/notifications?types[]=reblog", &ana).await;
        n.as_array().and_then(|l| l.first().cloned())
    })
    .await;
    assert_eq!(note["account"]["acct"], format!("ben@{}", b.domain));
    assert_eq!(note["status"]["id"], photo_id.as_str());

    // b sent one Announce to a, from its outbox worker (Dan follows Ben, Ana wrote the photo: one host, one delivery).
    let announces = queued(&b, "Announce").await;
    assert_eq!(announces.len(), 1);
    let (announce, inboxes) = &announces[0];
    assert_eq!(inboxes.len(), 1, "{inboxes:?}");
    let ben_actor = b.url("/users/ben");
    assert_eq!(announce["actor"], ben_actor.as_str());
    assert_eq!(announce["object"], uri.as_str());
    assert_eq!(
        announce["id"],
        format!("{}/activity", boost["uri"].as_str().expect("uri"))
    );
    assert_eq!(
        announce["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    assert_eq!(
        announce["cc"],
        json!([format!("{ben_actor}/followers"), a.url("/users/ana")])
    );
    assert!(announce["published"].is_string());
    // Its id is served, and Ben's outbox lists it.
    let served: Value = b
        .http
        .get(announce["id"].as_str().expect("id"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(&served, announce);
    let outbox: Value = b
        .http
        .get(format!("{ben_actor}/outbox?page=true"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let listed = outbox["orderedItems"].as_array().expect("items");
    assert_eq!(listed.len(), 1, "{outbox}");
    assert_eq!(listed[0]["type"], "Announce");
    assert_eq!(listed[0]["id"], announce["id"]);

    // (Each read model follows the log on its own: wait for this one too.)
    eventually(WAIT, "the boost counted on a", || async {
        let s = json_of(&a, &format!("/api/v1/statuses/{photo_id}"), &ana).await;
        (s["reblogs_count"] == 1).then_some(())
    })
    .await;
    let seen = eventually(WAIT, "Ben's boost in Dan's home timeline", || async {
        boost_in_home(&a, &dan, &uri).await
    })
    .await;
    assert_eq!(seen["account"]["id"], ben_on_a.as_str());
    assert_eq!(seen["reblog"]["id"], photo_id.as_str());
    assert_eq!(
        seen["uri"],
        format!("{}/activity", boost["uri"].as_str().expect("uri"))
    );
    let by = json_of(
        &a,
        &format!("/api/v1/statuses/{photo_id}/reblogged_by"),
        &ana,
    )
    .await;
    assert_eq!(by[0]["id"], ben_on_a.as_str());

    // Another Announce of the same photo by Ben (a redelivery under a new id) changes nothing;
    // one of a followers-only post, or of a post a does not have, is ignored without an error.
    let ben_actor_uri = b.url("/users/ben");
    let by_hand = |n: u32, object: &str| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{ben_actor_uri}/test-announces/{n}"),
            "type": "Announce",
            "actor": ben_actor_uri,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": object,
        })
    };
    let again = by_hand(1, &uri);
    deliver_by_hand(&b, "ben", &a, &again).await;
    let got = outcome(&a, again["id"].as_str().expect("id")).await;
    assert!(got.starts_with("ignored"), "{got}");
    let shown = json_of(&a, &format!("/api/v1/statuses/{photo_id}"), &ana).await;
    assert_eq!(shown["reblogs_count"], 1);
    let private = post(
        &a,
        &ana,
        json!({"status": "for followers", "visibility": "private"}),
    )
    .await;
    let private_uri = private["uri"].as_str().expect("uri");
    let refused = by_hand(2, private_uri);
    deliver_by_hand(&b, "ben", &a, &refused).await;
    let got = outcome(&a, refused["id"].as_str().expect("id")).await;
    assert!(got.contains("cannot be reblogged"), "{got}");
    let shown = json_of(&a, &format!("/api/v1/statuses/{}", id(&private)), &ana).await;
    assert_eq!(shown["reblogs_count"], 0);
    let unknown = by_hand(3, &a.url("/users/ana/statuses/1"));
    deliver_by_hand(&b, "ben", &a, &unknown).await;
    let got = outcome(&a, unknown["id"].as_str().expect("id")).await;
    assert!(got.contains("not known here"), "{got}");

    // Ben boosts a post of Cy's, whom nobody on a follows: a fetches it and Dan sees the boost.
    let third = post(&b, &cy, json!({"status": "Gulls over the pier"})).await;
    let third_uri = third["uri"].as_str().expect("uri").to_string();
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{}/reblog", id(&third)),
            Some(&ben),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let seen = eventually(
        WAIT,
        "the boost of Cy's post in Dan's home timeline",
        || async { boost_in_home(&a, &dan, &third_uri).await },
    )
    .await;
    assert_eq!(seen["account"]["id"], ben_on_a.as_str());
    assert_eq!(
        seen["reblog"]["account"]["acct"],
        format!("cy@{}", b.domain)
    );
    assert!(
        seen["reblog"]["content"]
            .as_str()
            .expect("content")
            .contains("Gulls over the pier"),
        "{seen}"
    );

    // Ben takes the first boost back: the count, the notification and Dan's entry go.
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{}/unreblog", id(&on_b)),
            Some(&ben),
            &[],
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["reblogged"], false);
    eventually(WAIT, "the boost to be undone on a", || async {
        let s = json_of(&a, &format!("/api/v1/statuses/{photo_id}"), &ana).await;
        let n = json_of(&a, "/api/v1/notifications?types[]=reblog", &ana).await;
        (s["reblogs_count"] == 0 && n.as_array().is_some_and(Vec::is_empty)).then_some(())
    })
    .await;
    assert!(boost_in_home(&a, &dan, &uri).await.is_none());
    assert!(boost_in_home(&a, &dan, &third_uri).await.is_some());
    let undos = queued(&b, "Undo").await;
    let undo = undos
        .iter()
        .find(|(u, _)| u["object"]["type"] == "Announce")
        .expect("an Undo of the Announce");
    assert_eq!(undo.0["object"]["id"], announce["id"]);

    // Redelivery changes nothing: replay both logs and compare.
    for node in [&a, &b] {
        node.assert_replays_identically().await;
    }
    a.stop().await;
    b.stop().await;
}
