//! The serving side of federation: WebFinger and host-meta, actor documents with their keys,
//! outbox / followers / following collections, notes for photo posts, the HTML pages browsers get
//! at the same URLs, and actor keys kept in the log (registration, node start, replay).

use peerpx::{Node, NodeConfig};
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::{AccountCommand, Role};
use peerpx_projections::accounts;
use peerpx_projections::log::metadata;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Response, StatusCode};
use rsa::pkcs1v15::{SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::signature::{Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::harness::{expect_json, Engine, TestDb, TestNode};
use crate::on_every_engine;
use crate::statuses::{follow, post, upload};

on_every_engine!(
    webfinger_finds_local_actors_by_acct_and_by_actor_url,
    actor_documents_carry_the_profile_and_a_key_that_verifies_the_stored_private_key,
    browsers_get_html_pages_at_the_same_urls,
    the_outbox_pages_public_and_unlisted_posts_only,
    a_photo_post_is_a_note_with_exif_cids_and_licence_but_no_gps,
    notes_are_addressed_by_visibility_and_others_are_not_served,
    followers_and_following_list_actor_ids,
    unknown_pending_and_suspended_accounts_are_not_found,
    the_actor_key_survives_replay_unchanged,
    an_account_registered_before_keys_gets_one_at_node_start,
);

const AP: &str = "application/activity+json";
const LD: &str = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

async fn get_as(node: &TestNode, url: &str, accept: &str) -> Response {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        node.url(url)
    };
    node.http
        .get(url)
        .header(ACCEPT, accept)
        .send()
        .await
        .expect("request")
}

fn content_type(r: &Response) -> String {
    r.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// An ActivityPub document, checked to come as `application/activity+json`.
async fn ap(node: &TestNode, url: &str) -> Value {
    let r = get_as(node, url, AP).await;
    assert_eq!(content_type(&r), AP, "{url}");
    assert_eq!(r.headers()["vary"], "Accept");
    expect_json(r, StatusCode::OK).await
}

async fn html(node: &TestNode, url: &str) -> String {
    let r = get_as(node, url, BROWSER).await;
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    assert_eq!(content_type(&r), "text/html; charset=utf-8", "{url}");
    r.text().await.expect("body")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn webfinger_finds_local_actors_by_acct_and_by_actor_url(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    node.user("ana").await;
    let actor = node.url("/users/ana");
    let profile = node.url("/@ana");
    let domain = node.domain.clone();
    let finger = |resource: String| {
        let node = &node;
        async move {
            node.http
                .get(node.url("/.well-known/webfinger"))
                .query(&[("resource", resource)])
                .send()
                .await
                .expect("webfinger")
        }
    };
    for resource in [
        format!("acct:ana@{domain}"),
        format!("acct:ANA@{domain}"),
        format!("ana@{domain}"),
        actor.clone(),
        profile.clone(),
    ] {
        let r = finger(resource.clone()).await;
        assert_eq!(content_type(&r), "application/jrd+json; charset=utf-8");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let jrd = expect_json(r, StatusCode::OK).await;
        assert_eq!(jrd["subject"], format!("acct:ana@{domain}"), "{resource}");
        assert_eq!(jrd["aliases"], json!([profile, actor]));
        let links = jrd["links"].as_array().expect("links");
        let link = |rel: &str| links.iter().find(|l| l["rel"] == rel).expect(rel).clone();
        assert_eq!(link("self")["type"], AP);
        assert_eq!(link("self")["href"], actor);
        let page = link("http://webfinger.net/rel/profile-page");
        assert_eq!(
            (&page["type"], &page["href"]),
            (&json!("text/html"), &json!(profile))
        );
    }
    for (resource, status) in [
        (format!("acct:nobody@{domain}"), StatusCode::NOT_FOUND),
        (
            "acct:ana@elsewhere.example".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "http://elsewhere.example/users/ana".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (node.url("/users/nobody"), StatusCode::NOT_FOUND),
        ("acct:ana".to_string(), StatusCode::BAD_REQUEST),
        (
            "mailto:ana@example.org".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (String::new(), StatusCode::BAD_REQUEST),
    ] {
        let r = finger(resource.clone()).await;
        assert_eq!(r.status(), status, "{resource:?}");
    }
    let r = node.get("/.well-known/webfinger", None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no resource at all");

    let template = format!("{}/.well-known/webfinger?resource={{uri}}", node.base);
    let r = node.get("/.well-known/host-meta", None).await;
    assert_eq!(content_type(&r), "application/xrd+xml; charset=utf-8");
    let xrd = r.text().await.expect("xrd");
    assert!(
        xrd.contains("http://docs.oasis-open.org/ns/xri/xrd-1.0"),
        "{xrd}"
    );
    assert!(
        xrd.contains(&format!("<Link rel=\"lrdd\" template=\"{template}\"/>")),
        "{xrd}"
    );
    let json_meta = expect_json(
        node.get("/.well-known/host-meta.json", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        json_meta["links"],
        json!([{"rel": "lrdd", "template": template}])
    );
    node.stop().await;
}

async fn actor_documents_carry_the_profile_and_a_key_that_verifies_the_stored_private_key(
    engine: Engine,
) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    let avatar = std::fs::read(crate::harness::data_file("coffee.png")).expect("fixture");
    let form = reqwest::multipart::Form::new()
        .text("display_name", "Ana <Lens>")
        .text("note", "Street & light")
        .text("locked", "true")
        .text("fields_attributes[0][name]", "Camera")
        .text("fields_attributes[0][value]", "X100 <V>")
        .part(
            "avatar",
            reqwest::multipart::Part::bytes(avatar).file_name("a.png"),
        );
    let me = expect_json(node.patch_profile(&ana, form).await, StatusCode::OK).await;

    let actor_url = node.url("/users/ana");
    let by_ap = ap(&node, &actor_url).await;
    let r = get_as(&node, &actor_url, LD).await;
    assert_eq!(content_type(&r), AP);
    let by_ld = expect_json(r, StatusCode::OK).await;
    assert_eq!(by_ap, by_ld, "both Accept forms get the same document");
    let v = by_ap;
    assert_eq!(v["id"], actor_url);
    assert_eq!(me["uri"], actor_url, "the Mastodon API's uri is the actor");
    assert_eq!(v["type"], "Person");
    assert_eq!(v["preferredUsername"], "ana");
    assert_eq!(v["name"], "Ana <Lens>");
    assert_eq!(v["summary"], "<p>Street &amp; light</p>");
    assert_eq!(v["url"], node.url("/@ana"));
    for (key, path) in [
        ("inbox", "/users/ana/inbox"),
        ("outbox", "/users/ana/outbox"),
        ("followers", "/users/ana/followers"),
        ("following", "/users/ana/following"),
    ] {
        assert_eq!(v[key], node.url(path), "{key}");
    }
    assert_eq!(v["endpoints"]["sharedInbox"], node.url("/inbox"));
    assert_eq!(v["manuallyApprovesFollowers"], true);
    assert_eq!(v["discoverable"], true);
    assert!(v["published"].as_str().is_some_and(|p| p.ends_with('Z')));
    assert_eq!(
        v["attachment"],
        json!([{"type": "PropertyValue", "name": "Camera", "value": "X100 &lt;V&gt;"}])
    );
    assert_eq!(v["icon"]["type"], "Image");
    assert_eq!(v["icon"]["url"], me["avatar"]);
    let context = v["@context"].as_array().expect("context");
    assert_eq!(context[0], "https://www.w3.org/ns/activitystreams");
    assert_eq!(context[1], "https://w3id.org/security/v1");
    assert_eq!(context[2]["peerpx"], node.url("/ns#"));

    // The public key is SPKI PEM and verifies what the stored private key signs.
    assert_eq!(v["publicKey"]["id"], format!("{actor_url}#main-key"));
    assert_eq!(v["publicKey"]["owner"], actor_url);
    let pem = v["publicKey"]["publicKeyPem"].as_str().expect("pem");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let public = RsaPublicKey::from_public_key_pem(pem).expect("SPKI key");
    let row = accounts::by_username(&node.node().state.db, "ana")
        .await
        .expect("db")
        .expect("ana");
    assert_eq!(row.public_key_pem.as_deref(), Some(pem));
    let private =
        RsaPrivateKey::from_pkcs8_pem(row.private_key_pem.as_deref().expect("private key"))
            .expect("PKCS#8 key");
    let signed = b"(request-target): post /users/ben/inbox\nhost: example.org";
    let signature = SigningKey::<Sha256>::new(private).sign(signed);
    let verifier = VerifyingKey::<Sha256>::new(public);
    assert!(verifier.verify(signed, &signature).is_ok());
    assert!(verifier.verify(b"something else", &signature).is_err());
    assert!(!v.to_string().contains("PRIVATE KEY"));

    // Another account has another key, and an account registered through the API has one too.
    node.user("ben").await;
    let ben = ap(&node, &node.url("/users/ben")).await;
    assert_ne!(
        ben["publicKey"]["publicKeyPem"],
        v["publicKey"]["publicKeyPem"]
    );
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;
    let r = node.register(&app_token, "pat", "pat's password").await;
    expect_json(r, StatusCode::OK).await;
    let pat = accounts::by_username(&node.node().state.db, "pat")
        .await
        .expect("db")
        .expect("pat");
    assert!(pat.public_key_pem.is_some() && pat.private_key_pem.is_some());

    // The context document of our namespace is served, and defines what the documents use.
    let r = node.get("/ns", None).await;
    assert_eq!(content_type(&r), "application/ld+json");
    let ns = expect_json(r, StatusCode::OK).await;
    assert_eq!(ns["@context"], context[2]);
    for term in [
        "exif",
        "cid",
        "licence",
        "title",
        "discoverable",
        "PropertyValue",
    ] {
        assert!(ns["@context"].get(term).is_some(), "{term}");
    }
    node.stop().await;
}

async fn browsers_get_html_pages_at_the_same_urls(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    let form = reqwest::multipart::Form::new()
        .text("display_name", "<script>alert(1)</script>")
        .text("note", "Light & shadow");
    expect_json(node.patch_profile(&ana, form).await, StatusCode::OK).await;
    // With the web UI built, `/@ana` is the app's profile page for browsers (tests/it/web.rs);
    // `/users/ana` stays a server-rendered page.
    for url in [node.url("/users/ana")] {
        let page = html(&node, &url).await;
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("<p>Light &amp; shadow</p>"), "{page}");
        assert!(
            page.contains(&format!("href=\"{}\"", node.url("/@ana"))),
            "{page}"
        );
        assert!(page.contains("/avatars/original/missing.png"), "{page}");
    }
    // No Accept header at all is a browser too.
    let r = node.get("/users/ana", None).await;
    assert_eq!(content_type(&r), "text/html; charset=utf-8");

    let status = post(
        &node,
        &ana,
        json!({"status": "Dusk <b>over</b> the bay", "title": "Dusk"}),
    )
    .await;
    let page = html(&node, status["uri"].as_str().expect("uri")).await;
    assert!(
        page.contains("Dusk &lt;b&gt;over&lt;/b&gt; the bay"),
        "{page}"
    );
    assert!(page.contains("<h1>Dusk</h1>"), "{page}");
    assert!(
        page.contains(&format!("href=\"{}\"", node.url("/@ana"))),
        "{page}"
    );
    node.stop().await;
}

async fn the_outbox_pages_public_and_unlisted_posts_only(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    node.user("ben").await;
    let mut listed = Vec::new();
    for i in 0..20 {
        let s = post(&node, &ana, json!({"status": format!("post {i}")})).await;
        listed.push(s["uri"].as_str().expect("uri").to_string());
    }
    let unlisted = post(
        &node,
        &ana,
        json!({"status": "quiet", "visibility": "unlisted"}),
    )
    .await;
    listed.push(unlisted["uri"].as_str().expect("uri").to_string());
    let private = post(
        &node,
        &ana,
        json!({"status": "friends", "visibility": "private"}),
    )
    .await;
    let direct = post(
        &node,
        &ana,
        json!({"status": "@ben hi", "visibility": "direct"}),
    )
    .await;
    listed.reverse();

    let outbox_url = node.url("/users/ana/outbox");
    let outbox = ap(&node, &outbox_url).await;
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["id"], outbox_url);
    assert_eq!(
        outbox["totalItems"], 22,
        "every status but direct ones, as Mastodon counts"
    );
    let first = ap(&node, outbox["first"].as_str().expect("first")).await;
    assert_eq!(first["type"], "OrderedCollectionPage");
    assert_eq!(first["partOf"], outbox_url);
    let items = first["orderedItems"].as_array().expect("items").clone();
    assert_eq!(items.len(), 20);
    for item in &items {
        assert_eq!(item["type"], "Create");
        assert_eq!(item["actor"], node.url("/users/ana"));
        assert_eq!(item["id"], format!("{}/activity", id(&item["object"])));
        assert_eq!(item["object"]["type"], "Note");
    }
    let second = ap(&node, first["next"].as_str().expect("next")).await;
    let rest = second["orderedItems"].as_array().expect("items").clone();
    assert_eq!(rest.len(), 1);
    assert!(second.get("next").is_none(), "a short page is the last");
    let seen: Vec<String> = items
        .iter()
        .chain(&rest)
        .map(|i| id(&i["object"]))
        .collect();
    assert_eq!(
        seen, listed,
        "public and unlisted posts, newest first, each once"
    );
    for hidden in [&private, &direct] {
        assert!(!seen.contains(&hidden["uri"].as_str().expect("uri").to_string()));
    }
    // `prev` walks back to the newer items; the Create of a post is dereferenceable.
    let back = ap(&node, second["prev"].as_str().expect("prev")).await;
    assert_eq!(back["orderedItems"], json!(items));
    let create = ap(&node, &id(&items[0])).await;
    assert_eq!(create, {
        let mut c = items[0].clone();
        c["@context"] = create["@context"].clone();
        c
    });
    let r = get_as(&node, "/users/ana/outbox?page=true&max_id=abc", AP).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    node.stop().await;
}

async fn a_photo_post_is_a_note_with_exif_cids_and_licence_but_no_gps(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let photo = upload(
        &node,
        &ana,
        "astronaut-exif-gps.jpg",
        &[("description", "An astronaut"), ("focus", "0.5,0.25")],
    )
    .await;
    let status = post(
        &node,
        &ana,
        json!({"status": "Portrait #NASA with @ben", "media_ids": [id(&photo)],
               "title": "Astronaut", "licence": "cc-by", "sensitive": true,
               "spoiler_text": "bright"}),
    )
    .await;
    let uri = status["uri"].as_str().expect("uri");
    let r = get_as(&node, uri, AP).await;
    let body = r.text().await.expect("body");
    assert!(
        !body.contains("latitude") && !body.contains("48.85"),
        "no GPS: {body}"
    );
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["id"], uri);
    assert_eq!(v["type"], "Note");
    assert_eq!(v["attributedTo"], node.url("/users/ana"));
    assert_eq!(v["url"], status["url"]);
    assert_eq!(v["content"], status["content"]);
    assert_eq!(
        (&v["summary"], &v["sensitive"]),
        (&json!("bright"), &json!(true))
    );
    assert_eq!(v["published"], status["created_at"]);
    assert_eq!(v["inReplyTo"], Value::Null);
    assert_eq!(v["title"], "Astronaut");
    assert_eq!(v["licence"]["identifier"], "cc-by");
    assert_eq!(v["license"], "https://creativecommons.org/licenses/by/4.0/");
    assert_eq!(
        v["tag"],
        json!([
            {"type": "Hashtag", "href": node.url("/tags/nasa"), "name": "#nasa"},
            {"type": "Mention", "href": node.url("/users/ben"),
             "name": format!("@ben@{}", node.domain)},
        ])
    );
    assert_eq!(v["to"], json!([PUBLIC]));
    assert_eq!(
        v["cc"],
        json!([node.url("/users/ana/followers"), node.url("/users/ben")])
    );
    let image = &v["attachment"][0];
    assert_eq!(image["type"], "Image");
    assert_eq!(image["mediaType"], "image/jpeg");
    assert_eq!(image["url"], photo["url"]);
    assert_eq!(image["name"], "An astronaut");
    assert_eq!(image["blurhash"], photo["blurhash"]);
    assert_eq!(
        (&image["width"], &image["height"]),
        (&json!(512), &json!(512))
    );
    assert_eq!(image["focalPoint"], json!([0.5, 0.25]));
    assert_eq!(image["cid"], photo["peerpx"]["cid"]);
    assert!(image["cid"]["original"]
        .as_str()
        .is_some_and(|c| c.starts_with("baf")));
    let exif = &image["exif"];
    assert_eq!(exif["camera"], "Canon EOS 5D Mark IV");
    assert_eq!(exif["lens"], "EF24-70mm f/2.8L II USM");
    assert_eq!(exif["exposureTime"], "1/250");
    assert_eq!(exif["iso"], 200);
    assert!((exif["fNumber"].as_f64().expect("f") - 5.6).abs() < 0.01);
    assert!((exif["focalLength"].as_f64().expect("mm") - 50.0).abs() < 0.01);
    assert_eq!(exif["dateTaken"], "2024-06-01T10:30:00");
    assert!(exif.get("location").is_none());
    let terms = &v["@context"][2];
    for term in [
        "exif",
        "cid",
        "licence",
        "title",
        "blurhash",
        "focalPoint",
        "sensitive",
    ] {
        assert!(terms.get(term).is_some(), "{term} is defined inline");
    }
    // The LD form of Accept gets the same Note, the Create wraps it.
    let by_ld = expect_json(get_as(&node, uri, LD).await, StatusCode::OK).await;
    assert_eq!(by_ld, v);
    let create = ap(&node, &format!("{uri}/activity")).await;
    assert_eq!(create["type"], "Create");
    assert_eq!(create["object"]["id"], uri);

    // A comment replies to the post's URI; an edit shows as `updated`.
    let reply = post(
        &node,
        &ben,
        json!({"status": "@ana stunning", "in_reply_to_id": id(&status)}),
    )
    .await;
    let note = ap(&node, reply["uri"].as_str().expect("uri")).await;
    assert_eq!(note["inReplyTo"], uri);
    assert_eq!(note["attachment"], json!([]));
    assert!(note.get("updated").is_none());
    let r = node
        .put_json(
            &format!("/api/v1/statuses/{}", id(&status)),
            Some(&ana),
            &json!({"status": "Portrait, edited #NASA"}),
        )
        .await;
    let edited = expect_json(r, StatusCode::OK).await;
    let note = ap(&node, uri).await;
    assert_eq!(note["updated"], edited["edited_at"]);
    assert_eq!(note["content"], edited["content"]);
    assert_eq!(note["attachment"][0]["cid"], photo["peerpx"]["cid"]);
    node.stop().await;
}

async fn notes_are_addressed_by_visibility_and_others_are_not_served(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    node.user("ben").await;
    let followers = node.url("/users/ana/followers");
    let ben = node.url("/users/ben");
    for (visibility, to, cc) in [
        ("public", json!([PUBLIC]), json!([followers, ben])),
        ("unlisted", json!([followers]), json!([PUBLIC, ben])),
    ] {
        let s = post(
            &node,
            &ana,
            json!({"status": "hello @ben", "visibility": visibility}),
        )
        .await;
        let note = ap(&node, s["uri"].as_str().expect("uri")).await;
        assert_eq!((&note["to"], &note["cc"]), (&to, &cc), "{visibility}");
    }
    for visibility in ["private", "direct"] {
        let s = post(
            &node,
            &ana,
            json!({"status": "hello @ben", "visibility": visibility}),
        )
        .await;
        let uri = s["uri"].as_str().expect("uri");
        for accept in [AP, BROWSER] {
            let r = get_as(&node, uri, accept).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{visibility} {accept}");
        }
        let r = get_as(&node, &format!("{uri}/activity"), AP).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    node.stop().await;
}

async fn followers_and_following_list_actor_ids(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, _) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let (_, cid) = node.user("cid").await;
    follow(&node, &ben, &ana_id).await;
    follow(&node, &cid, &ana_id).await;

    let followers_url = node.url("/users/ana/followers");
    let followers = ap(&node, &followers_url).await;
    assert_eq!(followers["type"], "OrderedCollection");
    assert_eq!(followers["totalItems"], 2);
    let page = ap(&node, followers["first"].as_str().expect("first")).await;
    assert_eq!(page["partOf"], followers_url);
    assert_eq!(
        page["orderedItems"],
        json!([node.url("/users/cid"), node.url("/users/ben")]),
        "newest follower first"
    );
    let following = ap(&node, &node.url("/users/ben/following")).await;
    assert_eq!(following["totalItems"], 1);
    let page = ap(&node, following["first"].as_str().expect("first")).await;
    assert_eq!(page["orderedItems"], json!([node.url("/users/ana")]));
    let nobody = ap(&node, &node.url("/users/ana/following?page=true")).await;
    assert_eq!(nobody["orderedItems"], json!([]));
    node.stop().await;
}

async fn unknown_pending_and_suspended_accounts_are_not_found(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let admin = node.admin().await;
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let bens_post = post(&node, &ben, json!({"status": "mine"})).await;
    let anas_post = post(&node, &ana, json!({"status": "hers"})).await;
    let app = node.app().await;
    let app_token = node.app_token(&app, "read write").await;
    // Registrations wait for approval by default: pat stays pending.
    expect_json(
        node.register(&app_token, "pat", "pat's password").await,
        StatusCode::OK,
    )
    .await;
    let r = node
        .post_form(
            &format!("/api/v1/admin/accounts/{ana_id}/action"),
            Some(&admin),
            &[("type", "suspend")],
        )
        .await;
    expect_json(r, StatusCode::OK).await;
    let domain = &node.domain;
    for name in ["nobody", "pat", "ana"] {
        for path in [
            format!("/users/{name}"),
            format!("/users/{name}/outbox"),
            format!("/users/{name}/followers"),
            format!("/users/{name}/following"),
        ] {
            for accept in [AP, BROWSER] {
                let r = get_as(&node, &path, accept).await;
                assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path} as {accept}");
            }
        }
        // Browsers get the web app at `/@name` (it shows its own "not found").
        let r = get_as(&node, &format!("/@{name}"), AP).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "/@{name} as {AP}");
        let r = node
            .http
            .get(node.url("/.well-known/webfinger"))
            .query(&[("resource", format!("acct:{name}@{domain}"))])
            .send()
            .await
            .expect("webfinger");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "webfinger {name}");
    }
    let anas_uri = anas_post["uri"].as_str().expect("uri");
    assert_eq!(
        get_as(&node, anas_uri, AP).await.status(),
        StatusCode::NOT_FOUND
    );
    // A post under someone else's name, or an id that is no number, is not found either.
    let wrong_author = format!("/users/ana/statuses/{}", id(&bens_post));
    let ghost = "/users/ben/statuses/not-a-number".to_string();
    for path in [wrong_author, ghost, "/users/ben/statuses/1".to_string()] {
        assert_eq!(
            get_as(&node, &path, AP).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        get_as(&node, bens_post["uri"].as_str().expect("uri"), AP)
            .await
            .status(),
        StatusCode::OK
    );
    node.stop().await;
}

async fn the_actor_key_survives_replay_unchanged(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    node.user("ana").await;
    let before = ap(&node, &node.url("/users/ana")).await;
    let state = &node.node().state;
    let stored = accounts::by_username(&state.db, "ana")
        .await
        .expect("db")
        .expect("ana");
    let snapshot = state.projector.snapshot().await.expect("snapshot");
    state.projector.replay(None).await.expect("replay");
    assert_eq!(
        state.projector.snapshot().await.expect("snapshot"),
        snapshot
    );
    state
        .projector
        .replay(Some("accounts"))
        .await
        .expect("replay accounts");
    assert_eq!(
        state.projector.snapshot().await.expect("snapshot"),
        snapshot
    );
    let after = ap(&node, &node.url("/users/ana")).await;
    assert_eq!(after["publicKey"], before["publicKey"]);
    let replayed = accounts::by_username(&state.db, "ana")
        .await
        .expect("db")
        .expect("ana");
    assert_eq!(
        (replayed.public_key_pem, replayed.private_key_pem),
        (stored.public_key_pem, stored.private_key_pem)
    );
    node.stop().await;
}

/// Starts a node on `config` (its own port each time, the same data and database).
async fn start(config: &NodeConfig) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Node::start(config.clone(), listener)
        .await
        .expect("node starts")
}

