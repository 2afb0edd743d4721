//! Favourites and bookmarks, as Mastodon's API has them: favouriting and bookmarking a status
//! (idempotent, through the `Engagement` aggregate), who favourited a status, and one's own
//! favourites and bookmarks, newest first.

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use peerpx_aggregates::engagement::Target;
use peerpx_aggregates::EngagementCommand;
use peerpx_projections::statuses as read;
use peerpx_projections::{engagements, now_millis};
use serde_json::Value;

use crate::auth::{Authed, MaybeAuthed};
use crate::paging::{self, PageQuery};
use crate::params::Params;
use crate::status_views::{accounts_page, render, render_one, viewer_of, visible_status};
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/statuses/{id}/favourite", post(favourite))
        .route("/api/v1/statuses/{id}/unfavourite", post(unfavourite))
        .route("/api/v1/statuses/{id}/bookmark", post(bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", post(unbookmark))
        .route("/api/v1/statuses/{id}/favourited_by", get(favourited_by))
        .route("/api/v1/favourites", get(favourites))
        .route("/api/v1/bookmarks", get(bookmarks))
}

async fn engage(
    state: &AppState,
    auth: &Authed,
    id: &str,
    scope: &str,
    command: impl Fn(Target) -> EngagementCommand,
) -> ApiResult<Json<Value>> {
    auth.require(&[scope])?;
    let me = auth.user(state).await?;
    let row = visible_status(state, Some(&me.id), id).await?;
    let target = Target {
        account_id: me.id.clone(),
        status_id: row.id.to_string(),
        status_account_id: row.account_id.clone(),
    };
    // A favourite of a remote status is a Like for its node: the outbox worker sends it.
    crate::reblogs::run(
        state,
        &me.id,
        &target.status_id,
        command(target.clone()),
        "api",
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(render_one(state, Some(&me.id), &row).await?))
}

async fn favourite(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:favourites", |target| {
        EngagementCommand::Favourite {
            target,
            at: now_millis(),
        }
    })
    .await
}

async fn unfavourite(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:favourites", |_| {
        EngagementCommand::Unfavourite { at: now_millis() }
    })
    .await
}

async fn bookmark(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:bookmarks", |target| {
        EngagementCommand::Bookmark {
            target,
            at: now_millis(),
        }
    })
    .await
}

async fn unbookmark(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:bookmarks", |_| {
        EngagementCommand::Unbookmark { at: now_millis() }
    })
    .await
}

/// `GET /api/v1/statuses/:id/favourited_by`
async fn favourited_by(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let row = visible_status(&state, viewer.as_deref(), &id).await?;
    let page = params.parse::<PageQuery>()?.page(40, 80)?;
    let likes = engagements::favourited_by(&state.db, row.id, page).await?;
    accounts_page(&state, &uri, &likes).await
}

/// Lists of statuses paged by the favourite's or bookmark's own id.
async fn engaged_page(
    state: &AppState,
    me: &str,
    uri: &OriginalUri,
    entries: Vec<(i64, i64)>,
) -> ApiResult<Response> {
    let ids: Vec<i64> = entries.iter().map(|(_, s)| *s).collect();
    let rows = read::visible_by_ids(&state.db, Some(me), &ids).await?;
    let items = render(state, Some(me), &rows).await?;
    let keys: Vec<i64> = entries.iter().map(|(p, _)| *p).collect();
    Ok(paging::respond(&state.config.base_url(), uri, items, &keys))
}

/// `GET /api/v1/favourites`
async fn favourites(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:favourites"])?;
    let me = auth.user(&state).await?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let entries = engagements::favourites(&state.db, &me.id, page).await?;
    engaged_page(&state, &me.id, &uri, entries).await
}

/// `GET /api/v1/bookmarks`
async fn bookmarks(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:bookmarks"])?;
    let me = auth.user(&state).await?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let entries = engagements::bookmarks(&state.db, &me.id, page).await?;
    engaged_page(&state, &me.id, &uri, entries).await
}
