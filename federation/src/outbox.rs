//! The outbox worker: turns what local accounts did, as the log records it, into activities for
//! other nodes.
//!
//! A request that posts, edits or deletes a photo post, likes or unlikes a remote one, boosts or
//! unboosts, follows, unfollows, authorizes or rejects, blocks or unblocks, edits a profile, or
//! deletes an account (admins), only appends its events and answers; so does the inbox worker
//! when a remote follow takes effect. This worker follows the log from its own checkpoint (the
//! `outbox` row of `projection_checkpoints`, which `peerpx replay` leaves alone), and for each
//! such event records the activity to send with `deliver` (`ActivityQueued` on the `Outbound`
//! aggregate); the delivery worker (`queue`) sends it. So a crash at any moment loses no
//! delivery: whatever is in the log is sent once the node runs again. Activity ids are derived
//! from the status, the edit's time or the event's position, and the `Outbound` aggregate takes
//! an id once, so handling an event again queues nothing twice: the checkpoint is stored once
//! per batch, and a crash within one handles its events again.
//!
//! A node that starts with no checkpoint yet (new, or upgraded from a version without this
//! worker) starts at the head of the log: history is not sent again.

use std::time::Duration;

use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::{AccountEvent, EngagementEvent, RelationshipEvent, StatusEvent};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::db::TextRow;
use peerpx_projections::recorded::DomainEvent;
use peerpx_projections::statuses::StatusRow;
use peerpx_projections::{deliveries, statuses, Recorded};
use sqlx::Row;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::deliver;
use crate::ld::status_url;
use crate::{Error, Federation, Result};

/// The checkpoint's name in `projection_checkpoints`.
const CHECKPOINT: &str = "outbox";
/// Events read per round.
const BATCH: i64 = 200;
/// The log after a position, with each event's metadata (who and what appended it).
const SELECT: &str = "SELECT position, aggregate_type, aggregate_id, sequence, event_type, \
    event_version, payload, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?";

/// Starts the worker; it stops when `stop` turns true.
pub fn spawn(state: Federation, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut appended = state.commands.log().subscribe();
        let mut after = match start(&state).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "the outbox cannot read its checkpoint; nothing will be sent");
                return;
            }
        };
        loop {
            if *stop.borrow() {
                break;
            }
            appended.borrow_and_update();
            after = round(&state, after, &stop).await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = appended.changed() => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// The stored checkpoint, or the head of the log stored as the first one.
async fn start(state: &Federation) -> Result<i64> {
    let db = &state.db;
    let row: Option<(i64,)> =
        sqlx::query_as(&db.sql("SELECT position FROM projection_checkpoints WHERE name = ?"))
            .bind(CHECKPOINT)
            .fetch_optional(&db.pool)
            .await
            .map_err(Error::internal)?;
    if let Some((p,)) = row {
        return Ok(p);
    }
    let head = state.commands.log().head().await.map_err(Error::internal)?;
    sqlx::query(&db.sql("INSERT INTO projection_checkpoints (name, position) VALUES (?, ?)"))
        .bind(CHECKPOINT)
        .bind(head)
        .execute(&db.pool)
        .await
        .map_err(Error::internal)?;
    Ok(head)
}

async fn store(state: &Federation, position: i64) -> Result<()> {
    let db = &state.db;
    sqlx::query(&db.sql("UPDATE projection_checkpoints SET position = ? WHERE name = ?"))
        .bind(position)
        .bind(CHECKPOINT)
        .execute(&db.pool)
        .await
        .map_err(Error::internal)?;
    Ok(())
}

/// Handles the events after `after`, batch by batch, and returns how far it got (stored). An
/// event that fails ends the round before it, so it is tried again, in order, at the next one.
async fn round(state: &Federation, after: i64, stop: &watch::Receiver<bool>) -> i64 {
    let mut done = after;
    let outcome = batches(state, &mut done, stop).await;
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "outbox round stopped; will retry");
    }
    if done > after {
        if let Err(e) = store(state, done).await {
            // The events since the stored checkpoint are handled again: that queues nothing.
            tracing::warn!(error = %e, "outbox checkpoint not stored");
        }
    }
    done
}

