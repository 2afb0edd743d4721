//! The social graph, Mastodon-compatible: follows (requests for locked accounts), blocks, mutes,
//! follower and following lists, relationships, follow requests, block and mute lists.
//!
//! Every change is a command on the `Relationship` aggregate of one ordered pair; a block also
//! severs the other direction's follow, which lives in the reverse pair's aggregate. Towards a
//! remote account, follows, unfollows and answers to requests also send the ActivityPub activity
//! (`federation::deliver`); a follow of a remote account stays a request until its Accept.

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::{RelationshipCommand, RelationshipError};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::log::metadata;
use peerpx_projections::relationships::{self, RelationshipRow};
use peerpx_projections::{now_millis, Page};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Authed, MaybeAuthed};
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::paging::{self, PageQuery};
use crate::params::{lenient, Params};
use crate::AppState;

/// Mastodon's page sizes for account lists.
const DEFAULT_LIMIT: i64 = 40;
const MAX_LIMIT: i64 = 80;
/// Times a command is retried when another request changed the same pair at the same moment.
const CONFLICT_RETRIES: usize = 3;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts/relationships", get(relationships_of))
        .route("/api/v1/accounts/{id}/follow", post(follow))
        .route("/api/v1/accounts/{id}/unfollow", post(unfollow))
        .route("/api/v1/accounts/{id}/block", post(block))
        .route("/api/v1/accounts/{id}/unblock", post(unblock))
        .route("/api/v1/accounts/{id}/mute", post(mute))
        .route("/api/v1/accounts/{id}/unmute", post(unmute))
        .route("/api/v1/accounts/{id}/followers", get(followers))
        .route("/api/v1/accounts/{id}/following", get(following))
        .route("/api/v1/follow_requests", get(follow_requests))
        .route("/api/v1/follow_requests/{id}/authorize", post(authorize))
        .route("/api/v1/follow_requests/{id}/reject", post(reject))
        .route("/api/v1/blocks", get(blocks_list))
        .route("/api/v1/mutes", get(mutes))
}

/// Mastodon's Relationship entity.
pub fn relationship_json(r: &RelationshipRow) -> Value {
    json!({
        "id": r.id,
        "following": r.following,
        // Follows carry Mastodon's defaults: boosts shown, no post notifications, all languages.
        "showing_reblogs": r.following || r.requested,
        "notifying": false,
        "languages": null,
        "followed_by": r.followed_by,
        "blocking": r.blocking,
        "blocked_by": r.blocked_by,
        "muting": r.muting,
        "muting_notifications": r.muting && r.muting_notifications,
        "requested": r.requested,
        "requested_by": r.requested_by,
        "domain_blocking": false,
        "endorsed": false,
        "note": "",
    })
}

fn relationship_error(e: AggregateError<RelationshipError>) -> ApiError {
    match e {
        AggregateError::UserError(e) => match e {
            RelationshipError::SelfTarget => {
                ApiError::Unprocessable("You cannot follow, block or mute yourself".into())
            }
            RelationshipError::Blocking => ApiError::Forbidden(
                "You are blocking this account: unblock it before following it".into(),
            ),
            RelationshipError::NoRequest => ApiError::NotFound,
        },
        AggregateError::AggregateConflict => ApiError::Unprocessable(
            "This relationship changed at the same moment; try again".into(),
        ),
        other => ApiError::internal(other),
    }
}

/// Runs a command on the pair `account_id` → `target_id`; returns its log position.
async fn run(
    state: &AppState,
    actor: &str,
    account_id: &str,
    target_id: &str,
    command: RelationshipCommand,
) -> ApiResult<i64> {
    let mut attempt = 0;
    loop {
        let result = state
            .commands
            .relationship(
                account_id,
                target_id,
                command.clone(),
                metadata(Some(actor), "api"),
            )
            .await;
        match result {
            Ok(position) => return Ok(position),
            Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => attempt += 1,
            Err(e) => return Err(relationship_error(e)),
        }
    }
}

