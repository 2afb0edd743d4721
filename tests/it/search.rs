//! `GET /api/v2/search` over real HTTP: statuses by the words of their caption, title and photo
//! descriptions (every word, only what the viewer may see, signed-in only), hashtags by prefix
//! ordered by use, paging; and across two nodes, a photo found by its URL, fetched and recorded,
//! then liked by someone who does not follow its author.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, expect_json, Engine, TestNode};
use crate::on_every_engine;
use crate::statuses::{post, upload};

on_every_engine!(
    statuses_and_hashtags_are_found_by_words_and_prefix_as_the_viewer_may_see_them,
    a_photo_of_another_node_is_found_by_its_url_and_can_be_liked,
);

const WAIT: Duration = Duration::from_secs(30);

async fn search(node: &TestNode, token: Option<&str>, query: &[(&str, &str)]) -> Value {
    let mut req = node.http.get(node.url("/api/v2/search")).query(query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    expect_json(req.send().await.expect("search"), StatusCode::OK).await
}

/// The ids of the statuses of a search answer, in order.
fn status_ids(found: &Value) -> Vec<String> {
    found["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect()
}

fn tag_names(found: &Value) -> Vec<String> {
    found["hashtags"]
        .as_array()
        .expect("hashtags")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn statuses_and_hashtags_are_found_by_words_and_prefix_as_the_viewer_may_see_them(
    engine: Engine,
) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let (_, cid) = node.user("cid").await;

    let photo = upload(
        &node,
        &ana,
        "astronaut-exif-gps.jpg",
        &[("description", "A red bicycle against a blue wall")],
    )
    .await;
    let ride = post(
        &node,
        &ana,
        json!({"status": "Morning ride #cycling #cityscape", "media_ids": [id(&photo)],
               "title": "Commute"}),
    )
    .await;
    let sunset = post(
        &node,
        &ana,
        json!({"status": "Sunset over the harbour #Cycling #cityscape"}),
    )
    .await;
    let secret = post(
        &node,
        &ana,
        json!({"status": "Secret harbour plans #cycling #secretspot", "visibility": "private"}),
    )
    .await;
    let night = post(&node, &ben, json!({"status": "Harbour at night #city"})).await;
    let battery = post(&node, &ben, json!({"status": "Battery at 100% #cycling"})).await;
    let q = |text: &'static str| vec![("q", text)];

    // Caption words, any case; newest first; the private post only for its author.
    let found = search(&node, Some(&cid), &q("harbour")).await;
    assert_eq!(status_ids(&found), vec![id(&night), id(&sunset)]);
    let found = search(&node, Some(&ana), &q("HARBOUR")).await;
    assert_eq!(
        status_ids(&found),
        vec![id(&night), id(&secret), id(&sunset)]
    );
    // Every word must match, wherever it is (caption, title, photo description).
    let found = search(&node, Some(&cid), &q("sunset Harbour")).await;
    assert_eq!(status_ids(&found), vec![id(&sunset)]);
    let found = search(&node, Some(&cid), &q("harbour night")).await;
    assert_eq!(status_ids(&found), vec![id(&night)]);
    let found = search(&node, Some(&cid), &q("bicycle")).await;
    assert_eq!(status_ids(&found), vec![id(&ride)]);
    let found = search(&node, Some(&cid), &q("blue wall ride commute")).await;
    assert_eq!(status_ids(&found), vec![id(&ride)]);
    let found = search(&node, Some(&cid), &q("bicycle sunset")).await;
    assert!(status_ids(&found).is_empty(), "{found}");
    // Rendered as everywhere else: the photo, the author, the viewer's flags.
    let shown = &search(&node, Some(&cid), &q("bicycle")).await["statuses"][0];
    assert_eq!(shown["account"]["username"], "ana");
    assert_eq!(
        shown["media_attachments"][0]["description"],
        "A red bicycle against a blue wall"
    );
    assert_eq!(shown["peerpx"]["title"], "Commute");
    assert_eq!(shown["favourited"], false);
    // LIKE's wildcards are plain characters.
    let found = search(&node, Some(&cid), &q("100%")).await;
    assert_eq!(status_ids(&found), vec![id(&battery)]);
    let found = search(&node, Some(&cid), &q("%")).await;
    assert_eq!(status_ids(&found), vec![id(&battery)]);
    let found = search(&node, Some(&cid), &q("_")).await;
    assert!(status_ids(&found).is_empty(), "{found}");
    // Paging.
    let found = search(
        &node,
        Some(&ana),
        &[("q", "harbour"), ("limit", "1"), ("offset", "1")],
    )
    .await;
    assert_eq!(status_ids(&found), vec![id(&secret)]);
    let found = search(&node, Some(&cid), &[("q", "harbour"), ("type", "accounts")]).await;
    assert!(status_ids(&found).is_empty(), "{found}");

    // Visitors search hashtags and accounts, not statuses.
    let found = search(&node, None, &q("harbour")).await;
    assert!(status_ids(&found).is_empty(), "{found}");
    let found = search(&node, None, &q("an")).await;
    assert_eq!(found["accounts"][0]["username"], "ana");

    // Hashtags by prefix (without `#`, any case), most used first, counting visible statuses.
    let found = search(&node, None, &q("#CI")).await;
    assert_eq!(tag_names(&found), vec!["cityscape", "city"]);
    let tag = &found["hashtags"][0];
    assert_eq!(tag["url"], node.url("/tags/cityscape"));
    assert_eq!(tag["history"], json!([]));
    assert!(tag.get("following").is_none(), "{tag}");
    let found = search(&node, Some(&cid), &[("q", "c"), ("type", "hashtags")]).await;
    assert_eq!(tag_names(&found), vec!["cycling", "cityscape", "city"]);
    assert!(status_ids(&found).is_empty(), "{found}");
    assert_eq!(found["hashtags"][0]["following"], false);
    let found = search(
        &node,
        Some(&cid),
        &[
            ("q", "c"),
            ("type", "hashtags"),
            ("limit", "1"),
            ("offset", "1"),
        ],
    )
    .await;
    assert_eq!(tag_names(&found), vec!["cityscape"]);
    // A tag only private posts carry is found only by who may see one.
    let found = search(&node, Some(&cid), &q("secret")).await;
    assert!(tag_names(&found).is_empty(), "{found}");
    let found = search(&node, Some(&ana), &q("secret")).await;
    assert_eq!(tag_names(&found), vec!["secretspot"]);
    assert_eq!(status_ids(&found), vec![id(&secret)]);

    // Our own statuses by their URI or page, for who may see them.
    let uri = secret["uri"].as_str().expect("uri");
    let found = search(&node, Some(&ana), &[("q", uri)]).await;
    assert_eq!(status_ids(&found), vec![id(&secret)]);
    let found = search(&node, Some(&cid), &[("q", uri)]).await;
    assert!(status_ids(&found).is_empty(), "{found}");
    let page = ride["url"].as_str().expect("url");
    let found = search(&node, Some(&cid), &[("q", page), ("resolve", "true")]).await;
    assert_eq!(status_ids(&found), vec![id(&ride)]);
    node.stop().await;
}

async fn a_photo_of_another_node_is_found_by_its_url_and_can_be_liked(engine: Engine) {
    let Some(a) = TestNode::start_federated(engine).await else {
        return;
    };
    let Some(b) = TestNode::start_federated(engine).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (_, ben) = b.user("ben").await;
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
        json!({"status": "First light #space", "media_ids": [id(&photo)], "title": "Astronaut"}),
    )
    .await;
    let uri = posted["uri"].as_str().expect("uri").to_string();

    // Unknown to b, and Ben follows nobody on a: without resolve, nothing.
    let found = search(&b, Some(&ben), &[("q", &uri)]).await;
    assert!(status_ids(&found).is_empty(), "{found}");

    // Resolved: fetched, its author too, and recorded.
    let found = search(&b, Some(&ben), &[("q", &uri), ("resolve", "true")]).await;
    let seen = &found["statuses"][0];
    assert_eq!(seen["uri"], uri.as_str(), "{found}");
    assert_eq!(seen["account"]["acct"], format!("ana@{}", a.domain));
    assert_eq!(seen["peerpx"]["title"], "Astronaut");
    assert!(seen["content"]
        .as_str()
        .expect("content")
        .contains("First light"));
    let attachment = &seen["media_attachments"][0];
    assert_eq!(attachment["description"], "An astronaut in a white suit");
    assert_eq!(
        attachment["remote_url"],
        posted["media_attachments"][0]["url"]
    );
    let on_b = id(seen);
    // Once known, it is found again (the same status), even without resolve.
    let again = search(&b, Some(&ben), &[("q", &uri), ("resolve", "true")]).await;
    assert_eq!(status_ids(&again), vec![on_b.clone()]);
    let again = search(&b, Some(&ben), &[("q", &uri)]).await;
    assert_eq!(status_ids(&again), vec![on_b.clone()]);
    // Its photo's description is searched like those of b's own photos.
    let by_words = search(&b, Some(&ben), &[("q", "white SUIT")]).await;
    assert_eq!(status_ids(&by_words), vec![on_b.clone()]);

    // A URL that is neither an account nor a status gives empty lists.
    let outbox = a.url("/users/ana/outbox");
    let found = search(&b, Some(&ben), &[("q", &outbox), ("resolve", "true")]).await;
    assert_eq!(found["statuses"], json!([]));
    assert_eq!(found["accounts"], json!([]));

    // Ben likes it; Ana is told on a.
    let r = b
        .post_form(
            &format!("/api/v1/statuses/{on_b}/favourite"),
            Some(&ben),
            &[],
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["favourited"], true);
    let like = eventually(WAIT, "Ana's favourite notification", || async {
        let n = expect_json(
            a.get("/api/v1/notifications", Some(&ana)).await,
            StatusCode::OK,
        )
        .await;
        n.as_array()
            .and_then(|l| l.iter().find(|x| x["type"] == "favourite").cloned())
    })
    .await;
    assert_eq!(like["account"]["acct"], format!("ben@{}", b.domain));
    assert_eq!(like["status"]["uri"], uri.as_str());

    // Once a's domain is suspended on b, its photos are not fetched any more.
    let admin = b.admin().await;
    let r = b
        .post_form(
            "/api/v1/admin/domain_blocks",
            Some(&admin),
            &[("domain", a.domain.as_str())],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let other = post(&a, &ana, json!({"status": "Second light"})).await;
    let other_uri = other["uri"].as_str().expect("uri");
    let found = search(&b, Some(&ben), &[("q", other_uri), ("resolve", "true")]).await;
    assert_eq!(found["statuses"], json!([]), "{found}");
    a.stop().await;
    b.stop().await;
}
