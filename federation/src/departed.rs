//! Deleted accounts. An actor on another server that deleted itself (`Delete` whose object is
//! the sender, signed with the sender's key): what it left here goes, then its account is marked
//! deleted. A local account an admin deletes (`peerpx-api`'s admin API): the same
//! [`remove_traces`], then `AccountDeleted`, from which the outbox sends other servers the
//! `Delete` of the actor.
//!
//! The order makes a crash harmless: statuses, favourites and follows are removed first, each
//! by an idempotent command, and the account is marked deleted last. Until then the activity is
//! not recorded as interpreted, so the next start does the rest; once the account is deleted,
//! everything it sends is ignored and fetching it again is refused (`RemoteAccountError::Gone`).
//!
//! [`end_follows`] is also how a suspending domain block cuts the follows across it.

use cqrs_es::AggregateError;
use std::collections::HashMap;

use peerpx_aggregates::{
    EngagementCommand, RelationshipCommand, RemoteAccountCommand, StatusCommand, StatusError,
};
use peerpx_projections::accounts::{self, AccountRow, Traces};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;

use crate::{Error, Federation, Result};

/// Attempts at a command that lost a race with another writer of the same aggregate.
const CONFLICT_RETRIES: u32 = 5;

/// Erases `sender` (a remote account) and what it left here; returns the outcome to record.
pub async fn erase(state: &Federation, sender: &AccountRow) -> Result<String> {
    let Some(remote) = &sender.remote else {
        return Ok("ignored: the account is not remote".into());
    };
    let meta = || metadata(Some(&sender.id), "inbox");
    let (traces, position) = remove_traces(state, sender, &sender.id, false, meta).await?;
    let command = RemoteAccountCommand::Delete { at: now_millis() };
    let p = state
        .commands
        .remote_account(&remote.uri, command, meta())
        .await
        .map_err(Error::internal)?;
    state.settle(position.max(p)).await;
    Ok(format!(
        "applied: the account deleted itself; {} statuses, {} boosts, {} favourites and {} \
         follows removed",
        traces.statuses.len(),
        traces.reblogged.len(),
        traces.favourited.len(),
        traces.follows.len()
    ))
}

/// Deletes `account`'s statuses (as `by`, a moderator or not), undoes its boosts and favourites
/// and ends its follows both ways; returns what there was and the last log position.
pub async fn remove_traces(
    state: &Federation,
    account: &AccountRow,
    by: &str,
    as_moderator: bool,
    meta: impl Fn() -> HashMap<String, String>,
) -> Result<(Traces, i64)> {
    let traces = accounts::traces(&state.db, &account.id).await?;
    let mut position = 0;
    for id in &traces.statuses {
        let command = StatusCommand::Delete {
            account_id: by.to_string(),
            as_moderator,
            at: now_millis(),
        };
        match state
            .commands
            .status(&id.to_string(), command, meta())
            .await
        {
            Ok(p) => position = position.max(p),
            // Deleted since the read model was read.
            Err(AggregateError::UserError(StatusError::NotFound)) => {}
            Err(e) => return Err(Error::internal(e)),
        }
    }
    for id in &traces.reblogged {
        let command = EngagementCommand::Unreblog { at: now_millis() };
        let p = state
            .commands
            .engagement(&account.id, &id.to_string(), command, meta())
            .await
            .map_err(Error::internal)?;
        position = position.max(p);
    }
    for id in &traces.favourited {
        let command = EngagementCommand::Unfavourite { at: now_millis() };
        let p = state
            .commands
            .engagement(&account.id, &id.to_string(), command, meta())
            .await
            .map_err(Error::internal)?;
        position = position.max(p);
    }
    // Its follows end; others' follows of it are cut off.
    position = position.max(end_follows(state, &traces.follows, meta).await?);
    Ok((traces, position))
}

/// Ends follows and follow requests `(follower, followee, the follower unfollows)`: an
/// `Unfollow` by the follower, or else a `Sever` by the followee. Nothing is sent anywhere.
/// Returns the last log position (0: nothing changed).
pub(super) async fn end_follows(
    state: &Federation,
    follows: &[(String, String, bool)],
    meta: impl Fn() -> HashMap<String, String>,
) -> Result<i64> {
    let mut position = 0;
    for (follower, followee, unfollow) in follows {
        let command = if *unfollow {
            RelationshipCommand::Unfollow { at: now_millis() }
        } else {
            RelationshipCommand::Sever { at: now_millis() }
        };
        let mut attempts = 0;
        loop {
            match state
                .commands
                .relationship(follower, followee, command.clone(), meta())
                .await
            {
                Ok(p) => {
                    position = position.max(p);
                    break;
                }
                Err(AggregateError::AggregateConflict) if attempts < CONFLICT_RETRIES => {
                    attempts += 1
                }
                Err(AggregateError::UserError(_)) => break,
                Err(e) => return Err(Error::internal(e)),
            }
        }
    }
    Ok(position)
}
