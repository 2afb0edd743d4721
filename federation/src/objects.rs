//! Objects: a status as a `Note` at its `uri`, `{base}/users/{username}/statuses/{id}`, shaped
//! like Pixelfed's so Mastodon, Pixelfed and GoToSocial render it, and the `Create` activity
//! that carries it in the outbox (`{uri}/activity`).
//!
//! Photos are `Image` attachments of the large rendition with Mastodon's `blurhash` and
//! `focalPoint`; EXIF (never a location unless its uploader kept it), the files' CIDs, the
//! licence and the title are extension terms of our namespace (see `ld`). Only public and
//! unlisted statuses are served; the others answer 404 until signed fetches exist.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use peerpx_aggregates::media::Exif;
use peerpx_aggregates::status::{Mention, LICENCES};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::media::MediaRow;
use peerpx_projections::statuses::{self as read, StatusRow};
use serde_json::{json, Map, Value};

use crate::html;
use crate::ld::{self, actor_url, status_page_url, status_url, ACTIVITY_STREAMS, PUBLIC};
use crate::{Error, Federation, FederationConfig, Result};
use peerpx_aggregates::text::iso;

/// What a note links to beyond its own row: the URI of the status it replies to, and the actor
/// URIs of mentioned remote accounts (by account id; local ones derive from their names).
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub in_reply_to: Option<String>,
    pub mention_uris: HashMap<String, String>,
}

impl Links {
    pub fn reply(uri: &str) -> Self {
        Self {
            in_reply_to: Some(uri.to_string()),
            ..Self::default()
        }
    }

    fn mention_uri(&self, config: &FederationConfig, m: &Mention) -> String {
        self.mention_uris
            .get(&m.account_id)
            .cloned()
            .unwrap_or_else(|| actor_url(config, &m.username))
    }
}

/// Who a status is addressed to, `(to, cc)`, by visibility as Mastodon addresses it: mentioned
/// people are always among the recipients.
pub fn audience(
    config: &FederationConfig,
    author: &AccountRow,
    s: &StatusRow,
    links: &Links,
) -> (Vec<String>, Vec<String>) {
    let followers = format!("{}/followers", actor_url(config, &author.username));
    let mentioned: Vec<String> = s
        .mentions
        .iter()
        .map(|m| links.mention_uri(config, m))
        .collect();
    let with_mentioned = |first: &str| {
        let mut list = vec![first.to_string()];
        list.extend(mentioned.iter().cloned());
        list
    };
    match s.visibility.as_str() {
        "public" => (vec![PUBLIC.into()], with_mentioned(&followers)),
        "unlisted" => (vec![followers.clone()], with_mentioned(PUBLIC)),
        "private" => (vec![followers], mentioned),
        _ => (mentioned, Vec::new()),
    }
}

/// The camera's record in our `exif` term; `None` when it recorded nothing we show.
pub fn exif(e: &Exif) -> Option<Value> {
    let mut m = Map::new();
    let camera = match (e.camera_make.as_deref(), e.camera_model.as_deref()) {
        // Many cameras repeat the make in the model ("Canon" + "Canon EOS R5").
        (Some(make), Some(model)) if model.starts_with(make) => Some(model.to_string()),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (make, model) => make.or(model).map(str::to_string),
    };
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            m.insert(key.into(), v);
        }
    };
    put("camera", camera.map(Value::from));
    put("lens", e.lens_model.clone().map(Value::from));
    put("exposureTime", e.exposure_time.clone().map(Value::from));
    put("fNumber", e.f_number.map(Value::from));
    put("iso", e.iso.map(Value::from));
    put("focalLength", e.focal_length_mm.map(Value::from));
    put("dateTaken", e.taken_at.clone().map(Value::from));
    // The location exists only when the uploader chose to keep it.
    put(
        "location",
        e.location
            .map(|l| json!({ "latitude": l.latitude, "longitude": l.longitude })),
    );
    (!m.is_empty()).then_some(Value::Object(m))
}

