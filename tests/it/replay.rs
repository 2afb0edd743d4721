//! Replay on every engine: read models thrown away and rebuilt from the log are identical.

use peerpx_aggregates::{InstanceCommand, RegistrationsMode};
use peerpx_projections::log::metadata;
use reqwest::StatusCode;

use crate::harness::{data_file, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    replay_rebuilds_every_read_model_identically,
    replay_rebuilds_photos_and_the_social_graph_identically,
);

async fn replay_rebuilds_every_read_model_identically(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;
    let mut ids = Vec::new();
    for name in ["ana", "ben", "cid", "dee"] {
        let r = node.register(&app_token, name, "replay password").await;
        expect_json(r, StatusCode::OK).await;
        let found = expect_json(
            node.get(
                &format!("/api/v1/admin/accounts?username={name}"),
                Some(&admin),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        ids.push(found[0]["id"].as_str().expect("id").to_string());
    }
    // Approve three, reject the fourth, then suspend the third.
    let actions = [
        (format!("{}/approve", ids[0]), vec![]),
        (format!("{}/approve", ids[1]), vec![]),
        (format!("{}/approve", ids[2]), vec![]),
        (format!("{}/reject", ids[3]), vec![]),
        (format!("{}/action", ids[2]), vec![("type", "suspend")]),
    ];
    for (action, form) in actions {
        let path = format!("/api/v1/admin/accounts/{action}");
        expect_json(
            node.post_form(&path, Some(&admin), &form).await,
            StatusCode::OK,
        )
        .await;
    }
    let token = node
        .login(&app, "ana", "replay password", "read write")
        .await;
    let avatar = std::fs::read(data_file("coffee-alpha.png")).expect("fixture");
    let form = reqwest::multipart::Form::new()
        .text("display_name", "Ana")
        .text("note", "Street photography")
        .text("fields_attributes[0][name]", "Lens")
        .text("fields_attributes[0][value]", "35mm")
        .part(
            "avatar",
            reqwest::multipart::Part::bytes(avatar).file_name("a.png"),
        );
    let r = node.patch_profile(&token, form).await;
    expect_json(r, StatusCode::OK).await;
    let state = &node.node().state;
    for mode in [RegistrationsMode::Open, RegistrationsMode::Closed] {
        let p = state
            .commands
            .instance(
                InstanceCommand::SetRegistrationsMode { mode, at: 9 },
                metadata(None, "test"),
            )
            .await
            .expect("mode");
        state.settle(p).await;
    }

    let r = node
        .http
        .patch(node.url("/api/peerpx/v1/admin/settings"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"title": "Replayed", "contact_username": "ana"}))
        .send()
        .await
        .expect("settings");
    expect_json(r, StatusCode::OK).await;
    // Domain blocks: one made, one made then changed, one made then lifted.
    let blocks = "/api/v1/admin/domain_blocks";
    for domain in ["kept.example", "changed.example", "lifted.example"] {
        let form = [("domain", domain), ("public_comment", "replayed")];
        let b = expect_json(
            node.post_form(blocks, Some(&admin), &form).await,
            StatusCode::OK,
        )
        .await;
        let one = format!("{blocks}/{}", b["id"].as_str().expect("id"));
        let r = match domain {
            "changed.example" => {
                let change = serde_json::json!({"severity": "silence", "obfuscate": true});
                node.put_json(&one, Some(&admin), &change).await
            }
            "lifted.example" => node.delete(&one, Some(&admin)).await,
            _ => continue,
        };
        expect_json(r, StatusCode::OK).await;
    }

    let before = state.projector.snapshot().await.expect("snapshot");
    assert_eq!(before["domain_blocks"].len(), 2, "{before:?}");
    assert_eq!(
        before["accounts"].len(),
        4,
        "root, ana, ben, cid: {before:?}"
    );
    let report = state.projector.replay(None).await.expect("replay");
    assert_eq!(
        report.projections,
        [
            "accounts",
            "instance",
            "media",
            "statuses",
            "relationships",
            "engagements",
            "notifications",
            "federation",
            "deliveries",
            "domain_blocks",
            "search"
        ]
    );
    let head = node.head().await;
    assert_eq!(
        (report.position, report.events),
        (head, u64::try_from(head).expect("head"))
    );
    let after = state.projector.snapshot().await.expect("snapshot");
    assert_eq!(before, after, "replay changed a read model");
    // One read model alone, and a name that does not exist.
    state
        .projector
        .replay(Some("accounts"))
        .await
        .expect("replay accounts");
    assert_eq!(state.projector.snapshot().await.expect("snapshot"), before);
    assert!(state.projector.replay(Some("nope")).await.is_err());
    // The API still answers from the rebuilt models.
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["display_name"], "Ana");
    node.stop().await;
}

