//! Request parameters the way Mastodon takes them: JSON, url-encoded form or multipart, with
//! Rails-style bracketed keys (`scopes[]`, `fields_attributes[0][name]`), and the query string.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// An uploaded file from a multipart body.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// The body's parameters as JSON, plus any uploaded files.
#[derive(Debug, Default)]
pub struct Params {
    pub value: Value,
    pub files: HashMap<String, Upload>,
}

impl Params {
    /// Deserializes the parameters, turning a type mismatch into a readable 422.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(self.value.clone())
            .map_err(|e| ApiError::Unprocessable(format!("Invalid parameters: {e}")))
    }
}

/// Builds nested JSON from `key=value` pairs with bracketed keys.
pub fn pairs_to_value(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in pairs {
        let mut parts: Vec<String> = Vec::new();
        let (head, rest) = key
            .split_once('[')
            .map_or((key.as_str(), ""), |(h, r)| (h, r));
        parts.push(head.to_string());
        if !rest.is_empty() {
            for piece in format!("[{rest}").split('[').skip(1) {
                parts.push(piece.trim_end_matches(']').to_string());
            }
        }
        insert(&mut root, &parts, Value::String(value));
    }
    root
}

fn insert(node: &mut Value, parts: &[String], value: Value) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if first.is_empty() {
        // `key[]`: append to an array.
        if !node.is_array() {
            *node = Value::Array(Vec::new());
        }
        if let Value::Array(items) = node {
            if rest.is_empty() {
                items.push(value);
            } else {
                let mut child = Value::Object(Map::new());
                insert(&mut child, rest, value);
                items.push(child);
            }
        }
        return;
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        if rest.is_empty() {
            map.insert(first.clone(), value);
        } else {
            let child = map.entry(first.clone()).or_insert(Value::Null);
            insert(child, rest, value);
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut params = if content_type.starts_with("multipart/form-data") {
            from_multipart(req, state).await?
        } else {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::PayloadTooLarge(format!("Request body rejected: {e}")))?;
            let value = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else if content_type.starts_with("application/json") || content_type.contains("+json")
            {
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))?;
                if !v.is_object() {
                    return Err(ApiError::BadRequest(
                        "The JSON body must be an object".into(),
                    ));
                }
                v
            } else {
                pairs_to_value(url::form_urlencoded::parse(&bytes).into_owned())
            };
            Params {
                value,
                files: HashMap::new(),
            }
        };
        // Query parameters fill in what the body did not say (Mastodon.py sends some there).
        if let (Value::Object(body), Value::Object(q)) = (&mut params.value, pairs_to_value(query))
        {
            for (k, v) in q {
                body.entry(k).or_insert(v);
            }
        }
        Ok(params)
    }
}

async fn from_multipart<S: Send + Sync>(req: Request, state: &S) -> Result<Params, ApiError> {
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::BadRequest(format!("Malformed multipart body: {e}")))?;
    let mut pairs = Vec::new();
    let mut files = HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if field.file_name().is_some() {
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let bytes = field.bytes().await.map_err(multipart_error)?;
            files.insert(
                name,
                Upload {
                    file_name,
                    content_type,
                    bytes,
                },
            );
        } else {
            let text = field.text().await.map_err(multipart_error)?;
            pairs.push((name, text));
        }
    }
    Ok(Params {
        value: pairs_to_value(pairs),
        files,
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let text = e.body_text();
    if text.contains("length limit") || e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("The upload is too large".into())
    } else {
        ApiError::BadRequest(format!("Malformed multipart body: {text}"))
    }
}

/// Serde helpers for values that arrive as strings from forms.
pub mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn to_bool(v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => Some(n.as_i64() != Some(0)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Some(true),
                "false" | "0" | "off" | "no" | "" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => to_bool(&v).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("expected true or false, got {v}"))
            }),
        }
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_i64()),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
            Some(other) => Err(serde::de::Error::custom(format!(
                "expected a number, got {other}"
            ))),
        }
    }

    /// A string, or a list joined by spaces (scopes), or newlines (redirect URIs) by the caller.
    pub fn opt_string_or_list<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s])),
            Some(Value::Array(items)) => Ok(Some(
                items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            )),
            Some(other) => Err(serde::de::Error::custom(format!(
                "expected text, got {other}"
            ))),
        }
    }

    /// Any scalar as text (clients send ids and numbers either way).
    pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(serde::de::Error::custom(format!(
                "expected text, got {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bracketed_keys_become_nested_json() {
        let v = pairs_to_value(pairs(&[
            ("scopes[]", "read"),
            ("scopes[]", "write"),
            ("fields_attributes[0][name]", "Camera"),
            ("fields_attributes[0][value]", "X-T4"),
            ("source[privacy]", "public"),
            ("note", "hi"),
        ]));
        assert_eq!(
            v,
            json!({
                "scopes": ["read", "write"],
                "fields_attributes": {"0": {"name": "Camera", "value": "X-T4"}},
                "source": {"privacy": "public"},
                "note": "hi"
            })
        );
    }
}
