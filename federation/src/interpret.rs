//! The inbox worker: does what received activities ask, after the inbox answered 202.
//!
//! The inbox appends each verified activity (`ActivityReceived`); the `inbox_queue` read model
//! lists the ones without an `ActivityInterpreted` yet, in log order. This worker takes them
//! one at a time, in that order (an `Update` never overtakes its `Create`), turns each into
//! commands on our own aggregates, then records the outcome. A crash before the outcome is
//! recorded interprets the activity again at the next start; every command it sends is
//! idempotent or refused harmlessly the second time.
//!
//! What is understood: Follow, Accept, Reject, Undo (Follow, Like, Announce), Create and
//! Update of notes (remote statuses: kept when someone here follows the author, is mentioned,
//! or is replied to), Update of the sender's own actor, Delete of a note or of the sender
//! itself, Like of our statuses, and Announce (a reblog by the sender) of a public or unlisted
//! status, ours or one from elsewhere (known here, or fetched when someone here follows the
//! sender), and Block of one of ours (the follows between the two end). Anything else is
//! recorded as ignored.

use std::collections::HashMap;
use std::time::Duration;

use cqrs_es::AggregateError;
use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::status::{Content, Mention, Origin, Post, ReplyTo};
use peerpx_aggregates::{
    EngagementCommand, EngagementError, InboundCommand, RelationshipCommand, RelationshipError,
    StatusCommand, Visibility,
};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::federation::{self as follows_model, Pending};
use peerpx_projections::log::metadata;
use peerpx_projections::{now_millis, relationships, statuses};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::deliver;
use crate::ld::actor_url;
use crate::notes::{self, id_of, RemoteNote};
use crate::resolve::{self, authority};
use crate::signatures::{Signer, ACCEPT_ACTIVITY};
use crate::{Error, Federation, Result};
use peerpx_projections::new_id;

/// Activities read per round.
const BATCH: i64 = 100;
/// Attempts at an activity whose interpretation fails for a reason of ours (a database error)
/// before its failure is recorded.
const ATTEMPTS: u32 = 5;

/// Starts the worker; it stops when `stop` turns true.
pub fn spawn(state: Federation, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut appended = state.commands.log().subscribe();
        let mut attempts: HashMap<i64, u32> = HashMap::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let head = *appended.borrow_and_update();
            // The queue is a read model: let it include what was just appended.
            state.projector.wait_for(head, Duration::from_secs(5)).await;
            if let Err(e) = round(&state, &mut attempts, &stop).await {
                tracing::warn!(error = %e, "inbox round failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = appended.changed() => {}
                _ = stop.changed() => {}
            }
        }
    })
}

async fn round(
    state: &Federation,
    attempts: &mut HashMap<i64, u32>,
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    let mut after = 0;
    loop {
        let pending = follows_model::pending(&state.db, after, BATCH).await?;
        let Some(last) = pending.last() else {
            return Ok(());
        };
        after = last.position;
        for p in pending {
            if *stop.borrow() {
                return Ok(());
            }
            let outcome = match interpret_one(state, &p).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    let n = attempts.entry(p.position).or_default();
                    *n += 1;
                    if *n < ATTEMPTS {
                        tracing::warn!(id = %p.activity_id, error = %e, attempt = *n,
                            "activity not interpreted yet; will retry");
                        // Later activities may depend on this one: keep the order.
                        return Ok(());
                    }
                    format!("failed: {e}")
                }
            };
            attempts.remove(&p.position);
            tracing::debug!(id = %p.activity_id, %outcome, "activity interpreted");
            let position = state
                .commands
                .inbound(
                    &p.activity_id,
                    InboundCommand::Interpret {
                        outcome,
                        at: now_millis(),
                    },
                    metadata(None, "inbox"),
                )
                .await
                .map_err(Error::internal)?;
            state.settle(position).await;
        }
    }
}

fn kind_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

