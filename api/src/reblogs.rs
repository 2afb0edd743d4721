//! Reblogs (boosts), as Mastodon's API has them: `POST /api/v1/statuses/:id/reblog` answers with
//! the reblog (a status of its own wrapping the original), `unreblog` with the original, and
//! `reblogged_by` lists who reblogged a status. `DELETE /api/v1/statuses/:reblog_id` undoes a
//! reblog too (`statuses.rs` sends it here).
//!
//! The rules (public and unlisted statuses only, once per account) are the `Engagement`
//! aggregate's; the reblog rows are the statuses read model's. The outbox worker announces a
//! local reblog (and its undoing) to the booster's followers elsewhere and to the original's
//! remote author, from the log.

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::{EngagementCommand, EngagementError, Visibility};
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::log::metadata;
use peerpx_projections::statuses::{self as read, StatusRow};
use peerpx_projections::{now_millis, reblogs};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{new_id, Authed, MaybeAuthed};
use crate::paging::PageQuery;
use crate::params::{lenient, Params};
use crate::status_views::{render_one, viewer_of, visible_status};
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/statuses/{id}/reblog", post(reblog))
        .route("/api/v1/statuses/{id}/unreblog", post(unreblog))
        .route("/api/v1/statuses/{id}/reblogged_by", get(reblogged_by))
}

fn engagement_error(e: AggregateError<EngagementError>) -> ApiError {
    match e {
        AggregateError::UserError(e @ EngagementError::NotReblogable(_)) => {
            ApiError::Unprocessable(format!("Validation failed: {e}"))
        }
        other => ApiError::internal(other),
    }
}

/// Runs an engagement command (favourite, bookmark, reblog and their undoing) of `account_id` on
/// `status_id`, retrying a lost race (a double click), and waits for the read models; answers
/// the position of what it appended (0 for nothing).
pub async fn run(
    state: &AppState,
    account_id: &str,
    status_id: &str,
    command: EngagementCommand,
    source: &str,
) -> Result<i64, AggregateError<EngagementError>> {
    let position = state
        .commands
        .engagement_retrying(
            account_id,
            status_id,
            command,
            metadata(Some(account_id), source),
        )
        .await?;
    state.settle(position).await;
    Ok(position)
}

/// The status a reblog request is about: reblogging a reblog reblogs its original.
async fn original(state: &AppState, me: &str, id: &str) -> ApiResult<StatusRow> {
    let row = visible_status(state, Some(me), id).await?;
    match row.reblog_of_id {
        None => Ok(row),
        Some(of) => read::visible_by_id(&state.db, Some(me), of)
            .await?
            .ok_or(ApiError::NotFound),
    }
}

#[derive(Debug, Deserialize, Default)]
struct ReblogParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    visibility: Option<String>,
}

/// `POST /api/v1/statuses/:id/reblog`
async fn reblog(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:statuses"])?;
    let me = auth.user(&state).await?;
    let p: ReblogParams = params.parse()?;
    let visibility = match p.visibility.as_deref().map(str::trim) {
        None | Some("") => Visibility::Public,
        Some(v) => match v.parse() {
            Ok(v @ (Visibility::Public | Visibility::Unlisted | Visibility::Private)) => v,
            _ => {
                return Err(ApiError::field(
                    "visibility",
                    "ERR_INCLUSION",
                    "is not one of public, unlisted, private",
                ))
            }
        },
    };
    let original = original(&state, &me.id, &id).await?;
    let original_visibility: Visibility = original.visibility.parse().unwrap_or(Visibility::Direct);
    let command = EngagementCommand::Reblog {
        target: Target {
            account_id: me.id.clone(),
            status_id: original.id.to_string(),
            status_account_id: original.account_id.clone(),
        },
        original: original_visibility,
        reblog: Reblog {
            id: new_id(),
            visibility,
            uri: None,
        },
        at: now_millis(),
    };
    run(&state, &me.id, &original.id.to_string(), command, "api")
        .await
        .map_err(engagement_error)?;
    let reblog_id = reblogs::reblog_by(&state.db, &me.id, original.id)
        .await?
        .ok_or_else(|| ApiError::internal("a reblog is missing from the read model"))?;
    let row = read::by_id(&state.db, reblog_id)
        .await?
        .ok_or_else(|| ApiError::internal("a reblog is missing from the read model"))?;
    Ok(Json(render_one(&state, Some(&me.id), &row).await?))
}

/// Undoes `me`'s reblog of `original`.
async fn undo(state: &AppState, me: &AccountRow, original: &StatusRow) -> ApiResult<()> {
    let command = EngagementCommand::Unreblog { at: now_millis() };
    run(state, &me.id, &original.id.to_string(), command, "api")
        .await
        .map_err(engagement_error)?;
    Ok(())
}

/// `POST /api/v1/statuses/:id/unreblog`: answers with the original.
async fn unreblog(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:statuses"])?;
    let me = auth.user(&state).await?;
    let original = original(&state, &me.id, &id).await?;
    undo(&state, &me, &original).await?;
    Ok(Json(render_one(&state, Some(&me.id), &original).await?))
}

/// `DELETE /api/v1/statuses/:id` of a reblog: undoes it and answers with the reblog as it was.
pub async fn delete_reblog(state: &AppState, me: &AccountRow, row: &StatusRow) -> ApiResult<Value> {
    let Some(of) = row.reblog_of_id else {
        return Err(ApiError::NotFound);
    };
    if row.account_id != me.id {
        return Err(ApiError::NotFound);
    }
    let rendered = render_one(state, Some(&me.id), row).await?;
    let original = read::by_id(&state.db, of)
        .await?
        .ok_or(ApiError::NotFound)?;
    undo(state, me, &original).await?;
    Ok(rendered)
}

/// `GET /api/v1/statuses/:id/reblogged_by`, paged by the reblogs' ids.
async fn reblogged_by(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let row = visible_status(&state, viewer.as_deref(), &id).await?;
    let page = params.parse::<PageQuery>()?.page(40, 80)?;
    let boosts = reblogs::reblogged_by(&state.db, row.id, page).await?;
    crate::status_views::accounts_page(&state, &uri, &boosts).await
}
