//! Reading remote objects: a `Note` (or `Article`, `Image`, `Page`, `Video`) from another node,
//! as Mastodon, Pixelfed, GoToSocial or peerpx write it, into what a status needs.
//!
//! Pure: JSON in, [`RemoteNote`] out; the caller decides whether it is wanted and who the
//! mentioned and replied-to are. Remote HTML is cleaned with the tags Mastodon keeps.

use std::collections::HashSet;

use chrono::DateTime;
use peerpx_aggregates::status::{RemoteMedia, Visibility, REMOTE_MEDIA_MAX, TITLE_MAX};
use serde_json::Value;

use crate::ld::PUBLIC;

/// Object types read as statuses.
pub const NOTE_TYPES: &[&str] = &["Note", "Article", "Image", "Page", "Video", "Question"];

/// The longest object id kept (MySQL indexes VARCHAR(512)).
pub const MAX_URI_LEN: usize = 512;

/// A remote status as its node describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteNote {
    pub uri: String,
    pub url: Option<String>,
    pub attributed_to: String,
    pub visibility: Visibility,
    pub in_reply_to: Option<String>,
    /// Cleaned HTML.
    pub html: String,
    /// The same as plain text (for search and previews).
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub tags: Vec<String>,
    /// `href`s of `Mention` tags.
    pub mentions: Vec<String>,
    pub media: Vec<RemoteMedia>,
    pub title: Option<String>,
    /// One of our licence identifiers when the note names one we know.
    pub licence: Option<String>,
    pub published: Option<i64>,
    pub updated: Option<i64>,
}

/// The id of a property that is either an id or an object with one.
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id")?.as_str(),
        _ => None,
    }
}

/// A property that may be one value or an array of them, as a list.
fn many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

fn millis(v: Option<&Value>) -> Option<i64> {
    let text = v?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Remote HTML with only what Mastodon keeps: paragraphs, line breaks, links (which open
/// elsewhere and carry no referrer), spans with Mastodon's classes, and simple formatting.
pub fn clean_html(html: &str) -> String {
    ammonia::Builder::default()
        .tags(HashSet::from([
            "p",
            "br",
            "a",
            "span",
            "b",
            "strong",
            "i",
            "em",
            "del",
            "s",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
        ]))
        .link_rel(Some("nofollow noopener noreferrer"))
        .add_tag_attributes("a", &["class"])
        .add_tag_attributes("span", &["class"])
        .add_generic_attributes(&["lang"])
        .url_schemes(HashSet::from(["http", "https"]))
        .clean(html)
        .to_string()
}

/// HTML as plain text: tags dropped, paragraphs and breaks as new lines, entities decoded.
pub fn plain_text(html: &str) -> String {
    let spaced = html
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n")
        .replace("</p>", "\n\n");
    let stripped = ammonia::Builder::empty().clean(&spaced).to_string();
    let decoded = stripped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.trim().to_string()
}

/// Mastodon's reading of `to` and `cc`: the public collection in `to` is public, in `cc`
/// unlisted; else the author's followers collection makes it followers-only; else direct.
pub fn visibility(object: &Value, activity: Option<&Value>, followers: Option<&str>) -> Visibility {
    let mut to: Vec<&str> = many(object.get("to"))
        .into_iter()
        .filter_map(id_of)
        .collect();
    let mut cc: Vec<&str> = many(object.get("cc"))
        .into_iter()
        .filter_map(id_of)
        .collect();
    if to.is_empty() && cc.is_empty() {
        if let Some(a) = activity {
            to = many(a.get("to")).into_iter().filter_map(id_of).collect();
            cc = many(a.get("cc")).into_iter().filter_map(id_of).collect();
        }
    }
    let public = |v: &&str| *v == PUBLIC || *v == "as:Public" || *v == "Public";
    if to.iter().any(public) {
        Visibility::Public
    } else if cc.iter().any(public) {
        Visibility::Unlisted
    } else if followers.is_some_and(|f| to.contains(&f) || cc.contains(&f))
        || to.iter().chain(&cc).any(|r| r.ends_with("/followers"))
    {
        Visibility::Private
    } else {
        Visibility::Direct
    }
}

fn attachment(v: &Value) -> Option<RemoteMedia> {
    let url_value = v.get("url")?;
    // `url` is a string, a Link, or a list of either (the first image one wins).
    let url = many(Some(url_value)).into_iter().find_map(|u| match u {
        Value::String(s) => Some((s.clone(), None)),
        Value::Object(o) => {
            let href = o.get("href").and_then(Value::as_str)?;
            let media_type = o.get("mediaType").and_then(Value::as_str);
            Some((href.to_string(), media_type.map(str::to_string)))
        }
        _ => None,
    })?;
    let (url, link_type) = url;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let media_type = v
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(link_type);
    let focus = v.get("focalPoint").and_then(|f| {
        let x = f.get(0)?.as_f64()?;
        let y = f.get(1)?.as_f64()?;
        ((-1.0..=1.0).contains(&x) && (-1.0..=1.0).contains(&y)).then_some((x, y))
    });
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(1500).collect::<String>())
            .filter(|s| !s.is_empty())
    };
    let dimension = |k: &str| v.get(k).and_then(Value::as_i64).filter(|n| *n > 0);
    Some(RemoteMedia {
        url,
        media_type,
        description: text("name").or_else(|| text("summary")),
        blurhash: text("blurhash").filter(|b| b.len() <= 100),
        width: dimension("width"),
        height: dimension("height"),
        focus,
        cid: v.get("cid").filter(|c| c.is_object()).cloned(),
        exif: v.get("exif").filter(|e| e.is_object()).cloned(),
    })
}