/// A photo as an `Image` attachment: the large rendition, its alt text, blurhash, size, focal
/// point, EXIF and the CIDs of its three files.
pub fn attachment(config: &FederationConfig, m: &MediaRow) -> Value {
    let base = config.base_url();
    let mut v = json!({
        "type": "Image",
        "mediaType": m.large.content_type,
        "url": format!("{base}/ipfs/{}", m.large.cid),
        "blurhash": m.blurhash,
        "width": m.large.width,
        "height": m.large.height,
        "cid": {
            "original": m.original.cid,
            "small": m.small.cid,
            "large": m.large.cid,
        },
    });
    if let Some(description) = &m.description {
        v["name"] = json!(description);
    }
    if let Some(focus) = m.focus {
        v["focalPoint"] = json!([focus.x, focus.y]);
    }
    if let Some(exif) = exif(&m.exif) {
        v["exif"] = exif;
    }
    v
}

/// A status as a `Note` (without `@context`; see [`ld::with_context`]). `in_reply_to` is the
/// parent's URI.
pub fn note(
    config: &FederationConfig,
    author: &AccountRow,
    s: &StatusRow,
    media: &[MediaRow],
    links: &Links,
) -> Value {
    let base = config.base_url();
    let (to, cc) = audience(config, author, s, links);
    let in_reply_to = links.in_reply_to.as_deref();
    let mut tags: Vec<Value> = s
        .tags
        .iter()
        .map(|t| json!({ "type": "Hashtag", "href": format!("{base}/tags/{t}"), "name": format!("#{t}") }))
        .collect();
    tags.extend(s.mentions.iter().map(|m| {
        let name = if m.username.contains('@') {
            format!("@{}", m.username)
        } else {
            format!("@{}@{}", m.username, config.domain)
        };
        json!({
            "type": "Mention",
            "href": links.mention_uri(config, m),
            "name": name,
        })
    }));
    let (licence, licence_name, licence_url) = LICENCES
        .iter()
        .find(|(l, _, _)| *l == s.licence)
        .copied()
        .unwrap_or(LICENCES[0]);
    let mut v = json!({
        "id": status_url(config, &author.username, s.id),
        "type": "Note",
        "attributedTo": actor_url(config, &author.username),
        "content": s.content,
        "summary": (!s.spoiler_text.is_empty()).then_some(&s.spoiler_text),
        "sensitive": s.sensitive,
        "published": iso(s.created_at),
        "url": status_page_url(config, &author.username, s.id),
        "to": to,
        "cc": cc,
        "inReplyTo": in_reply_to,
        "tag": tags,
        "attachment": media.iter().map(|m| attachment(config, m)).collect::<Vec<_>>(),
        "licence": { "identifier": licence, "name": licence_name, "url": licence_url },
    });
    if let Some(url) = licence_url {
        v["license"] = json!(url);
    }
    if let Some(at) = s.edited_at {
        v["updated"] = json!(iso(at));
    }
    if let Some(language) = &s.language {
        v["contentMap"] = json!({ language: s.content });
    }
    if let Some(title) = &s.title {
        v["title"] = json!(title);
    }
    v
}

/// The `Create` activity of a note, as the outbox lists it: `{note id}/activity`.
pub fn create(note: &Value) -> Value {
    let id = note["id"].as_str().unwrap_or_default();
    json!({
        "id": format!("{id}/activity"),
        "type": "Create",
        "actor": note["attributedTo"],
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    })
}

/// The public or unlisted status `id` of the active account `username`, or 404.
pub async fn public_status(
    state: &Federation,
    username: &str,
    id: &str,
) -> Result<(AccountRow, StatusRow)> {
    let id: i64 = id.parse().map_err(|_| Error::NotFound)?;
    // An anonymous viewer sees exactly the public and unlisted statuses of active accounts.
    let status = read::visible_by_id(&state.db, None, id)
        .await?
        // A reblog is no note of its own (it is sent as an Announce).
        .filter(|s| s.reblog_of_id.is_none())
        .ok_or(Error::NotFound)?;
    let author = accounts::by_id(&state.db, &status.account_id)
        .await?
        .filter(|a| {
            a.remote.is_none() && a.username.eq_ignore_ascii_case(username) && a.state == "active"
        })
        .ok_or(Error::NotFound)?;
    Ok((author, status))
}

