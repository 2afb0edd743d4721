//! Mastodon's MediaAttachment entity for our photos (files in the block store, served at
//! `/ipfs/{cid}`, with the EXIF summary, CIDs and, when allowed, the original as extensions) and
//! for the photos of statuses received from other nodes (which stay on their node).

use peerpx_aggregates::media::StoredFile;
use peerpx_aggregates::status::RemoteMedia;
use peerpx_projections::media::MediaRow;
use serde_json::{json, Value};

use crate::ApiConfig;

fn dimensions(f: &StoredFile) -> Value {
    let aspect = if f.height == 0 {
        0.0
    } else {
        f64::from(f.width) / f64::from(f.height)
    };
    json!({
        "width": f.width,
        "height": f.height,
        "size": format!("{}x{}", f.width, f.height),
        "aspect": aspect,
    })
}

/// A photo as Mastodon's MediaAttachment. `url` is the large rendition (at most 2048 px),
/// `preview_url` the small one (640 px), both served by this node's IPFS gateway;
/// `meta.original` is the size of the photo as uploaded (upright). Extensions (documented in
/// `docs/api-extensions.md`): `meta.exif`, and `peerpx` with the CIDs of the three files and,
/// when `show_original`, the original's URL.
pub fn media_attachment(config: &ApiConfig, m: &MediaRow, show_original: bool) -> Value {
    let base = config.base_url();
    let url = |f: &StoredFile| format!("{base}/ipfs/{}", f.cid);
    let mut meta = json!({
        "original": dimensions(&m.original),
        "small": dimensions(&m.small),
        "exif": serde_json::to_value(&m.exif).unwrap_or_else(|_| json!({})),
    });
    if let Some(focus) = m.focus {
        meta["focus"] = json!({ "x": focus.x, "y": focus.y });
    }
    let mut peerpx = json!({
        "cid": {
            "original": m.original.cid,
            "small": m.small.cid,
            "large": m.large.cid,
        },
    });
    if show_original {
        peerpx["original_url"] = json!(url(&m.original));
    }
    json!({
        "id": m.id.to_string(),
        "type": "image",
        "url": url(&m.large),
        "preview_url": url(&m.small),
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": m.description,
        "blurhash": m.blurhash,
        "peerpx": peerpx,
    })
}

/// A photo of a remote status as a Mastodon MediaAttachment: its files stay on its node, so
/// `url`, `preview_url` and `remote_url` are all the remote file.
pub fn remote_attachment(status_id: i64, index: usize, m: &RemoteMedia) -> Value {
    let size = match (m.width, m.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => {
            json!({ "width": w, "height": h, "size": format!("{w}x{h}"), "aspect": w as f64 / h as f64 })
        }
        _ => json!({}),
    };
    let mut meta = json!({ "original": size, "small": size });
    if let Some((x, y)) = m.focus {
        meta["focus"] = json!({ "x": x, "y": y });
    }
    if let Some(exif) = &m.exif {
        meta["exif"] = exif.clone();
    }
    let kind = match m.media_type.as_deref() {
        Some(t) if t.starts_with("video/") => "video",
        Some(t) if t.starts_with("image/") || t.is_empty() => "image",
        None => "image",
        Some(_) => "unknown",
    };
    let mut v = json!({
        "id": format!("{status_id}{index:02}"),
        "type": kind,
        "url": m.url,
        "preview_url": m.url,
        "remote_url": m.url,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": m.description,
        "blurhash": m.blurhash,
    });
    if let Some(cid) = &m.cid {
        v["peerpx"] = json!({ "cid": cid });
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use peerpx_aggregates::media::{Exif, Focus};
    use std::path::PathBuf;

    #[test]
    fn the_entity_has_mastodon_fields_and_says_where_the_files_are() {
        let file = |cid: &str, w, h| StoredFile {
            cid: cid.into(),
            content_type: "image/jpeg".into(),
            bytes: 100,
            width: w,
            height: h,
        };
        let row = MediaRow {
            id: 42,
            account_id: "1".into(),
            status_id: None,
            ordinal: None,
            original: file("bafyo", 451, 300),
            small: file("bafys", 451, 300),
            large: file("bafyl", 451, 300),
            blurhash: "LKO2?U%2Tw=w]~RBVZRi};RPxuwH".into(),
            exif: Exif {
                camera_make: Some("FUJIFILM".into()),
                iso: Some(400),
                ..Exif::default()
            },
            description: Some("a cat".into()),
            focus: Some(Focus { x: 0.5, y: -0.5 }),
            created_at: 1,
        };
        let config = ApiConfig {
            domain: "px.example".into(),
            protocol: "https".into(),
            data_dir: PathBuf::from("/nonexistent"),
            token_lifetime: None,
            login_failures_per_account: 1,
            login_attempts_per_ip: 1,
            login_window: std::time::Duration::from_secs(1),
            max_profile_image_bytes: 1,
            max_upload_bytes: 1,
            max_upload_pixels: 1,
            media_workers: 1,
            max_media_per_status: 4,
        };
        let v = media_attachment(&config, &row, false);
        assert_eq!(v["id"], "42");
        assert_eq!(v["type"], "image");
        assert_eq!(v["url"], "https://px.example/ipfs/bafyl");
        assert_eq!(v["preview_url"], "https://px.example/ipfs/bafys");
        assert_eq!(v["remote_url"], Value::Null);
        assert_eq!(v["meta"]["original"]["size"], "451x300");
        assert!((v["meta"]["original"]["aspect"].as_f64().unwrap() - 451.0 / 300.0).abs() < 1e-9);
        assert_eq!(v["meta"]["focus"], json!({ "x": 0.5, "y": -0.5 }));
        assert_eq!(
            v["meta"]["exif"],
            json!({ "camera_make": "FUJIFILM", "iso": 400 })
        );
        assert_eq!(v["peerpx"]["cid"]["original"], "bafyo");
        assert!(v["peerpx"].get("original_url").is_none());
        let v = media_attachment(&config, &row, true);
        assert_eq!(v["peerpx"]["original_url"], "https://px.example/ipfs/bafyo");
    }
}
