//! An actor on another node deletes itself: the `Delete` of the actor, signed with its key,
//! reaches a node where it posted, favourited and followed. Its statuses, favourites and follows
//! there go, its account is no longer found, and what it sends afterwards is ignored; the same
//! Delete delivered again changes nothing.

use std::time::Duration;

use peerpx_federation::resolve::signer_for;
use peerpx_projections::accounts;
use reqwest::StatusCode;
use serde_json::{json, Value};
use url::Url;

use crate::harness::{eventually, expect_json, follow_across, json_of, Engine, TestNode};
use crate::on_every_engine;
use crate::statuses::{post, upload};

on_every_engine!(
    a_deleted_actor_leaves_nothing_behind,
    an_account_deleted_by_its_admin_is_deleted_on_other_nodes,
);

const WAIT: Duration = Duration::from_secs(30);

/// Sends `activity` to `to`'s shared inbox, signed as local account `name` of `from`.
async fn send_as(from: &TestNode, name: &str, to: &TestNode, activity: &Value) -> u16 {
    let state = &from.node().state;
    let account = accounts::by_username(&state.db, name)
        .await
        .expect("read")
        .expect("account");
    let signer = signer_for(&state.federation, &account).expect("signer");
    let inbox = Url::parse(&format!("{}/inbox", to.base)).expect("url");
    state
        .federation
        .fetcher
        .post_activity(&inbox, activity.to_string().as_bytes(), &signer)
        .await
        .expect("delivered")
}

/// Ana on A and Ben on B follow each other; Ben's photo post is in Ana's home timeline and he
/// favourited and boosted her post.
struct Scene {
    a: TestNode,
    b: TestNode,
    ana_id: String,
    ana: String,
    ben_id: String,
    ben: String,
    ben_on_a: String,
    his_on_a: String,
    his_uri: String,
    hers_id: String,
}

async fn scene(engine: Engine) -> Option<Scene> {
    let a = TestNode::start_federated(engine).await?;
    let b = TestNode::start_federated(engine).await?;
    let (ana_id, ana) = a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;
    let ben_on_a = follow_across(&a, &ana, &b, "ben").await;
    follow_across(&b, &ben, &a, "ana").await;

    let photo = upload(
        &b,
        &ben,
        "astronaut-exif-gps.jpg",
        &[("description", "A suit")],
    )
    .await;
    let his = post(
        &b,
        &ben,
        json!({"status": "Leaving soon", "media_ids": [photo["id"]]}),
    )
    .await;
    let his_uri = his["uri"].as_str().expect("uri").to_string();
    let hers = post(&a, &ana, json!({"status": "Stay a while"})).await;
    let hers_id = hers["id"].as_str().expect("id").to_string();
    let hers_on_b = eventually(WAIT, "Ana's post on Ben's node", || async {
        let home = json_of(&b, "/api/v1/timelines/home", &ben).await;
        home.as_array().and_then(|l| {
            l.iter()
                .find(|s| s["uri"] == hers["uri"])
                .and_then(|s| s["id"].as_str().map(str::to_string))
        })
    })
    .await;
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{hers_on_b}/favourite"),
            Some(&ben),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{hers_on_b}/reblog"),
            Some(&ben),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let his_on_a = eventually(WAIT, "Ben's photo and like on Ana's node", || async {
        let mine = json_of(&a, &format!("/api/v1/statuses/{hers_id}"), &ana).await;
        let home = json_of(&a, "/api/v1/timelines/home", &ana).await;
        let his = home.as_array().and_then(|l| {
            l.iter()
                .find(|s| s["uri"] == his_uri.as_str())
                .and_then(|s| s["id"].as_str().map(str::to_string))
        });
        his.filter(|_| mine["favourites_count"] == 1 && mine["reblogs_count"] == 1)
    })
    .await;
    let me = json_of(&a, "/api/v1/accounts/verify_credentials", &ana).await;
    assert_eq!(
        (&me["followers_count"], &me["following_count"]),
        (&json!(1), &json!(1))
    );
    Some(Scene {
        a,
        b,
        ana_id,
        ana,
        ben_id,
        ben,
        ben_on_a,
        his_on_a,
        his_uri,
        hers_id,
    })
}

