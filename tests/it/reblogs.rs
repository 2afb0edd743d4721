//! Reblogs (boosts) over HTTP on every engine: the reblog is a status of its own wrapping the
//! original, shown to the booster's followers and on the booster's profile but not on public
//! timelines, counted on the original, notified to its author, refused for followers-only and
//! direct posts, undone by unreblog or by deleting it, and gone with the original.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{expect_json, json_of, Engine, TestNode};
use crate::on_every_engine;
use crate::statuses::{follow, post};

on_every_engine!(
    a_reblog_reaches_the_booster_s_followers_and_the_author,
    only_public_and_unlisted_posts_can_be_reblogged,
    a_reblog_goes_with_an_unreblog_a_delete_a_block_or_its_original,
);

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn reblog(node: &TestNode, token: &str, status: &str) -> reqwest::Response {
    node.post_form(
        &format!("/api/v1/statuses/{status}/reblog"),
        Some(token),
        &[],
    )
    .await
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(id).collect()
}

async fn a_reblog_reaches_the_booster_s_followers_and_the_author(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (ben_id, ben) = node.user("ben").await;
    let (_, cy) = node.user("cy").await;
    follow(&node, &cy, &ben_id).await;

    let photo = post(&node, &ana, json!({"status": "Harbour at dawn #sea"})).await;
    let photo_id = id(&photo);
    assert_eq!(photo["reblogs_count"], 0);
    assert_eq!(photo["reblogged"], false);

    // Ben boosts: the answer is his reblog, wrapping Ana's photo.
    let boost = expect_json(reblog(&node, &ben, &photo_id).await, StatusCode::OK).await;
    let boost_id = id(&boost);
    assert_ne!(boost_id, photo_id);
    assert_eq!(boost["account"]["id"], ben_id.as_str());
    assert_eq!(boost["content"], "");
    assert_eq!(boost["reblog"]["id"], photo_id.as_str());
    assert_eq!(boost["reblog"]["account"]["id"], ana_id.as_str());
    assert_eq!(boost["reblog"]["reblogs_count"], 1);
    assert_eq!(boost["reblog"]["reblogged"], true);
    // Twice is once.
    let again = expect_json(reblog(&node, &ben, &photo_id).await, StatusCode::OK).await;
    assert_eq!(id(&again), boost_id);
    // Reblogging the reblog reblogs the original, once.
    let via = expect_json(reblog(&node, &ben, &boost_id).await, StatusCode::OK).await;
    assert_eq!(id(&via), boost_id);

    let seen_by_ana = json_of(&node, &format!("/api/v1/statuses/{photo_id}"), &ana).await;
    assert_eq!(seen_by_ana["reblogs_count"], 1);
    assert_eq!(seen_by_ana["reblogged"], false);
    let seen_by_ben = json_of(&node, &format!("/api/v1/statuses/{photo_id}"), &ben).await;
    assert_eq!(seen_by_ben["reblogged"], true);
    let by = json_of(
        &node,
        &format!("/api/v1/statuses/{photo_id}/reblogged_by"),
        &ana,
    )
    .await;
    assert_eq!(ids(&by), vec![ben_id.clone()]);
    // The reblog is a status of its own.
    let shown = json_of(&node, &format!("/api/v1/statuses/{boost_id}"), &cy).await;
    assert_eq!(shown["reblog"]["id"], photo_id.as_str());

    // Cy follows Ben, not Ana: the boost is in her home timeline, wrapping the photo.
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), vec![boost_id.clone()]);
    assert_eq!(home[0]["reblog"]["id"], photo_id.as_str());
    assert_eq!(home[0]["account"]["id"], ben_id.as_str());
    // On Ben's profile too, unless reblogs are excluded; never on public or tag timelines.
    let profile = json_of(&node, &format!("/api/v1/accounts/{ben_id}/statuses"), &cy).await;
    assert_eq!(ids(&profile), vec![boost_id.clone()]);
    let profile = json_of(
        &node,
        &format!("/api/v1/accounts/{ben_id}/statuses?exclude_reblogs=true"),
        &cy,
    )
    .await;
    assert_eq!(ids(&profile), Vec::<String>::new());
    let public = json_of(&node, "/api/v1/timelines/public", &cy).await;
    assert_eq!(ids(&public), vec![photo_id.clone()]);
    let tag = json_of(&node, "/api/v1/timelines/tag/sea", &cy).await;
    assert_eq!(ids(&tag), vec![photo_id.clone()]);

    // Ana is told, once; the type filters know `reblog`.
    let notes = json_of(&node, "/api/v1/notifications", &ana).await;
    let notes = notes.as_array().expect("list");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["type"], "reblog");
    assert_eq!(notes[0]["account"]["id"], ben_id.as_str());
    assert_eq!(notes[0]["status"]["id"], photo_id.as_str());
    let only = json_of(&node, "/api/v1/notifications?types[]=reblog", &ana).await;
    assert_eq!(only.as_array().expect("list").len(), 1);
    let others = json_of(&node, "/api/v1/notifications?types[]=favourite", &ana).await;
    assert_eq!(others.as_array().expect("list").len(), 0);
    let excluded = json_of(&node, "/api/v1/notifications?exclude_types[]=reblog", &ana).await;
    assert_eq!(excluded.as_array().expect("list").len(), 0);

    // Unreblog answers with the original, no longer reblogged; everything is back as before.
    let r = node
        .post_form(
            &format!("/api/v1/statuses/{photo_id}/unreblog"),
            Some(&ben),
            &[],
        )
        .await;
    let original = expect_json(r, StatusCode::OK).await;
    assert_eq!(id(&original), photo_id);
    assert_eq!(original["reblogged"], false);
    assert_eq!(original["reblogs_count"], 0);
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), Vec::<String>::new());
    let notes = json_of(&node, "/api/v1/notifications", &ana).await;
    assert_eq!(notes.as_array().expect("list").len(), 0);
    assert_eq!(
        node.get(&format!("/api/v1/statuses/{boost_id}"), Some(&cy))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    node.stop().await;
}

