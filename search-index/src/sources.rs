//! What each document is derived from: the part of the log's history the index keeps.
//!
//! These are stored as JSON in every document (`source`) and read back by the projection when a
//! later event changes the document. They hold only what search needs, already resolved: a
//! status's photos carry their EXIF summary (which lives in `MediaUploaded`, not in the status's
//! own events), so re-deriving a status document never needs the media side documents again.

use peerpx_aggregates::media::Exif;
use peerpx_aggregates::status::RemoteMedia;
use peerpx_aggregates::Millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the camera recorded, as search uses it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhotoExif {
    /// Make and model as one name, the make not repeated ("Canon EOS R5", "FUJIFILM X-T4").
    pub camera: Option<String>,
    pub lens: Option<String>,
    pub f_number: Option<f64>,
    pub iso: Option<u64>,
    pub focal_length: Option<f64>,
    /// The camera's local date and time, `YYYY-MM-DDTHH:MM:SS` (cameras record no zone).
    pub taken_at: Option<String>,
}

/// Make and model as photographers name a camera: many cameras repeat the make in the model
/// ("Canon" + "Canon EOS R5"), which must not read "Canon Canon EOS R5". The same rule as the
/// federation's `exif` term, so a photo seen here or through another node gets the same name.
pub fn camera_name(make: Option<&str>, model: Option<&str>) -> Option<String> {
    let make = make.map(str::trim).filter(|m| !m.is_empty());
    let model = model.map(str::trim).filter(|m| !m.is_empty());
    match (make, model) {
        (Some(make), Some(model)) if model.starts_with(make) => Some(model.to_string()),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (make, model) => make.or(model).map(str::to_string),
    }
}

impl PhotoExif {
    pub fn from_upload(e: &Exif) -> Self {
        Self {
            camera: camera_name(e.camera_make.as_deref(), e.camera_model.as_deref()),
            lens: e.lens_model.clone().filter(|l| !l.trim().is_empty()),
            f_number: e.f_number.filter(|f| f.is_finite()),
            iso: e.iso.map(u64::from),
            focal_length: e.focal_length_mm.filter(|f| f.is_finite()),
            taken_at: e.taken_at.clone(),
        }
    }

    /// A remote photo's `exif`, in the shape peerpx nodes publish (`camera`, `lens`, `fNumber`,
    /// `iso`, `focalLength`, `dateTaken`); other shapes give nothing.
    pub fn from_remote(exif: Option<&Value>) -> Self {
        let Some(e) = exif else {
            return Self::default();
        };
        let text = |key: &str| {
            e.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Self {
            camera: text("camera"),
            lens: text("lens"),
            f_number: e
                .get("fNumber")
                .and_then(Value::as_f64)
                .filter(|f| f.is_finite()),
            iso: e.get("iso").and_then(Value::as_u64),
            focal_length: e
                .get("focalLength")
                .and_then(Value::as_f64)
                .filter(|f| f.is_finite()),
            taken_at: text("dateTaken"),
        }
    }
}

/// One photo of a status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Photo {
    /// Our upload's id; `None` for a remote photo.
    pub media_id: Option<String>,
    pub description: Option<String>,
    pub exif: PhotoExif,
}

impl Photo {
    pub fn from_remote(m: &RemoteMedia) -> Self {
        Self {
            media_id: None,
            description: m.description.clone(),
            exif: PhotoExif::from_remote(m.exif.as_ref()),
        }
    }
}

/// A status as search knows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusSource {
    pub id: String,
    pub account_id: String,
    pub visibility: String,
    pub reply: bool,
    pub at: Millis,
    /// The host of a remote status's ActivityPub id; `None` for ours.
    pub host: Option<String>,
    pub text: String,
    pub spoiler: String,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub title: Option<String>,
    pub licence: String,
    pub photos: Vec<Photo>,
}

/// An account as search knows it, local or remote.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountSource {
    /// The document key (`a:{username}` or `r:{actor uri}`).
    pub key: String,
    pub id: String,
    pub username: String,
    /// `None` for a local account.
    pub domain: Option<String>,
    pub display_name: String,
    /// Plain text.
    pub bio: String,
    /// Approved and not suspended (local), not deleted (remote).
    pub active: bool,
}

impl AccountSource {
    /// `user` for a local account, `user@host` for a remote one.
    pub fn handle(&self) -> String {
        match &self.domain {
            None => self.username.clone(),
            Some(d) => format!("{}@{}", self.username, d),
        }
    }
}

/// An upload not yet attached to a posted status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MediaSource {
    pub id: String,
    pub description: Option<String>,
    pub exif: PhotoExif,
}

/// The host of a URL (`https://host:port/path` → `host:port`), lower-cased.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_lowercase())
}

/// HTML as plain text, enough to index a remote bio: tags dropped (a block tag or a break
/// becomes a space so words do not run together), the common entities decoded.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_make_repeated_in_the_model_is_named_once() {
        assert_eq!(
            camera_name(Some("Canon"), Some("Canon EOS R5")).as_deref(),
            Some("Canon EOS R5")
        );
        assert_eq!(
            camera_name(Some("FUJIFILM"), Some("X-T4")).as_deref(),
            Some("FUJIFILM X-T4")
        );
        assert_eq!(camera_name(None, Some("X100V")).as_deref(), Some("X100V"));
        assert_eq!(camera_name(Some(" "), None), None);
    }

    #[test]
    fn a_remote_photo_exif_is_read_in_the_peerpx_shape() {
        let e = json!({"camera": "Leica M11", "lens": "Summicron 35", "fNumber": 2.0,
            "iso": 200, "focalLength": 35.0, "dateTaken": "2024-05-01T10:00:00"});
        let got = PhotoExif::from_remote(Some(&e));
        assert_eq!(got.camera.as_deref(), Some("Leica M11"));
        assert_eq!(got.iso, Some(200));
        assert_eq!(got.taken_at.as_deref(), Some("2024-05-01T10:00:00"));
        assert_eq!(
            PhotoExif::from_remote(Some(&json!("nonsense"))),
            PhotoExif::default()
        );
    }

    #[test]
    fn a_url_host_keeps_its_port_and_drops_its_path() {
        assert_eq!(
            url_host("https://Pix.Example:8443/notes/1").as_deref(),
            Some("pix.example:8443")
        );
        assert_eq!(url_host("not a url"), None);
    }

    #[test]
    fn html_becomes_words_separated_by_spaces() {
        assert_eq!(
            html_text("<p>Street &amp; film</p><p>Paris<br>Lyon</p>"),
            "Street & film Paris Lyon"
        );
    }
}
