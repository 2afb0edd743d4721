//! Photo uploads over real HTTP on every engine: EXIF read back, GPS gone from every served byte
//! unless kept on purpose, upright renditions, bad files refused with nothing left behind, the
//! uploader-only media routes, the media read model following posts, and `peerpx gc`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use peerpx_aggregates::status::{Content, MediaText, Post, Visibility, DEFAULT_LICENCE};
use peerpx_aggregates::{MediaCommand, StatusCommand};
use peerpx_api::gc;
use peerpx_media::{exif, render, sniff, Limits};
use peerpx_projections::log::metadata;
use peerpx_projections::media;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{data_file, expect_json, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(
    uploads_read_exif_and_serve_no_gps_anywhere,
    keep_location_keeps_gps_in_the_original_of_that_photo_only,
    only_the_uploader_sees_and_changes_an_unattached_photo,
    bad_uploads_are_refused_and_leave_nothing_behind,
    an_upload_over_the_size_limit_is_refused_early,
    the_media_read_model_follows_posts_edits_and_deletes,
    gc_removes_deleted_photos_and_keeps_blocks_live_photos_share,
);

fn mime(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => "image/jpeg",
    }
}

/// `POST /api/{version}/media` with `bytes` as the file `name`, plus text fields.
async fn upload_bytes(
    node: &TestNode,
    token: &str,
    version: &str,
    name: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let part = Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(mime(name))
        .expect("mime");
    let mut form = Form::new();
    // Text first for some, file first for others: clients do both.
    for (k, v) in fields.iter().filter(|(k, _)| *k == "description") {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form.part("file", part);
    for (k, v) in fields.iter().filter(|(k, _)| *k != "description") {
        form = form.text(k.to_string(), v.to_string());
    }
    node.http
        .post(node.url(&format!("/api/{version}/media")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

async fn upload(
    node: &TestNode,
    token: &str,
    version: &str,
    fixture: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let bytes = std::fs::read(data_file(fixture)).expect("fixture");
    upload_bytes(node, token, version, fixture, bytes, fields).await
}

async fn uploaded(node: &TestNode, token: &str, fixture: &str, fields: &[(&str, &str)]) -> Value {
    expect_json(
        upload(node, token, "v2", fixture, fields).await,
        StatusCode::OK,
    )
    .await
}

/// GET an absolute URL: its Content-Type and body.
async fn fetch(node: &TestNode, url: &str) -> (String, Vec<u8>) {
    let r = node.http.get(url).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (content_type, r.bytes().await.expect("body").to_vec())
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(file.path(), bytes).expect("write");
    file
}

/// IFD0 entries of a TIFF block, read from the raw bytes (bounds-checked: the caller tries
/// every offset that looks like a TIFF header).
fn ifd0_tags(tiff: &[u8]) -> Option<Vec<u16>> {
    let le = tiff.starts_with(b"II*\0");
    if !le && !tiff.starts_with(b"MM\0*") {
        return None;
    }
    let u16_at = |o: usize| {
        let b: [u8; 2] = tiff.get(o..o + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let b: [u8; 4] = tiff.get(4..8)?.try_into().ok()?;
    let ifd = if le {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    } as usize;
    let count = usize::from(u16_at(ifd)?);
    (0..count).map(|k| u16_at(ifd + 2 + 12 * k)).collect()
}

/// Fails if `bytes` carry any location: by the EXIF reader over the whole container, by
/// kamadak-exif and by a raw IFD0 walk over every embedded TIFF block (EXIF in JPEG APP1, PNG
/// eXIf, WebP EXIF), and by XMP's GPS property names.
fn assert_no_gps(bytes: &[u8], what: &str) {
    let file = temp_file(bytes);
    assert_eq!(
        exif::read_summary(file.path()).location,
        None,
        "{what}: location"
    );
    for i in 0..bytes.len().saturating_sub(8) {
        let tiff = &bytes[i..];
        let Some(tags) = ifd0_tags(tiff) else {
            continue;
        };
        assert!(!tags.contains(&0x8825), "{what}: GPS IFD pointer at {i}");
        if let Some((parsed, _)) = exif::parse_raw(tiff) {
            assert!(!exif::has_location(&parsed), "{what}: GPS fields at {i}");
        }
    }
    for needle in [&b"GPSLatitude"[..], b"GPSLongitude", b"GPSPosition"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{what}: XMP location"
        );
    }
}

/// Stored (header) and decoded (orientation applied) sizes of an image.
fn sizes(bytes: &[u8]) -> ((u32, u32), (u32, u32)) {
    let file = temp_file(bytes);
    let limits = Limits::default();
    let probe = sniff::probe(file.path(), &limits).expect("an image");
    let decoded = render::decode(file.path(), probe.format, &probe, &limits).expect("decodes");
    (
        (probe.width, probe.height),
        (decoded.image.width(), decoded.image.height()),
    )
}

fn assert_near(value: &Value, expected: f64) {
    let got = value.as_f64().unwrap_or(f64::NAN);
    assert!((got - expected).abs() < 1e-6, "{value} is not {expected}");
}

/// Checks the EXIF summary of a fixture against its README.
#[allow(clippy::too_many_arguments)]
fn assert_exif(
    exif: &Value,
    make: &str,
    model: &str,
    lens: &str,
    exposure: &str,
    f_number: f64,
    iso: u64,
    focal: f64,
    taken_at: &str,
) {
    assert_eq!(exif["camera_make"], make, "{exif}");
    assert_eq!(exif["camera_model"], model, "{exif}");
    assert_eq!(exif["lens_model"], lens, "{exif}");
    assert_eq!(exif["exposure_time"], exposure, "{exif}");
    assert_near(&exif["f_number"], f_number);
    assert_eq!(exif["iso"], iso, "{exif}");
    assert_near(&exif["focal_length_mm"], focal);
    assert_eq!(exif["taken_at"], taken_at, "{exif}");
    assert!(exif.get("location").is_none(), "{exif}");
}

/// Fetches the three files of an attachment, checks their types and that none carries a
/// location; returns (original, small, large) bytes.
async fn served_files(
    node: &TestNode,
    m: &Value,
    original_type: &str,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let text = m.to_string();
    for word in ["latitude", "longitude", "GPS"] {
        assert!(!text.contains(word), "the entity mentions {word}: {text}");
    }
    let original_url = m["peerpx"]["original_url"].as_str().expect("original_url");
    let cid = m["peerpx"]["cid"]["original"].as_str().expect("cid");
    assert_eq!(original_url, format!("{}/ipfs/{cid}", node.base));
    let (t, original) = fetch(node, original_url).await;
    assert_eq!(t, original_type);
    let (t, small) = fetch(node, m["preview_url"].as_str().expect("preview_url")).await;
    assert!(t == "image/jpeg" || t == "image/png", "{t}");
    let (t, large) = fetch(node, m["url"].as_str().expect("url")).await;
    assert!(t == "image/jpeg" || t == "image/png", "{t}");
    let id = m["id"].as_str().unwrap_or_default();
    assert_no_gps(&original, &format!("original of {id}"));
    assert_no_gps(&small, &format!("small of {id}"));
    assert_no_gps(&large, &format!("large of {id}"));
    (original, small, large)
}

async fn uploads_read_exif_and_serve_no_gps_anywhere(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, token) = node.user("ana").await;

    let astronaut = uploaded(
        &node,
        &token,
        "astronaut-exif-gps.jpg",
        &[("description", "An astronaut"), ("focus", "0.25,-0.5")],
    )
    .await;
    assert_eq!(astronaut["type"], "image");
    assert_eq!(astronaut["description"], "An astronaut");
    assert_eq!(astronaut["meta"]["focus"], json!({ "x": 0.25, "y": -0.5 }));
    assert_eq!(astronaut["meta"]["original"]["size"], "512x512");
    assert_eq!(astronaut["remote_url"], Value::Null);
    assert!(!astronaut["blurhash"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
    assert_exif(
        &astronaut["meta"]["exif"],
        "Canon",
        "Canon EOS 5D Mark IV",
        "EF24-70mm f/2.8L II USM",
        "1/250",
        5.6,
        200,
        50.0,
        "2024-06-01T10:30:00",
    );
    let (original, _, _) = served_files(&node, &astronaut, "image/jpeg").await;
    let kept = exif::read_summary(temp_file(&original).path());
    assert_eq!(kept.camera_model.as_deref(), Some("Canon EOS 5D Mark IV"));

    // The 12 MP photo, through v1 this time.
    let r = upload(&node, &token, "v1", "coffee-12mp-gps.jpg", &[]).await;
    let coffee = expect_json(r, StatusCode::OK).await;
    assert_eq!(coffee["meta"]["original"]["size"], "4000x3000");
    assert_eq!(coffee["meta"]["small"]["size"], "640x480");
    assert_near(&coffee["meta"]["original"]["aspect"], 4.0 / 3.0);
    assert_eq!(coffee["description"], Value::Null);
    assert_exif(
        &coffee["meta"]["exif"],
        "NIKON CORPORATION",
        "NIKON Z 6_2",
        "NIKKOR Z 24-70mm f/4 S",
        "1/60",
        4.0,
        800,
        24.0,
        "2025-03-15T08:12:44",
    );
    let (_, small, large) = served_files(&node, &coffee, "image/jpeg").await;
    assert_eq!(sizes(&small).1, (640, 480));
    assert_eq!(sizes(&large).1, (2048, 1536));

    // Stored sideways with orientation 6: reported and rendered upright.
    let chelsea = uploaded(&node, &token, "chelsea-orientation-6.jpg", &[]).await;
    assert_eq!(chelsea["meta"]["original"]["width"], 451);
    assert_eq!(chelsea["meta"]["original"]["height"], 300);
    assert_eq!(chelsea["meta"]["small"]["size"], "451x300");
    assert_exif(
        &chelsea["meta"]["exif"],
        "FUJIFILM",
        "X-T4",
        "XF35mmF1.4 R",
        "1/125",
        2.0,
        400,
        35.0,
        "2023-12-24T18:05:00",
    );
    let (_, small, large) = served_files(&node, &chelsea, "image/jpeg").await;
    for rendition in [&small, &large] {
        // Upright in the pixels themselves, not by a tag a viewer might ignore.
        assert_eq!(sizes(rendition), ((451, 300), (451, 300)));
    }
    // And turned the right way: the large rendition (same size) matches the fixture as a viewer
    // honouring the tag shows it, and not the same turned upside down.
    let file = data_file("chelsea-orientation-6.jpg");
    let limits = Limits::default();
    let probe = sniff::probe(&file, &limits).expect("probe");
    let upright = render::decode(&file, probe.format, &probe, &limits)
        .expect("decode")
        .image;
    let large_file = temp_file(&large);
    let large_probe = sniff::probe(large_file.path(), &limits).expect("probe");
    let served = render::decode(large_file.path(), large_probe.format, &large_probe, &limits)
        .expect("decode")
        .image
        .to_rgb8();
    let difference = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64
    };
    let right = difference(served.as_raw(), upright.to_rgb8().as_raw());
    let wrong = difference(served.as_raw(), upright.rotate180().to_rgb8().as_raw());
    assert!(
        right < 8.0 && wrong > 4.0 * right,
        "right {right}, wrong {wrong}"
    );

    // PNG and WebP originals keep their format.
    let png = uploaded(&node, &token, "coffee.png", &[]).await;
    assert_eq!(png["meta"]["original"]["size"], "600x400");
    assert_eq!(png["meta"]["exif"], json!({}));
    served_files(&node, &png, "image/png").await;
    let webp = uploaded(&node, &token, "rocket.webp", &[]).await;
    assert_eq!(webp["meta"]["original"]["size"], "640x427");
    let (original, _, _) = served_files(&node, &webp, "image/webp").await;
    assert_eq!(sizes(&original).1, (640, 427));

    // The gateway answers HEAD with the type too.
    let head = node
        .http
        .head(webp["peerpx"]["original_url"].as_str().expect("url"))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-type"], "image/webp");
    node.stop().await;
}

async fn keep_location_keeps_gps_in_the_original_of_that_photo_only(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, token) = node.user("ana").await;
    let kept = uploaded(
        &node,
        &token,
        "astronaut-exif-gps.jpg",
        &[("keep_location", "true")],
    )
    .await;
    let location = &kept["meta"]["exif"]["location"];
    assert_near(&location["latitude"], 48.858370);
    assert_near(&location["longitude"], 2.294481);
    let original_url = kept["peerpx"]["original_url"].as_str().expect("url");
    let (_, original) = fetch(&node, original_url).await;
    assert_eq!(
        original,
        std::fs::read(data_file("astronaut-exif-gps.jpg")).expect("fixture"),
        "kept byte for byte"
    );
    let found = exif::read_summary(temp_file(&original).path())
        .location
        .expect("the original keeps its GPS");
    assert!((found.latitude - 48.858370).abs() < 1e-4);
    // The checker used on every other file sees it, in the raw IFD0 as well.
    assert!(
        (0..original.len()).any(|i| ifd0_tags(&original[i..]).is_some_and(|t| t.contains(&0x8825)))
    );
    let original_copy = original.clone();
    let caught = std::panic::catch_unwind(move || assert_no_gps(&original_copy, "kept"));
    assert!(caught.is_err(), "assert_no_gps finds a kept location");
    // Renditions never carry metadata, location included.
    for key in ["url", "preview_url"] {
        let (_, bytes) = fetch(&node, kept[key].as_str().expect("url")).await;
        assert_no_gps(&bytes, key);
    }
    // The same photo without the opt-in: a different original, no location anywhere.
    let plain = uploaded(&node, &token, "astronaut-exif-gps.jpg", &[]).await;
    assert_ne!(
        plain["peerpx"]["cid"]["original"],
        kept["peerpx"]["cid"]["original"]
    );
    assert_eq!(
        plain["peerpx"]["cid"]["large"],
        kept["peerpx"]["cid"]["large"]
    );
    served_files(&node, &plain, "image/jpeg").await;
    let r = upload(
        &node,
        &token,
        "v2",
        "rocket.jpg",
        &[("keep_location", "perhaps")],
    )
    .await;
    let v = expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(v["details"]["keep_location"].is_array(), "{v}");
    node.stop().await;
}

async fn only_the_uploader_sees_and_changes_an_unattached_photo(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let (_, ben) = node.user("ben").await;
    let m = uploaded(&node, &ana, "rocket.jpg", &[("description", "Lift-off")]).await;
    let id = m["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/media/{id}");

    let got = expect_json(node.get(&path, Some(&ana)).await, StatusCode::OK).await;
    assert_eq!(got, m);
    for r in [
        node.get(&path, Some(&ben)).await,
        node.put_json(&path, Some(&ben), &json!({ "description": "mine" }))
            .await,
        node.delete(&path, Some(&ben)).await,
        node.get("/api/v1/media/12345", Some(&ana)).await,
        node.get("/api/v1/media/not-a-number", Some(&ana)).await,
    ] {
        expect_json(r, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(
        node.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The owner changes alt text and focus; a parameter left out keeps its value.
    let body = json!({ "description": "Lift-off at dawn", "focus": "-0.5,0.5" });
    let v = expect_json(
        node.put_json(&path, Some(&ana), &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["description"], "Lift-off at dawn");
    assert_eq!(v["meta"]["focus"], json!({ "x": -0.5, "y": 0.5 }));
    let form = [("focus", "0,0")];
    let r = node
        .http
        .put(node.url(&path))
        .bearer_auth(&ana)
        .form(&form)
        .send()
        .await
        .expect("put");
    let v = expect_json(r, StatusCode::OK).await;
    assert_eq!(v["description"], "Lift-off at dawn");
    assert_eq!(v["meta"]["focus"], json!({ "x": 0.0, "y": 0.0 }));
    let head = node.head().await;
    for body in [
        json!({ "focus": "2,0" }),
        json!({ "description": "x".repeat(1501) }),
    ] {
        let v = expect_json(
            node.put_json(&path, Some(&ana), &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(v["details"].is_object(), "{v}");
    }
    assert_eq!(node.head().await, head, "refused changes record nothing");

    // Attached to a post, it is no longer the upload's to change (Mastodon: 404), nor to
    // delete (422).
    let state = &node.node().state;
    let p = state
        .commands
        .media(
            &id,
            MediaCommand::Attach {
                account_id: ana_id.clone(),
                status_id: "777".into(),
                at: 1,
            },
            metadata(Some(&ana_id), "test"),
        )
        .await
        .expect("attach");
    state.settle(p).await;
    expect_json(node.get(&path, Some(&ana)).await, StatusCode::NOT_FOUND).await;
    let r = node
        .put_json(&path, Some(&ana), &json!({ "description": "late" }))
        .await;
    expect_json(r, StatusCode::NOT_FOUND).await;
    let v = expect_json(
        node.delete(&path, Some(&ana)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(v["error"], "Media attachment is currently used by a status");

    // An unattached one is deleted by its owner, once.
    let other = uploaded(&node, &ana, "rocket.webp", &[]).await;
    let other_path = format!("/api/v1/media/{}", other["id"].as_str().expect("id"));
    let v = expect_json(node.delete(&other_path, Some(&ana)).await, StatusCode::OK).await;
    assert_eq!(v, json!({}));
    expect_json(
        node.get(&other_path, Some(&ana)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_json(
        node.delete(&other_path, Some(&ana)).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Uploading needs write:media.
    let app = node.app().await;
    let reader = node.login(&app, "ben", "password of ben", "read").await;
    let r = upload(&node, &reader, "v2", "rocket.jpg", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    node.stop().await;
}

/// Every file under `dir`, recursively (none when it does not exist).
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.insert(path);
            }
        }
    }
    out
}

fn stored_files(node: &TestNode) -> BTreeSet<PathBuf> {
    let mut all = files_under(&node.dir.path().join("blocks"));
    all.extend(files_under(&node.dir.path().join("tmp")));
    all
}

async fn bad_uploads_are_refused_and_leave_nothing_behind(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, token) = node.user("ana").await;
    let head = node.head().await;
    let before = stored_files(&node);
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08free".to_vec();
    let long = "é".repeat(1501);
    /// File name, bytes, text fields, expected status, words of the expected message.
    type Case<'a> = (
        &'a str,
        Vec<u8>,
        Vec<(&'a str, &'a str)>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "bad-truncated.jpg",
            std::fs::read(data_file("bad-truncated.jpg")).expect("fixture"),
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "cut short",
        ),
        (
            "bad-not-an-image.jpg",
            std::fs::read(data_file("bad-not-an-image.jpg")).expect("fixture"),
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "not an image",
        ),
        (
            "bad-bomb-20000x20000.png",
            std::fs::read(data_file("bad-bomb-20000x20000.png")).expect("fixture"),
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "20000 x 20000 pixels",
        ),
        (
            "photo.heic",
            heic,
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "JPEG, PNG and WebP",
        ),
        (
            "rocket.jpg",
            std::fs::read(data_file("rocket.jpg")).expect("fixture"),
            vec![("focus", "0.5")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "Focus",
        ),
        (
            "rocket.jpg",
            std::fs::read(data_file("rocket.jpg")).expect("fixture"),
            vec![("description", long.as_str())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "maximum is 1500 characters",
        ),
    ];
    for (name, bytes, fields, status, says) in cases {
        let r = upload_bytes(&node, &token, "v2", name, bytes, &fields).await;
        let v = expect_json(r, status).await;
        let message = v["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name}: {message}");
    }
    // No file at all.
    let r = node
        .http
        .post(node.url("/api/v2/media"))
        .bearer_auth(&token)
        .multipart(Form::new().text("description", "nothing"))
        .send()
        .await
        .expect("post");
    let v = expect_json(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(v["details"]["file"][0]["error"], "ERR_BLANK");
    let r = node
        .post_form("/api/v1/media", Some(&token), &[("description", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(node.head().await, head, "no event");
    assert_eq!(stored_files(&node), before, "no block, no scratch file");
    node.stop().await;
}

async fn an_upload_over_the_size_limit_is_refused_early(engine: Engine) {
    let Some(node) = TestNode::start_with(engine, |c| c.max_upload_bytes = 300_000).await else {
        return;
    };
    let (_, token) = node.user("ana").await;
    let head = node.head().await;
    let before = stored_files(&node);
    let r = upload(&node, &token, "v2", "coffee-12mp-gps.jpg", &[]).await;
    let v = expect_json(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(
        v["error"],
        "File is too large: at most 300000 bytes can be uploaded"
    );
    assert_eq!(node.head().await, head, "no event");
    assert_eq!(stored_files(&node), before, "nothing stored");
    // A file under the limit goes through on the same node, though larger than the router's
    // limit for ordinary requests would allow were it not lifted for uploads.
    let ok = uploaded(&node, &token, "rocket.jpg", &[]).await;
    assert_eq!(ok["meta"]["original"]["size"], "640x427");
    node.stop().await;
}

fn post(id: &str, account_id: &str, media: &[(&str, &str)]) -> Post {
    Post {
        id: id.into(),
        account_id: account_id.into(),
        visibility: Visibility::Public,
        in_reply_to: None,
        content: Content {
            text: "Two photos".into(),
            html: "<p>Two photos</p>".into(),
            media: media
                .iter()
                .map(|(id, d)| MediaText {
                    media_id: (*id).into(),
                    description: Some((*d).into()),
                })
                .collect(),
            licence: DEFAULT_LICENCE.into(),
            ..Content::default()
        },
        at: 10,
        remote: None,
    }
}

async fn the_media_read_model_follows_posts_edits_and_deletes(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (ana_id, ana) = node.user("ana").await;
    let first = uploaded(&node, &ana, "rocket.jpg", &[]).await;
    let second = uploaded(&node, &ana, "coffee.png", &[]).await;
    let unrelated = uploaded(&node, &ana, "rocket.webp", &[]).await;
    let (a, b) = (
        first["id"].as_str().expect("id").to_string(),
        second["id"].as_str().expect("id").to_string(),
    );
    let state = &node.node().state;
    let meta = || metadata(Some(&ana_id), "test");
    let status_id = peerpx_api::auth::new_id();
    for m in [&a, &b] {
        let attach = MediaCommand::Attach {
            account_id: ana_id.clone(),
            status_id: status_id.clone(),
            at: 9,
        };
        state
            .commands
            .media(m, attach, meta())
            .await
            .expect("attach");
    }
    // Shown second photo first.
    let posted = post(&status_id, &ana_id, &[(&b, "the cup"), (&a, "the rocket")]);
    let p = state
        .commands
        .status(&status_id, StatusCommand::Post(posted.clone()), meta())
        .await
        .expect("post");
    state.settle(p).await;
    let sid: i64 = status_id.parse().expect("numeric");
    let listed = media::for_statuses(&state.db, &[sid, 1])
        .await
        .expect("query");
    assert_eq!(listed.len(), 1, "statuses without photos have no entry");
    let rows = &listed[&sid];
    let ids: Vec<String> = rows.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(ids, vec![b.clone(), a.clone()]);
    assert_eq!(
        rows.iter().map(|m| m.ordinal).collect::<Vec<_>>(),
        vec![Some(0), Some(1)]
    );
    let rendered = peerpx_api::media_entities::media_attachment(&state.config, &rows[1], false);
    assert_eq!(rendered["url"], first["url"]);
    assert!(rendered["peerpx"].get("original_url").is_none());

    // An edit changes the alt texts.
    let mut content = posted.content.clone();
    content.media[1].description = Some("the rocket, at dawn".into());
    let p = state
        .commands
        .status(
            &status_id,
            StatusCommand::Edit {
                account_id: ana_id.clone(),
                content,
                at: 11,
            },
            meta(),
        )
        .await
        .expect("edit");
    state.settle(p).await;
    let row = media::by_id(&state.db, a.parse().expect("id"))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.description.as_deref(), Some("the rocket, at dawn"));
    assert_eq!(row.status_id, Some(sid));

    // The photos go with the post; the unrelated upload stays.
    let cids = |uploads: &[&Value]| {
        let mut all: Vec<String> = uploads
            .iter()
            .flat_map(|m| {
                ["original", "small", "large"]
                    .map(|k| m["peerpx"]["cid"][k].as_str().expect("cid").to_string())
            })
            .collect();
        all.sort();
        all.dedup();
        all
    };
    let live_before = media::live_cids(&state.db).await.expect("live");
    assert_eq!(live_before, cids(&[&first, &second, &unrelated]));
    let p = state
        .commands
        .status(
            &status_id,
            StatusCommand::Delete {
                account_id: ana_id.clone(),
                as_moderator: false,
                at: 12,
            },
            meta(),
        )
        .await
        .expect("delete");
    state.settle(p).await;
    assert!(media::for_statuses(&state.db, &[sid])
        .await
        .expect("query")
        .is_empty());
    assert!(media::by_id(&state.db, a.parse().expect("id"))
        .await
        .expect("query")
        .is_none());
    let live: Vec<String> = media::live_cids(&state.db).await.expect("live");
    assert_eq!(live, cids(&[&unrelated]));
    node.stop().await;
}

async fn gc_removes_deleted_photos_and_keeps_blocks_live_photos_share(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let (_, ana) = node.user("ana").await;
    // One photo uploaded twice (the same blocks), and another one.
    let first = uploaded(&node, &ana, "hubble-deep-field.jpg", &[]).await;
    let again = uploaded(&node, &ana, "hubble-deep-field.jpg", &[]).await;
    assert_ne!(first["id"], again["id"]);
    assert_eq!(first["peerpx"]["cid"], again["peerpx"]["cid"]);
    let gone = uploaded(&node, &ana, "coffee-alpha.png", &[]).await;
    for m in [&first, &gone] {
        let path = format!("/api/v1/media/{}", m["id"].as_str().expect("id"));
        expect_json(node.delete(&path, Some(&ana)).await, StatusCode::OK).await;
    }
    let urls = |m: &Value| {
        ["original", "small", "large"].map(|k| {
            format!(
                "{}/ipfs/{}",
                node.base,
                m["peerpx"]["cid"][k].as_str().expect("cid")
            )
        })
    };
    let status_of = |url: String| {
        let http = node.http.clone();
        async move { http.get(url).send().await.expect("get").status() }
    };

    let (_, kept_original) = fetch(&node, &urls(&again)[0]).await;
    let state = &node.node().state;
    let blocks = gc::blocks_dir(node.dir.path());
    let before = files_under(&blocks);
    // Within the grace period nothing goes.
    let report = gc::collect(
        &state.projector,
        &state.db,
        &blocks,
        Duration::from_secs(3600),
    )
    .await
    .expect("gc");
    assert_eq!(report.removed_blocks, 0);
    assert!(report.young_blocks > 0);
    assert_eq!(files_under(&blocks), before);
    if engine == Engine::Sqlite {
        // The command line does the same, beside the running node.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_peerpx"))
            .args(["gc", "--data-dir"])
            .arg(node.dir.path())
            .env_remove("PEERPX_DATABASE_URL")
            .env_remove("PEERPX_CONFIG")
            .output()
            .expect("run peerpx gc");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with("removed 0 block(s), 0 bytes; kept"),
            "{stdout}"
        );
        assert!(stdout.contains("3 live file(s)"), "{stdout}");
    }

    let report = gc::collect(&state.projector, &state.db, &blocks, Duration::ZERO)
        .await
        .expect("gc");
    assert_eq!(report.live_roots, 3);
    assert_eq!(report.missing_blocks, 0);
    assert!(report.removed_blocks >= 3, "{report:?}");
    assert!(report.removed_bytes > 500_000, "{report:?}");
    for url in urls(&gone) {
        assert_eq!(status_of(url.clone()).await, StatusCode::NOT_FOUND, "{url}");
    }
    // The live copy of the photo uploaded twice is whole.
    let (_, original) = fetch(&node, &urls(&again)[0]).await;
    assert_eq!(original, kept_original);
    assert!(original.len() > 2 * 262_144, "a file of several blocks");
    for url in urls(&again) {
        assert_eq!(status_of(url.clone()).await, StatusCode::OK, "{url}");
    }
    // Nothing left to collect.
    let report = gc::collect(&state.projector, &state.db, &blocks, Duration::ZERO)
        .await
        .expect("gc");
    assert_eq!(report.removed_blocks, 0);
    assert_eq!(report.young_blocks, 0);
    node.stop().await;
}

/// With one media worker, three 12 MP uploads queue for the pipeline while other requests are
/// answered at once: the API never waits for photo processing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_queue_for_the_pipeline_and_never_stall_other_requests() {
    let node = TestNode::start_with(Engine::Sqlite, |c| c.media_workers = 1)
        .await
        .expect("SQLite needs no server");
    let (_, token) = node.user("ana").await;
    let node = std::sync::Arc::new(node);
    let uploads: Vec<_> = (0..3)
        .map(|_| {
            let node = node.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let r = upload(&node, &token, "v2", "coffee-12mp-gps.jpg", &[]).await;
                let status = r.status();
                (status, tokio::time::Instant::now())
            })
        })
        .collect();
    // Once the bodies are in (milliseconds on loopback), the first photo is being processed
    // (seconds for 12 MP) and the other two wait; the node keeps answering meanwhile.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut answered = Vec::new();
    for _ in 0..5 {
        let r = node.get("/api/v1/timelines/public", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        answered.push(tokio::time::Instant::now());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut finished = Vec::new();
    for u in uploads {
        let (status, at) = u.await.expect("upload task");
        assert_eq!(status, StatusCode::OK);
        finished.push(at);
    }
    let first_upload = finished.iter().min().expect("three uploads");
    let last_read = answered.iter().max().expect("five reads");
    assert!(
        last_read < first_upload,
        "every read was answered while the first photo was still being processed"
    );
    match std::sync::Arc::try_unwrap(node) {
        Ok(node) => node.stop().await,
        Err(_) => panic!("node still shared"),
    }
}