fn host(uri: &str) -> Option<String> {
    Url::parse(uri).ok().as_ref().and_then(authority)
}

type Outcome = Result<String>;

fn applied() -> Outcome {
    Ok("applied".into())
}

fn ignored(why: impl std::fmt::Display) -> Outcome {
    Ok(format!("ignored: {why}"))
}

async fn interpret_one(state: &Federation, p: &Pending) -> Outcome {
    let Ok(activity) = serde_json::from_str::<Value>(&p.raw) else {
        return ignored("not JSON");
    };
    let Some(sender) = accounts::by_uri(&state.db, &p.actor_uri).await? else {
        return ignored("the sender is not known");
    };
    if sender.state != "active" {
        return ignored(format!("the sender's account is {}", sender.state));
    }
    let kind = kind_of(&activity).unwrap_or_default().to_string();
    interpret(state, &sender, &kind, &activity).await
}

/// Does what `activity` (of type `kind`, verified as sent by `sender`) asks.
pub async fn interpret(
    state: &Federation,
    sender: &AccountRow,
    kind: &str,
    activity: &Value,
) -> Outcome {
    let object = activity.get("object").cloned().unwrap_or(Value::Null);
    match kind {
        "Follow" => {
            let target = id_of(&object).unwrap_or_default();
            match local_actor(state, target).await? {
                Some(local) => follow(state, sender, &local).await,
                None => ignored("the followed account is not one of ours"),
            }
        }
        "Accept" | "Reject" => {
            let Some(local) = followed_by_local(state, sender, &object).await? else {
                return ignored("no follow of ours matches");
            };
            let at = now_millis();
            let command = if kind == "Accept" {
                RelationshipCommand::Authorize { at }
            } else {
                RelationshipCommand::Sever { at }
            };
            run(state, sender, &local.id, &sender.id, command).await
        }
        "Undo" => undo(state, sender, activity, &object).await,
        "Create" => create(state, sender, activity, &object).await,
        "Update" => update(state, sender, activity, &object).await,
        "Delete" => delete(state, sender, &object).await,
        "Like" => like(state, sender, &object, true).await,
        "Announce" => announce(state, sender, activity, &object).await,
        "Block" => blocked_by(state, sender, &object).await,
        other => ignored(format!("{other:?} activities are not understood")),
    }
}

/// The local account an actor URL of ours names.
async fn local_actor(state: &Federation, uri: &str) -> Result<Option<AccountRow>> {
    let prefix = actor_url(&state.config, "");
    let Some(name) = uri
        .strip_prefix(prefix.as_str())
        .filter(|n| !n.is_empty())
        .filter(|n| !n.contains('/'))
    else {
        return Ok(None);
    };
    Ok(accounts::by_username(&state.db, name)
        .await?
        .filter(|a| a.state == "active"))
}

/// The local account whose Follow of `sender` the `Accept`/`Reject` object names.
async fn followed_by_local(
    state: &Federation,
    sender: &AccountRow,
    object: &Value,
) -> Result<Option<AccountRow>> {
    let pair = match object {
        Value::String(id) => follows_model::follow_by_id(&state.db, id).await?,
        Value::Object(_) => {
            let actor = object.get("actor").and_then(id_of);
            let target = object.get("object").and_then(id_of);
            match (actor, target) {
                (Some(a), Some(t)) => Some((a.to_string(), t.to_string())),
                // Only an id, embedded: look it up.
                _ => match object.get("id").and_then(Value::as_str) {
                    Some(id) => follows_model::follow_by_id(&state.db, id).await?,
                    None => None,
                },
            }
        }
        _ => None,
    };
    let Some((follower, followee)) = pair else {
        return Ok(None);
    };
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if followee != sender_uri {
        return Ok(None);
    }
    local_actor(state, &follower).await
}

