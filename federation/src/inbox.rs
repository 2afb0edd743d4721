//! Inboxes: `POST /users/{username}/inbox` and the shared `POST /inbox`.
//!
//! An activity is taken only with a valid HTTP signature whose key belongs to the activity's
//! actor; anything else is a 401 with the reason, and nothing is appended. A verified activity is
//! appended as received (`Inbound`, keyed by its id: a redelivery appends nothing and is not
//! interpreted again) and answered 202 at once; the inbox worker (`interpret`) then does what
//! it asks. Unknown activities are kept and otherwise ignored.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use cqrs_es::AggregateError;
use peerpx_aggregates::activity::ReceivedActivity;
use peerpx_aggregates::{InboundCommand, RemoteProfile};
use peerpx_projections::accounts;
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde_json::Value;

use crate::local::active_account;
use crate::notes::id_of;
use crate::resolve::{self, signer_for};
use crate::signatures::{self, ResolvedKey, Signer};
use crate::{Error, Federation, Result};

/// Largest activity accepted.
pub const MAX_ACTIVITY_BYTES: usize = 1024 * 1024;
const MAX_ID_LEN: usize = 255;

/// `POST /users/{username}/inbox`
pub async fn user_inbox(
    State(state): State<Federation>,
    Path(username): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let owner = active_account(&state, &username).await?;
    let signer = signer_for(&state, &owner).ok();
    receive(&state, signer, &method, &uri, &headers, &body).await
}

/// `POST /inbox`
pub async fn shared_inbox(
    State(state): State<Federation>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    // Key fetches from the shared inbox go unsigned: no one local is addressed in particular.
    receive(&state, None, &method, &uri, &headers, &body).await
}

/// Finds signers' keys: the read model first, else the actor document, fetched but not recorded
/// until the signature holds (kept in `fetched`).
struct InboxKeys<'a> {
    state: &'a Federation,
    signer: Option<&'a Signer>,
    fetched: Mutex<Option<RemoteProfile>>,
}

impl InboxKeys<'_> {
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
        let profile = resolve::fetch_actor(self.state, &key_id, self.signer)
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

async fn receive(
    state: &Federation,
    signer: Option<Signer>,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<StatusCode> {
    crate::domain_blocks::refuse_blocked_sender(state, headers, body).await?;
    let path_and_query = uri
        .0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_string(), |p| p.as_str().to_string());
    let keys = InboxKeys {
        state,
        signer: signer.as_ref(),
        fetched: Mutex::new(None),
    };
    let resolver = |key_id: String, refresh: bool| {
        let keys = &keys;
        async move { keys.resolve(key_id, refresh).await }
    };
    let verified = signatures::verify(method, &path_and_query, headers, body, &resolver).await;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(code = e.code(), reason = %e, "inbox refused an activity");
            return Err(e.into());
        }
    };
    let activity: Value = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("the body is not JSON: {e}")))?;
    let text = |k: &str| activity.get(k).and_then(Value::as_str);
    let (Some(id), Some(kind)) = (text("id"), text("type")) else {
        return Err(Error::BadRequest(
            "an activity needs an id and a type".into(),
        ));
    };
    let actor = activity.get("actor").and_then(id_of).unwrap_or_default();
    if actor != verified.owner {
        return Err(Error::Unauthorized(format!(
            "the activity's actor {actor:?} is not the owner of the signing key {} ({})",
            verified.key_id, verified.owner
        )));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::BadRequest(format!(
            "activity ids longer than {MAX_ID_LEN} characters are not accepted"
        )));
    }
    // The signer's actor document was fetched to verify it: now it counts.
    let fetched = keys.fetched.lock().ok().and_then(|mut f| f.take());
    let sender = match fetched {
        Some(profile) => resolve::record(state, profile).await?,
        None => accounts::by_uri(&state.db, actor)
            .await?
            .ok_or_else(|| Error::internal(format!("{actor} verified but is not known")))?,
    };
    let received = ReceivedActivity {
        activity_id: id.to_string(),
        actor_uri: actor.to_string(),
        kind: kind.to_string(),
        object_kind: activity
            .get("object")
            .and_then(|o| o.get("type"))
            .and_then(Value::as_str)
            .map(str::to_string),
        raw: String::from_utf8_lossy(body).into_owned(),
        at: now_millis(),
    };
    let position = state
        .commands
        .inbound(
            id,
            InboundCommand::Receive(received),
            metadata(Some(&sender.id), "inbox"),
        )
        .await
        .map_err(|e| match e {
            AggregateError::UserError(e) => Error::BadRequest(e.to_string()),
            other => Error::internal(other),
        })?;
    if position == 0 {
        tracing::debug!(%id, "activity already received");
    }
    // The inbox worker (`interpret`) does what it asks; the sender need not wait for that.
    Ok(StatusCode::ACCEPTED)
}