/// Ben's account, post, like and follows are gone from Ana's node.
async fn ben_is_gone_from_a(s: &Scene) {
    let (a, ana) = (&s.a, s.ana.as_str());
    // Each read model catches up on its own: wait for the last of them.
    eventually(
        WAIT,
        "Ben's account, post, like and follows gone from Ana's node",
        || async {
            let r = a
                .get(&format!("/api/v1/accounts/{}", s.ben_on_a), Some(ana))
                .await;
            let me = json_of(a, "/api/v1/accounts/verify_credentials", ana).await;
            let counts = (&me["followers_count"], &me["following_count"]) == (&json!(0), &json!(0));
            let his = a
                .get(&format!("/api/v1/statuses/{}", s.his_on_a), Some(ana))
                .await;
            let mine = json_of(a, &format!("/api/v1/statuses/{}", s.hers_id), ana).await;
            (r.status() == StatusCode::NOT_FOUND
                && counts
                && his.status() == StatusCode::NOT_FOUND
                && mine["favourites_count"] == 0
                && mine["reblogs_count"] == 0)
                .then_some(())
        },
    )
    .await;
    let home = json_of(a, "/api/v1/timelines/home", ana).await;
    assert!(!home.to_string().contains(&s.his_uri), "{home}");
    let followers = json_of(a, &format!("/api/v1/accounts/{}/followers", s.ana_id), ana).await;
    assert_eq!(followers, json!([]));
    let lookup = a
        .get(
            &format!("/api/v1/accounts/lookup?acct=ben@{}", s.b.domain),
            Some(ana),
        )
        .await;
    assert_eq!(lookup.status(), StatusCode::NOT_FOUND);
}

async fn a_deleted_actor_leaves_nothing_behind(engine: Engine) {
    let Some(sc) = scene(engine).await else {
        return;
    };
    let (a, b, ana, ben) = (&sc.a, &sc.b, sc.ana.as_str(), sc.ben.as_str());

    // Ben's node says he is gone.
    let actor = format!("{}/users/ben", b.base);
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": actor,
    });
    assert_eq!(send_as(b, "ben", a, &delete).await, 202);
    ben_is_gone_from_a(&sc).await;

    // The same Delete again, then a post from the deleted actor: both are taken in (202) and
    // interpreted as ignored; nothing but those records is appended.
    let db = a.node().state.db.clone();
    let since = |kind: &'static str, after: i64| {
        let db = db.clone();
        async move {
            let row: (i64,) = sqlx::query_as(
                &db.sql("SELECT COUNT(*) FROM events WHERE position > ? AND event_type = ?"),
            )
            .bind(after)
            .bind(kind)
            .fetch_one(&db.pool)
            .await
            .expect("count");
            row.0
        }
    };
    let (before,): (i64,) = sqlx::query_as("SELECT MAX(position) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("head");
    assert_eq!(send_as(b, "ben", a, &delete).await, 202);
    let late = post(b, ben, json!({"status": "Still here?"})).await;
    let create = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#create-by-hand", late["uri"].as_str().expect("uri")),
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": late["uri"],
    });
    assert_eq!(send_as(b, "ben", a, &create).await, 202);
    eventually(WAIT, "the late Create interpreted", || async {
        let received = since("ActivityReceived", before).await;
        let interpreted = since("ActivityInterpreted", before).await;
        (received >= 1 && interpreted == received).then_some(())
    })
    .await;
    let rows: Vec<(String,)> =
        sqlx::query_as(&db.sql("SELECT event_type FROM events WHERE position > ?"))
            .bind(before)
            .fetch_all(&db.pool)
            .await
            .expect("events");
    assert!(
        rows.iter()
            .all(|(k,)| k == "ActivityReceived" || k == "ActivityInterpreted"),
        "{rows:?}"
    );
    let home = json_of(a, "/api/v1/timelines/home", ana).await;
    assert!(!home.to_string().contains("Still here"), "{home}");
}

/// An admin on B deletes Ben (suspended first, as Mastodon requires): B sends the `Delete` of his
/// actor to A, and A erases him as above.
async fn an_account_deleted_by_its_admin_is_deleted_on_other_nodes(engine: Engine) {
    let Some(sc) = scene(engine).await else {
        return;
    };
    let b = &sc.b;
    let admin = b.admin().await;
    let path = format!("/api/v1/admin/accounts/{}", sc.ben_id);
    let r = b.delete(&path, Some(&admin)).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not suspended yet"
    );
    let r = b.delete(&path, Some(&sc.ben)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "not an admin");
    let r = b
        .post_form(
            &format!("{path}/action"),
            Some(&admin),
            &[("type", "suspend")],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let deleted = expect_json(b.delete(&path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(deleted["username"], "ben", "{deleted}");
    ben_is_gone_from_a(&sc).await;
    // On B: his actor is gone (410, as Mastodon answers), his account not found and not
    // unsuspendable (the aggregate's tests show the name stays taken).
    let actor = b
        .http
        .get(b.url("/users/ben"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .expect("actor");
    assert_eq!(actor.status(), StatusCode::GONE);
    let r = b
        .get(&format!("/api/v1/accounts/{}", sc.ben_id), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = b
        .post_form(&format!("{path}/unsuspend"), Some(&admin), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let actor = format!("{}/users/ben", b.base);
    let sent =
        peerpx_projections::deliveries::of_activity(&b.node().state.db, &format!("{actor}#delete"))
            .await
            .expect("deliveries");
    assert_eq!(sent.len(), 1, "one Delete for A's host: {sent:?}");
    assert_eq!(sent[0].state, "delivered", "{sent:?}");
}
