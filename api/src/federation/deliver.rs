//! Activities local accounts send: built here, recorded in the log (`ActivityQueued` on the
//! `Outbound` aggregate), then delivered to the remote inbox, signed with the sender's key.
//!
//! Nothing is sent from here: recording `ActivityQueued` with its inboxes (one per host, the
//! shared inbox when the recipient has one) puts the activity in the `deliveries` read model,
//! and the delivery worker (`queue`) sends it, retries it and records the outcomes.

use cqrs_es::AggregateError;
use peerpx_aggregates::activity::QueuedActivity;
use peerpx_aggregates::OutboundCommand;
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::log::metadata;
use peerpx_projections::{federation as follows_model, now_millis};
use serde_json::{json, Value};
use url::Url;

use super::fetch::FetchError;
use super::ld::{actor_url, ACTIVITY_STREAMS};
use super::signatures::Signer;
use crate::auth::new_id;
use crate::{ApiError, ApiResult, AppState};

/// `Follow` of `target_uri` by `actor`.
pub fn follow(id: &str, actor: &str, target_uri: &str) -> Value {
    json!({
        "@context": ACTIVITY_STREAMS,
        "id": id,
        "type": "Follow",
        "actor": actor,
        "object": target_uri,
    })
}

/// `kind` (`Accept`, `Reject`, `Undo`) of an embedded activity, by `actor`.
pub fn respond(kind: &str, id: &str, actor: &str, object: Value) -> Value {
    let mut object = object;
    if let Some(o) = object.as_object_mut() {
        o.remove("@context");
    }
    json!({
        "@context": ACTIVITY_STREAMS,
        "id": id,
        "type": kind,
        "actor": actor,
        "object": object,
    })
}

/// Delivers one activity (its JSON text as recorded) to one inbox, signed: the one call the
/// delivery worker makes.
pub async fn deliver(
    state: &AppState,
    inbox_url: &str,
    body: &[u8],
    signer: &Signer,
) -> Result<u16, FetchError> {
    let url = Url::parse(inbox_url).map_err(|e| FetchError::Refused {
        reason: format!("{inbox_url}: {e}"),
    })?;
    state.fetcher.post_activity(&url, body, signer).await
}

/// The inboxes an activity goes to: a host's shared inbox once when any recipient there has
/// one (so one delivery per host), otherwise each recipient's own inbox; in the order of the
/// recipients, without repeats. `recipients` are `(inbox, shared_inbox)`.
pub fn inboxes(recipients: &[(String, Option<String>)]) -> Vec<String> {
    use peerpx_projections::deliveries::host_of;
    let shared: Vec<(String, String)> = recipients
        .iter()
        .filter_map(|(_, s)| s.as_ref().map(|s| (host_of(s), s.clone())))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for (inbox, _) in recipients {
        let host = host_of(inbox);
        let url = shared
            .iter()
            .find(|(h, _)| *h == host)
            .map_or_else(|| inbox.clone(), |(_, s)| s.clone());
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// Records `activity` (sent by local `from` to remote `to`) in the log with its inbox; the
/// delivery worker sends it.
pub async fn send(
    state: &AppState,
    from: &AccountRow,
    to: &AccountRow,
    activity: Value,
) -> ApiResult<()> {
    let Some(remote) = &to.remote else {
        return Ok(());
    };
    let id = activity["id"].as_str().unwrap_or_default().to_string();
    let kind = activity["type"].as_str().unwrap_or_default().to_string();
    let queued = QueuedActivity {
        activity_id: id.clone(),
        account_id: from.id.clone(),
        kind,
        inboxes: inboxes(&[(remote.inbox_url.clone(), remote.shared_inbox_url.clone())]),
        raw: activity.to_string(),
        at: now_millis(),
    };
    let position = state
        .commands
        .outbound(
            &id,
            OutboundCommand::Queue(queued),
            metadata(Some(&from.id), "federation"),
        )
        .await
        .map_err(|e| match e {
            AggregateError::UserError(e) => ApiError::internal(e),
            other => ApiError::internal(other),
        })?;
    state.settle(position).await;
    Ok(())
}

/// Sends `Follow` from local `me` to remote `target`.
pub async fn send_follow(state: &AppState, me: &AccountRow, target: &AccountRow) -> ApiResult<()> {
    let Some(remote) = &target.remote else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let id = format!("{actor}#follows/{}", new_id());
    send(state, me, target, follow(&id, &actor, &remote.uri)).await
}

/// Sends `Undo{Follow}` from local `me` to remote `target` (the last Follow we sent).
pub async fn send_unfollow(
    state: &AppState,
    me: &AccountRow,
    target: &AccountRow,
) -> ApiResult<()> {
    let Some(remote) = &target.remote else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let follow_id = follows_model::follow_activity(&state.db, &actor, &remote.uri)
        .await?
        .unwrap_or_else(|| format!("{actor}#follows/unknown"));
    let object = follow(&follow_id, &actor, &remote.uri);
    let id = format!("{follow_id}/undo/{}", new_id());
    send(state, me, target, respond("Undo", &id, &actor, object)).await
}

/// Answers remote `follower`'s Follow of local `me` with `Accept` or `Reject`.
pub async fn send_answer(
    state: &AppState,
    kind: &str,
    me: &AccountRow,
    follower: &AccountRow,
) -> ApiResult<()> {
    let Some(remote) = &follower.remote else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let mut object = follow("", &remote.uri, &actor);
    match follows_model::follow_activity(&state.db, &remote.uri, &actor).await? {
        Some(follow_id) => object["id"] = json!(follow_id),
        None => {
            if let Some(o) = object.as_object_mut() {
                o.remove("id");
            }
        }
    }
    let id = format!("{actor}#{}/follows/{}", kind.to_lowercase() + "s", new_id());
    send(state, me, follower, respond(kind, &id, &actor, object)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_inbox_per_host_preferring_the_shared_one() {
        let r = |i: &str, s: Option<&str>| (i.to_string(), s.map(str::to_string));
        let got = inboxes(&[
            r("https://b.example/users/ben/inbox", None),
            r(
                "https://b.example/users/bo/inbox",
                Some("https://b.example/inbox"),
            ),
            r("https://c.example/users/cy/inbox", None),
            r("https://c.example/users/cat/inbox", None),
        ]);
        assert_eq!(
            got,
            vec![
                "https://b.example/inbox",
                "https://c.example/users/cy/inbox",
                "https://c.example/users/cat/inbox"
            ]
        );
    }

    #[test]
    fn answers_embed_the_follow_without_its_context() {
        let f = follow(
            "https://b/f/1",
            "https://b/users/ben",
            "https://a/users/ana",
        );
        assert_eq!(f["@context"], ACTIVITY_STREAMS);
        let accept = respond(
            "Accept",
            "https://a/users/ana#accepts/1",
            "https://a/users/ana",
            f,
        );
        assert_eq!(accept["type"], "Accept");
        assert_eq!(accept["object"]["id"], "https://b/f/1");
        assert_eq!(accept["object"]["actor"], "https://b/users/ben");
        assert!(accept["object"].get("@context").is_none());
    }
}
