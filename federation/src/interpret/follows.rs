//! The social graph received: `Follow` of one of ours (answered by the outbox from the log),
//! `Undo` of a follow, a like or an announce, and `Block` of one of ours (the follows between the
//! two end).

// The worker's outcome helpers and shared lookups.
use super::engagements::{like, unannounce};
use super::{applied, ignored, kind_of, local_actor, Outcome};

use cqrs_es::AggregateError;
use peerpx_aggregates::{RelationshipCommand, RelationshipError};
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::federation::{self as follows_model};
use peerpx_projections::log::metadata;
use peerpx_projections::{now_millis, relationships};
use serde_json::Value;

use crate::deliver;
use crate::notes::id_of;
use crate::{Error, Federation};
use peerpx_projections::new_id;

/// A remote Follow of a local account: a request when the account is locked, refused when it
/// blocks the follower, otherwise answered with Accept.
pub(super) async fn follow(state: &Federation, sender: &AccountRow, local: &AccountRow) -> Outcome {
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

pub(super) async fn run(
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

pub(super) async fn undo(
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

/// `Block` of a local account by `sender`: the follows between them end, both ways (nothing is
/// sent back; the sender's server already dropped them on its side).
pub(super) async fn blocked_by(state: &Federation, sender: &AccountRow, object: &Value) -> Outcome {
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
