//! Engagements received: `Like` of our statuses and `Announce` (a reblog by the sender) of a
//! public or unlisted status, ours or one from elsewhere (known here, or fetched when someone
//! here follows the sender), and their undoing.

// The worker's outcome helpers and shared lookups.
use super::remote_statuses::fetch_status;
use super::{applied, ignored, Outcome};

use cqrs_es::AggregateError;
use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::{EngagementCommand, EngagementError, Visibility};
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::log::metadata;
use peerpx_projections::{now_millis, relationships, statuses};
use serde_json::Value;

use crate::notes::{self, id_of};
use crate::{Error, Federation};
use peerpx_projections::new_id;

/// A like (or its undoing) of one of our statuses by `sender`.
pub(super) async fn like(
    state: &Federation,
    sender: &AccountRow,
    object: &Value,
    on: bool,
) -> Outcome {
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

/// `Announce` of a status by `sender`: a reblog of it by the sender. The status is ours or one
/// we have; an unknown one is fetched only when someone here follows the sender (nobody else
/// would see the reblog).
pub(super) async fn announce(
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
pub(super) async fn unannounce(state: &Federation, sender: &AccountRow, object: &Value) -> Outcome {
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
pub(super) async fn on_engagement(
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
