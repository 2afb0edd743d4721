//! The social graph over HTTP on every engine: follows, follow requests, blocks, mutes,
//! relationships, follower lists and their pages, and the counts on accounts.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    an_open_follow_shows_in_counts_relationships_and_lists,
    a_locked_account_approves_rejects_and_sees_withdrawn_requests,
    blocking_ends_follows_both_ways_and_prevents_new_ones,
    mutes_record_whether_notifications_are_hidden,
    follower_lists_page_with_link_headers_until_exhausted,
    bad_follow_requests_are_refused_clearly_and_change_nothing,
    statuses_count_and_last_status_at_leave_direct_messages_out,
);

/// `POST /api/v1/accounts/{id}/{action}` expecting 200; returns the Relationship.
async fn act(node: &TestNode, token: &str, id: &str, action: &str) -> Value {
    let path = format!("/api/v1/accounts/{id}/{action}");
    expect_json(
        node.post_form(&path, Some(token), &[]).await,
        StatusCode::OK,
    )
    .await
}

async fn relationship(node: &TestNode, token: &str, id: &str) -> Value {
    let path = format!("/api/v1/accounts/relationships?id[]={id}");
    let v = expect_json(node.get(&path, Some(token)).await, StatusCode::OK).await;
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    v[0].clone()
}

async fn account(node: &TestNode, id: &str) -> Value {
    let path = format!("/api/v1/accounts/{id}");
    expect_json(node.get(&path, None).await, StatusCode::OK).await
}

/// (followers_count, following_count) of an account.
async fn counts(node: &TestNode, id: &str) -> (i64, i64) {
    let a = account(node, id).await;
    (
        a["followers_count"].as_i64().expect("followers_count"),
        a["following_count"].as_i64().expect("following_count"),
    )
}

/// The ids of a list of accounts.
async fn ids(node: &TestNode, path: &str, token: Option<&str>) -> Vec<String> {
    let v = expect_json(node.get(path, token).await, StatusCode::OK).await;
    v.as_array()
        .expect("a list")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_string())
        .collect()
}

/// Every flag of a relationship that is true, to compare whole relationships at once.
fn flags(r: &Value) -> Vec<&'static str> {
    [
        "following",
        "followed_by",
        "requested",
        "requested_by",
        "blocking",
        "blocked_by",
        "muting",
        "muting_notifications",
    ]
    .into_iter()
    .filter(|k| r[*k] == true)
    .collect()
}