async fn only_public_and_unlisted_posts_can_be_reblogged(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    follow(&node, &ben, &ana_id).await;

    let unlisted = post(
        &node,
        &ana,
        json!({"status": "quiet one", "visibility": "unlisted"}),
    )
    .await;
    let boost = expect_json(reblog(&node, &ben, &id(&unlisted)).await, StatusCode::OK).await;
    assert_eq!(boost["reblog"]["id"], id(&unlisted).as_str());

    let private = post(
        &node,
        &ana,
        json!({"status": "followers only", "visibility": "private"}),
    )
    .await;
    let refused = expect_json(
        reblog(&node, &ben, &id(&private)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused["error"]
            .as_str()
            .expect("error")
            .contains("Followers-only statuses cannot be reblogged"),
        "{refused}"
    );
    // Nobody reblogs a direct post, as in Mastodon.
    let direct = post(
        &node,
        &ana,
        json!({"status": "@ben only you", "visibility": "direct"}),
    )
    .await;
    let refused = expect_json(
        reblog(&node, &ben, &id(&direct)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused["error"]
            .as_str()
            .expect("error")
            .contains("Direct statuses cannot be reblogged"),
        "{refused}"
    );
    let shown = json_of(&node, &format!("/api/v1/statuses/{}", id(&private)), &ana).await;
    assert_eq!(shown["reblogs_count"], 0);
    node.stop().await;
}

async fn a_reblog_goes_with_an_unreblog_a_delete_a_block_or_its_original(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (ben_id, ben) = node.user("ben").await;
    let (_, cy) = node.user("cy").await;
    follow(&node, &cy, &ben_id).await;
    let photo = post(&node, &ana, json!({"status": "Lighthouse"})).await;
    let photo_id = id(&photo);

    // Deleting the reblog undoes it.
    let boost = expect_json(reblog(&node, &ben, &photo_id).await, StatusCode::OK).await;
    let r = node
        .delete(&format!("/api/v1/statuses/{}", id(&boost)), Some(&ben))
        .await;
    let deleted = expect_json(r, StatusCode::OK).await;
    assert_eq!(deleted["reblog"]["id"], photo_id.as_str());
    let shown = json_of(&node, &format!("/api/v1/statuses/{photo_id}"), &ben).await;
    assert_eq!(shown["reblogs_count"], 0);
    assert_eq!(shown["reblogged"], false);

    // A new reblog is a new status; someone who blocks the author does not see it.
    let boost = expect_json(reblog(&node, &ben, &photo_id).await, StatusCode::OK).await;
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), vec![id(&boost)]);
    let r = node
        .post_form(&format!("/api/v1/accounts/{ana_id}/block"), Some(&cy), &[])
        .await;
    expect_json(r, StatusCode::OK).await;
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), Vec::<String>::new());
    assert_eq!(
        node.get(&format!("/api/v1/statuses/{}", id(&boost)), Some(&cy))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = node
        .post_form(
            &format!("/api/v1/accounts/{ana_id}/unblock"),
            Some(&cy),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), vec![id(&boost)]);
    // Muting the author hides boosts of her posts from the home timeline too.
    let r = node
        .post_form(&format!("/api/v1/accounts/{ana_id}/mute"), Some(&cy), &[])
        .await;
    expect_json(r, StatusCode::OK).await;
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), Vec::<String>::new());
    let r = node
        .post_form(&format!("/api/v1/accounts/{ana_id}/unmute"), Some(&cy), &[])
        .await;
    expect_json(r, StatusCode::OK).await;
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), vec![id(&boost)]);

    // Deleting the original takes its reblogs along.
    let r = node
        .delete(&format!("/api/v1/statuses/{photo_id}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let home = json_of(&node, "/api/v1/timelines/home", &cy).await;
    assert_eq!(ids(&home), Vec::<String>::new());
    assert_eq!(
        node.get(&format!("/api/v1/statuses/{}", id(&boost)), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let profile = json_of(&node, &format!("/api/v1/accounts/{ben_id}/statuses"), &ben).await;
    assert_eq!(ids(&profile), Vec::<String>::new());
    // Replay rebuilds the same rows.
    node.assert_replays_identically().await;
    node.stop().await;
}