/// Notes for statuses of `author`, in order, with their photos and the URIs they reply to.
pub async fn notes(
    state: &Federation,
    author: &AccountRow,
    rows: &[StatusRow],
) -> Result<Vec<Value>> {
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let mut media = peerpx_projections::media::for_statuses(&state.db, &ids).await?;
    // The statuses replied to (their URIs), and the people mentioned (remote ones' actor URIs).
    let mut parents: HashMap<i64, String> = HashMap::new();
    for id in rows.iter().filter_map(|s| s.in_reply_to_id) {
        if parents.contains_key(&id) {
            continue;
        }
        if let Some(p) = read::by_id(&state.db, id).await? {
            let uri = match p.uri {
                Some(uri) => Some(uri),
                None => accounts::by_id(&state.db, &p.account_id)
                    .await?
                    .map(|a| status_url(&state.config, &a.username, p.id)),
            };
            if let Some(uri) = uri {
                parents.insert(id, uri);
            }
        }
    }
    let mentioned: Vec<String> = rows
        .iter()
        .flat_map(|s| s.mentions.iter().map(|m| m.account_id.clone()))
        .collect();
    let mention_uris: HashMap<String, String> = accounts::by_ids(&state.db, &mentioned)
        .await?
        .into_iter()
        .filter_map(|a| a.remote.map(|r| (a.id, r.uri)))
        .collect();
    Ok(rows
        .iter()
        .map(|s| {
            let links = Links {
                in_reply_to: s.in_reply_to_id.and_then(|id| parents.get(&id).cloned()),
                mention_uris: mention_uris.clone(),
            };
            let photos = media.remove(&s.id).unwrap_or_default();
            note(&state.config, author, s, &photos, &links)
        })
        .collect())
}

async fn one_note(state: &Federation, author: &AccountRow, s: &StatusRow) -> Result<Value> {
    notes(state, author, std::slice::from_ref(s))
        .await?
        .pop()
        .ok_or(Error::NotFound)
}

/// `GET /users/{username}/statuses/{id}`: the Note to ActivityPub clients, a page to browsers.
pub async fn status(
    State(state): State<Federation>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let (author, s) = public_status(&state, &username, &id).await?;
    if !ld::wants_activity_json(&headers) {
        return html::status(&state, &author, &s).await;
    }
    let note = one_note(&state, &author, &s).await?;
    Ok(ld::activity_response(ld::with_context(&state.config, note)))
}

/// `GET /users/{username}/statuses/{id}/activity`: the `Create` that published it, or for a
/// reblog, its `Announce`.
pub async fn status_activity(
    State(state): State<Federation>,
    Path((username, id)): Path<(String, String)>,
) -> Result<Response> {
    if let Some(announce) = reblog_activity(&state, &username, &id).await? {
        return Ok(ld::activity_response(announce));
    }
    let (author, s) = public_status(&state, &username, &id).await?;
    let note = one_note(&state, &author, &s).await?;
    Ok(ld::activity_response(ld::with_context(
        &state.config,
        create(&note),
    )))
}

/// The `Announce` of the public or unlisted reblog `id` of the active local account `username`.
async fn reblog_activity(state: &Federation, username: &str, id: &str) -> Result<Option<Value>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let Some(reblog) = read::visible_by_id(&state.db, None, id).await? else {
        return Ok(None);
    };
    let Some(of) = reblog.reblog_of_id else {
        return Ok(None);
    };
    let booster = accounts::by_id(&state.db, &reblog.account_id)
        .await?
        .filter(|a| {
            a.remote.is_none() && a.username.eq_ignore_ascii_case(username) && a.state == "active"
        })
        .ok_or(Error::NotFound)?;
    let original = read::visible_by_id(&state.db, None, of)
        .await?
        .ok_or(Error::NotFound)?;
    announce(state, &booster, (&reblog).into(), &original).await
}

/// A local account's reblog as its `Announce` needs it (the row, or the event once it is gone).
pub struct Boost<'a> {
    pub id: i64,
    pub visibility: &'a str,
    pub at: i64,
}

impl<'a> From<&'a StatusRow> for Boost<'a> {
    fn from(s: &'a StatusRow) -> Self {
        Self {
            id: s.id,
            visibility: &s.visibility,
            at: s.created_at,
        }
    }
}

/// `Announce` of `original` by local `me`, for `me`'s reblog `reblog`: its id is under the
/// reblog's URI; addressed as the reblog's visibility says, and to the original's author. `None`
/// when the author is not known.
pub async fn announce(
    state: &Federation,
    me: &AccountRow,
    reblog: Boost<'_>,
    original: &StatusRow,
) -> Result<Option<Value>> {
    let author = accounts::by_id(&state.db, &original.account_id).await?;
    Ok(author.map(|a| announce_by(state, me, reblog, original, &a)))
}

