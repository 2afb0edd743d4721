//! JSON-LD plumbing shared by every ActivityPub document we serve: the ids of local things, the
//! `@context`, content negotiation and the `application/activity+json` response.
//!
//! Our extension terms (EXIF, licence, CIDs, title) live in our own namespace, `{base}/ns#`, whose
//! context document is served at `{base}/ns` so the namespace is dereferenceable. Documents carry
//! the same definitions inline, so a JSON-LD processor never has to fetch it (Fedify, for one,
//! refuses to fetch from private addresses by default).

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{Federation, FederationConfig};

pub const ACTIVITY_STREAMS: &str = "https://www.w3.org/ns/activitystreams";
pub const SECURITY: &str = "https://w3id.org/security/v1";
/// The special collection of everyone (`as:Public`).
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// `{base}/users/{username}`: the actor, and the account's `uri` in the Mastodon API.
pub fn actor_url(config: &FederationConfig, username: &str) -> String {
    format!("{}/users/{username}", config.base_url())
}

/// `{base}/@{username}`: the profile page for people.
pub fn profile_url(config: &FederationConfig, username: &str) -> String {
    format!("{}/@{username}", config.base_url())
}

/// `{base}/users/{username}/statuses/{id}`: the Note, and the status's `uri` in the Mastodon API.
pub fn status_url(config: &FederationConfig, username: &str, id: i64) -> String {
    format!("{}/statuses/{id}", actor_url(config, username))
}

/// `{base}/@{username}/{id}`: the status's page for people.
pub fn status_page_url(config: &FederationConfig, username: &str, id: i64) -> String {
    format!("{}/{id}", profile_url(config, username))
}

/// The namespace of our extension terms.
/// The public URL of a profile image (the blob store's `/system/media/…`).
pub fn image_url(
    config: &FederationConfig,
    image: &peerpx_aggregates::account::ImageRef,
) -> String {
    peerpx_storage::blobs::url(&config.base_url(), &image.hash, &image.content_type)
}

pub fn namespace(config: &FederationConfig) -> String {
    format!("{}/ns#", config.base_url())
}

/// Every term our documents use beyond ActivityStreams and the security vocabulary: Mastodon's
/// (so Mastodon, Pixelfed and GoToSocial read them as they write them), schema.org's, and ours.
pub fn terms(config: &FederationConfig) -> Value {
    json!({
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "blurhash": "toot:blurhash",
        "focalPoint": { "@container": "@list", "@id": "toot:focalPoint" },
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "license": { "@id": "schema:license", "@type": "@id" },
        "identifier": "schema:identifier",
        "peerpx": namespace(config),
        "title": "peerpx:title",
        "licence": "peerpx:licence",
        "exif": "peerpx:exif",
        "camera": "peerpx:camera",
        "lens": "peerpx:lens",
        "exposureTime": "peerpx:exposureTime",
        "fNumber": "peerpx:fNumber",
        "iso": "peerpx:iso",
        "focalLength": "peerpx:focalLength",
        "dateTaken": "peerpx:dateTaken",
        "location": "peerpx:location",
        "cid": "peerpx:cid",
        "original": "peerpx:original",
        "small": "peerpx:small",
        "large": "peerpx:large",
    })
}

/// The `@context` of every document we serve.
pub fn context(config: &FederationConfig) -> Value {
    json!([ACTIVITY_STREAMS, SECURITY, terms(config)])
}

/// `document` with our `@context` added.
pub fn with_context(config: &FederationConfig, mut document: Value) -> Value {
    if let Some(object) = document.as_object_mut() {
        object.insert("@context".into(), context(config));
    }
    document
}

/// `GET /ns`: the context document of our namespace.
pub async fn namespace_document(State(state): State<Federation>) -> Response {
    let body = json!({ "@context": terms(&state.config) });
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/ld+json"),
    );
    response
}

/// Whether the client asks for ActivityPub JSON (`application/activity+json`, or
/// `application/ld+json` with or without the ActivityStreams profile) rather than a page.
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            !refused && (media == ACTIVITY_JSON || media == "application/ld+json")
        })
}

/// An ActivityPub document, as `application/activity+json`; the same URL answers HTML to
/// browsers, hence `Vary: Accept`.
pub fn activity_response(document: Value) -> Response {
    let mut response = axum::Json(document).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ACTIVITY_JSON));
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    response
}

/// A node at `https://photos.example`, for the rendering tests.
#[cfg(test)]
pub(crate) fn test_config() -> FederationConfig {
    FederationConfig {
        domain: "photos.example".into(),
        protocol: "https".into(),
        allow_private_addresses: false,
        authorized_fetch: false,
        delivery: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn activity_json_is_told_apart_from_browsers() {
        for yes in [
            "application/activity+json",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            "application/activity+json, application/ld+json",
            "text/html;q=0.5, Application/Activity+JSON",
        ] {
            assert!(wants_activity_json(&accept(yes)), "{yes}");
        }
        for no in [
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "*/*",
            "application/json",
            "application/activity+json;q=0",
            "",
        ] {
            assert!(!wants_activity_json(&accept(no)), "{no}");
        }
        assert!(!wants_activity_json(&HeaderMap::new()));
    }

    #[test]
    fn every_extension_term_is_in_our_namespace_or_a_known_one() {
        let config = test_config();
        let terms = terms(&config);
        assert_eq!(terms["peerpx"], "https://photos.example/ns#");
        for (term, definition) in terms.as_object().expect("object") {
            let iri = definition
                .as_str()
                .or_else(|| definition["@id"].as_str())
                .expect("definition");
            let prefix = iri.split(':').next().unwrap_or_default();
            assert!(
                ["as", "toot", "schema", "peerpx", "http", "https"].contains(&prefix),
                "{term}: {iri}"
            );
        }
        let context = context(&config);
        assert_eq!(context[0], ACTIVITY_STREAMS);
        assert_eq!(context[1], SECURITY);
    }
}