/// A remote Follow of a local account: a request when the account is locked, refused when it
/// blocks the follower, otherwise answered with Accept.
async fn follow(state: &Federation, sender: &AccountRow, local: &AccountRow) -> Outcome {
    if relationships::is_blocking(&state.db, &local.id, &sender.id).await? {
        deliver::send_answer(state, "Reject", local, sender, &new_id()).await?;
        return ignored("the followed account blocks the sender");
    }
    // A Follow repeated while already followed: its Accept may have been lost, so it goes
    // again. A new follow's Accept goes from the log (`outbox`, on `Followed`).
    let already = relationships::is_following(&state.db, &sender.id, &local.id).await?;
    let command = RelationshipCommand::Follow {
        account_id: sender.id.clone(),
        target_id: local.id.clone(),
        locked: local.locked,
        at: now_millis(),
    };
    let outcome = run(state, sender, &sender.id, &local.id, command).await?;
    if already {
        deliver::send_answer(state, "Accept", local, sender, &new_id()).await?;
    }
    Ok(outcome)
}

async fn run(
    state: &Federation,
    sender: &AccountRow,
    account_id: &str,
    target_id: &str,
    command: RelationshipCommand,
) -> Outcome {
    let mut attempts = 0;
    loop {
        let result = state
            .commands
            .relationship(
                account_id,
                target_id,
                command.clone(),
                metadata(Some(&sender.id), "inbox"),
            )
            .await;
        match result {
            Ok(position) => {
                state.settle(position).await;
                return applied();
            }
            Err(AggregateError::AggregateConflict) if attempts < 3 => attempts += 1,
            // Nothing to accept, reject or undo: the activity changes nothing.
            Err(AggregateError::UserError(
                e @ (RelationshipError::NoRequest
                | RelationshipError::Blocking
                | RelationshipError::SelfTarget),
            )) => return ignored(e),
            Err(e) => return Err(Error::internal(e)),
        }
    }
}

