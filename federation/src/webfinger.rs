//! Discovery: WebFinger (RFC 7033) and host-meta (RFC 6415), by which a remote server turns
//! `@user@domain` into our actor URL.
//!
//! Besides `acct:user@domain` (also without `acct:` or with a leading `@`), the resource may be
//! the actor URL or the profile URL itself: Fedify resolves `acct:` only over https, so over
//! plain-http loopback it asks with the URL (see `shared/INTEROP.md`).

use axum::extract::{Query, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use peerpx_projections::accounts::AccountRow;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ld::{actor_url, profile_url, ACTIVITY_JSON};
use crate::local::active_account;
use crate::{Error, Federation, FederationConfig, Result};
use peerpx_aggregates::text::escape_html;

/// What a WebFinger `resource` names.
#[derive(Debug, PartialEq, Eq)]
pub enum Resource {
    /// A username on this node (not yet looked up).
    Local(String),
    /// Someone or something elsewhere, or a URL of ours that is no account.
    Elsewhere,
}

/// Reads a `resource` parameter; an error for one that is missing or names nothing.
pub fn parse_resource(config: &FederationConfig, resource: &str) -> Result<Resource> {
    let resource = resource.trim();
    if resource.is_empty() {
        return Err(Error::BadRequest("resource is required".into()));
    }
    let lower = resource.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return parse_url(config, resource);
    }
    let acct = if lower.starts_with("acct:") {
        &resource[5..]
    } else if !resource.split('@').next().unwrap_or_default().contains(':') {
        // `user@domain` without a scheme (the domain may carry a port).
        resource
    } else {
        return Err(Error::BadRequest(format!(
            "unsupported resource {resource:?}: use acct:user@domain or an actor URL"
        )));
    };
    let acct = acct.strip_prefix('@').unwrap_or(acct);
    match acct.split_once('@') {
        Some((user, host)) if !user.is_empty() && !host.is_empty() && !host.contains('@') => {
            Ok(if host.eq_ignore_ascii_case(&config.domain) {
                Resource::Local(user.to_string())
            } else {
                Resource::Elsewhere
            })
        }
        _ => Err(Error::BadRequest(format!(
            "malformed resource {resource:?}: expected acct:user@domain"
        ))),
    }
}

fn parse_url(config: &FederationConfig, resource: &str) -> Result<Resource> {
    let url = url::Url::parse(resource)
        .map_err(|e| Error::BadRequest(format!("malformed resource URL: {e}")))?;
    let ours = url::Url::parse(&config.base_url()).map_err(Error::internal)?;
    if url.origin() != ours.origin() {
        return Ok(Resource::Elsewhere);
    }
    let segments: Vec<&str> = url
        .path()
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .collect();
    Ok(match segments.as_slice() {
        ["users", user] if !user.is_empty() => Resource::Local((*user).to_string()),
        [handle] if handle.len() > 1 && handle.starts_with('@') => {
            Resource::Local(handle[1..].to_string())
        }
        _ => Resource::Elsewhere,
    })
}