/// [`announce`], with the original's author already read.
pub(crate) fn announce_by(
    state: &Federation,
    me: &AccountRow,
    reblog: Boost<'_>,
    original: &StatusRow,
    author: &AccountRow,
) -> Value {
    // Ids: a remote status's is its `uri`; ours derive from the author's name.
    let (object, author_uri) = match &author.remote {
        Some(r) => (original.uri.clone().unwrap_or_default(), r.uri.clone()),
        None => (
            status_url(&state.config, &author.username, original.id),
            actor_url(&state.config, &author.username),
        ),
    };
    let actor = actor_url(&state.config, &me.username);
    let followers = format!("{actor}/followers");
    let (to, cc) = match reblog.visibility {
        "public" => (json!([PUBLIC]), json!([followers, author_uri])),
        "unlisted" => (json!([followers]), json!([PUBLIC, author_uri])),
        _ => (json!([followers]), json!([author_uri])),
    };
    json!({
        "@context": ACTIVITY_STREAMS,
        "id": format!("{}/activity", status_url(&state.config, &me.username, reblog.id)),
        "type": "Announce",
        "actor": actor,
        "published": iso(reblog.at),
        "to": to,
        "cc": cc,
        "object": object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ld::test_config;
    use crate::local::fixtures::ana;
    use peerpx_aggregates::media::{Focus, Location, StoredFile};
    use peerpx_aggregates::status::Mention;

    fn status(visibility: &str) -> StatusRow {
        StatusRow {
            id: 42,
            account_id: "100".into(),
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            visibility: visibility.into(),
            text: "Launch #space @ben".into(),
            content: "<p>Launch</p>".into(),
            spoiler_text: String::new(),
            sensitive: false,
            language: Some("en".into()),
            title: Some("Launch".into()),
            licence: "cc-by-nc".into(),
            allow_download: false,
            media_count: 1,
            created_at: 1_700_000_000_000,
            edited_at: None,
            tags: vec!["space".into()],
            mentions: vec![Mention {
                account_id: "200".into(),
                username: "ben".into(),
            }],
            uri: None,
            url: None,
            remote_media: Vec::new(),
            reblog_of_id: None,
        }
    }

    fn file(cid: &str, width: u32) -> StoredFile {
        StoredFile {
            cid: cid.into(),
            content_type: "image/jpeg".into(),
            bytes: 1000,
            width,
            height: width / 2,
        }
    }

    fn photo() -> MediaRow {
        MediaRow {
            id: 7,
            account_id: "100".into(),
            status_id: Some(42),
            ordinal: Some(0),
            original: file("bafyoriginal", 4000),
            small: file("bafysmall", 640),
            large: file("bafylarge", 2048),
            blurhash: "LKO2?U%2Tw=w]~RBVZRi};RPxuwH".into(),
            exif: Exif {
                camera_make: Some("Canon".into()),
                camera_model: Some("Canon EOS R5".into()),
                lens_model: Some("RF 35mm".into()),
                exposure_time: Some("1/250".into()),
                f_number: Some(2.8),
                iso: Some(200),
                focal_length_mm: Some(35.0),
                taken_at: Some("2024-05-01T10:00:00".into()),
                location: None,
            },
            description: Some("a rocket".into()),
            focus: Some(Focus { x: 0.2, y: -0.4 }),
            created_at: 1,
        }
    }

    const PUB: &str = "https://www.w3.org/ns/activitystreams#Public";
    const FOLLOWERS: &str = "https://photos.example/users/Ana/followers";
    const BEN: &str = "https://photos.example/users/ben";

    #[test]
    fn a_photo_post_is_a_note_with_its_image_exif_cids_and_licence() {
        let config = test_config();
        let v = note(
            &config,
            &ana(),
            &status("public"),
            &[photo()],
            &Links::default(),
        );
        assert_eq!(v["id"], "https://photos.example/users/Ana/statuses/42");
        assert_eq!(v["type"], "Note");
        assert_eq!(v["attributedTo"], "https://photos.example/users/Ana");
        assert_eq!(v["url"], "https://photos.example/@Ana/42");
        assert_eq!(v["content"], "<p>Launch</p>");
        assert_eq!(v["contentMap"]["en"], "<p>Launch</p>");
        assert_eq!(v["summary"], Value::Null);
        assert_eq!(v["inReplyTo"], Value::Null);
        assert_eq!(v["published"], "2023-11-14T22:13:20.000Z");
        assert!(v.get("updated").is_none());
        assert_eq!(v["title"], "Launch");
        assert_eq!(v["licence"]["identifier"], "cc-by-nc");
        assert_eq!(
            v["license"],
            "https://creativecommons.org/licenses/by-nc/4.0/"
        );
        assert_eq!(
            v["tag"],
            json!([
                {"type": "Hashtag", "href": "https://photos.example/tags/space", "name": "#space"},
                {"type": "Mention", "href": BEN, "name": "@ben@photos.example"},
            ])
        );
        let image = &v["attachment"][0];
        assert_eq!(image["type"], "Image");
        assert_eq!(image["mediaType"], "image/jpeg");
        assert_eq!(image["url"], "https://photos.example/ipfs/bafylarge");
        assert_eq!(image["name"], "a rocket");
        assert_eq!(
            (image["width"].clone(), image["height"].clone()),
            (json!(2048), json!(1024))
        );
        assert_eq!(image["focalPoint"], json!([0.2, -0.4]));
        assert_eq!(image["blurhash"], "LKO2?U%2Tw=w]~RBVZRi};RPxuwH");
        assert_eq!(
            image["cid"],
            json!({"original": "bafyoriginal", "small": "bafysmall", "large": "bafylarge"})
        );
        assert_eq!(
            image["exif"],
            json!({"camera": "Canon EOS R5", "lens": "RF 35mm", "exposureTime": "1/250",
                   "fNumber": 2.8, "iso": 200, "focalLength": 35.0,
                   "dateTaken": "2024-05-01T10:00:00"})
        );
    }

    #[test]
    fn recipients_follow_the_visibility() {
        let config = test_config();
        let cases = [
            ("public", json!([PUB]), json!([FOLLOWERS, BEN])),
            ("unlisted", json!([FOLLOWERS]), json!([PUB, BEN])),
            ("private", json!([FOLLOWERS]), json!([BEN])),
            ("direct", json!([BEN]), json!([])),
        ];
        for (visibility, to, cc) in cases {
            let v = note(&config, &ana(), &status(visibility), &[], &Links::default());
            assert_eq!((&v["to"], &v["cc"]), (&to, &cc), "{visibility}");
        }
    }

    #[test]
    fn a_comment_an_edit_a_warning_and_a_kept_location_show() {
        let config = test_config();
        let mut s = status("unlisted");
        s.in_reply_to_id = Some(41);
        s.spoiler_text = "flash".into();
        s.sensitive = true;
        s.edited_at = Some(1_700_000_100_000);
        s.licence = "all-rights-reserved".into();
        s.title = None;
        let mut p = photo();
        p.exif = Exif {
            location: Some(Location {
                latitude: 1.5,
                longitude: 2.5,
            }),
            ..Exif::default()
        };
        p.description = None;
        p.focus = None;
        let parent = "https://photos.example/users/ben/statuses/41";
        let v = note(&config, &ana(), &s, &[p], &Links::reply(parent));
        assert_eq!(v["inReplyTo"], parent);
        assert_eq!(
            (v["summary"].clone(), v["sensitive"].clone()),
            (json!("flash"), json!(true))
        );
        assert_eq!(v["updated"], "2023-11-14T22:15:00.000Z");
        assert!(v.get("license").is_none() && v.get("title").is_none());
        assert_eq!(v["licence"]["url"], Value::Null);
        let image = &v["attachment"][0];
        assert_eq!(
            image["exif"],
            json!({"location": {"latitude": 1.5, "longitude": 2.5}})
        );
        assert!(image.get("name").is_none() && image.get("focalPoint").is_none());
        assert_eq!(exif(&Exif::default()), None);
    }

    #[test]
    fn the_create_wraps_the_note_with_its_recipients() {
        let config = test_config();
        let note = note(&config, &ana(), &status("public"), &[], &Links::default());
        let create = create(&note);
        assert_eq!(
            create["id"],
            "https://photos.example/users/Ana/statuses/42/activity"
        );
        assert_eq!(create["type"], "Create");
        assert_eq!(create["actor"], note["attributedTo"]);
        assert_eq!((&create["to"], &create["cc"]), (&note["to"], &note["cc"]));
        assert_eq!(create["object"], note);
    }
}
