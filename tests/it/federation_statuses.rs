//! Photos across nodes over real HTTP: a follower on another node gets the photo post in their
//! home timeline, likes and comments on it (which reach the author as notifications), and sees
//! the author's edits and deletes arrive; profile edits travel too. Every activity is in both
//! logs.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, expect_json, follow_across, json_of, Engine, TestNode};
use crate::on_every_engine;
use crate::statuses::{post, upload};

on_every_engine!(a_photo_post_travels_with_its_likes_comments_edits_and_delete);

const WAIT: Duration = Duration::from_secs(30);

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
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

async fn a_photo_post_travels_with_its_likes_comments_edits_and_delete(engine: Engine) {
    let Some(a) = TestNode::start_federated(engine).await else {
        return;
    };
    let Some(b) = TestNode::start_federated(engine).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (_, ben) = b.user("ben").await;
    let ana_on_b = follow_across(&b, &ben, &a, "ana").await;

    // Ana posts a photo; it reaches Ben's home timeline on the other node.
    let photo = upload(
        &a,
        &ana,
        "astronaut-exif-gps.jpg",
        &[("description", "An astronaut in a white suit")],
    )
    .await;
    let posted = post(
        &a,
        &ana,
        json!({"status": "First light #space", "media_ids": [id(&photo)],
               "title": "Astronaut", "licence": "cc-by"}),
    )
    .await;
    let uri = posted["uri"].as_str().expect("uri").to_string();
    let seen = eventually(WAIT, "the photo post in Ben's home timeline", || async {
        let home = json_of(&b, "/api/v1/timelines/home", &ben).await;
        home.as_array()
            .and_then(|l| l.iter().find(|s| s["uri"] == uri.as_str()).cloned())
    })
    .await;
    assert_eq!(seen["account"]["id"], ana_on_b.as_str());
    assert_eq!(seen["account"]["acct"], format!("ana@{}", a.domain));
    assert!(
        seen["content"]
            .as_str()
            .expect("content")
            .contains("First light"),
        "{seen}"
    );
    assert_eq!(seen["visibility"], "public");
    assert_eq!(seen["peerpx"]["title"], "Astronaut");
    assert_eq!(seen["peerpx"]["licence"]["id"], "cc-by");
    let photo_on_b = &seen["media_attachments"][0];
    assert_eq!(photo_on_b["type"], "image");
    assert_eq!(photo_on_b["description"], "An astronaut in a white suit");
    assert_eq!(
        photo_on_b["remote_url"],
        posted["media_attachments"][0]["url"]
    );
    assert_eq!(
        photo_on_b["blurhash"],
        posted["media_attachments"][0]["blurhash"]
    );
    assert_eq!(
        photo_on_b["peerpx"]["cid"],
        posted["media_attachments"][0]["peerpx"]["cid"]
    );
    assert!(seen["tags"].to_string().contains("space"), "{seen}");
    // The remote photo is on b's federated timeline, not its local one.
    let federated = json_of(&b, "/api/v1/timelines/public", &ben).await;
    assert!(federated.to_string().contains(&uri));
    let local = json_of(&b, "/api/v1/timelines/public?local=true", &ben).await;
    assert!(!local.to_string().contains(&uri));
    let status_on_b = id(&seen);

    // Ben likes it and comments: both arrive on a as notifications for Ana.
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{status_on_b}/favourite"),
            Some(&ben),
            &[],
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["favourited"], true);
    let comment = post(
        &b,
        &ben,
        json!({"status": "What a shot!", "in_reply_to_id": status_on_b}),
    )
    .await;
    let comment_uri = comment["uri"].as_str().expect("uri").to_string();
    let notes = eventually(
        WAIT,
        "a like and a comment notification for Ana",
        || async {
            let n = json_of(&a, "/api/v1/notifications", &ana).await;
            let kinds: Vec<String> = n
                .as_array()
                .expect("list")
                .iter()
                .map(|x| x["type"].as_str().unwrap_or_default().to_string())
                .collect();
            (kinds.contains(&"favourite".to_string()) && kinds.contains(&"mention".to_string()))
                .then_some(n)
        },
    )
    .await;
    let like = notes
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["type"] == "favourite")
        .expect("favourite");
    assert_eq!(like["account"]["acct"], format!("ben@{}", b.domain));
    assert_eq!(like["status"]["uri"], uri.as_str());
    let status_on_a = id(&posted);
    let shown = json_of(&a, &format!("/api/v1/statuses/{status_on_a}"), &ana).await;
    assert_eq!(shown["favourites_count"], 1);
    assert_eq!(shown["replies_count"], 1);
    let context = json_of(&a, &format!("/api/v1/statuses/{status_on_a}/context"), &ana).await;
    let reply = &context["descendants"][0];
    assert_eq!(reply["uri"], comment_uri.as_str());
    assert_eq!(reply["in_reply_to_id"], status_on_a.as_str());
    assert!(reply["content"]
        .as_str()
        .expect("content")
        .contains("What a shot!"));

    // Ben takes the like back: it is gone on a.
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{status_on_b}/unfavourite"),
            Some(&ben),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    eventually(WAIT, "the like to be undone on a", || async {
        let s = json_of(&a, &format!("/api/v1/statuses/{status_on_a}"), &ana).await;
        (s["favourites_count"] == 0).then_some(())
    })
    .await;

    // Ana edits the caption: Ben sees the new one, with its history.
    let r = a
        .put_json(
            &format!("/api/v1/statuses/{status_on_a}"),
            Some(&ana),
            &json!({"status": "First light over the pad #space"}),
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    eventually(WAIT, "the edit on b", || async {
        let s = json_of(&b, &format!("/api/v1/statuses/{status_on_b}"), &ben).await;
        (s["content"]
            .as_str()
            .unwrap_or_default()
            .contains("over the pad")
            && !s["edited_at"].is_null())
        .then_some(())
    })
    .await;

    // Ana changes her display name: b's copy of her account follows.
    let form = reqwest::multipart::Form::new().text("display_name", "Ana the Astronomer");
    let r = a.patch_profile(&ana, form).await;
    assert_eq!(r.status(), StatusCode::OK);
    eventually(WAIT, "the profile update on b", || async {
        let acc = json_of(&b, &format!("/api/v1/accounts/{ana_on_b}"), &ben).await;
        (acc["display_name"] == "Ana the Astronomer").then_some(())
    })
    .await;

    // Ana deletes the post: it leaves Ben's timeline and b answers 404 for it.
    let r = a
        .delete(&format!("/api/v1/statuses/{status_on_a}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    eventually(WAIT, "the delete on b", || async {
        let r = b
            .get(&format!("/api/v1/statuses/{status_on_b}"), Some(&ben))
            .await;
        (r.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    let home = json_of(&b, "/api/v1/timelines/home", &ben).await;
    assert!(!home.to_string().contains(&uri), "{home}");

    // Every activity is in both logs: sent on one side, received and interpreted on the other.
    for kind in ["ActivityQueued", "ActivityReceived", "ActivityInterpreted"] {
        assert!(count_events(&a, kind).await > 0, "{kind} on a");
        assert!(count_events(&b, kind).await > 0, "{kind} on b");
    }
    // Remote statuses, likes, comments and notifications rebuild identically from either log.
    for node in [&a, &b] {
        node.assert_replays_identically().await;
    }
    a.stop().await;
    b.stop().await;
}