async fn batches(state: &Federation, done: &mut i64, stop: &watch::Receiver<bool>) -> Result<()> {
    loop {
        let db = &state.db;
        let rows = sqlx::query(&db.sql(SELECT))
            .bind(*done)
            .bind(BATCH)
            .fetch_all(&db.pool)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let last: i64 = last.try_get("position")?;
        // What the events did must be in the read models the activities are built from.
        if !state
            .projector
            .wait_for(last, Duration::from_secs(30))
            .await
        {
            return Ok(());
        }
        for row in &rows {
            if *stop.borrow() {
                return Ok(());
            }
            let r = Recorded::from_row(row)?;
            let source = row
                .text("metadata")
                .ok()
                .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
                .and_then(|m| m.get("source").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default();
            handle(state, &r, &source).await?;
            *done = r.position;
        }
        store(state, *done).await?;
    }
}

/// A local account, or nothing.
async fn local(state: &Federation, id: &str) -> Result<Option<AccountRow>> {
    Ok(accounts::by_id(&state.db, id)
        .await?
        .filter(|a| a.remote.is_none()))
}

/// Local account `account_id` and status `status_id` (an aggregate id), when both are there.
async fn local_and_status(
    state: &Federation,
    account_id: &str,
    status_id: &str,
) -> Result<Option<(AccountRow, StatusRow)>> {
    let Some(account) = local(state, account_id).await? else {
        return Ok(None);
    };
    let Ok(id) = status_id.parse::<i64>() else {
        return Ok(None);
    };
    Ok(statuses::by_id(&state.db, id).await?.map(|s| (account, s)))
}

/// `source` is the metadata's: `api` for what a local person asked, `inbox` for what another
/// server sent, `domain-block` or `admin-api` for moderation.
async fn handle(state: &Federation, r: &Recorded, source: &str) -> Result<()> {
    match &r.event {
        DomainEvent::Relationship(e) => relationship(state, e, source, r.position).await,
        DomainEvent::Account(AccountEvent::ProfileUpdated { .. }) => {
            let Some(me) = accounts::by_username(&state.db, &r.aggregate_id).await? else {
                return Ok(());
            };
            deliver::send_profile(state, &me, &r.position.to_string()).await
        }
        DomainEvent::Status(StatusEvent::StatusPosted(post)) if post.remote.is_none() => {
            status(state, &post.account_id, &r.aggregate_id, "Create").await
        }
        DomainEvent::Status(StatusEvent::StatusEdited { account_id, .. }) => {
            status(state, account_id, &r.aggregate_id, "Update").await
        }
        DomainEvent::Status(StatusEvent::StatusDeleted { account_id, .. }) => {
            deleted(state, account_id, &r.aggregate_id).await
        }
        DomainEvent::Account(AccountEvent::AccountDeleted { .. }) => {
            account_deleted(state, &r.aggregate_id).await
        }
        DomainEvent::Engagement(EngagementEvent::Favourited { target, .. }) => {
            like(state, target, true, r.position).await
        }
        DomainEvent::Engagement(EngagementEvent::Unfavourited { target, .. }) => {
            like(state, target, false, r.position).await
        }
        DomainEvent::Engagement(EngagementEvent::Reblogged { target, reblog, at }) => {
            announce(state, target, reblog, *at, true).await
        }
        DomainEvent::Engagement(EngagementEvent::Unreblogged { target, reblog, at }) => {
            announce(state, target, reblog, *at, false).await
        }
        _ => Ok(()),
    }
}

/// `Create` or `Update` of a local status as it is now (gone since: nothing to send).
async fn status(state: &Federation, author_id: &str, status_id: &str, kind: &str) -> Result<()> {
    let Some((author, row)) = local_and_status(state, author_id, status_id).await? else {
        return Ok(());
    };
    // A boost is sent as an `Announce` (see `announce`), not as a note.
    if row.reblog_of_id.is_some() {
        return Ok(());
    }
    deliver::send_note(state, &author, &row, kind).await
}

/// `Delete` of a local status, to every inbox its `Create` or an `Update` went to (only they
/// have it; a boost, never sent as a note, goes nowhere).
async fn deleted(state: &Federation, author_id: &str, status_id: &str) -> Result<()> {
    let Some(author) = local(state, author_id).await? else {
        return Ok(());
    };
    let Ok(id) = status_id.parse::<i64>() else {
        return Ok(());
    };
    let uri = status_url(&state.config, &author.username, id);
    let recipients: Vec<(String, Option<String>)> = deliveries::sent_for_object(&state.db, &uri)
        .await?
        .into_iter()
        .map(|inbox| (inbox, None))
        .collect();
    deliver::send_delete(state, &author, id, &recipients).await
}

/// `Like` (or its `Undo`) of a remote status by a local account.
async fn like(state: &Federation, target: &Target, on: bool, position: i64) -> Result<()> {
    let Some((me, row)) = local_and_status(state, &target.account_id, &target.status_id).await?
    else {
        return Ok(());
    };
    deliver::send_like(state, &me, &row, on, position).await
}

/// `Announce` (or its `Undo`) of a status a local account reblogged; the reblog's row may be
/// gone (undone), so the event describes it.
async fn announce(
    state: &Federation,
    target: &Target,
    reblog: &Reblog,
    at: i64,
    on: bool,
) -> Result<()> {
    let Some((me, original)) =
        local_and_status(state, &target.account_id, &target.status_id).await?
    else {
        return Ok(());
    };
    let Ok(reblog_id) = reblog.id.parse::<i64>() else {
        return Ok(());
    };
    let boost = crate::objects::Boost {
        id: reblog_id,
        visibility: reblog.visibility.as_str(),
        at,
    };
    deliver::send_announce(state, &me, boost, &original, on).await
}

/// `Delete` of a local actor an admin deleted, to every server it ever sent anything to (each
/// remote follower among them: it was sent the `Accept`).
async fn account_deleted(state: &Federation, username: &str) -> Result<()> {
    let Some(account) = accounts::by_username(&state.db, username).await? else {
        return Ok(());
    };
    let inboxes = deliveries::inboxes_of_account(&state.db, &account.id).await?;
    deliver::send_actor_delete(state, &account, &inboxes).await
}

/// Follows between a local and a remote account:
/// - a local account's request to follow a remote one: `Follow`;
/// - its unfollow or withdrawal, asked by the person (not a domain block or a `Reject`
///   received): `Undo{Follow}`;
/// - a remote account's follow of a local one taking effect (at once, or authorized): `Accept`;
/// - its request rejected (or cut off by a block) by the person: `Reject`;
/// - a local account blocking or unblocking a remote one: `Block` or `Undo{Block}` (the
///   remote server ends its follows of ours, as Mastodon does).
async fn relationship(
    state: &Federation,
    e: &RelationshipEvent,
    source: &str,
    position: i64,
) -> Result<()> {
    use RelationshipEvent as E;
    // Mutes stay here.
    if matches!(e, E::Muted { .. } | E::Unmuted { .. }) {
        return Ok(());
    }
    let pair = e.pair();
    let (Some(follower), Some(followee)) = (
        accounts::by_id(&state.db, &pair.account_id).await?,
        accounts::by_id(&state.db, &pair.target_id).await?,
    ) else {
        return Ok(());
    };
    let tag = position.to_string();
    let local_follows_remote = follower.remote.is_none() && followee.remote.is_some();
    let remote_follows_local = follower.remote.is_some() && followee.remote.is_none();
    match e {
        E::FollowRequested { .. } if local_follows_remote => {
            deliver::send_follow(state, &follower, &followee, &tag).await
        }
        E::Unfollowed { .. } | E::FollowRequestWithdrawn { .. }
            if local_follows_remote && source == "api" =>
        {
            deliver::send_unfollow(state, &follower, &followee, &tag).await
        }
        E::Followed { .. } if remote_follows_local => {
            deliver::send_answer(state, "Accept", &followee, &follower, &tag).await
        }
        E::FollowRequestRejected { .. } if remote_follows_local && source == "api" => {
            deliver::send_answer(state, "Reject", &followee, &follower, &tag).await
        }
        // Here the pair is (blocker, blocked).
        E::Blocked { .. } if local_follows_remote => {
            deliver::send_block(state, &follower, &followee, true, &tag).await
        }
        E::Unblocked { .. } if local_follows_remote => {
            deliver::send_block(state, &follower, &followee, false, &tag).await
        }
        _ => Ok(()),
    }
}
