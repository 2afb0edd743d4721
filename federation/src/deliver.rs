//! Activities local accounts send: built here, recorded in the log (`ActivityQueued` on the
//! `Outbound` aggregate), then delivered to the remote inbox, signed with the sender's key.
//!
//! Nothing is sent from here: recording `ActivityQueued` with its inboxes (one per host, the
//! shared inbox when the recipient has one) puts the activity in the `deliveries` read model,
//! and the delivery worker (`queue`) sends it, retries it and records the outcomes.

use cqrs_es::AggregateError;
use peerpx_aggregates::activity::QueuedActivity;
use peerpx_aggregates::OutboundCommand;
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::log::metadata;
use peerpx_projections::statuses::StatusRow;
use peerpx_projections::{federation as follows_model, now_millis, relationships};
use serde_json::{json, Value};
use url::Url;

use crate::actors::person;
use crate::fetch::FetchError;
use crate::ld::{actor_url, status_url, with_context, ACTIVITY_STREAMS, PUBLIC};
use crate::objects;
use crate::signatures::Signer;
use crate::{Error, Federation, Result};

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
    state: &Federation,
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
    state: &Federation,
    from: &AccountRow,
    to: &AccountRow,
    activity: Value,
) -> Result<()> {
    let Some(remote) = &to.remote else {
        return Ok(());
    };
    let recipients = [(remote.inbox_url.clone(), remote.shared_inbox_url.clone())];
    queue(state, from, &recipients, activity).await
}

/// Records `activity`, sent by local `from`, for the inboxes of `recipients` (`(inbox, shared
/// inbox)`, one delivery per host); nothing when there is no one to send it to.
pub async fn queue(
    state: &Federation,
    from: &AccountRow,
    recipients: &[(String, Option<String>)],
    activity: Value,
) -> Result<()> {
    let inboxes = inboxes(recipients);
    if inboxes.is_empty() {
        return Ok(());
    }
    let id = activity["id"].as_str().unwrap_or_default().to_string();
    let kind = activity["type"].as_str().unwrap_or_default().to_string();
    let queued = QueuedActivity {
        activity_id: id.clone(),
        account_id: from.id.clone(),
        kind,
        inboxes,
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
            AggregateError::UserError(e) => Error::internal(e),
            other => Error::internal(other),
        })?;
    state.settle(position).await;
    Ok(())
}

/// Where a local status goes: its author's followers on other nodes (unless it is direct) and
/// the remote accounts it mentions (a reply mentions the author replied to).
pub async fn status_recipients(
    state: &Federation,
    author: &AccountRow,
    s: &StatusRow,
) -> Result<Vec<(String, Option<String>)>> {
    let mut out = if s.visibility == "direct" {
        Vec::new()
    } else {
        relationships::remote_follower_inboxes(&state.db, &author.id).await?
    };
    let mentioned: Vec<String> = s.mentions.iter().map(|m| m.account_id.clone()).collect();
    for a in accounts::by_ids(&state.db, &mentioned).await? {
        if let Some(r) = a.remote {
            out.push((r.inbox_url, r.shared_inbox_url));
        }
    }
    Ok(out)
}

/// Sends a local status to where it goes, as `Create` (just posted) or `Update` (edited).
pub async fn send_note(
    state: &Federation,
    author: &AccountRow,
    s: &StatusRow,
    kind: &str,
) -> Result<()> {
    if s.uri.is_some() || author.remote.is_some() {
        return Ok(());
    }
    let recipients = status_recipients(state, author, s).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let Some(note) = objects::notes(state, author, std::slice::from_ref(s))
        .await?
        .pop()
    else {
        return Ok(());
    };
    let mut activity = objects::create(&note);
    if kind == "Update" {
        let at = s.edited_at.unwrap_or(s.created_at);
        activity["id"] = json!(format!(
            "{}#updates/{at}",
            note["id"].as_str().unwrap_or("")
        ));
        activity["type"] = json!("Update");
        if let Some(updated) = note.get("updated") {
            activity["published"] = updated.clone();
        }
    }
    queue(
        state,
        author,
        &recipients,
        with_context(&state.config, activity),
    )
    .await
}