async fn an_open_follow_shows_in_counts_relationships_and_lists(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana, ana_t) = node.user("ana").await;
    let (ben, ben_t) = node.user("ben").await;

    let r = act(&node, &ana_t, &ben, "follow").await;
    assert_eq!(r["id"], ben.as_str());
    assert_eq!(flags(&r), ["following"], "{r}");
    assert_eq!(r["showing_reblogs"], true);
    for key in ["notifying", "domain_blocking", "endorsed"] {
        assert_eq!(r[key], false, "{key} in {r}");
    }
    assert_eq!(r["note"], "");
    // Following again changes nothing.
    assert_eq!(
        flags(&act(&node, &ana_t, &ben, "follow").await),
        ["following"]
    );

    assert_eq!(counts(&node, &ben).await, (1, 0));
    assert_eq!(counts(&node, &ana).await, (0, 1));
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&ana_t))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (me["followers_count"].clone(), me["following_count"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(me["statuses_count"], 0);
    assert_eq!(me["last_status_at"], Value::Null);

    // Both sides, with `id[]`, `id` and several ids (unknown ones left out).
    assert_eq!(
        flags(&relationship(&node, &ben_t, &ana).await),
        ["followed_by"]
    );
    let v = expect_json(
        node.get(
            &format!("/api/v1/accounts/relationships?id={ana}"),
            Some(&ben_t),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(flags(&v[0]), ["followed_by"]);
    let v = expect_json(
        node.get(
            &format!("/api/v1/accounts/relationships?id[]={ana}&id[]=999&id[]={ben}"),
            Some(&ana_t),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let got: Vec<(&str, Vec<&str>)> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|r| (r["id"].as_str().expect("id"), flags(r)))
        .collect();
    assert_eq!(
        got,
        [(ana.as_str(), vec![]), (ben.as_str(), vec!["following"])]
    );

    // The lists are public, and list full Account entities with their counts.
    let followers = expect_json(
        node.get(&format!("/api/v1/accounts/{ben}/followers"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(followers[0]["id"], ana.as_str());
    assert_eq!(followers[0]["username"], "ana");
    assert_eq!(followers[0]["following_count"], 1);
    assert_eq!(followers.as_array().map(Vec::len), Some(1));
    let path = format!("/api/v1/accounts/{ana}/following");
    assert_eq!(ids(&node, &path, Some(&ben_t)).await, [ben.as_str()]);
    let path = format!("/api/v1/accounts/{ana}/followers");
    assert!(ids(&node, &path, None).await.is_empty());

    let r = act(&node, &ana_t, &ben, "unfollow").await;
    assert!(flags(&r).is_empty(), "{r}");
    assert_eq!(counts(&node, &ben).await, (0, 0));
    assert_eq!(counts(&node, &ana).await, (0, 0));
    let path = format!("/api/v1/accounts/{ben}/followers");
    assert!(ids(&node, &path, None).await.is_empty());
    assert!(flags(&relationship(&node, &ben_t, &ana).await).is_empty());
    node.stop().await;
}

async fn lock(node: &TestNode, token: &str) {
    let form = reqwest::multipart::Form::new().text("locked", "true");
    let me = expect_json(node.patch_profile(token, form).await, StatusCode::OK).await;
    assert_eq!(me["locked"], true);
}

async fn a_locked_account_approves_rejects_and_sees_withdrawn_requests(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (cat, cat_t) = node.user("cat").await;
    let (ana, ana_t) = node.user("ana").await;
    let (ben, ben_t) = node.user("ben").await;
    let (dee, dee_t) = node.user("dee").await;
    lock(&node, &cat_t).await;

    let r = act(&node, &ana_t, &cat, "follow").await;
    assert_eq!(flags(&r), ["requested"], "{r}");
    assert_eq!(r["following"], false);
    assert_eq!(counts(&node, &cat).await, (0, 0));
    act(&node, &ben_t, &cat, "follow").await;
    act(&node, &dee_t, &cat, "follow").await;
    assert_eq!(
        ids(&node, "/api/v1/follow_requests", Some(&cat_t)).await,
        [dee.as_str(), ben.as_str(), ana.as_str()]
    );
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&cat_t))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["source"]["follow_requests_count"], 3);
    assert_eq!(
        flags(&relationship(&node, &cat_t, &ana).await),
        ["requested_by"]
    );

    // Authorized: a follow.
    let path = format!("/api/v1/follow_requests/{ana}/authorize");
    let r = expect_json(
        node.post_form(&path, Some(&cat_t), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["id"], ana.as_str());
    assert_eq!(flags(&r), ["followed_by"], "{r}");
    assert_eq!(
        flags(&relationship(&node, &ana_t, &cat).await),
        ["following"]
    );
    assert_eq!(counts(&node, &cat).await, (1, 0));
    let path = format!("/api/v1/accounts/{cat}/followers");
    assert_eq!(ids(&node, &path, None).await, [ana.as_str()]);

    // Rejected: gone, and nothing left to authorize or reject.
    let path = format!("/api/v1/follow_requests/{ben}/reject");
    let r = expect_json(
        node.post_form(&path, Some(&cat_t), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert!(flags(&r).is_empty(), "{r}");
    assert!(flags(&relationship(&node, &ben_t, &cat).await).is_empty());
    for action in ["authorize", "reject"] {
        let path = format!("/api/v1/follow_requests/{ben}/{action}");
        let v = expect_json(
            node.post_form(&path, Some(&cat_t), &[]).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(v["error"], "Record not found");
    }

    // Withdrawn by unfollowing.
    let r = act(&node, &dee_t, &cat, "unfollow").await;
    assert!(flags(&r).is_empty(), "{r}");
    assert!(ids(&node, "/api/v1/follow_requests", Some(&cat_t))
        .await
        .is_empty());
    assert_eq!(counts(&node, &cat).await, (1, 0));
    node.stop().await;
}

async fn blocking_ends_follows_both_ways_and_prevents_new_ones(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana, ana_t) = node.user("ana").await;
    let (ben, ben_t) = node.user("ben").await;
    let (cat, cat_t) = node.user("cat").await;
    // Ben follows Ana and Ana follows Ben; once Ana is locked, Cat's follow is a request.
    act(&node, &ben_t, &ana, "follow").await;
    act(&node, &ana_t, &ben, "follow").await;
    lock(&node, &ana_t).await;
    act(&node, &cat_t, &ana, "follow").await;
    assert_eq!(
        flags(&relationship(&node, &ana_t, &ben).await),
        ["following", "followed_by"]
    );

    let r = act(&node, &ana_t, &ben, "block").await;
    assert_eq!(flags(&r), ["blocking"], "{r}");
    assert_eq!(
        flags(&relationship(&node, &ben_t, &ana).await),
        ["blocked_by"]
    );
    assert_eq!(counts(&node, &ana).await, (0, 0));
    assert_eq!(counts(&node, &ben).await, (0, 0));
    let r = act(&node, &ana_t, &cat, "block").await;
    assert_eq!(flags(&r), ["blocking"], "{r}");
    assert_eq!(
        flags(&relationship(&node, &cat_t, &ana).await),
        ["blocked_by"]
    );
    assert!(ids(&node, "/api/v1/follow_requests", Some(&ana_t))
        .await
        .is_empty());
    assert_eq!(
        ids(&node, "/api/v1/blocks", Some(&ana_t)).await,
        [cat.as_str(), ben.as_str()]
    );

    // Neither side can follow the other while the block stands.
    let path = format!("/api/v1/accounts/{ana}/follow");
    let v = expect_json(
        node.post_form(&path, Some(&ben_t), &[]).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(v["error"], "This action is not allowed");
    let path = format!("/api/v1/accounts/{ben}/follow");
    let v = expect_json(
        node.post_form(&path, Some(&ana_t), &[]).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        v["error"].as_str().unwrap_or("").contains("blocking"),
        "{v}"
    );
    assert_eq!(
        flags(&relationship(&node, &ana_t, &ben).await),
        ["blocking"]
    );
    // Ana's follower list is hidden from Ben, whom she blocks, not from others.
    act(&node, &ana_t, &cat, "unblock").await;
    act(&node, &cat_t, &ana, "follow").await;
    let path = format!("/api/v1/follow_requests/{cat}/authorize");
    expect_json(
        node.post_form(&path, Some(&ana_t), &[]).await,
        StatusCode::OK,
    )
    .await;
    let path = format!("/api/v1/accounts/{ana}/followers");
    assert_eq!(ids(&node, &path, Some(&cat_t)).await, [cat.as_str()]);
    assert!(ids(&node, &path, Some(&ben_t)).await.is_empty());

    // Unblocked, Ben may ask again (Ana is locked).
    let r = act(&node, &ana_t, &ben, "unblock").await;
    assert!(flags(&r).is_empty(), "{r}");
    assert_eq!(
        flags(&act(&node, &ben_t, &ana, "follow").await),
        ["requested"]
    );
    assert_eq!(
        ids(&node, "/api/v1/blocks", Some(&ana_t)).await,
        Vec::<String>::new()
    );

    // Rebuilding the social graph from the log gives the same rows.
    let projector = &node.node().state.projector;
    let before = projector.snapshot().await.expect("snapshot");
    assert_eq!(before["follows"].len(), 1, "{:?}", before["follows"]);
    assert_eq!(before["follow_requests"].len(), 1);
    projector
        .replay(Some("relationships"))
        .await
        .expect("replay");
    assert_eq!(projector.snapshot().await.expect("snapshot"), before);
    node.stop().await;
}

async fn mutes_record_whether_notifications_are_hidden(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana, ana_t) = node.user("ana").await;
    let (ben, ben_t) = node.user("ben").await;
    let (cat, cat_t) = node.user("cat").await;

    let r = act(&node, &ana_t, &ben, "mute").await;
    assert_eq!(flags(&r), ["muting", "muting_notifications"], "{r}");
    let first = node.get("/api/v1/mutes", Some(&ana_t)).await;
    let link = first.headers()["link"].to_str().expect("link").to_string();
    let list = expect_json(first, StatusCode::OK).await;
    assert_eq!(list[0]["id"], ben.as_str());
    assert_eq!(list[0]["mute_expires_at"], Value::Null);
    // Ben does not learn about the mute.
    assert!(flags(&relationship(&node, &ben_t, &ana).await).is_empty());

    // Muting again with notifications=false (JSON here) updates the same mute.
    let path = format!("/api/v1/accounts/{ben}/mute");
    let r = expect_json(
        node.post_json(&path, Some(&ana_t), &json!({ "notifications": false }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(flags(&r), ["muting"], "{r}");
    let again = node.get("/api/v1/mutes", Some(&ana_t)).await;
    assert_eq!(again.headers()["link"].to_str().expect("link"), link);
    assert_eq!(
        expect_json(again, StatusCode::OK)
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // And back with a form value.
    let r = expect_json(
        node.post_form(&path, Some(&ana_t), &[("notifications", "true")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(flags(&r), ["muting", "muting_notifications"], "{r}");

    // Temporary mutes are refused and change nothing; neither can anyone mute themselves.
    let v = expect_json(
        node.post_form(
            &path,
            Some(&ana_t),
            &[("notifications", "false"), ("duration", "3600")],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        v["error"].as_str().unwrap_or("").contains("duration"),
        "{v}"
    );
    assert_eq!(
        flags(&relationship(&node, &ana_t, &ben).await),
        ["muting", "muting_notifications"]
    );
    let v = expect_json(
        node.post_form(&format!("/api/v1/accounts/{ana}/mute"), Some(&ana_t), &[])
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        v["error"].as_str().unwrap_or("").contains("yourself"),
        "{v}"
    );

    // A muted account is left out of the lists ana reads, but not of her own.
    act(&node, &cat_t, &ben, "follow").await;
    act(&node, &ana_t, &cat, "mute").await;
    let path = format!("/api/v1/accounts/{ben}/followers");
    assert!(ids(&node, &path, Some(&ana_t)).await.is_empty());
    assert_eq!(ids(&node, &path, Some(&ben_t)).await, [cat.as_str()]);

    let r = act(&node, &ana_t, &ben, "unmute").await;
    assert!(flags(&r).is_empty(), "{r}");
    assert_eq!(ids(&node, "/api/v1/mutes", Some(&ana_t)).await, [cat]);
    node.stop().await;
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(response: &reqwest::Response) -> Option<String> {
    let header = response.headers().get("link")?.to_str().ok()?;
    header.split(", ").find_map(|part| {
        let (url, rel) = part.split_once("; ")?;
        (rel == "rel=\"next\"").then(|| {
            url.trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

async fn follower_lists_page_with_link_headers_until_exhausted(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana, ana_t) = node.user("ana").await;
    let mut fans = Vec::new();
    for name in ["fan1", "fan2", "fan3", "fan4"] {
        let (id, token) = node.user(name).await;
        act(&node, &token, &ana, "follow").await;
        act(&node, &ana_t, &id, "follow").await;
        fans.push(id);
    }
    let newest_first: Vec<String> = fans.iter().rev().cloned().collect();

    for list in ["followers", "following"] {
        let mut url = node.url(&format!("/api/v1/accounts/{ana}/{list}?limit=1"));
        let mut seen = Vec::new();
        loop {
            let r = node
                .http
                .get(&url)
                .bearer_auth(&ana_t)
                .send()
                .await
                .expect("get");
            let next = next_link(&r);
            let page = expect_json(r, StatusCode::OK).await;
            let page = page.as_array().expect("list").clone();
            assert!(page.len() <= 1, "limit=1 gave {page:?}");
            let Some(next) = next else {
                assert!(page.is_empty(), "a page with items has a Link header");
                break;
            };
            assert!(next.contains("limit=1"), "{next}");
            assert!(next.starts_with(&node.base), "{next}");
            seen.extend(
                page.iter()
                    .map(|a| a["id"].as_str().expect("id").to_string()),
            );
            assert!(seen.len() <= fans.len(), "pages never end: {seen:?}");
            url = next;
        }
        assert_eq!(seen, newest_first, "{list}");
    }
    // min_id walks forward from the oldest: the next newer follower.
    let r = node
        .get(&format!("/api/v1/accounts/{ana}/followers?limit=2"), None)
        .await;
    let link = r.headers()["link"].to_str().expect("link").to_string();
    let page = expect_json(r, StatusCode::OK).await;
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert!(link.contains("rel=\"prev\""), "{link}");
    let all = ids(&node, &format!("/api/v1/accounts/{ana}/followers"), None).await;
    assert_eq!(all, newest_first);
    node.stop().await;
}

async fn bad_follow_requests_are_refused_clearly_and_change_nothing(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let (ana, ana_t) = node.user("ana").await;
    let (ben, _) = node.user("ben").await;
    let (sid, _) = node.user("sid").await;

    let v = expect_json(
        node.post_form("/api/v1/accounts/4242/follow", Some(&ana_t), &[])
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(v["error"], "Record not found");
    let v = expect_json(
        node.post_form(&format!("/api/v1/accounts/{ana}/follow"), Some(&ana_t), &[])
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(v["error"], "You cannot follow yourself");

    // A suspended account cannot be followed.
    let path = format!("/api/v1/admin/accounts/{sid}/action");
    expect_json(
        node.post_form(&path, Some(&admin), &[("type", "suspend")])
            .await,
        StatusCode::OK,
    )
    .await;
    let path = format!("/api/v1/accounts/{sid}/follow");
    expect_json(
        node.post_form(&path, Some(&ana_t), &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // No token, and a token without the follow scope.
    let path = format!("/api/v1/accounts/{ben}/follow");
    expect_json(
        node.post_form(&path, None, &[]).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let app = node.app().await;
    let read_only = node.login(&app, "ana", "password of ana", "read").await;
    let v = expect_json(
        node.post_form(&path, Some(&read_only), &[]).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(v["error"], "This action is outside the authorized scopes");
    for action in ["block", "mute", "unfollow"] {
        let path = format!("/api/v1/accounts/{ben}/{action}");
        expect_json(
            node.post_form(&path, Some(&read_only), &[]).await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    // Reading works with `read`; listing relationships needs a token.
    assert!(flags(&relationship(&node, &read_only, &ben).await).is_empty());
    expect_json(
        node.get(&format!("/api/v1/accounts/relationships?id={ben}"), None)
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let write_only = node
        .login(&app, "ana", "password of ana", "write:blocks")
        .await;
    expect_json(
        node.get("/api/v1/blocks", Some(&write_only)).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Malformed pages and unknown accounts' lists.
    for query in ["limit=many", "max_id=abc"] {
        let path = format!("/api/v1/accounts/{ben}/followers?{query}");
        expect_json(
            node.get(&path, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    expect_json(
        node.get("/api/v1/accounts/4242/following", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_json(
        node.post_form("/api/v1/accounts/4242/block", Some(&ana_t), &[])
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // None of it changed anything.
    assert_eq!(counts(&node, &ana).await, (0, 0));
    assert_eq!(counts(&node, &ben).await, (0, 0));
    assert!(ids(&node, "/api/v1/blocks", Some(&ana_t)).await.is_empty());
    assert!(ids(&node, "/api/v1/mutes", Some(&ana_t)).await.is_empty());
    node.stop().await;
}

async fn statuses_count_and_last_status_at_leave_direct_messages_out(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana, ana_t) = node.user("ana").await;
    let (_, ben_t) = node.user("ben").await;
    let a = account(&node, &ana).await;
    assert_eq!(
        (a["statuses_count"].clone(), a["last_status_at"].clone()),
        (json!(0), Value::Null)
    );
    for (text, visibility) in [
        ("morning light", "public"),
        ("for followers", "private"),
        ("@ben hello", "direct"),
    ] {
        let form = [("status", text), ("visibility", visibility)];
        expect_json(
            node.post_form("/api/v1/statuses", Some(&ana_t), &form)
                .await,
            StatusCode::OK,
        )
        .await;
    }
    // Mastodon counts every status but direct messages, on every rendering of the account.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let a = account(&node, &ana).await;
    assert_eq!(a["statuses_count"], 2, "{a}");
    assert_eq!(a["last_status_at"], today.as_str());
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&ana_t))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["statuses_count"], 2);
    act(&node, &ben_t, &ana, "follow").await;
    let path = format!("/api/v1/accounts/{ana}/following");
    let r = expect_json(
        node.get(&format!("/api/v1/accounts/{ana}/followers"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r[0]["following_count"], 1);
    assert!(ids(&node, &path, None).await.is_empty());
    node.stop().await;
}