async fn undo(
    state: &Federation,
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Outcome {
    let inner = match object {
        Value::Object(_) => kind_of(object),
        Value::String(id) => follows_model::follow_by_id(&state.db, id)
            .await?
            .map(|_| "Follow"),
        _ => None,
    };
    match inner {
        Some("Follow") => {
            let target = match object {
                Value::String(id) => follows_model::follow_by_id(&state.db, id)
                    .await?
                    .filter(|(follower, _)| follower == activity["actor"].as_str().unwrap_or(""))
                    .map(|(_, followee)| followee),
                other => other.get("object").and_then(id_of).map(str::to_string),
            };
            let Some(local) = local_actor(state, &target.unwrap_or_default()).await? else {
                return ignored("the unfollowed account is not one of ours");
            };
            let command = RelationshipCommand::Unfollow { at: now_millis() };
            run(state, sender, &sender.id, &local.id, command).await
        }
        Some("Like") => {
            let target = object.get("object").cloned().unwrap_or(Value::Null);
            like(state, sender, &target, false).await
        }
        Some("Announce") => unannounce(state, sender, object).await,
        // A block by another server's account ended follows; nothing comes back on its undoing.
        Some("Block") => ignored("blocks by accounts elsewhere are not kept here"),
        Some(other) => ignored(format!("undoing {other:?} is not understood")),
        None => ignored("the undone activity is not known"),
    }
}

/// A like (or its undoing) of one of our statuses by `sender`.
async fn like(state: &Federation, sender: &AccountRow, object: &Value, on: bool) -> Outcome {
    let uri = id_of(object).unwrap_or_default();
    let base = state.config.base_url();
    let Some(status) = statuses::by_uri(&state.db, &base, uri).await? else {
        return ignored("the liked status is not known here");
    };
    // What the sender may not see, it cannot like.
    if statuses::visible_by_id(&state.db, Some(&sender.id), status.id)
        .await?
        .is_none()
    {
        return ignored("the liked status is not visible to the sender");
    }
    let at = now_millis();
    let command = if on {
        EngagementCommand::Favourite {
            target: Target {
                account_id: sender.id.clone(),
                status_id: status.id.to_string(),
                status_account_id: status.account_id.clone(),
            },
            at,
        }
    } else {
        EngagementCommand::Unfavourite { at }
    };
    let position = state
        .commands
        .engagement(
            &sender.id,
            &status.id.to_string(),
            command,
            metadata(Some(&sender.id), "inbox"),
        )
        .await
        .map_err(Error::internal)?;
    state.settle(position).await;
    applied()
}

/// The note an activity carries: embedded, when its id is on the sender's own host (the
/// signature vouches for it), otherwise fetched from its origin.
async fn note_of(state: &Federation, sender: &AccountRow, object: &Value) -> Result<Option<Value>> {
    let sender_host = sender.remote.as_ref().and_then(|r| host(&r.uri));
    let Some(id) = id_of(object) else {
        return Ok(None);
    };
    if object.is_object() && host(id).is_some() && host(id) == sender_host {
        return Ok(Some(object.clone()));
    }
    match crate::domain_blocks::get_json(state, id, ACCEPT_ACTIVITY, None).await {
        Ok(fetched) => {
            let claimed = fetched.json.get("id").and_then(Value::as_str).unwrap_or("");
            if host(claimed).is_none() || host(claimed) != authority(&fetched.url) {
                return Ok(None);
            }
            Ok(Some(fetched.json))
        }
        Err(e) => {
            tracing::info!(%id, error = %e, "could not fetch a remote object");
            Ok(None)
        }
    }
}

/// Mentions of our accounts in a remote note.
async fn local_mentions(state: &Federation, note: &RemoteNote) -> Result<Vec<Mention>> {
    let mut out = Vec::new();
    for href in &note.mentions {
        if let Some(local) = local_actor(state, href).await? {
            out.push(Mention {
                account_id: local.id,
                username: local.username,
            });
        }
    }
    Ok(out)
}

fn content_of(note: &RemoteNote, mentions: Vec<Mention>) -> Content {
    Content {
        text: note.text.clone(),
        html: note.html.clone(),
        spoiler_text: note.spoiler_text.clone(),
        sensitive: note.sensitive,
        language: note.language.clone(),
        tags: note.tags.clone(),
        mentions,
        media: Vec::new(),
        title: note.title.clone(),
        licence: note
            .licence
            .clone()
            .unwrap_or_else(|| peerpx_aggregates::status::DEFAULT_LICENCE.to_string()),
        allow_download: false,
        remote_media: note.media.clone(),
    }
}

fn read(sender: &AccountRow, activity: &Value, object: &Value) -> Result<RemoteNote, String> {
    let followers = sender
        .remote
        .as_ref()
        .and_then(|r| r.followers_url.as_deref());
    let note = notes::read_note(object, Some(activity), followers)?;
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if note.attributed_to != sender_uri {
        return Err(format!(
            "the note is by {}, not by its sender {sender_uri}",
            note.attributed_to
        ));
    }
    Ok(note)
}

async fn create(
    state: &Federation,
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Outcome {
    let Some(object) = note_of(state, sender, object).await? else {
        return ignored("the object could not be read");
    };
    let note = match read(sender, activity, &object) {
        Ok(n) => n,
        Err(why) => return ignored(why),
    };
    let base = state.config.base_url();
    if statuses::by_uri(&state.db, &base, &note.uri)
        .await?
        .is_some()
    {
        return ignored("the status is already here");
    }
    let parent = match &note.in_reply_to {
        Some(uri) => statuses::by_uri(&state.db, &base, uri).await?,
        None => None,
    };
    let mentions = local_mentions(state, &note).await?;
    let wanted = !mentions.is_empty()
        || parent.is_some()
        || relationships::has_local_follower(&state.db, &sender.id).await?;
    if !wanted {
        return ignored("nobody here follows the author, is mentioned or is replied to");
    }
    post_note(state, sender, &note, parent, mentions).await
}

/// Records `note`, read as `sender`'s (see [`read`]), as a new remote status replying to
/// `parent`: what a wanted `Create` does, and what search does with a note it resolved by URL.
async fn post_note(
    state: &Federation,
    sender: &AccountRow,
    note: &RemoteNote,
    parent: Option<statuses::StatusRow>,
    mentions: Vec<Mention>,
) -> Outcome {
    // The inbox worker and a search resolving the same URL may both get here at once: one at a
    // time, and the second finds the first one's status. (One lock for the whole process: these
    // are short, and several nodes in one test process only wait a little for each other.)
    static RECORDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = RECORDING.lock().await;
    let base = state.config.base_url();
    if statuses::by_uri(&state.db, &base, &note.uri)
        .await?
        .is_some()
    {
        return ignored("the status is already here");
    }
    let id = new_id();
    let at = now_millis();
    let post = Post {
        id: id.clone(),
        account_id: sender.id.clone(),
        visibility: note.visibility,
        in_reply_to: parent.map(|p| ReplyTo {
            status_id: p.id.to_string(),
            account_id: p.account_id,
        }),
        content: content_of(note, mentions),
        // Shown in the order it was written, never in the future.
        at: note.published.map_or(at, |p| p.min(at)),
        remote: Some(Origin {
            uri: note.uri.clone(),
            url: note.url.clone(),
        }),
    };
    on_status(state, sender, &id, StatusCommand::Post(post)).await
}

/// Runs a command on a status for what `sender` sent; what the status refuses (a repeat, an
/// edit or delete of what is gone) changes nothing and is recorded as ignored.
async fn on_status(
    state: &Federation,
    sender: &AccountRow,
    status_id: &str,
    command: StatusCommand,
) -> Outcome {
    match state
        .commands
        .status(status_id, command, metadata(Some(&sender.id), "inbox"))
        .await
    {
        Ok(position) => {
            state.settle(position).await;
            applied()
        }
        Err(AggregateError::UserError(e)) => ignored(e),
        Err(e) => Err(Error::internal(e)),
    }
}

async fn update(
    state: &Federation,
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Outcome {
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if id_of(object) == Some(sender_uri) {
        // The sender's own profile, embedded: the signature vouches for it.
        let Some(from) = Url::parse(sender_uri).ok() else {
            return ignored("the sender's id is not a URL");
        };
        return match resolve::profile_of(object, &from) {
            Ok(profile) => {
                resolve::record(state, profile).await?;
                applied()
            }
            Err(e) => ignored(e),
        };
    }
    let Some(object) = note_of(state, sender, object).await? else {
        return ignored("the object could not be read");
    };
    let note = match read(sender, activity, &object) {
        Ok(n) => n,
        Err(why) => return ignored(why),
    };
    let base = state.config.base_url();
    let Some(existing) = statuses::by_uri(&state.db, &base, &note.uri).await? else {
        return ignored("the updated status is not here");
    };
    if existing.account_id != sender.id || existing.uri.is_none() {
        return ignored("the status is not the sender's");
    }
    let mentions = local_mentions(state, &note).await?;
    let command = StatusCommand::Edit {
        account_id: sender.id.clone(),
        content: content_of(&note, mentions),
        at: note.updated.unwrap_or_else(now_millis),
    };
    on_status(state, sender, &existing.id.to_string(), command).await
}

async fn delete(state: &Federation, sender: &AccountRow, object: &Value) -> Outcome {
    let uri = id_of(object).unwrap_or_default();
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if uri == sender_uri {
        return crate::departed::erase(state, sender).await;
    }
    let base = state.config.base_url();
    let Some(existing) = statuses::by_uri(&state.db, &base, uri).await? else {
        return ignored("the deleted status is not here");
    };
    if existing.account_id != sender.id || existing.uri.is_none() {
        return ignored("the status is not the sender's");
    }
    let command = StatusCommand::Delete {
        account_id: sender.id.clone(),
        as_moderator: false,
        at: now_millis(),
    };
    on_status(state, sender, &existing.id.to_string(), command).await
}

/// `Announce` of a status by `sender`: a reblog of it by the sender. The status is ours or one
/// we have; an unknown one is fetched only when someone here follows the sender (nobody else
/// would see the reblog).
async fn announce(
    state: &Federation,
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Outcome {
    let Some(announce_id) = activity.get("id").and_then(Value::as_str) else {
        return ignored("the Announce has no id");
    };
    let Some(uri) = id_of(object) else {
        return ignored("the Announce names no object");
    };
    let base = state.config.base_url();
    let followed = relationships::has_local_follower(&state.db, &sender.id).await?;
    let status = match statuses::by_uri(&state.db, &base, uri).await? {
        Some(s) => s,
        None if followed && !uri.starts_with(&format!("{base}/")) => {
            match fetch_status(state, sender, object).await? {
                Ok(s) => s,
                Err(why) => return ignored(why),
            }
        }
        None => return ignored("the announced status is not known here"),
    };
    if status.reblog_of_id.is_some() {
        return ignored("the announced status is itself a reblog");
    }
    if status.uri.is_some() && !followed {
        return ignored("nobody here follows the sender of a reblog of another node's status");
    }
    // What the sender may not see, it cannot reblog.
    if statuses::visible_by_id(&state.db, Some(&sender.id), status.id)
        .await?
        .is_none()
    {
        return ignored("the announced status is not visible to the sender");
    }
    let followers = sender
        .remote
        .as_ref()
        .and_then(|r| r.followers_url.as_deref());
    let visibility = match notes::visibility(activity, None, followers) {
        Visibility::Direct => Visibility::Private,
        v => v,
    };
    let command = EngagementCommand::Reblog {
        target: Target {
            account_id: sender.id.clone(),
            status_id: status.id.to_string(),
            status_account_id: status.account_id.clone(),
        },
        original: status.visibility.parse().unwrap_or(Visibility::Direct),
        reblog: Reblog {
            id: new_id(),
            visibility,
            uri: Some(announce_id.to_string()),
        },
        at: now_millis(),
    };
    on_engagement(state, sender, &status.id.to_string(), command).await
}

/// `Undo{Announce}`: the sender's reblog, found by the Announce's id or its object, goes.
async fn unannounce(state: &Federation, sender: &AccountRow, object: &Value) -> Outcome {
    let base = state.config.base_url();
    let mut original = None;
    if let Some(id) = id_of(object) {
        if let Some(reblog) = statuses::by_uri(&state.db, &base, id).await? {
            if reblog.account_id == sender.id {
                original = reblog.reblog_of_id;
            }
        }
    }
    if original.is_none() {
        if let Some(target) = object.get("object").and_then(id_of) {
            original = statuses::by_uri(&state.db, &base, target)
                .await?
                .filter(|s| s.reblog_of_id.is_none())
                .map(|s| s.id);
        }
    }
    let Some(original) = original else {
        return ignored("the undone Announce is not known here");
    };
    let command = EngagementCommand::Unreblog { at: now_millis() };
    on_engagement(state, sender, &original.to_string(), command).await
}

/// Runs an engagement command of `sender`'s on a status; a refusal is recorded as ignored.
async fn on_engagement(
    state: &Federation,
    sender: &AccountRow,
    status_id: &str,
    command: EngagementCommand,
) -> Outcome {
    let outcome = state
        .commands
        .engagement_retrying(
            &sender.id,
            status_id,
            command,
            metadata(Some(&sender.id), "inbox"),
        )
        .await;
    match outcome {
        Ok(0) => ignored("nothing changed (already done)"),
        Ok(position) => {
            state.settle(position).await;
            applied()
        }
        Err(AggregateError::UserError(e @ EngagementError::NotReblogable(_))) => ignored(e),
        Err(e) => Err(Error::internal(e)),
    }
}

/// Fetches a remote status an Announce names, with its author, and keeps it (as a `Create`
/// would); what cannot be read is the reason it is not kept.
async fn fetch_status(
    state: &Federation,
    sender: &AccountRow,
    object: &Value,
) -> Result<Result<statuses::StatusRow, String>> {
    // Only the note's own node vouches for it: fetch it from there, even when embedded.
    let Some(uri) = id_of(object) else {
        return Ok(Err("the Announce names no object".into()));
    };
    let by_id = Value::String(uri.to_string());
    let Some(fetched) = note_of(state, sender, &by_id).await? else {
        return Ok(Err("the announced status could not be fetched".into()));
    };
    if id_of(&fetched) != Some(uri) {
        return Ok(Err("the fetched status has another id".into()));
    }
    keep_fetched_note(state, &fetched, None, true).await
}

/// Keeps a note fetched from the host its id names (the caller checked that): its author, on
/// that same host, is resolved first (signed with `signer`), then the note is recorded as a
/// received `Create` records it. What an Announce or a search resolved ends here. Returns the
/// status, new or already here, or why the note is not kept (`public_only`: one that is neither
/// public nor unlisted).
pub async fn keep_fetched_note(
    state: &Federation,
    json: &Value,
    signer: Option<&Signer>,
    public_only: bool,
) -> Result<Result<statuses::StatusRow, String>> {
    let note = match notes::read_note(json, None, None) {
        Ok(n) => n,
        Err(why) => return Ok(Err(why)),
    };
    if public_only && !matches!(note.visibility, Visibility::Public | Visibility::Unlisted) {
        return Ok(Err("only public and unlisted statuses are reblogged".into()));
    }
    let base = state.config.base_url();
    if let Some(known) = statuses::by_uri(&state.db, &base, &note.uri).await? {
        return Ok(Ok(known));
    }
    // The note's host does not vouch for an author elsewhere.
    if host(&note.attributed_to) != host(&note.uri) {
        return Ok(Err(format!(
            "the note {} is by an account of another host ({})",
            note.uri, note.attributed_to
        )));
    }
    let author = match resolve::resolve_uri(state, &note.attributed_to, signer, false).await? {
        Ok(a) if a.remote.is_some() && a.state == "active" => a,
        Ok(_) => {
            return Ok(Err(
                "the note's author is not an active remote account".into()
            ))
        }
        Err(e) => return Ok(Err(format!("the note's author: {e}"))),
    };
    // Read again as the author's, now that its followers collection is known.
    let note = match read(&author, &Value::Null, json) {
        Ok(n) => n,
        Err(why) => return Ok(Err(why)),
    };
    let parent = match &note.in_reply_to {
        Some(uri) => statuses::by_uri(&state.db, &base, uri).await?,
        None => None,
    };
    let mentions = local_mentions(state, &note).await?;
    let outcome = post_note(state, &author, &note, parent, mentions).await?;
    Ok(statuses::by_uri(&state.db, &base, &note.uri)
        .await?
        .ok_or(outcome))
}

/// `Block` of a local account by `sender`: the follows between them end, both ways (nothing is
/// sent back; the sender's server already dropped them on its side).
async fn blocked_by(state: &Federation, sender: &AccountRow, object: &Value) -> Outcome {
    let Some(local) = local_actor(state, id_of(object).unwrap_or_default()).await? else {
        return ignored("the blocked account is not one of ours");
    };
    let at = now_millis();
    run(
        state,
        sender,
        &sender.id,
        &local.id,
        RelationshipCommand::Unfollow { at },
    )
    .await?;
    run(
        state,
        sender,
        &local.id,
        &sender.id,
        RelationshipCommand::Sever { at },
    )
    .await
}