/// Sends `Delete` of local status `id` (to those its `Create` went to, see `outbox`).
pub async fn send_delete(
    state: &Federation,
    author: &AccountRow,
    id: i64,
    recipients: &[(String, Option<String>)],
) -> Result<()> {
    if author.remote.is_some() {
        return Ok(());
    }
    let actor = actor_url(&state.config, &author.username);
    let uri = status_url(&state.config, &author.username, id);
    let activity = json!({
        "@context": ACTIVITY_STREAMS,
        "id": format!("{uri}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "object": { "id": uri, "type": "Tombstone" },
    });
    queue(state, author, recipients, activity).await
}

/// Sends `Delete` of local account `account`'s actor (deleted by an admin) to `inboxes`.
pub async fn send_actor_delete(
    state: &Federation,
    account: &AccountRow,
    inboxes: &[String],
) -> Result<()> {
    if account.remote.is_some() {
        return Ok(());
    }
    let actor = actor_url(&state.config, &account.username);
    let activity = json!({
        "@context": ACTIVITY_STREAMS,
        "id": format!("{actor}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "object": actor,
    });
    let recipients: Vec<(String, Option<String>)> =
        inboxes.iter().map(|i| (i.clone(), None)).collect();
    queue(state, account, &recipients, activity).await
}

/// Sends `Like` of a remote status by local `me` to its author, or `Undo` of it; `position` is
/// the log position of the favourite or unfavourite, which names the activity.
pub async fn send_like(
    state: &Federation,
    me: &AccountRow,
    s: &StatusRow,
    on: bool,
    position: i64,
) -> Result<()> {
    let Some(uri) = &s.uri else {
        return Ok(());
    };
    let Some(author) = accounts::by_id(&state.db, &s.account_id).await? else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let like = json!({
        "@context": ACTIVITY_STREAMS,
        "id": format!("{actor}#likes/{}", s.id),
        "type": "Like",
        "actor": actor,
        "object": uri,
    });
    let activity = if on {
        let mut like = like;
        like["id"] = json!(format!("{actor}#likes/{}/{position}", s.id));
        like
    } else {
        respond(
            "Undo",
            &format!("{actor}#likes/{}/undo/{position}", s.id),
            &actor,
            like,
        )
    };
    send(state, me, &author, activity).await
}

/// Sends local `me`'s reblog of `original` as `Announce` (`on`) or `Undo{Announce}` to `me`'s
/// followers elsewhere and the original's remote author. Both ids derive from the reblog's, so
/// sending again queues nothing twice.
pub async fn send_announce(
    state: &Federation,
    me: &AccountRow,
    reblog: objects::Boost<'_>,
    original: &StatusRow,
    on: bool,
) -> Result<()> {
    if me.remote.is_some() {
        return Ok(());
    }
    let Some(author) = accounts::by_id(&state.db, &original.account_id).await? else {
        return Ok(());
    };
    let announce = objects::announce_by(state, me, reblog, original, &author);
    let mut recipients = relationships::remote_follower_inboxes(&state.db, &me.id).await?;
    if let Some(r) = author.remote {
        recipients.push((r.inbox_url, r.shared_inbox_url));
    }
    let activity = if on {
        announce
    } else {
        let actor = actor_url(&state.config, &me.username);
        let id = format!("{}/undo", announce["id"].as_str().unwrap_or_default());
        let mut undo = respond("Undo", &id, &actor, announce.clone());
        undo["to"] = announce["to"].clone();
        undo["cc"] = announce["cc"].clone();
        undo
    };
    queue(state, me, &recipients, activity).await
}

/// Sends `Update` of local `me`'s actor to the followers elsewhere; `tag` names the activity
/// (the log position of the change).
pub async fn send_profile(state: &Federation, me: &AccountRow, tag: &str) -> Result<()> {
    if me.remote.is_some() {
        return Ok(());
    }
    let recipients = relationships::remote_follower_inboxes(&state.db, &me.id).await?;
    let actor = actor_url(&state.config, &me.username);
    let activity = json!({
        "id": format!("{actor}#updates/{tag}"),
        "type": "Update",
        "actor": actor,
        "to": [PUBLIC],
        "object": person(&state.config, me),
    });
    queue(
        state,
        me,
        &recipients,
        with_context(&state.config, activity),
    )
    .await
}

/// Sends `Block` of remote `target` by local `me`, or `Undo` of it; `tag` names the activity.
pub async fn send_block(
    state: &Federation,
    me: &AccountRow,
    target: &AccountRow,
    on: bool,
    tag: &str,
) -> Result<()> {
    let Some(remote) = &target.remote else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let block = json!({
        "@context": ACTIVITY_STREAMS,
        "id": format!("{actor}#blocks/{tag}"),
        "type": "Block",
        "actor": actor,
        "object": remote.uri,
    });
    let activity = if on {
        block
    } else {
        // The Block undone is named by its actor and object (its id is not kept).
        let mut block = block;
        if let Some(b) = block.as_object_mut() {
            b.remove("id");
        }
        respond("Undo", &format!("{actor}#blocks/undo/{tag}"), &actor, block)
    };
    send(state, me, target, activity).await
}

/// Sends `Follow` from local `me` to remote `target`; `tag` names the activity.
pub async fn send_follow(
    state: &Federation,
    me: &AccountRow,
    target: &AccountRow,
    tag: &str,
) -> Result<()> {
    let Some(remote) = &target.remote else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let id = format!("{actor}#follows/{tag}");
    send(state, me, target, follow(&id, &actor, &remote.uri)).await
}

/// Sends `Undo{Follow}` from local `me` to remote `target` (the last Follow we sent); `tag`
/// names the activity.
pub async fn send_unfollow(
    state: &Federation,
    me: &AccountRow,
    target: &AccountRow,
    tag: &str,
) -> Result<()> {
    let Some(remote) = &target.remote else {
        return Ok(());
    };
    let actor = actor_url(&state.config, &me.username);
    let follow_id = follows_model::follow_activity(&state.db, &actor, &remote.uri)
        .await?
        .unwrap_or_else(|| format!("{actor}#follows/unknown"));
    let object = follow(&follow_id, &actor, &remote.uri);
    let id = format!("{follow_id}/undo/{tag}");
    send(state, me, target, respond("Undo", &id, &actor, object)).await
}

/// Answers remote `follower`'s Follow of local `me` with `Accept` or `Reject`; `tag` names the
/// activity.
pub async fn send_answer(
    state: &Federation,
    kind: &str,
    me: &AccountRow,
    follower: &AccountRow,
    tag: &str,
) -> Result<()> {
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
    let id = format!("{actor}#{}/follows/{tag}", kind.to_lowercase() + "s");
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