async fn an_account_registered_before_keys_gets_one_at_node_start(engine: Engine) {
    crate::harness::init_tracing();
    let Some(db) = TestDb::create(engine).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = NodeConfig::new(dir.path().to_path_buf(), db.url.clone(), "old.example");
    config.protocol = "http".into();

    // An account as registered before keys existed: its event carries no key.
    let node = start(&config).await;
    let state = &node.state;
    let registration = Registration {
        id: peerpx_api::auth::new_id(),
        username: "olga".into(),
        email: "olga@example.org".into(),
        password_hash: "not-a-real-hash".into(),
        locale: "en".into(),
        reason: None,
        role: Role::User,
        approved: true,
        at: 1,
        key: None,
    };
    let p = state
        .commands
        .account(
            "olga",
            AccountCommand::Register(registration),
            metadata(None, "test"),
        )
        .await
        .expect("register");
    state.settle(p).await;
    let olga = accounts::by_username(&state.db, "olga")
        .await
        .expect("db")
        .expect("olga");
    assert_eq!((olga.public_key_pem, olga.private_key_pem), (None, None));
    let head = state.commands.log().head().await.expect("head");
    node.shutdown().await.expect("shutdown");

    // The next start gives it one, through one more event in the log.
    let node = start(&config).await;
    let state = &node.state;
    let olga = accounts::by_username(&state.db, "olga")
        .await
        .expect("db")
        .expect("olga");
    let public = olga.public_key_pem.clone().expect("a public key");
    RsaPublicKey::from_public_key_pem(&public).expect("SPKI");
    RsaPrivateKey::from_pkcs8_pem(olga.private_key_pem.as_deref().expect("a private key"))
        .expect("PKCS#8");
    assert_eq!(state.commands.log().head().await.expect("head"), head + 1);
    let r = reqwest::Client::new()
        .get(format!("http://{}/users/olga", node.addr))
        .header(ACCEPT, AP)
        .send()
        .await
        .expect("actor");
    let actor = expect_json(r, StatusCode::OK).await;
    assert_eq!(actor["publicKey"]["publicKeyPem"], public);
    node.shutdown().await.expect("shutdown");

    // Later starts keep it.
    let node = start(&config).await;
    let olga = accounts::by_username(&node.state.db, "olga")
        .await
        .expect("db")
        .expect("olga");
    assert_eq!(olga.public_key_pem.as_deref(), Some(public.as_str()));
    assert_eq!(
        node.state.commands.log().head().await.expect("head"),
        head + 1
    );
    node.shutdown().await.expect("shutdown");
}

/// `peerpx admin create-user` gives the new account its key too.
#[test]
fn the_cli_creates_users_with_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8 path");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_peerpx"))
        .args([
            "admin",
            "create-user",
            "carla",
            "--email",
            "carla@example.org",
            "--password-stdin",
            "--data-dir",
            data,
        ])
        .env_remove("PEERPX_DATABASE_URL")
        .env_remove("PEERPX_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn peerpx");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        b"carla's long password\n",
    )
    .expect("password");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let url = peerpx_projections::db::default_sqlite_url(dir.path());
        let db = peerpx_projections::Db::connect(&url).await.expect("db");
        let carla = accounts::by_username(&db, "carla")
            .await
            .expect("query")
            .expect("carla");
        RsaPublicKey::from_public_key_pem(carla.public_key_pem.as_deref().expect("public"))
            .expect("SPKI");
        assert!(carla.private_key_pem.is_some());
        db.close().await;
    });
}
