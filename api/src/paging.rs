//! Reading Mastodon's pagination parameters and writing its `Link` header.

use axum::extract::OriginalUri;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use peerpx_projections::Page;
use serde::Deserialize;

use crate::params::lenient;
use crate::ApiError;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub max_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub since_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub min_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub limit: Option<i64>,
}

/// An id parameter: a number, or absent. Anything else is a client error.
fn id(name: &str, value: Option<&String>) -> Result<Option<i64>, ApiError> {
    match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::Unprocessable(format!("{name} must be an id, not {v:?}"))),
    }
}

impl PageQuery {
    /// The page asked for; `limit` defaults to `default` and is clamped to 1..=`max`.
    pub fn page(&self, default: i64, max: i64) -> Result<Page, ApiError> {
        Ok(Page {
            max_id: id("max_id", self.max_id.as_ref())?,
            since_id: id("since_id", self.since_id.as_ref())?,
            min_id: id("min_id", self.min_id.as_ref())?,
            limit: self.limit.unwrap_or(default).clamp(1, max),
        })
    }
}

/// Mastodon's `Link` header: `next` pages older items (max_id), `prev` newer ones (min_id).
pub fn link(base: &str, uri: &OriginalUri, oldest: &str, newest: &str) -> String {
    let path = uri.path();
    let kept: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "max_id" | "min_id" | "since_id"))
        .collect();
    let with = |key: &str, value: &str| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            s.append_pair(k, v);
        }
        s.append_pair(key, value);
        format!("{base}{path}?{}", s.finish())
    };
    format!(
        "<{}>; rel=\"next\", <{}>; rel=\"prev\"",
        with("max_id", oldest),
        with("min_id", newest)
    )
}

/// A JSON list with its `Link` header. `keys` are the pagination keys of the items, newest
/// first (they may differ from the items' ids: a favourites list pages by favourite).
pub fn respond(
    base: &str,
    uri: &OriginalUri,
    items: Vec<serde_json::Value>,
    keys: &[i64],
) -> Response {
    let mut response = Json(items).into_response();
    if let (Some(newest), Some(oldest)) = (keys.first(), keys.last()) {
        let value = link(base, uri, &oldest.to_string(), &newest.to_string());
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}
