//! Posts, comments, favourites, bookmarks, timelines, notifications and visibility over HTTP on
//! every engine.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::harness::{expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    a_post_gathers_comments_favourites_and_notifications,
    timelines_show_what_each_person_should_see,
    followers_only_and_direct_posts_stay_invisible_to_others,
    edits_keep_a_history_and_deletes_remove_everything_attached,
    lists_paginate_with_link_headers,
    bad_posts_are_refused_clearly_and_change_nothing,
    a_photo_post_carries_its_photos_and_their_alt_texts,
);

/// Posts a status as JSON and returns it.
pub async fn post(node: &TestNode, token: &str, body: Value) -> Value {
    expect_json(
        node.post_json("/api/v1/statuses", Some(token), &body).await,
        StatusCode::OK,
    )
    .await
}

pub async fn follow(node: &TestNode, token: &str, account_id: &str) -> Value {
    expect_json(
        node.post_form(
            &format!("/api/v1/accounts/{account_id}/follow"),
            Some(token),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await
}

/// Uploads a fixture from tests/data with `POST /api/v2/media` and extra form fields.
pub async fn upload(node: &TestNode, token: &str, file: &str, fields: &[(&str, &str)]) -> Value {
    let bytes = std::fs::read(crate::harness::data_file(file)).expect("fixture");
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(file.to_string()),
    );
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let r = node
        .http
        .post(node.url("/api/v2/media"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    expect_json(r, StatusCode::OK).await
}

async fn json_list(node: &TestNode, path: &str, token: Option<&str>) -> Vec<Value> {
    let v = expect_json(node.get(path, token).await, StatusCode::OK).await;
    v.as_array().cloned().expect("a list")
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn status_code(response: Response) -> StatusCode {
    response.status()
}

async fn a_post_gathers_comments_favourites_and_notifications(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (ben_id, ben) = node.user("ben").await;

    let photo = post(
        &node,
        &ana,
        json!({
            "status": "Sunrise over #Paris, with @ben.\n\nShot on film #Film",
            "visibility": "public",
            "language": "en",
            "title": "Sunrise",
            "licence": "cc-by-sa",
            "allow_download": true,
        }),
    )
    .await;
    let photo_id = id(&photo);
    assert_eq!(photo["account"]["id"], json!(ana_id));
    assert_eq!(photo["visibility"], "public");
    assert_eq!(photo["language"], "en");
    assert_eq!(
        photo["tags"],
        json!([
            {"name": "film", "url": node.url("/tags/film")},
            {"name": "paris", "url": node.url("/tags/paris")},
        ])
    );
    assert_eq!(photo["mentions"][0]["id"], json!(ben_id));
    let html = photo["content"].as_str().expect("content");
    assert!(
        html.contains("href=\"http://") && html.contains("/tags/paris\""),
        "{html}"
    );
    assert!(html.contains("class=\"u-url mention\""), "{html}");
    assert!(
        html.starts_with("<p>") && html.contains("</p><p>"),
        "{html}"
    );
    assert_eq!(photo["peerpx"]["title"], "Sunrise");
    assert_eq!(photo["peerpx"]["licence"]["id"], "cc-by-sa");
    assert_eq!(
        photo["peerpx"]["licence"]["url"],
        "https://creativecommons.org/licenses/by-sa/4.0/"
    );
    assert_eq!(photo["peerpx"]["allow_download"], true);
    assert_eq!(photo["favourited"], false);

    // Ben was mentioned.
    let notes = json_list(&node, "/api/v1/notifications", Some(&ben)).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["type"], "mention");
    assert_eq!(notes[0]["account"]["id"], json!(ana_id));
    assert_eq!(notes[0]["status"]["id"], json!(photo_id));

    // Ben likes it, twice (idempotent), and bookmarks it.
    for _ in 0..2 {
        let liked = expect_json(
            node.post_form(
                &format!("/api/v1/statuses/{photo_id}/favourite"),
                Some(&ben),
                &[],
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(liked["favourited"], true);
        assert_eq!(liked["favourites_count"], 1);
    }
    let marked = expect_json(
        node.post_form(
            &format!("/api/v1/statuses/{photo_id}/bookmark"),
            Some(&ben),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(marked["bookmarked"], true);
    let fans = json_list(
        &node,
        &format!("/api/v1/statuses/{photo_id}/favourited_by"),
        None,
    )
    .await;
    assert_eq!(ids(&fans), vec![ben_id.clone()]);
    assert_eq!(
        ids(&json_list(&node, "/api/v1/favourites", Some(&ben)).await),
        vec![photo_id.clone()]
    );
    assert_eq!(
        ids(&json_list(&node, "/api/v1/bookmarks", Some(&ben)).await),
        vec![photo_id.clone()]
    );

    // Ben comments; the comment is a descendant and notifies Ana.
    let comment = post(
        &node,
        &ben,
        json!({"status": "Lovely light!", "in_reply_to_id": photo_id}),
    )
    .await;
    assert_eq!(comment["in_reply_to_id"], json!(photo_id));
    assert_eq!(comment["in_reply_to_account_id"], json!(ana_id));
    let reply_to_comment = post(
        &node,
        &ana,
        json!({"status": "@ben thanks", "in_reply_to_id": id(&comment)}),
    )
    .await;
    let context = expect_json(
        node.get(&format!("/api/v1/statuses/{photo_id}/context"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(context["ancestors"], json!([]));
    assert_eq!(
        ids(context["descendants"].as_array().expect("descendants")),
        vec![id(&comment), id(&reply_to_comment)]
    );
    let context = expect_json(
        node.get(
            &format!("/api/v1/statuses/{}/context", id(&reply_to_comment)),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(context["ancestors"].as_array().expect("ancestors")),
        vec![photo_id.clone(), id(&comment)]
    );
    let shown = expect_json(
        node.get(&format!("/api/v1/statuses/{photo_id}"), Some(&ana))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["replies_count"], 1);
    assert_eq!(shown["favourites_count"], 1);

    let notes = json_list(&node, "/api/v1/notifications", Some(&ana)).await;
    let kinds: Vec<&str> = notes
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, vec!["mention", "favourite"], "{notes:?}");
    assert_eq!(notes[0]["status"]["id"], json!(id(&comment)));
    assert_eq!(notes[1]["account"]["id"], json!(ben_id));
    let only_likes = json_list(&node, "/api/v1/notifications?types[]=favourite", Some(&ana)).await;
    assert_eq!(only_likes.len(), 1);
    let no_likes = json_list(
        &node,
        "/api/v1/notifications?exclude_types[]=favourite",
        Some(&ana),
    )
    .await;
    assert_eq!(no_likes.len(), 1);
    let one = expect_json(
        node.get(
            &format!("/api/v1/notifications/{}", id(&notes[1])),
            Some(&ana),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["type"], "favourite");
    assert_eq!(
        status_code(
            node.get(
                &format!("/api/v1/notifications/{}", id(&notes[1])),
                Some(&ben)
            )
            .await
        )
        .await,
        StatusCode::NOT_FOUND,
        "someone else's notification"
    );

    // Unliking removes the like and its notification.
    let unliked = expect_json(
        node.post_form(
            &format!("/api/v1/statuses/{photo_id}/unfavourite"),
            Some(&ben),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unliked["favourited"], false);
    assert_eq!(unliked["favourites_count"], 0);
    let notes = json_list(&node, "/api/v1/notifications?types[]=favourite", Some(&ana)).await;
    assert!(notes.is_empty(), "{notes:?}");
    let unmarked = expect_json(
        node.post_form(
            &format!("/api/v1/statuses/{photo_id}/unbookmark"),
            Some(&ben),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unmarked["bookmarked"], false);
    assert!(json_list(&node, "/api/v1/bookmarks", Some(&ben))
        .await
        .is_empty());
    node.stop().await;
}

async fn timelines_show_what_each_person_should_see(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let (_, cid) = node.user("cid").await;

    let first = post(&node, &ana, json!({"status": "first #Street"})).await;
    let unlisted = post(
        &node,
        &ana,
        json!({"status": "quiet #street", "visibility": "unlisted"}),
    )
    .await;
    let ben_post = post(&node, &ben, json!({"status": "ben here #street"})).await;
    let comment = post(
        &node,
        &cid,
        json!({"status": "nice", "in_reply_to_id": id(&first)}),
    )
    .await;

    // Home: own posts, and those of followed accounts once followed.
    assert_eq!(
        ids(&json_list(&node, "/api/v1/timelines/home", Some(&ben)).await),
        vec![id(&ben_post)]
    );
    follow(&node, &ben, &ana_id).await;
    assert_eq!(
        ids(&json_list(&node, "/api/v1/timelines/home", Some(&ben)).await),
        vec![id(&ben_post), id(&unlisted), id(&first)]
    );

    // Public: public posts only, no replies to others, for anyone.
    let public = json_list(&node, "/api/v1/timelines/public?local=true", None).await;
    assert_eq!(ids(&public), vec![id(&ben_post), id(&first)]);
    assert!(public.iter().all(|s| s.get("favourited").is_none()));
    let remote = json_list(&node, "/api/v1/timelines/public?remote=true", None).await;
    assert!(remote.is_empty());
    assert!(
        json_list(&node, "/api/v1/timelines/public?only_media=true", None)
            .await
            .is_empty(),
        "no post has photos"
    );
    // Tags are case-insensitive.
    assert_eq!(
        ids(&json_list(&node, "/api/v1/timelines/tag/STREET", Some(&cid)).await),
        vec![id(&ben_post), id(&first)]
    );
    // A profile shows everything visible, replies optionally excluded.
    let ana_statuses = format!("/api/v1/accounts/{ana_id}/statuses");
    assert_eq!(
        ids(&json_list(&node, &ana_statuses, None).await),
        vec![id(&unlisted), id(&first)]
    );
    let cid_id = comment["account"]["id"].as_str().expect("cid").to_string();
    assert_eq!(
        json_list(
            &node,
            &format!("/api/v1/accounts/{cid_id}/statuses?exclude_replies=true"),
            None
        )
        .await
        .len(),
        0
    );
    assert!(
        json_list(&node, &format!("{ana_statuses}?pinned=true"), None)
            .await
            .is_empty()
    );

    // Muting hides from timelines, not from the profile.
    expect_json(
        node.post_form(&format!("/api/v1/accounts/{ana_id}/mute"), Some(&ben), &[])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(&json_list(&node, "/api/v1/timelines/home", Some(&ben)).await),
        vec![id(&ben_post)]
    );
    assert_eq!(
        ids(&json_list(&node, "/api/v1/timelines/public", Some(&ben)).await),
        vec![id(&ben_post)]
    );
    assert_eq!(json_list(&node, &ana_statuses, Some(&ben)).await.len(), 2);

    // A token without a user cannot read a home timeline.
    assert_eq!(
        status_code(node.get("/api/v1/timelines/home", None).await).await,
        StatusCode::UNAUTHORIZED
    );
    node.stop().await;
}

async fn followers_only_and_direct_posts_stay_invisible_to_others(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let (cid_id, cid) = node.user("cid").await;
    follow(&node, &ben, &ana_id).await;

    let private = post(
        &node,
        &ana,
        json!({"status": "for my followers #secret", "visibility": "private"}),
    )
    .await;
    let direct = post(
        &node,
        &ana,
        json!({"status": "@cid just for you", "visibility": "direct"}),
    )
    .await;
    let private_path = format!("/api/v1/statuses/{}", id(&private));
    let direct_path = format!("/api/v1/statuses/{}", id(&direct));

    // Ben follows: he sees the private one, not the direct one. Cid is mentioned: the reverse.
    assert_eq!(
        node.get(&private_path, Some(&ben)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        node.get(&private_path, Some(&cid)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        node.get(&private_path, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        node.get(&direct_path, Some(&cid)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        node.get(&direct_path, Some(&ben)).await.status(),
        StatusCode::NOT_FOUND
    );
    let _ = cid_id;

    // Everywhere else too: context, likes, comments, lists, tags.
    for path in [
        format!("{private_path}/context"),
        format!("{private_path}/favourited_by"),
        format!("{private_path}/history"),
    ] {
        assert_eq!(
            node.get(&path, Some(&cid)).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for action in ["favourite", "bookmark"] {
        let r = node
            .post_form(&format!("{private_path}/{action}"), Some(&cid), &[])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let r = node
        .post_json(
            "/api/v1/statuses",
            Some(&cid),
            &json!({"status": "sneaky", "in_reply_to_id": id(&private)}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let profile = format!("/api/v1/accounts/{ana_id}/statuses");
    assert_eq!(
        ids(&json_list(&node, &profile, Some(&cid)).await),
        vec![id(&direct)]
    );
    assert_eq!(
        ids(&json_list(&node, &profile, Some(&ben)).await),
        vec![id(&private)]
    );
    assert!(json_list(&node, &profile, None).await.is_empty());
    assert!(json_list(&node, "/api/v1/timelines/tag/secret", Some(&ben))
        .await
        .is_empty());
    assert!(json_list(&node, "/api/v1/timelines/public", Some(&ben))
        .await
        .is_empty());

    // Ben's comment on the private post and his like are invisible to Cid as well.
    let comment = post(
        &node,
        &ben,
        json!({"status": "so good", "in_reply_to_id": id(&private), "visibility": "private"}),
    )
    .await;
    expect_json(
        node.post_form(&format!("{private_path}/favourite"), Some(&ben), &[])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        node.get(&format!("/api/v1/statuses/{}", id(&comment)), Some(&cid))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let notes = json_list(&node, "/api/v1/notifications", Some(&ana)).await;
    assert_eq!(
        notes.len(),
        3,
        "follow, mention (comment), favourite: {notes:?}"
    );

    // Blocking hides everything both ways.
    expect_json(
        node.post_form(&format!("/api/v1/accounts/{ana_id}/block"), Some(&cid), &[])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        node.get(&direct_path, Some(&cid)).await.status(),
        StatusCode::NOT_FOUND
    );
    node.stop().await;
}

async fn edits_keep_a_history_and_deletes_remove_everything_attached(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let original = post(
        &node,
        &ana,
        json!({"status": "Morning in #Paris", "licence": "cc-by"}),
    )
    .await;
    let path = format!("/api/v1/statuses/{}", id(&original));
    assert_eq!(original["edited_at"], Value::Null);

    // Only the author edits.
    let r = node
        .put_json(&path, Some(&ben), &json!({"status": "mine now"}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let edited = expect_json(
        node.put_json(
            &path,
            Some(&ana),
            &json!({"status": "Evening in #London", "spoiler_text": "bright", "title": "Dusk"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(edited["edited_at"].is_string());
    assert_eq!(
        edited["sensitive"], true,
        "a content warning marks it sensitive"
    );
    assert_eq!(edited["peerpx"]["licence"]["id"], "cc-by", "kept");
    assert_eq!(edited["peerpx"]["title"], "Dusk");
    assert_eq!(edited["tags"][0]["name"], "london");
    assert!(json_list(&node, "/api/v1/timelines/tag/paris", None)
        .await
        .is_empty());
    assert_eq!(
        json_list(&node, "/api/v1/timelines/tag/london", None)
            .await
            .len(),
        1
    );
    let history = json_list(&node, &format!("{path}/history"), None).await;
    assert_eq!(history.len(), 2);
    assert!(history[0]["content"]
        .as_str()
        .expect("v1")
        .contains("Morning"));
    assert!(history[1]["content"]
        .as_str()
        .expect("v2")
        .contains("Evening"));
    let source = expect_json(
        node.get(&format!("{path}/source"), Some(&ana)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(source["text"], "Evening in #London");

    // Deleting answers with the text for a redraft and takes likes and notifications along.
    expect_json(
        node.post_form(&format!("{path}/favourite"), Some(&ben), &[])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        node.delete(&path, Some(&ben)).await.status(),
        StatusCode::NOT_FOUND
    );
    let deleted = expect_json(node.delete(&path, Some(&ana)).await, StatusCode::OK).await;
    assert_eq!(deleted["text"], "Evening in #London");
    assert_eq!(
        node.get(&path, Some(&ana)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        node.delete(&path, Some(&ana)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(json_list(&node, "/api/v1/favourites", Some(&ben))
        .await
        .is_empty());
    assert!(json_list(&node, "/api/v1/notifications", Some(&ana))
        .await
        .is_empty());
    assert!(json_list(&node, "/api/v1/timelines/tag/london", None)
        .await
        .is_empty());
    node.stop().await;
}

/// Follows `Link: <…>; rel="next"` from `path` with `limit=1` and returns every id seen.
async fn walk(node: &TestNode, path: &str, token: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut url = node.url(path);
    for _ in 0..20 {
        let r = node
            .http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("page");
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().expect("ascii").to_string());
        let page = expect_json(r, StatusCode::OK).await;
        let page = page.as_array().cloned().expect("list");
        if page.is_empty() {
            assert!(link.is_none(), "an empty page has no Link header");
            return seen;
        }
        seen.extend(ids(&page));
        let link = link.expect("a non-empty page has a Link header");
        let next = link
            .split(", ")
            .find(|part| part.ends_with("rel=\"next\""))
            .expect("next link");
        url = next
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("url")
            .to_string();
    }
    panic!("pagination did not end");
}

async fn lists_paginate_with_link_headers(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let mut posted = Vec::new();
    for n in 0..4 {
        let s = post(&node, &ana, json!({"status": format!("photo {n} #series")})).await;
        expect_json(
            node.post_form(
                &format!("/api/v1/statuses/{}/favourite", id(&s)),
                Some(&ben),
                &[],
            )
            .await,
            StatusCode::OK,
        )
        .await;
        posted.push(id(&s));
    }
    posted.reverse();
    for path in [
        format!("/api/v1/accounts/{ana_id}/statuses?limit=1"),
        "/api/v1/timelines/public?limit=1".to_string(),
        "/api/v1/timelines/tag/series?limit=1".to_string(),
        "/api/v1/favourites?limit=1".to_string(),
    ] {
        assert_eq!(walk(&node, &path, &ben).await, posted, "{path}");
    }
    let notes = walk(&node, "/api/v1/notifications?limit=1", &ana).await;
    assert_eq!(notes.len(), 4);

    // min_id gives the page right after it, since_id the newest after it.
    let after_oldest = json_list(
        &node,
        &format!("/api/v1/timelines/public?limit=2&min_id={}", posted[3]),
        None,
    )
    .await;
    assert_eq!(
        ids(&after_oldest),
        vec![posted[1].clone(), posted[2].clone()]
    );
    let newest = json_list(
        &node,
        &format!("/api/v1/timelines/public?limit=2&since_id={}", posted[3]),
        None,
    )
    .await;
    assert_eq!(ids(&newest), vec![posted[0].clone(), posted[1].clone()]);
    let r = node.get("/api/v1/timelines/public?max_id=abc", None).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    node.stop().await;
}

async fn bad_posts_are_refused_clearly_and_change_nothing(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let app = node.app().await;
    let read_only = node.login(&app, "ana", "password of ana", "read").await;
    let head = node.head().await;
    let too_long = "x".repeat(peerpx_aggregates::status::TEXT_MAX + 1);
    let cases: Vec<(Option<&str>, Value, StatusCode, &str)> = vec![
        (
            Some(&ana),
            json!({"status": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "blank",
        ),
        (
            Some(&ana),
            json!({"status": too_long}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too long",
        ),
        (
            Some(&ana),
            json!({"status": "hi", "visibility": "friends"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "visibility",
        ),
        (
            Some(&ana),
            json!({"status": "hi", "licence": "gpl"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "licence",
        ),
        (
            Some(&ana),
            json!({"status": "hi", "in_reply_to_id": "12345"}),
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            Some(&ana),
            json!({"status": "hi", "media_ids": ["999"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "uploads",
        ),
        (
            None,
            json!({"status": "hi"}),
            StatusCode::UNAUTHORIZED,
            "token",
        ),
        (
            Some(&read_only),
            json!({"status": "hi"}),
            StatusCode::FORBIDDEN,
            "scopes",
        ),
    ];
    for (token, body, status, words) in cases {
        let r = node.post_json("/api/v1/statuses", token, &body).await;
        let got = r.status();
        let text = r.text().await.expect("body");
        assert_eq!(got, status, "{body}: {text}");
        assert!(
            text.contains(words),
            "{body}: {text} should mention {words}"
        );
    }
    let r = node.get("/api/v1/statuses/not-a-number", Some(&ben)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = node
        .post_form("/api/v1/statuses/1/favourite", Some(&ben), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(node.head().await, head, "no refused post appended anything");
    node.stop().await;
}

async fn a_photo_post_carries_its_photos_and_their_alt_texts(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let rocket = upload(&node, &ana, "rocket.jpg", &[("description", "a rocket")]).await;
    let coffee = upload(&node, &ana, "coffee.png", &[]).await;
    let bens = upload(&node, &ben, "rocket.webp", &[]).await;

    // Someone else's upload cannot be attached.
    let r = node
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            &json!({"status": "stolen", "media_ids": [id(&bens)]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let photo = post(
        &node,
        &ana,
        json!({"status": "", "media_ids": [id(&rocket), id(&coffee)], "sensitive": true}),
    )
    .await;
    let media = photo["media_attachments"].as_array().expect("media");
    assert_eq!(ids(media), vec![id(&rocket), id(&coffee)]);
    assert_eq!(media[0]["description"], "a rocket");
    assert_eq!(media[0]["type"], "image");
    assert!(media[0]["url"].as_str().expect("url").contains("/ipfs/"));
    assert!(
        media[0]["peerpx"].get("original_url").is_some(),
        "the author sees the original"
    );
    assert_eq!(photo["sensitive"], true);

    // Ben sees the photos but not the original (downloads not allowed by default).
    let seen = expect_json(
        node.get(&format!("/api/v1/statuses/{}", id(&photo)), Some(&ben))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(seen["media_attachments"][0]["peerpx"]
        .get("original_url")
        .is_none());
    assert_eq!(
        ids(&json_list(&node, "/api/v1/timelines/public?only_media=true", None).await),
        vec![id(&photo)]
    );
    assert_eq!(
        ids(&json_list(
            &node,
            &format!("/api/v1/accounts/{ana_id}/statuses?only_media=true"),
            None
        )
        .await),
        vec![id(&photo)]
    );

    // An attached photo cannot go on a second post.
    let r = node
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            &json!({"status": "again", "media_ids": [id(&rocket)]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Editing changes alt texts, and the history keeps the old ones.
    let path = format!("/api/v1/statuses/{}", id(&photo));
    let edited = expect_json(
        node.put_json(
            &path,
            Some(&ana),
            &json!({
                "status": "Two photos",
                "media_ids": [id(&rocket), id(&coffee)],
                "media_attributes": [{"id": id(&coffee), "description": "a cup of coffee"}],
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["media_attachments"][0]["description"], "a rocket");
    assert_eq!(
        edited["media_attachments"][1]["description"],
        "a cup of coffee"
    );
    let history = json_list(&node, &format!("{path}/history"), None).await;
    assert_eq!(
        history[0]["media_attachments"][1]["description"],
        Value::Null
    );
    assert_eq!(
        history[1]["media_attachments"][1]["description"],
        "a cup of coffee"
    );
    let r = node
        .put_json(
            &path,
            Some(&ana),
            &json!({"status": "swap", "media_ids": [id(&coffee)]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Deleting the post deletes its photos.
    expect_json(node.delete(&path, Some(&ana)).await, StatusCode::OK).await;
    assert_eq!(
        node.get(&format!("/api/v1/media/{}", id(&rocket)), Some(&ana))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    node.stop().await;
}
