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

use peerpx_aggregates::{InboundCommand, RelationshipCommand};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::federation::{self as follows_model, Pending};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

mod engagements;
mod follows;
mod remote_statuses;

use engagements::{announce, like};
use follows::{blocked_by, follow, run, undo};
pub use remote_statuses::keep_fetched_note;
use remote_statuses::{create, delete, update};

use crate::ld::actor_url;
use crate::notes::id_of;
use crate::resolve::authority;
use crate::{Error, Federation, Result};

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

pub(super) fn kind_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

pub(super) fn host(uri: &str) -> Option<String> {
    Url::parse(uri).ok().as_ref().and_then(authority)
}

pub(super) type Outcome = Result<String>;

pub(super) fn applied() -> Outcome {
    Ok("applied".into())
}

pub(super) fn ignored(why: impl std::fmt::Display) -> Outcome {
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
pub(super) async fn local_actor(state: &Federation, uri: &str) -> Result<Option<AccountRow>> {
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
pub(super) async fn followed_by_local(
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