/// An account others may follow: active. Missing, pending and suspended ones are not found.
async fn followable(state: &AppState, id: &str) -> ApiResult<AccountRow> {
    accounts::by_id(&state.db, id)
        .await?
        .filter(|a| a.state == "active")
        .ok_or(ApiError::NotFound)
}

/// An account one may unfollow, block, mute or answer: any that exists except one still waiting
/// for approval (it has no relationships and is not public).
async fn known(state: &AppState, id: &str) -> ApiResult<AccountRow> {
    accounts::by_id(&state.db, id)
        .await?
        .filter(|a| a.state != "pending")
        .ok_or(ApiError::NotFound)
}

/// Waits for `position`, then answers with `me`'s relationship to `target`.
async fn answer(state: &AppState, position: i64, me: &str, target: &str) -> ApiResult<Json<Value>> {
    state.settle(position).await;
    let rows = relationships::relationships(&state.db, me, &[target.to_string()]).await?;
    let row = rows.first().ok_or(ApiError::NotFound)?;
    Ok(Json(relationship_json(row)))
}

/// `POST /api/v1/accounts/:id/follow` (a request when the account is locked). `reblogs`,
/// `notify` and `languages` are accepted and ignored: peerpx has no boosts or post alerts yet.
async fn follow(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:follows"])?;
    let me = auth.user(&state).await?;
    let target = followable(&state, &id).await?;
    if target.id == me.id {
        return Err(ApiError::Unprocessable("You cannot follow yourself".into()));
    }
    if relationships::is_blocking(&state.db, &target.id, &me.id).await? {
        // Mastodon's answer when the target blocks the follower.
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    peerpx_federation::domain_blocks::refuse_account(&state.federation, &target).await?;
    // A remote account is followed once its server accepts: until then the follow is a request.
    let remote = target.remote.is_some();
    let command = RelationshipCommand::Follow {
        account_id: me.id.clone(),
        target_id: target.id.clone(),
        locked: target.locked || remote,
        at: now_millis(),
    };
    let position = run(&state, &me.id, &me.id, &target.id, command).await?;
    // A new request's Follow goes from the log (`federation::outbox`). Asked again while still
    // waiting, it goes again from here (it may have been lost).
    if remote && position == 0 {
        let rows =
            relationships::relationships(&state.db, &me.id, std::slice::from_ref(&target.id))
                .await?;
        if rows.first().is_some_and(|r| r.requested) {
            peerpx_federation::deliver::send_follow(
                &state.federation,
                &me,
                &target,
                &crate::auth::new_id(),
            )
            .await?;
        }
    }
    answer(&state, position, &me.id, &target.id).await
}

/// `POST /api/v1/accounts/:id/unfollow`: ends a follow or withdraws a request.
async fn unfollow(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:follows"])?;
    let me = auth.user(&state).await?;
    let target = known(&state, &id).await?;
    let command = RelationshipCommand::Unfollow { at: now_millis() };
    // The Undo goes from the log (`federation::outbox`).
    let position = run(&state, &me.id, &me.id, &target.id, command).await?;
    answer(&state, position, &me.id, &target.id).await
}

/// `POST /api/v1/accounts/:id/block`: also ends the follows and requests of both directions.
async fn block(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:blocks"])?;
    let me = auth.user(&state).await?;
    let target = known(&state, &id).await?;
    let at = now_millis();
    let command = RelationshipCommand::Block {
        account_id: me.id.clone(),
        target_id: target.id.clone(),
        at,
    };
    let blocked = run(&state, &me.id, &me.id, &target.id, command).await?;
    // The blocked account's own follow or request lives in the reverse pair.
    let severed = run(
        &state,
        &me.id,
        &target.id,
        &me.id,
        RelationshipCommand::Sever { at },
    )
    .await?;
    answer(&state, blocked.max(severed), &me.id, &target.id).await
}

/// `POST /api/v1/accounts/:id/unblock`
async fn unblock(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:blocks"])?;
    let me = auth.user(&state).await?;
    let target = known(&state, &id).await?;
    let command = RelationshipCommand::Unblock { at: now_millis() };
    let position = run(&state, &me.id, &me.id, &target.id, command).await?;
    answer(&state, position, &me.id, &target.id).await
}

#[derive(Deserialize)]
struct MuteParams {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    notifications: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    duration: Option<i64>,
}

/// `POST /api/v1/accounts/:id/mute` (`notifications`, default true). Muting again changes
/// whether notifications are hidden.
async fn mute(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:mutes"])?;
    let me = auth.user(&state).await?;
    let p: MuteParams = params.parse()?;
    if p.duration.is_some_and(|d| d != 0) {
        return Err(ApiError::Unprocessable(
            "Temporary mutes are not supported: leave duration out or send 0".into(),
        ));
    }
    let target = known(&state, &id).await?;
    let command = RelationshipCommand::Mute {
        account_id: me.id.clone(),
        target_id: target.id.clone(),
        notifications: p.notifications.unwrap_or(true),
        at: now_millis(),
    };
    let position = run(&state, &me.id, &me.id, &target.id, command).await?;
    answer(&state, position, &me.id, &target.id).await
}

/// `POST /api/v1/accounts/:id/unmute`
async fn unmute(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:mutes"])?;
    let me = auth.user(&state).await?;
    let target = known(&state, &id).await?;
    let command = RelationshipCommand::Unmute { at: now_millis() };
    let position = run(&state, &me.id, &me.id, &target.id, command).await?;
    answer(&state, position, &me.id, &target.id).await
}

/// `POST /api/v1/follow_requests/:id/authorize` (`:id` is the requesting account).
async fn authorize(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:follows"])?;
    let me = auth.user(&state).await?;
    let requester = known(&state, &id).await?;
    let command = RelationshipCommand::Authorize { at: now_millis() };
    // The Accept goes from the log (`federation::outbox`).
    let position = run(&state, &me.id, &requester.id, &me.id, command).await?;
    answer(&state, position, &me.id, &requester.id).await
}

/// `POST /api/v1/follow_requests/:id/reject`
async fn reject(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:follows"])?;
    let me = auth.user(&state).await?;
    let requester = known(&state, &id).await?;
    let command = RelationshipCommand::Reject { at: now_millis() };
    // The Reject goes from the log (`federation::outbox`).
    let position = run(&state, &me.id, &requester.id, &me.id, command).await?;
    answer(&state, position, &me.id, &requester.id).await
}

#[derive(Deserialize)]
struct RelationshipsQuery {
    #[serde(default, deserialize_with = "lenient::opt_string_or_list")]
    id: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    with_suspended: Option<bool>,
}

/// `GET /api/v1/accounts/relationships?id[]=…` (or `id=…`): one entry per known account, in
/// the order asked; unknown ids are left out, as Mastodon does.
async fn relationships_of(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["read:follows"])?;
    let me = auth.user(&state).await?;
    let q: RelationshipsQuery = params.parse()?;
    let ids: Vec<String> =
        q.id.unwrap_or_default()
            .into_iter()
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
            .collect();
    let with_suspended = q.with_suspended.unwrap_or(false);
    let known: Vec<String> = accounts::by_ids(&state.db, &ids)
        .await?
        .into_iter()
        .filter(|a| a.state == "active" || (with_suspended && a.state == "suspended"))
        .map(|a| a.id)
        .collect();
    let rows = relationships::relationships(&state.db, &me.id, &known).await?;
    Ok(Json(Value::Array(
        rows.iter().map(relationship_json).collect(),
    )))
}

