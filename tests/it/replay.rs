//! Replay on every engine: read models thrown away and rebuilt from the log are identical.

use peerpx_aggregates::{InstanceCommand, RegistrationsMode};
use peerpx_projections::log::metadata;
use reqwest::StatusCode;

use crate::harness::{data_file, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(replay_rebuilds_every_read_model_identically);

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

    let before = state.projector.snapshot().await.expect("snapshot");
    assert_eq!(
        before["accounts"].len(),
        4,
        "root, ana, ben, cid: {before:?}"
    );
    let report = state.projector.replay(None).await.expect("replay");
    assert_eq!(report.projections, ["accounts", "instance"]);
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