/// The JRD of a local account.
pub fn jrd(config: &FederationConfig, a: &AccountRow) -> Value {
    let profile = profile_url(config, &a.username);
    let actor = actor_url(config, &a.username);
    let mut links = vec![
        json!({ "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile }),
        json!({ "rel": "self", "type": ACTIVITY_JSON, "href": actor }),
    ];
    if let Some(avatar) = &a.avatar {
        links.push(json!({
            "rel": "http://webfinger.net/rel/avatar",
            "type": avatar.content_type,
            "href": crate::ld::image_url(config, avatar),
        }));
    }
    json!({
        "subject": format!("acct:{}@{}", a.username, config.domain),
        "aliases": [profile, actor],
        "links": links,
    })
}

fn discovery_response(body: String, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Web clients on other origins look people up too (Mastodon allows it as well).
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// `GET /.well-known/webfinger?resource=…`
pub async fn webfinger(
    State(state): State<Federation>,
    Query(query): Query<WebfingerQuery>,
) -> Result<Response> {
    let resource = query.resource.unwrap_or_default();
    let Resource::Local(username) = parse_resource(&state.config, &resource)? else {
        return Err(Error::NotFound);
    };
    let account = active_account(&state, &username).await?;
    let body = jrd(&state.config, &account).to_string();
    Ok(discovery_response(
        body,
        "application/jrd+json; charset=utf-8",
    ))
}

fn template(config: &FederationConfig) -> String {
    format!(
        "{}/.well-known/webfinger?resource={{uri}}",
        config.base_url()
    )
}

/// `GET /.well-known/host-meta`: where WebFinger is, as XRD.
pub async fn host_meta(State(state): State<Federation>) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}\"/>\n</XRD>\n",
        escape_html(&template(&state.config))
    );
    discovery_response(body, "application/xrd+xml; charset=utf-8")
}

/// `GET /.well-known/host-meta.json`: the same as JSON (JRD).
pub async fn host_meta_json(State(state): State<Federation>) -> Response {
    let body = json!({ "links": [{ "rel": "lrdd", "template": template(&state.config) }] });
    discovery_response(body.to_string(), "application/jrd+json; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ld::test_config;
    use crate::local::fixtures::ana;

    fn local(name: &str) -> Resource {
        Resource::Local(name.into())
    }

    #[test]
    fn resources_name_local_accounts_by_acct_or_url() {
        let c = test_config();
        let parse = |r: &str| parse_resource(&c, r).expect(r);
        assert_eq!(parse("acct:ana@photos.example"), local("ana"));
        assert_eq!(parse("ACCT:Ana@Photos.Example"), local("Ana"));
        assert_eq!(parse("acct:@ana@photos.example"), local("ana"));
        assert_eq!(parse("ana@photos.example"), local("ana"));
        assert_eq!(parse("ana@elsewhere.example:8080"), Resource::Elsewhere);
        assert_eq!(parse("https://photos.example/users/ana"), local("ana"));
        assert_eq!(parse("https://photos.example/@ana"), local("ana"));
        assert_eq!(parse("acct:ana@elsewhere.example"), Resource::Elsewhere);
        assert_eq!(
            parse("https://elsewhere.example/users/ana"),
            Resource::Elsewhere
        );
        assert_eq!(
            parse("http://photos.example/users/ana"),
            Resource::Elsewhere
        );
        assert_eq!(
            parse("https://photos.example/users/ana/outbox"),
            Resource::Elsewhere
        );
        assert_eq!(parse("https://photos.example/@"), Resource::Elsewhere);
    }

    #[test]
    fn malformed_resources_are_bad_requests() {
        let c = test_config();
        for bad in [
            "",
            "  ",
            "acct:",
            "acct:ana",
            "acct:@photos.example",
            "acct:ana@",
            "acct:a@b@c",
            "mailto:ana@photos.example",
            "https://",
        ] {
            assert!(
                matches!(parse_resource(&c, bad), Err(Error::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_jrd_points_to_the_actor_and_the_profile_page() {
        let c = test_config();
        let v = jrd(&c, &ana());
        assert_eq!(v["subject"], "acct:Ana@photos.example");
        assert_eq!(
            v["aliases"],
            json!([
                "https://photos.example/@Ana",
                "https://photos.example/users/Ana"
            ])
        );
        let links = v["links"].as_array().expect("links");
        let self_link = links.iter().find(|l| l["rel"] == "self").expect("self");
        assert_eq!(self_link["type"], "application/activity+json");
        assert_eq!(self_link["href"], "https://photos.example/users/Ana");
        assert!(links.iter().any(
            |l| l["rel"] == "http://webfinger.net/rel/profile-page" && l["type"] == "text/html"
        ));
        assert!(links
            .iter()
            .any(|l| l["rel"] == "http://webfinger.net/rel/avatar"));
    }
}