/// Renders a page of `(position, account id)` as Account entities with Mastodon's `Link`
/// header. The header follows the page's positions even when some accounts are left out, so a
/// client walking the pages never loops or skips.
async fn account_page(
    state: &AppState,
    uri: &OriginalUri,
    page: Vec<(i64, String)>,
    keep: impl Fn(&AccountRow) -> bool,
    extra: Option<(&str, Value)>,
) -> ApiResult<Response> {
    let keys: Vec<i64> = page.iter().map(|(p, _)| *p).collect();
    let ids: Vec<String> = page.into_iter().map(|(_, id)| id).collect();
    let items = accounts::by_ids(&state.db, &ids)
        .await?
        .iter()
        .filter(|a| keep(a))
        .map(|a| {
            let mut v = entities::account(&state.config, a);
            if let Some((key, value)) = &extra {
                v[*key] = value.clone();
            }
            v
        })
        .collect();
    Ok(paging::respond(&state.config.base_url(), uri, items, &keys))
}

fn page_of(params: &Params) -> ApiResult<Page> {
    params.parse::<PageQuery>()?.page(DEFAULT_LIMIT, MAX_LIMIT)
}

/// Which side of the follows a public list shows.
#[derive(Clone, Copy)]
enum Side {
    Followers,
    Following,
}

