//! Timelines, as Mastodon's API has them: home (the accounts one follows, and oneself), public
//! (`local`, `remote`, `only_media`), a hashtag's, and an account's statuses. Each is a page of
//! the statuses read model's queries, limited to what the viewer may see.

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use peerpx_projections::accounts;
use peerpx_projections::statuses as read;
use serde::Deserialize;

use crate::auth::{Authed, MaybeAuthed};
use crate::paging::PageQuery;
use crate::params::{lenient, Params};
use crate::status_views::{statuses_page, viewer_of};
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/timelines/home", get(home))
        .route("/api/v1/timelines/public", get(public))
        .route("/api/v1/timelines/tag/{tag}", get(tag))
        .route("/api/v1/accounts/{id}/statuses", get(account_statuses))
}

#[derive(Debug, Deserialize, Default)]
struct TimelineQuery {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    local: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    remote: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    only_media: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    exclude_replies: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    exclude_reblogs: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pinned: Option<bool>,
}

impl TimelineQuery {
    /// Mastodon's `local` and `remote`: asking for both gives nothing, as there.
    fn public_filter(&self) -> read::PublicFilter {
        read::PublicFilter {
            only_media: self.only_media.unwrap_or(false),
            local: self.local == Some(true),
            remote: self.remote == Some(true),
        }
    }
}

/// `GET /api/v1/timelines/home`
async fn home(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:statuses"])?;
    let me = auth.user(&state).await?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let rows = read::home(&state.db, &me.id, page).await?;
    statuses_page(&state, Some(&me.id), &uri, rows).await
}

/// `GET /api/v1/timelines/public` (every status here is local until federation lands; `remote`
/// therefore gives an empty list).
async fn public(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let q: TimelineQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let rows = read::public(&state.db, viewer.as_deref(), None, q.public_filter(), page).await?;
    statuses_page(&state, viewer.as_deref(), &uri, rows).await
}

/// `GET /api/v1/timelines/tag/:hashtag`
async fn tag(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(tag): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let q: TimelineQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let tag = tag.trim_start_matches('#').to_lowercase();
    let rows = read::public(
        &state.db,
        viewer.as_deref(),
        Some(&tag),
        q.public_filter(),
        page,
    )
    .await?;
    statuses_page(&state, viewer.as_deref(), &uri, rows).await
}

/// `GET /api/v1/accounts/:id/statuses`
async fn account_statuses(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let account = accounts::by_id(&state.db, &id)
        .await?
        .filter(|a| a.state == "active")
        .ok_or(ApiError::NotFound)?;
    let q: TimelineQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    // Pinning is not offered yet, so the pinned list is empty.
    let rows = if q.pinned == Some(true) {
        Vec::new()
    } else {
        let filter = read::AccountFilter {
            only_media: q.only_media.unwrap_or(false),
            exclude_replies: q.exclude_replies.unwrap_or(false),
            exclude_reblogs: q.exclude_reblogs.unwrap_or(false),
        };
        read::of_account(&state.db, viewer.as_deref(), &account.id, filter, page).await?
    };
    statuses_page(&state, viewer.as_deref(), &uri, rows).await
}