/// A realistic slice of life: photos, posts, follows (open and locked), likes, bookmarks,
/// comments, edits, deletes, blocks and mutes; then every read model is rebuilt from the log.
async fn replay_rebuilds_photos_and_the_social_graph_identically(engine: Engine) {
    use crate::statuses::{follow, post, upload};
    use serde_json::json;

    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (ben_id, ben) = node.user("ben").await;
    let (cid_id, cid) = node.user("cid").await;
    let (dee_id, dee) = node.user("dee").await;
    let (emma_id, emma) = node.user("emma").await;
    let id = |v: &serde_json::Value| v["id"].as_str().expect("id").to_string();

    // Dee approves followers by hand.
    let form = reqwest::multipart::Form::new().text("locked", "true");
    expect_json(node.patch_profile(&dee, form).await, StatusCode::OK).await;

    let rocket = upload(&node, &ana, "rocket.jpg", &[("description", "a rocket")]).await;
    let coffee = upload(&node, &ana, "coffee.png", &[("focus", "0.2,-0.4")]).await;
    let first = post(
        &node,
        &ana,
        json!({"status": "Launch day #space with @ben", "media_ids": [id(&rocket), id(&coffee)],
               "title": "Launch", "licence": "cc-by-nc", "allow_download": true}),
    )
    .await;
    let astronaut = upload(&node, &ana, "astronaut-exif-gps.jpg", &[]).await;
    let private = post(
        &node,
        &ana,
        json!({"status": "friends only #space", "media_ids": [id(&astronaut)],
               "visibility": "private"}),
    )
    .await;

    follow(&node, &ben, &ana_id).await;
    follow(&node, &cid, &ana_id).await;
    follow(&node, &ana, &dee_id).await;
    follow(&node, &emma, &dee_id).await;
    let r = node
        .post_form(
            &format!("/api/v1/follow_requests/{ana_id}/authorize"),
            Some(&dee),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let r = node
        .post_form(
            &format!("/api/v1/follow_requests/{emma_id}/reject"),
            Some(&dee),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;

    let first_path = format!("/api/v1/statuses/{}", id(&first));
    for (token, action) in [
        (&ben, "favourite"),
        (&ben, "bookmark"),
        (&cid, "favourite"),
        (&dee, "favourite"),
        (&cid, "unfavourite"),
    ] {
        let r = node
            .post_form(&format!("{first_path}/{action}"), Some(token), &[])
            .await;
        expect_json(r, StatusCode::OK).await;
    }
    let comment = post(
        &node,
        &ben,
        json!({"status": "What a launch!", "in_reply_to_id": id(&first)}),
    )
    .await;
    post(
        &node,
        &ana,
        json!({"status": "@ben thank you", "in_reply_to_id": id(&comment)}),
    )
    .await;
    post(
        &node,
        &ben,
        json!({"status": "@ana for your eyes only", "visibility": "direct"}),
    )
    .await;
    let r = node
        .put_json(
            &first_path,
            Some(&ana),
            &json!({"status": "Launch day #space #rockets",
                    "media_attributes": [{"id": id(&coffee), "description": "coffee before"}]}),
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let bens_photo = upload(&node, &ben, "rocket.webp", &[]).await;
    let doomed = post(
        &node,
        &ben,
        json!({"status": "oops", "media_ids": [id(&bens_photo)]}),
    )
    .await;
    let r = node
        .delete(&format!("/api/v1/statuses/{}", id(&doomed)), Some(&ben))
        .await;
    expect_json(r, StatusCode::OK).await;
    let r = node
        .post_form(&format!("{first_path}/favourite"), Some(&emma), &[])
        .await;
    expect_json(r, StatusCode::OK).await;
    for (token, action) in [
        (&emma, format!("/api/v1/accounts/{cid_id}/block")),
        (&ben, format!("/api/v1/accounts/{cid_id}/mute")),
    ] {
        expect_json(
            node.post_form(&action, Some(token), &[]).await,
            StatusCode::OK,
        )
        .await;
    }
    let _ = (private, ben_id);

    let state = &node.node().state;
    let before = state.projector.snapshot().await.expect("snapshot");
    for (table, at_least) in [
        ("media", 3),
        ("statuses", 5),
        ("status_tags", 3),
        ("status_mentions", 2),
        ("status_edits", 6),
        ("follows", 3),
        ("blocks", 1),
        ("mutes", 1),
        ("favourites", 3),
        ("bookmarks", 1),
        ("notifications", 6),
    ] {
        let rows = before
            .iter()
            .find(|(name, _)| name.as_str() == table)
            .map_or(0, |(_, rows)| rows.len());
        assert!(rows >= at_least, "{table} has {rows} rows: {before:?}");
    }
    let report = state.projector.replay(None).await.expect("replay");
    assert_eq!(report.projections.len(), 11);
    let after = state.projector.snapshot().await.expect("snapshot");
    assert_eq!(before, after, "replay changed a read model");
    state
        .projector
        .replay(Some("statuses"))
        .await
        .expect("replay statuses");
    assert_eq!(state.projector.snapshot().await.expect("snapshot"), before);

    // The API answers the same from the rebuilt models.
    let home = expect_json(
        node.get("/api/v1/timelines/home", Some(&ben)).await,
        StatusCode::OK,
    )
    .await;
    assert!(home
        .as_array()
        .expect("home")
        .iter()
        .any(|s| s["id"] == json!(id(&first))));
    node.stop().await;
}
