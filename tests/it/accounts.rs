//! Accounts over HTTP on every engine: registration, approval, login, profile.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{data_file, eventually, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    an_admin_sets_the_registration_mode_and_instance_settings_over_the_api,
    a_registered_account_waits_for_approval_then_logs_in_and_edits_its_profile,
    bad_input_is_refused_clearly_and_changes_nothing,
    open_and_closed_registration_modes_behave_as_announced,
    admins_reject_and_suspend_accounts,
    instance_and_nodeinfo_describe_the_node,
);

async fn a_registered_account_waits_for_approval_then_logs_in_and_edits_its_profile(
    engine: Engine,
) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;

    let r = node
        .post_form(
            "/api/v1/accounts",
            Some(&app_token),
            &[
                ("username", "Alice"),
                ("email", "alice@example.org"),
                ("password", "correct horse battery"),
                ("agreement", "true"),
                ("locale", "fr"),
                ("reason", "I shoot film"),
            ],
        )
        .await;
    let reg = expect_json(r, StatusCode::OK).await;
    assert_eq!(reg["approval_required"], true);
    let early = reg["access_token"].as_str().expect("token");

    // Pending: the early token is refused and the password does not log in.
    let r = node
        .get("/api/v1/accounts/verify_credentials", Some(early))
        .await;
    let v = expect_json(r, StatusCode::FORBIDDEN).await;
    assert_eq!(v["error"], "Your login is currently pending approval");
    let r = node
        .password_grant(&app, "alice@example.org", "correct horse battery", "read")
        .await;
    let v = expect_json(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(v["error"], "invalid_grant");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("approval"),
        "{v}"
    );

    // The admin sees it in both listings and approves it.
    let pending = expect_json(
        node.get("/api/v1/admin/accounts?pending=true", Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{pending}");
    assert_eq!(pending[0]["username"], "Alice");
    assert_eq!(pending[0]["invite_request"], "I shoot film");
    assert_eq!(pending[0]["approved"], false);
    let v2 = expect_json(
        node.get("/api/v2/admin/accounts?status=pending", Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v2, pending);
    let id = pending[0]["id"].as_str().expect("id").to_string();
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{id}/approve"),
            Some(&admin),
            &[],
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["approved"], true);
    let pending = expect_json(
        node.get("/api/v1/admin/accounts?pending=true", Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pending, json!([]));

    // Now the early token works, and the email and the username both log in.
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(early))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["acct"], "Alice");
    assert_eq!(me["source"]["language"], "fr");
    node.login(&app, "ALICE@example.org", "correct horse battery", "read")
        .await;
    let token = node
        .login(&app, "alice", "correct horse battery", "read write")
        .await;

    // Profile edit with an avatar, as multipart.
    let avatar = std::fs::read(data_file("astronaut-exif-gps.jpg")).expect("fixture");
    let form = reqwest::multipart::Form::new()
        .text("display_name", "Alice Liddell")
        .text("note", "Film & digital.\nParis")
        .text("locked", "true")
        .text("fields_attributes[0][name]", "Camera")
        .text("fields_attributes[0][value]", "Leica M6")
        .text("fields_attributes[1][name]", "")
        .text("fields_attributes[1][value]", "")
        .part(
            "avatar",
            reqwest::multipart::Part::bytes(avatar)
                .file_name("me.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        );
    let r = node.patch_profile(&token, form).await;
    let me = expect_json(r, StatusCode::OK).await;
    assert_eq!(me["display_name"], "Alice Liddell");
    assert_eq!(me["note"], "<p>Film &amp; digital.<br />Paris</p>");
    assert_eq!(me["source"]["note"], "Film & digital.\nParis");
    assert_eq!(me["locked"], true);
    assert_eq!(
        me["fields"],
        json!([{"name": "Camera", "value": "Leica M6", "verified_at": null}])
    );
    let avatar_url = me["avatar"].as_str().expect("avatar").to_string();
    assert!(
        avatar_url.starts_with(&node.base) && avatar_url.contains("/system/media/"),
        "{avatar_url}"
    );
    let img = node.http.get(&avatar_url).send().await.expect("avatar");
    assert_eq!(img.status(), StatusCode::OK);
    assert_eq!(img.headers()["content-type"], "image/jpeg");
    let bytes = img.bytes().await.expect("bytes");
    // Re-encoded: upright 400x400 and no EXIF (so no GPS) left in the file.
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "EXIF survived in the avatar"
    );
    assert!(
        !bytes.windows(3).any(|w| w == b"GPS"),
        "GPS survived in the avatar"
    );

    // A JSON edit works too, and the public views agree.
    let r = node
        .http
        .patch(node.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .json(&json!({"bot": true, "fields_attributes": [{"name": "Site", "value": "https://alice.example"}]}))
        .send()
        .await
        .expect("patch");
    let me = expect_json(r, StatusCode::OK).await;
    assert_eq!(me["bot"], true);
    assert_eq!(me["display_name"], "Alice Liddell");
    let public = expect_json(
        node.get(&format!("/api/v1/accounts/{id}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(public["display_name"], "Alice Liddell");
    assert_eq!(public["url"], format!("http://{}/@Alice", node.domain));
    assert!(public.get("source").is_none());
    for acct in ["alice", "@Alice", &format!("alice@{}", node.domain)] {
        let found = expect_json(
            node.get(&format!("/api/v1/accounts/lookup?acct={acct}"), None)
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(found["id"], id.as_str());
    }
    let r = node
        .get("/api/v1/accounts/lookup?acct=alice@elsewhere.example", None)
        .await;
    expect_json(r, StatusCode::NOT_FOUND).await;
    node.stop().await;
}

/// Form fields, then the field and the Mastodon error code expected for it.
type Case = (
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

async fn bad_input_is_refused_clearly_and_changes_nothing(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;
    node.create_account("taken", "a good password", peerpx_aggregates::Role::User)
        .await;
    let before = node.head().await;

    let register = |fields: Vec<(&'static str, &'static str)>| {
        let node = &node;
        let token = app_token.clone();
        async move {
            node.post_form("/api/v1/accounts", Some(&token), &fields)
                .await
        }
    };
    let base = vec![
        ("email", "new@example.org"),
        ("password", "a good password"),
        ("agreement", "true"),
        ("locale", "en"),
    ];
    let cases: Vec<Case> = vec![
        (
            [vec![("username", "taken")], base.clone()].concat(),
            "username",
            "ERR_TAKEN",
        ),
        (
            [vec![("username", "TAKEN")], base.clone()].concat(),
            "username",
            "ERR_TAKEN",
        ),
        (
            [vec![("username", "bad name!")], base.clone()].concat(),
            "username",
            "ERR_INVALID",
        ),
        (
            [vec![("username", "")], base.clone()].concat(),
            "username",
            "ERR_BLANK",
        ),
        (
            vec![
                ("username", "bob"),
                ("email", "taken@example.org"),
                ("password", "a good password"),
                ("agreement", "true"),
            ],
            "email",
            "ERR_TAKEN",
        ),
        (
            vec![
                ("username", "bob"),
                ("email", "not-an-email"),
                ("password", "a good password"),
                ("agreement", "true"),
            ],
            "email",
            "ERR_INVALID",
        ),
        (
            vec![
                ("username", "bob"),
                ("email", "bob@example.org"),
                ("password", "short"),
                ("agreement", "true"),
            ],
            "password",
            "ERR_TOO_SHORT",
        ),
        (
            vec![
                ("username", "bob"),
                ("email", "bob@example.org"),
                ("password", "x".repeat(80).leak()),
                ("agreement", "true"),
            ],
            "password",
            "ERR_TOO_LONG",
        ),
        (
            vec![
                ("username", "bob"),
                ("email", "bob@example.org"),
                ("password", "a good password"),
            ],
            "agreement",
            "ERR_ACCEPTED",
        ),
    ];
    for (fields, field, code) in cases {
        let v = expect_json(
            register(fields.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(v["details"][field][0]["error"], code, "{fields:?} -> {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap_or("")
                .starts_with("Validation failed"),
            "{v}"
        );
    }

    // Malformed JSON is a 400 that says so.
    let r = node
        .http
        .post(node.url("/api/v1/accounts"))
        .bearer_auth(&app_token)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("post");
    let v = expect_json(r, StatusCode::BAD_REQUEST).await;
    assert!(
        v["error"].as_str().unwrap_or("").contains("Malformed JSON"),
        "{v}"
    );
    // A wrongly typed field is a 422 that names the problem.
    let r = node
        .post_json(
            "/api/v1/accounts",
            Some(&app_token),
            &json!({"username": ["x"]}),
        )
        .await;
    expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // No token, a made-up token.
    let r = node
        .post_form("/api/v1/accounts", None, &[("username", "bob")])
        .await;
    assert_eq!(
        expect_json(r, StatusCode::UNAUTHORIZED).await["error"],
        "The access token is invalid"
    );
    let r = node
        .get("/api/v1/accounts/verify_credentials", Some("made-up"))
        .await;
    expect_json(r, StatusCode::UNAUTHORIZED).await;
    // An app token on a user endpoint.
    let r = node
        .get("/api/v1/accounts/verify_credentials", Some(&app_token))
        .await;
    assert_eq!(
        expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await["error"],
        "This method requires an authenticated user"
    );
    // Unknown app, wrong secret, wrong grant, unknown scope.
    let token_cases = [
        (
            "client_credentials",
            "nope",
            "nope",
            "read",
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "client_credentials",
            app.0.as_str(),
            "wrong",
            "read",
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "magic",
            app.0.as_str(),
            app.1.as_str(),
            "read",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "client_credentials",
            app.0.as_str(),
            app.1.as_str(),
            "read:everything",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];
    for (grant, id, secret, scope, status, error) in token_cases {
        let form = [
            ("grant_type", grant),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", scope),
        ];
        let r = node.post_form("/oauth/token", None, &form).await;
        assert_eq!(expect_json(r, status).await["error"], error, "{form:?}");
    }
    let r = node
        .password_grant(&app, "taken", "wrong password", "read")
        .await;
    let v = expect_json(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(v["error_description"], "Invalid email or password.");
    // Apps need a name and a redirect URI.
    let r = node
        .post_form(
            "/api/v1/apps",
            None,
            &[("redirect_uris", "urn:ietf:wg:oauth:2.0:oob")],
        )
        .await;
    assert_eq!(
        expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await["details"]["client_name"][0]
            ["error"],
        "ERR_BLANK"
    );
    let r = node
        .post_form(
            "/api/v1/apps",
            None,
            &[("client_name", "x"), ("redirect_uris", "not a uri")],
        )
        .await;
    expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Profile edits that break the rules, and a file that is not an image.
    let token = node
        .login(&app, "taken", "a good password", "read write")
        .await;
    let long_name = "n".repeat(31);
    let r = node
        .http
        .patch(node.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .form(&[("display_name", long_name.as_str())])
        .send()
        .await
        .expect("patch");
    assert_eq!(
        expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await["details"]["display_name"][0]
            ["error"],
        "ERR_TOO_LONG"
    );
    for bad in ["bad-not-an-image.jpg", "bad-truncated.jpg"] {
        let bytes = std::fs::read(data_file(bad)).expect("fixture");
        let form = reqwest::multipart::Form::new()
            .text("display_name", "Should not stick")
            .part(
                "avatar",
                reqwest::multipart::Part::bytes(bytes).file_name(bad),
            );
        let r = node.patch_profile(&token, form).await;
        let v = expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            v["details"]["avatar"][0]["error"], "ERR_INVALID",
            "{bad}: {v}"
        );
    }
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["display_name"], "");
    assert!(
        !node.dir.path().join("blobs").exists(),
        "a refused upload left bytes behind"
    );

    // A read-only token cannot write.
    let read_only = node.login(&app, "taken", "a good password", "read").await;
    let r = node
        .http
        .patch(node.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&read_only)
        .form(&[("note", "x")])
        .send()
        .await
        .expect("patch");
    assert_eq!(
        expect_json(r, StatusCode::FORBIDDEN).await["error"],
        "This action is outside the authorized scopes"
    );

    // Revoked tokens stop working.
    let r = node
        .post_form(
            "/oauth/revoke",
            None,
            &[
                ("client_id", &app.0),
                ("client_secret", &app.1),
                ("token", &token),
            ],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let r = node
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    assert_eq!(
        expect_json(r, StatusCode::UNAUTHORIZED).await["error"],
        "The access token was revoked"
    );
    let r = node
        .post_form(
            "/oauth/revoke",
            None,
            &[
                ("client_id", &app.0),
                ("client_secret", "wrong"),
                ("token", &read_only),
            ],
        )
        .await;
    assert_eq!(
        expect_json(r, StatusCode::FORBIDDEN).await["error"],
        "unauthorized_client"
    );

    assert_eq!(
        node.head().await,
        before,
        "a refused request appended to the event log"
    );
    node.stop().await;
}

async fn open_and_closed_registration_modes_behave_as_announced(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let _ = admin;
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;
    let instance = expect_json(node.get("/api/v2/instance", None).await, StatusCode::OK).await;
    assert_eq!(instance["registrations"]["approval_required"], true);

    // Set the mode through the domain, as `peerpx admin set-registrations` does.
    let set = |mode: peerpx_aggregates::RegistrationsMode| {
        let state = node.node().state.clone();
        async move {
            let p = state
                .commands
                .instance(
                    peerpx_aggregates::InstanceCommand::SetRegistrationsMode { mode, at: 1 },
                    peerpx_projections::log::metadata(None, "test"),
                )
                .await
                .expect("set mode");
            state.settle(p).await;
        }
    };
    set(peerpx_aggregates::RegistrationsMode::Open).await;
    let instance = expect_json(node.get("/api/v2/instance", None).await, StatusCode::OK).await;
    assert_eq!(instance["registrations"]["enabled"], true);
    assert_eq!(instance["registrations"]["approval_required"], false);
    let fields = [
        ("username", "olga"),
        ("email", "olga@example.org"),
        ("password", "open sesame!"),
        ("agreement", "1"),
        ("locale", "en"),
    ];
    let reg = expect_json(
        node.post_form("/api/v1/accounts", Some(&app_token), &fields)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reg["approval_required"], false);
    let token = reg["access_token"].as_str().expect("token");
    let me = expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["username"], "olga");

    set(peerpx_aggregates::RegistrationsMode::Closed).await;
    let v1 = expect_json(node.get("/api/v1/instance", None).await, StatusCode::OK).await;
    assert_eq!(v1["registrations"], false);
    let r = node.register(&app_token, "carl", "closed door!").await;
    let v = expect_json(r, StatusCode::FORBIDDEN).await;
    assert_eq!(v["error"], "Registrations are closed on this server");
    node.stop().await;
}

async fn admins_reject_and_suspend_accounts(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;
    let register = |name: &'static str| {
        let node = &node;
        let t = app_token.clone();
        async move {
            let r = node.register(&t, name, "let me in please").await;
            expect_json(r, StatusCode::OK).await
        }
    };
    register("spam").await;
    register("fine").await;
    let list = expect_json(
        node.get("/api/v2/admin/accounts?status=pending", Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    let id_of = |name: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .find(|a| a["username"] == name)
            .expect("listed")["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let (spam, fine) = (id_of("spam"), id_of("fine"));

    // A plain user, even with admin scopes on the token, is refused.
    node.create_account("mallory", "not an admin!", peerpx_aggregates::Role::User)
        .await;
    let sneaky = node
        .login(
            &app,
            "mallory",
            "not an admin!",
            "read admin:read admin:write",
        )
        .await;
    let r = node.get("/api/v1/admin/accounts", Some(&sneaky)).await;
    assert_eq!(
        expect_json(r, StatusCode::FORBIDDEN).await["error"],
        "This action is not allowed"
    );
    // An admin's token without admin scopes is refused too.
    let narrow = node.login(&app, "root", "admin password 1", "read").await;
    expect_json(
        node.get("/api/v1/admin/accounts", Some(&narrow)).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{spam}/reject"),
            Some(&admin),
            &[],
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["username"], "spam");
    expect_json(
        node.get(&format!("/api/v1/admin/accounts/{spam}"), Some(&admin))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{fine}/approve"),
            Some(&admin),
            &[],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{fine}/approve"),
            Some(&admin),
            &[],
        )
        .await;
    assert_eq!(
        expect_json(r, StatusCode::FORBIDDEN).await["error"],
        "This account is not pending approval"
    );
    // The rejected name is free again.
    register("spam").await;

    let token = node.login(&app, "fine", "let me in please", "read").await;
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{fine}/action"),
            Some(&admin),
            &[("type", "suspend")],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let r = node
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    assert_eq!(
        expect_json(r, StatusCode::FORBIDDEN).await["error"],
        "Your login is currently disabled"
    );
    expect_json(
        node.get(&format!("/api/v1/accounts/{fine}"), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = node
        .password_grant(&app, "fine", "let me in please", "read")
        .await;
    expect_json(r, StatusCode::BAD_REQUEST).await;
    let suspended = expect_json(
        node.get("/api/v1/admin/accounts?suspended=true", Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(suspended[0]["suspended"], true);
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{fine}/unsuspend"),
            Some(&admin),
            &[],
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["suspended"], false);
    expect_json(
        node.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await,
        StatusCode::OK,
    )
    .await;
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{fine}/action"),
            Some(&admin),
            &[("type", "explode")],
        )
        .await;
    expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Pagination: limit and Link headers, newest first.
    let r = node
        .get("/api/v1/admin/accounts?limit=2", Some(&admin))
        .await;
    let link = r
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let page = expect_json(r, StatusCode::OK).await;
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert!(
        link.contains("rel=\"next\"") && link.contains("max_id="),
        "{link}"
    );
    let next = link.split(['<', '>']).nth(1).expect("next url").to_string();
    let rest = eventually(std::time::Duration::from_secs(5), "second page", || {
        let node = &node;
        let (next, admin) = (next.clone(), admin.clone());
        async move {
            let r = node.http.get(&next).bearer_auth(&admin).send().await.ok()?;
            r.json::<serde_json::Value>().await.ok()
        }
    })
    .await;
    let first_ids: Vec<_> = page
        .as_array()
        .expect("page")
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert!(rest
        .as_array()
        .expect("rest")
        .iter()
        .all(|a| !first_ids.contains(&a["id"])));
    assert_eq!(
        page.as_array().expect("page").len() + rest.as_array().expect("rest").len(),
        4
    );
    node.stop().await;
}

async fn instance_and_nodeinfo_describe_the_node(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    node.create_account("someone", "some password", peerpx_aggregates::Role::User)
        .await;
    let v1 = expect_json(node.get("/api/v1/instance", None).await, StatusCode::OK).await;
    assert_eq!(v1["uri"], node.domain.as_str());
    assert!(v1["version"].as_str().unwrap_or("").contains("peerpx"));
    assert_eq!(v1["stats"]["user_count"], 1);
    assert_eq!(v1["approval_required"], true);
    let v2 = expect_json(node.get("/api/v2/instance", None).await, StatusCode::OK).await;
    assert_eq!(v2["domain"], node.domain.as_str());
    assert!(
        v2["configuration"]["media_attachments"]["supported_mime_types"]
            .as_array()
            .is_some()
    );
    let links = expect_json(
        node.get("/.well-known/nodeinfo", None).await,
        StatusCode::OK,
    )
    .await;
    let href = links["links"][0]["href"].as_str().expect("href");
    assert_eq!(href, format!("http://{}/nodeinfo/2.1", node.domain));
    let info = node.http.get(href).send().await.expect("nodeinfo");
    let info = expect_json(info, StatusCode::OK).await;
    assert_eq!(info["version"], "2.1");
    assert_eq!(info["software"]["name"], "peerpx");
    assert_eq!(info["protocols"], json!(["activitypub"]));
    assert_eq!(info["usage"]["users"]["total"], 1);
    assert_eq!(info["openRegistrations"], true);
    let r = node.get("/api/v1/no/such/thing", None).await;
    assert_eq!(
        expect_json(r, StatusCode::NOT_FOUND).await["error"],
        "Record not found"
    );
    node.stop().await;
}

async fn an_admin_sets_the_registration_mode_and_instance_settings_over_the_api(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let path = "/api/peerpx/v1/admin/settings";
    let v = expect_json(node.get(path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(v["registrations_mode"], "approval");
    let patch = |body: serde_json::Value| {
        let (node, admin) = (&node, admin.clone());
        async move {
            node.http
                .patch(node.url(path))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .expect("patch")
        }
    };
    let body = json!({"registrations_mode": "open", "title": "Lyon Photo", "description": "Photos of Lyon", "contact_username": "root"});
    let v = expect_json(patch(body).await, StatusCode::OK).await;
    assert_eq!(v["registrations_mode"], "open");
    assert_eq!(v["title"], "Lyon Photo");
    let instance = expect_json(node.get("/api/v2/instance", None).await, StatusCode::OK).await;
    assert_eq!(instance["title"], "Lyon Photo");
    assert_eq!(instance["description"], "Photos of Lyon");
    assert_eq!(instance["registrations"]["approval_required"], false);
    assert_eq!(instance["contact"]["account"]["username"], "root");
    let before = node.head().await;
    let v = expect_json(
        patch(json!({"registrations_mode": "sometimes"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        v["details"]["registrations_mode"][0]["error"],
        "ERR_INVALID"
    );
    let v = expect_json(
        patch(json!({"contact_username": "nobody"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(v["details"]["contact_username"][0]["error"], "ERR_INVALID");
    expect_json(
        patch(json!({"title": "t".repeat(201)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        node.head().await,
        before,
        "refused settings changed the log"
    );
    // Clearing the title falls back to the domain; a plain user may not touch settings.
    let v = expect_json(patch(json!({"title": ""})).await, StatusCode::OK).await;
    assert_eq!(v["title"], serde_json::Value::Null);
    node.create_account("pleb", "pleb password", peerpx_aggregates::Role::User)
        .await;
    let app = node.app().await;
    let pleb = node
        .login(&app, "pleb", "pleb password", "admin:read admin:write")
        .await;
    expect_json(node.get(path, Some(&pleb)).await, StatusCode::FORBIDDEN).await;
    node.stop().await;
}
