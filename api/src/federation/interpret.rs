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
//! itself, Like and Announce of our statuses. Anything else is recorded as ignored.

use std::collections::HashMap;
use std::time::Duration;

use cqrs_es::AggregateError;
use peerpx_aggregates::engagement::Target;
use peerpx_aggregates::status::{Content, Mention, Origin, Post, ReplyTo};
use peerpx_aggregates::{
    EngagementCommand, InboundCommand, RelationshipCommand, RelationshipError, StatusCommand,
};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::federation::{self as follows_model, Pending};
use peerpx_projections::log::metadata;
use peerpx_projections::{now_millis, relationships, statuses};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use super::deliver;
use super::ld::actor_url;
use super::notes::{self, id_of, RemoteNote};
use super::resolve::{self, authority};
use super::signatures::ACCEPT_ACTIVITY;
use crate::auth::new_id;
use crate::{ApiError, ApiResult, AppState};

/// Activities read per round.
const BATCH: i64 = 100;
/// Attempts at an activity whose interpretation fails for a reason of ours (a database error)
/// before its failure is recorded.
const ATTEMPTS: u32 = 5;

/// Starts the worker; it stops when `stop` turns true.
pub fn spawn(state: AppState, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
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
    state: &AppState,
    attempts: &mut HashMap<i64, u32>,
    stop: &watch::Receiver<bool>,
) -> ApiResult<()> {
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
                .map_err(ApiError::internal)?;
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

type Outcome = ApiResult<String>;

fn applied() -> Outcome {
    Ok("applied".into())
}

fn ignored(why: impl std::fmt::Display) -> Outcome {
    Ok(format!("ignored: {why}"))
}

async fn interpret_one(state: &AppState, p: &Pending) -> Outcome {
    let Ok(activity) = serde_json::from_str::<Value>(&p.raw) else {
        return ignored("not JSON");
    };
    let Some(sender) = accounts::by_uri(&state.db, &p.actor_uri).await? else {
        return ignored("the sender is not known");
    };
    if sender.state != "active" {
        return ignored("the sender is suspended");
    }
    let kind = kind_of(&activity).unwrap_or_default().to_string();
    interpret(state, &sender, &kind, &activity).await
}

/// Does what `activity` (of type `kind`, verified as sent by `sender`) asks.
pub async fn interpret(
    state: &AppState,
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
        // peerpx has no boosts yet: neither counted nor shown.
        "Announce" => ignored("boosts are not supported here yet"),
        other => ignored(format!("{other:?} activities are not understood")),
    }
}

/// The local account an actor URL of ours names.
async fn local_actor(state: &AppState, uri: &str) -> ApiResult<Option<AccountRow>> {
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
    state: &AppState,
    sender: &AccountRow,
    object: &Value,
) -> ApiResult<Option<AccountRow>> {
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
async fn follow(state: &AppState, sender: &AccountRow, local: &AccountRow) -> Outcome {
    if relationships::is_blocking(&state.db, &local.id, &sender.id).await? {
        deliver::send_answer(state, "Reject", local, sender).await?;
        return ignored("the followed account blocks the sender");
    }
    let command = RelationshipCommand::Follow {
        account_id: sender.id.clone(),
        target_id: local.id.clone(),
        locked: local.locked,
        at: now_millis(),
    };
    let outcome = run(state, sender, &sender.id, &local.id, command).await?;
    if relationships::is_following(&state.db, &sender.id, &local.id).await? {
        deliver::send_answer(state, "Accept", local, sender).await?;
    }
    Ok(outcome)
}

async fn run(
    state: &AppState,
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
            Err(e) => return Err(ApiError::internal(e)),
        }
    }
}

async fn undo(state: &AppState, sender: &AccountRow, activity: &Value, object: &Value) -> Outcome {
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
        Some("Announce") => ignored("boosts are not counted here"),
        Some(other) => ignored(format!("undoing {other:?} is not understood")),
        None => ignored("the undone activity is not known"),
    }
}

/// A like (or its undoing) of one of our statuses by `sender`.
async fn like(state: &AppState, sender: &AccountRow, object: &Value, on: bool) -> Outcome {
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
        .map_err(ApiError::internal)?;
    state.settle(position).await;
    applied()
}

/// The note an activity carries: embedded, when its id is on the sender's own host (the
/// signature vouches for it), otherwise fetched from its origin.
async fn note_of(
    state: &AppState,
    sender: &AccountRow,
    object: &Value,
) -> ApiResult<Option<Value>> {
    let sender_host = sender.remote.as_ref().and_then(|r| host(&r.uri));
    let Some(id) = id_of(object) else {
        return Ok(None);
    };
    if object.is_object() && host(id).is_some() && host(id) == sender_host {
        return Ok(Some(object.clone()));
    }
    match super::domain_blocks::get_json(state, id, ACCEPT_ACTIVITY, None).await {
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
async fn local_mentions(state: &AppState, note: &RemoteNote) -> ApiResult<Vec<Mention>> {
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
    state: &AppState,
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
        content: content_of(&note, mentions),
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
    state: &AppState,
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
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn update(
    state: &AppState,
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

async fn delete(state: &AppState, sender: &AccountRow, object: &Value) -> Outcome {
    let uri = id_of(object).unwrap_or_default();
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if uri == sender_uri {
        return ignored("deleted actors are kept until their statuses are deleted");
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