/// Reads `object` (the note itself, embedded or fetched). `activity` is the activity that
/// carried it (its `to`/`cc` stand in when the note has none); `followers` the author's
/// followers collection, when known.
pub fn read_note(
    object: &Value,
    activity: Option<&Value>,
    followers: Option<&str>,
) -> Result<RemoteNote, String> {
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    if !NOTE_TYPES.contains(&kind) {
        return Err(format!("objects of type {kind:?} are not statuses"));
    }
    let uri = object
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the object has no id")?
        .to_string();
    if uri.len() > MAX_URI_LEN {
        return Err(format!("object ids longer than {MAX_URI_LEN} are not kept"));
    }
    let attributed_to = many(object.get("attributedTo"))
        .into_iter()
        .find_map(id_of)
        .ok_or("the object has no attributedTo")?
        .to_string();
    let url = many(object.get("url")).into_iter().find_map(|u| match u {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("href").and_then(Value::as_str).map(str::to_string),
        _ => None,
    });
    let language = object
        .get("contentMap")
        .and_then(Value::as_object)
        .and_then(|m| m.keys().next().cloned())
        .filter(|l| l.len() <= 16);
    let content = object
        .get("content")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            object
                .get("contentMap")
                .and_then(Value::as_object)
                .and_then(|m| m.values().next())
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let html = clean_html(&content);
    let text = plain_text(&html);
    let spoiler_text = object
        .get("summary")
        .and_then(Value::as_str)
        .map(|s| plain_text(&clean_html(s)))
        .unwrap_or_default();
    let mut tags = Vec::new();
    let mut mentions = Vec::new();
    for t in many(object.get("tag")) {
        match t.get("type").and_then(Value::as_str) {
            Some("Hashtag") => {
                if let Some(name) = t.get("name").and_then(Value::as_str) {
                    let name = name.trim_start_matches('#').to_lowercase();
                    if !name.is_empty() && name.len() <= 100 && !tags.contains(&name) {
                        tags.push(name);
                    }
                }
            }
            Some("Mention") => {
                if let Some(href) = t.get("href").and_then(Value::as_str) {
                    if !mentions.iter().any(|m: &String| m == href) {
                        mentions.push(href.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let media: Vec<RemoteMedia> = many(object.get("attachment"))
        .into_iter()
        .filter_map(attachment)
        .take(REMOTE_MEDIA_MAX)
        .collect();
    // A bare Image object is its own photo.
    let media = if media.is_empty() && kind == "Image" {
        attachment(object).into_iter().collect()
    } else {
        media
    };
    let title = object
        .get("title")
        .or_else(|| (kind != "Note").then(|| object.get("name")).flatten())
        .and_then(Value::as_str)
        .map(|t| t.chars().take(TITLE_MAX).collect::<String>())
        .filter(|t| !t.trim().is_empty());
    let licence = object
        .get("licence")
        .and_then(|l| l.get("identifier"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            let url = object.get("license").and_then(Value::as_str)?;
            peerpx_aggregates::status::LICENCES
                .iter()
                .find(|(_, _, u)| {
                    u.is_some_and(|u| u.trim_end_matches('/') == url.trim_end_matches('/'))
                })
                .map(|(id, _, _)| id.to_string())
        })
        .filter(|l| peerpx_aggregates::status::valid_licence(l));
    Ok(RemoteNote {
        visibility: visibility(object, activity, followers),
        in_reply_to: object.get("inReplyTo").and_then(id_of).map(str::to_string),
        sensitive: object
            .get("sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || !spoiler_text.is_empty(),
        published: millis(object.get("published")),
        updated: millis(object.get("updated")),
        uri,
        url,
        attributed_to,
        html,
        text,
        spoiler_text,
        language,
        tags,
        mentions,
        media,
        title,
        licence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pixelfed_note() -> Value {
        json!({
            "id": "https://pix.example/p/ana/42",
            "type": "Note",
            "attributedTo": "https://pix.example/users/ana",
            "url": "https://pix.example/p/ana/42",
            "content": "<p>Dawn over the lake <a href=\"https://pix.example/discover/tags/lake\" class=\"mention hashtag\" rel=\"tag\">#<span>lake</span></a><script>alert(1)</script></p>",
            "summary": null,
            "sensitive": false,
            "published": "2026-11-20T07:30:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://pix.example/users/ana/followers", "https://b.example/users/ben"],
            "tag": [
                {"type": "Hashtag", "name": "#Lake", "href": "https://pix.example/discover/tags/lake"},
                {"type": "Mention", "name": "@ben@b.example", "href": "https://b.example/users/ben"}
            ],
            "attachment": [
                {"type": "Image", "mediaType": "image/jpeg", "url": "https://pix.example/storage/a.jpg",
                 "name": "A misty lake at dawn", "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
                 "width": 2048, "height": 1365, "focalPoint": [0.1, -0.2]},
                {"type": "Document", "url": [{"type": "Link", "href": "https://pix.example/storage/b.jpg", "mediaType": "image/jpeg"}]},
                {"type": "Document", "url": "javascript:alert(1)"}
            ],
            "license": "https://creativecommons.org/licenses/by/4.0/"
        })
    }

    #[test]
    fn a_pixelfed_photo_post_reads_with_its_photos_tags_mentions_and_licence() {
        let n = read_note(&pixelfed_note(), None, None).expect("note");
        assert_eq!(n.uri, "https://pix.example/p/ana/42");
        assert_eq!(n.attributed_to, "https://pix.example/users/ana");
        assert_eq!(n.visibility, Visibility::Public);
        assert!(!n.html.contains("script"), "{}", n.html);
        assert!(n.html.contains("rel=\"nofollow noopener noreferrer\""));
        assert_eq!(n.text, "Dawn over the lake #lake");
        assert_eq!(n.tags, vec!["lake"]);
        assert_eq!(n.mentions, vec!["https://b.example/users/ben"]);
        assert_eq!(n.media.len(), 2, "the javascript: url is dropped");
        assert_eq!(
            n.media[0].description.as_deref(),
            Some("A misty lake at dawn")
        );
        assert_eq!(n.media[0].focus, Some((0.1, -0.2)));
        assert_eq!(n.media[0].width, Some(2048));
        assert_eq!(n.media[1].url, "https://pix.example/storage/b.jpg");
        assert_eq!(n.media[1].media_type.as_deref(), Some("image/jpeg"));
        assert_eq!(n.licence.as_deref(), Some("cc-by"));
        assert_eq!(n.published, Some(1_795_159_800_000));
    }

    #[test]
    fn addressing_decides_the_visibility() {
        let followers = "https://pix.example/users/ana/followers";
        let with = |to: Value, cc: Value| {
            let mut n = pixelfed_note();
            n["to"] = to;
            n["cc"] = cc;
            read_note(&n, None, Some(followers))
                .expect("note")
                .visibility
        };
        assert_eq!(with(json!(PUBLIC), json!([])), Visibility::Public);
        assert_eq!(
            with(json!([followers]), json!([PUBLIC])),
            Visibility::Unlisted
        );
        assert_eq!(with(json!([followers]), json!([])), Visibility::Private);
        assert_eq!(
            with(json!(["https://b.example/users/ben"]), json!([])),
            Visibility::Direct
        );
    }

    #[test]
    fn what_is_not_a_status_is_refused_with_a_reason() {
        let mut n = pixelfed_note();
        n["type"] = json!("Person");
        assert!(read_note(&n, None, None).unwrap_err().contains("Person"));
        let mut n = pixelfed_note();
        n.as_object_mut().expect("object").remove("attributedTo");
        assert!(read_note(&n, None, None).is_err());
    }
}