/// The follower or following list of a public account. Hidden from anyone the account blocks;
/// for others than the account itself, accounts the viewer blocks, mutes or is blocked by are
/// left out (as Mastodon does).
async fn follow_list(
    state: AppState,
    auth: MaybeAuthed,
    uri: OriginalUri,
    id: String,
    params: Params,
    side: Side,
) -> ApiResult<Response> {
    let viewer = match &auth.0 {
        Some(auth) => {
            auth.require(&["read:accounts"])?;
            auth.token.account_id.clone()
        }
        None => None,
    };
    let page = page_of(&params)?;
    let account = followable(&state, &id).await?;
    if let Some(viewer) = &viewer {
        if viewer != &account.id
            && relationships::is_blocking(&state.db, &account.id, viewer).await?
        {
            return Ok(paging::respond(&state.config.base_url(), &uri, vec![], &[]));
        }
    }
    let rows = match side {
        Side::Followers => relationships::followers(&state.db, &account.id, page).await?,
        Side::Following => relationships::following(&state.db, &account.id, page).await?,
    };
    let excluded = match &viewer {
        Some(viewer) if viewer != &account.id => {
            relationships::excluded_ids(&state.db, viewer).await?
        }
        _ => Default::default(),
    };
    account_page(&state, &uri, rows, |a| !excluded.contains(&a.id), None).await
}

/// `GET /api/v1/accounts/:id/followers`
async fn followers(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    uri: OriginalUri,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    follow_list(state, auth, uri, id, params, Side::Followers).await
}

/// `GET /api/v1/accounts/:id/following`
async fn following(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    uri: OriginalUri,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    follow_list(state, auth, uri, id, params, Side::Following).await
}

/// `GET /api/v1/follow_requests`: who asks to follow the user, newest first.
async fn follow_requests(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:follows"])?;
    let me = auth.user(&state).await?;
    let page = page_of(&params)?;
    let rows = relationships::follow_requests(&state.db, &me.id, page).await?;
    account_page(&state, &uri, rows, |_| true, None).await
}

/// `GET /api/v1/blocks`
async fn blocks_list(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:blocks"])?;
    let me = auth.user(&state).await?;
    let page = page_of(&params)?;
    let rows = relationships::blocks(&state.db, &me.id, page).await?;
    account_page(&state, &uri, rows, |_| true, None).await
}

/// `GET /api/v1/mutes` (mutes never expire here, so `mute_expires_at` is null).
async fn mutes(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:mutes"])?;
    let me = auth.user(&state).await?;
    let page = page_of(&params)?;
    let rows = relationships::mutes(&state.db, &me.id, page).await?;
    account_page(
        &state,
        &uri,
        rows,
        |_| true,
        Some(("mute_expires_at", Value::Null)),
    )
    .await
}
