//! Authorized-fetch mode (`--authorized-fetch`): ActivityPub documents (actors, objects,
//! collections) are served only to requests with a valid HTTP signature from a domain the node
//! does not suspend; others get 401 with the reason (403 when the domain is blocked).
//!
//! One middleware over the whole router decides which requests that concerns, by path and
//! `Accept`, so the rule holds for every ActivityPub route, present and future:
//! - everything under `/users/` except what is also a page for people (the actor at
//!   `/users/{name}` and a status at `/users/{name}/statuses/{id}`), which needs a signature only
//!   when asked for as ActivityPub JSON; `/@{name}` likewise;
//! - never the instance actor (`/actor`, see `instance_actor`), WebFinger, host-meta, NodeInfo,
//!   the JSON-LD namespace, the inboxes (POSTs, verified there), the web app or the REST API.
//!
//! The signer's key is looked up as the inbox looks it up: the read model first, else the key's
//! actor is fetched (signed by the instance actor) and, once the signature holds, recorded, so
//! the next request from the same peer costs no fetch.

use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use peerpx_aggregates::RemoteProfile;
use peerpx_projections::accounts;
use peerpx_projections::deliveries::host_of;

use crate::domain_blocks::{reason, signature_key_id, suspending};
use crate::ld::wants_activity_json;
use crate::resolve;
use crate::signatures::{self, ResolvedKey};
use crate::{Error, Federation, Result};

/// Whether a request is for an ActivityPub document that authorized fetch protects.
pub fn protected(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        // Pages for people at the same URLs: protected only as ActivityPub.
        ["users", _] | ["users", _, "statuses", _] => wants_activity_json(headers),
        [handle] | [handle, _] if handle.starts_with('@') => wants_activity_json(headers),
        // Collections, activities and anything else of an actor: JSON only.
        ["users", _, ..] => true,
        _ => false,
    }
}

/// The middleware; a no-op unless the node runs with `--authorized-fetch`.
pub async fn authorized_fetch(
    State(state): State<Federation>,
    request: Request,
    next: Next,
) -> Response {
    if !state.config.authorized_fetch
        || !protected(request.method(), request.uri().path(), request.headers())
    {
        return next.run(request).await;
    }
    // The body is not `Sync`: only the head is looked at while awaiting.
    let (parts, body) = request.into_parts();
    match check(&state, &parts).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => {
            tracing::info!(path = %parts.uri.path(), reason = %e, "authorized fetch refused a request");
            e.into_response()
        }
    }
}

/// Keys of signers: the read model first, else fetched and kept until the signature holds.
struct FetchKeys<'a> {
    state: &'a Federation,
    fetched: Mutex<Option<RemoteProfile>>,
}

impl FetchKeys<'_> {
    async fn resolve(&self, key_id: String, refresh: bool) -> Result<ResolvedKey, String> {
        if !refresh {
            let known = accounts::by_key_id(&self.state.db, &key_id)
                .await
                .map_err(|e| format!("key lookup failed: {e}"))?;
            if let Some(a) = known {
                if let (Some(pem), Some(r)) = (a.public_key_pem, a.remote) {
                    return Ok(ResolvedKey {
                        public_key_pem: pem,
                        owner: r.uri,
                        cached: true,
                    });
                }
            }
        }
        // Signed with the instance actor, whose own document is served unsigned: no loop.
        let profile = resolve::fetch_actor(self.state, &key_id, None)
            .await
            .map_err(|e| e.to_string())?;
        if profile.public_key_id != key_id {
            return Err(format!(
                "{key_id} is not the key of {} (its key is {})",
                profile.uri, profile.public_key_id
            ));
        }
        let key = ResolvedKey {
            public_key_pem: profile.public_key_pem.clone(),
            owner: profile.uri.clone(),
            cached: false,
        };
        if let Ok(mut slot) = self.fetched.lock() {
            *slot = Some(profile);
        }
        Ok(key)
    }
}

async fn refuse_blocked(state: &Federation, url: &str) -> Result<()> {
    match suspending(state, url).await? {
        Some(block) => Err(Error::Forbidden(reason(&host_of(url), &block))),
        None => Ok(()),
    }
}

/// Verifies the request's signature; the signer's domain must not be suspended.
async fn check(state: &Federation, request: &Parts) -> Result<()> {
    let headers = &request.headers;
    let Some(key_id) = signature_key_id(headers) else {
        return Err(Error::Unauthorized(
            "Request not signed: this node runs in authorized-fetch mode and serves ActivityPub \
             documents only to requests with an HTTP signature"
                .into(),
        ));
    };
    // Before any key fetch: a blocked domain is not even asked for its key.
    refuse_blocked(state, &key_id).await?;
    let path_and_query = request.uri.path_and_query().map_or_else(
        || request.uri.path().to_string(),
        |p| p.as_str().to_string(),
    );
    let keys = FetchKeys {
        state,
        fetched: Mutex::new(None),
    };
    let resolver = |key_id: String, refresh: bool| {
        let keys = &keys;
        async move { keys.resolve(key_id, refresh).await }
    };
    let verified =
        signatures::verify(&request.method, &path_and_query, headers, b"", &resolver).await?;
    refuse_blocked(state, &verified.owner).await?;
    // The signer's actor was fetched to verify it: keep it, so its next request costs no fetch.
    let fetched = keys.fetched.lock().ok().and_then(|mut f| f.take());
    if let Some(profile) = fetched {
        resolve::record(state, profile).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header::ACCEPT, HeaderValue};

    #[test]
    fn documents_are_protected_pages_are_not() {
        let ap = {
            let mut h = HeaderMap::new();
            h.insert(
                ACCEPT,
                HeaderValue::from_static("application/activity+json"),
            );
            h
        };
        let html = HeaderMap::new();
        let get = Method::GET;
        assert!(protected(&get, "/users/ana", &ap));
        assert!(!protected(&get, "/users/ana", &html));
        assert!(protected(&get, "/users/ana/statuses/1", &ap));
        assert!(!protected(&get, "/users/ana/statuses/1", &html));
        assert!(protected(&get, "/users/ana/outbox", &html));
        assert!(protected(&get, "/users/ana/followers", &ap));
        assert!(protected(&get, "/users/ana/statuses/1/activity", &html));
        assert!(protected(&Method::HEAD, "/@ana", &ap));
        assert!(!protected(&get, "/@ana", &html));
        assert!(!protected(&Method::POST, "/users/ana/inbox", &ap));
        for open in [
            "/actor",
            "/.well-known/webfinger",
            "/nodeinfo/2.1",
            "/ns",
            "/api/v1/instance",
            "/inbox",
            "/",
        ] {
            assert!(!protected(&get, open, &ap), "{open}");
        }
    }
}
