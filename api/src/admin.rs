//! Moderation of accounts: Mastodon's admin API (v1 and v2 listings, approve, reject, suspend).

use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cqrs_es::AggregateError;
use peerpx_aggregates::instance::InstanceSettings;
use peerpx_aggregates::{AccountCommand, InstanceCommand, InstanceError, RegistrationsMode};
use peerpx_projections::accounts::{self, AccountFilter, AccountRow};
use peerpx_projections::instance;
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::accounts::account_error;
use crate::auth::Authed;
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::params::{lenient, Params};
use crate::AppState;

/// The token needs the scope and its user a staff role.
async fn staff(state: &AppState, auth: &Authed, scope: &str) -> ApiResult<AccountRow> {
    auth.require(&[scope])?;
    let me = auth.user(state).await?;
    if !me.is_staff() {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    Ok(me)
}

#[derive(Deserialize, Default)]
pub struct V1Query {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    local: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    remote: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    active: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pending: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    suspended: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    silenced: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    staff: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    max_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    since_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    min_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    limit: Option<i64>,
}

#[derive(Deserialize, Default)]
pub struct V2Query {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    origin: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    permissions: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    max_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    since_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    min_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    limit: Option<i64>,
}

/// Filters nothing can match (remote accounts, silenced, …) answer an empty page.
struct Listing {
    filter: AccountFilter,
    impossible: bool,
}

fn limit(l: Option<i64>) -> i64 {
    l.unwrap_or(100).clamp(1, 200)
}

async fn respond(state: &AppState, uri: &OriginalUri, listing: Listing) -> ApiResult<Response> {
    let rows = if listing.impossible {
        vec![]
    } else {
        accounts::list(&state.db, &listing.filter).await?
    };
    let body: Vec<Value> = rows
        .iter()
        .map(|a| entities::admin_account(&state.config, a))
        .collect();
    let mut response = Json(body).into_response();
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let link = crate::paging::link(&state.config.base_url(), uri, &last.id, &first.id);
        if let Ok(v) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// `GET /api/v1/admin/accounts`
pub async fn list_v1(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    staff(&state, &auth, "admin:read:accounts").await?;
    let q: V1Query = params.parse()?;
    let state_filter = if q.pending == Some(true) {
        Some("pending")
    } else if q.suspended == Some(true) {
        Some("suspended")
    } else if q.active == Some(true) {
        Some("active")
    } else {
        None
    };
    let impossible = q.remote == Some(true)
        || q.local == Some(false)
        || q.disabled == Some(true)
        || q.silenced == Some(true);
    let filter = AccountFilter {
        state: state_filter.map(str::to_string),
        staff: q.staff == Some(true),
        username: q.username,
        email: q.email,
        max_id: q.max_id,
        since_id: q.since_id,
        min_id: q.min_id,
        limit: limit(q.limit),
    };
    respond(&state, &uri, Listing { filter, impossible }).await
}

/// `GET /api/v2/admin/accounts`
pub async fn list_v2(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    staff(&state, &auth, "admin:read:accounts").await?;
    let q: V2Query = params.parse()?;
    let (state_filter, impossible) = match q.status.as_deref() {
        None | Some("") => (None, false),
        Some("active") => (Some("active"), false),
        Some("pending") => (Some("pending"), false),
        Some("suspended") => (Some("suspended"), false),
        Some("disabled") | Some("silenced") => (None, true),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "Unknown status {other:?}: use active, pending, disabled, silenced or suspended"
            )))
        }
    };
    let impossible = impossible || q.origin.as_deref() == Some("remote");
    let filter = AccountFilter {
        state: state_filter.map(str::to_string),
        staff: q.permissions.as_deref() == Some("staff"),
        username: q.username,
        email: q.email,
        max_id: q.max_id,
        since_id: q.since_id,
        min_id: q.min_id,
        limit: limit(q.limit),
    };
    respond(&state, &uri, Listing { filter, impossible }).await
}

async fn target(state: &AppState, id: &str) -> ApiResult<AccountRow> {
    accounts::by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// `GET /api/v1/admin/accounts/:id`
pub async fn show(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    staff(&state, &auth, "admin:read:accounts").await?;
    let account = target(&state, &id).await?;
    Ok(Json(entities::admin_account(&state.config, &account)))
}

async fn run(
    state: &AppState,
    me: &AccountRow,
    account: &AccountRow,
    command: AccountCommand,
) -> ApiResult<()> {
    let position = state
        .commands
        .account(
            &account.username,
            command,
            metadata(Some(&me.id), "admin-api"),
        )
        .await
        .map_err(account_error)?;
    state.settle(position).await;
    Ok(())
}

/// Runs a moderation command on the account, then shows it as it is now.
async fn act_and_show(
    state: &AppState,
    auth: &Authed,
    id: &str,
    command: AccountCommand,
) -> ApiResult<Json<Value>> {
    let me = staff(state, auth, "admin:write:accounts").await?;
    let account = target(state, id).await?;
    run(state, &me, &account, command).await?;
    let account = target(state, id).await?;
    Ok(Json(entities::admin_account(&state.config, &account)))
}

/// `POST /api/v1/admin/accounts/:id/approve`
pub async fn approve(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    act_and_show(
        &state,
        &auth,
        &id,
        AccountCommand::Approve { at: now_millis() },
    )
    .await
}

/// `POST /api/v1/admin/accounts/:id/reject`: the pending account is removed, its name freed.
pub async fn reject(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = staff(&state, &auth, "admin:write:accounts").await?;
    let account = target(&state, &id).await?;
    run(
        &state,
        &me,
        &account,
        AccountCommand::Reject { at: now_millis() },
    )
    .await?;
    Ok(Json(entities::admin_account(&state.config, &account)))
}

#[derive(Deserialize)]
struct ActionParams {
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_text")]
    kind: Option<String>,
}

/// `POST /api/v1/admin/accounts/:id/action` (`type=suspend` or `none`).
pub async fn action(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let me = staff(&state, &auth, "admin:write:accounts").await?;
    let p: ActionParams = params.parse()?;
    let account = target(&state, &id).await?;
    match p.kind.as_deref() {
        Some("suspend") => {
            if account.id == me.id {
                return Err(ApiError::Forbidden(
                    "You cannot suspend your own account".into(),
                ));
            }
            if account.is_admin() && !me.is_admin() {
                return Err(ApiError::Forbidden("This action is not allowed".into()));
            }
            run(
                &state,
                &me,
                &account,
                AccountCommand::Suspend { at: now_millis() },
            )
            .await?;
        }
        Some("none") => {}
        Some(other @ ("disable" | "sensitive" | "silence")) => {
            return Err(ApiError::Unprocessable(format!(
                "The {other} action is not supported by this server yet; use suspend"
            )))
        }
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "Unknown action type {other:?}: use none, sensitive, disable, silence or suspend"
            )))
        }
        None => {
            return Err(ApiError::Unprocessable(
                "The type parameter is required".into(),
            ))
        }
    }
    Ok(Json(json!({})))
}

/// `POST /api/v1/admin/accounts/:id/unsuspend`
pub async fn unsuspend(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    act_and_show(
        &state,
        &auth,
        &id,
        AccountCommand::Unsuspend { at: now_millis() },
    )
    .await
}

#[derive(Deserialize)]
struct SettingsParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    registrations_mode: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    title: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    contact_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    contact_username: Option<String>,
}

fn settings_json(row: &instance::InstanceRow) -> Value {
    json!({
        "registrations_mode": row.mode.as_str(),
        "title": row.settings.title,
        "description": row.settings.description,
        "contact_email": row.settings.contact_email,
        "contact_username": row.settings.contact_username,
    })
}

/// `GET /api/peerpx/v1/admin/settings` (extension): the node's settings.
pub async fn settings(State(state): State<AppState>, auth: Authed) -> ApiResult<Json<Value>> {
    staff(&state, &auth, "admin:read").await?;
    Ok(Json(settings_json(&instance::get(&state.db).await?)))
}

/// `PATCH /api/peerpx/v1/admin/settings` (extension): change the registration mode and the
/// instance's title, description and contact. Admins only; an empty string clears a text.
pub async fn update_settings(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<Value>> {
    let me = staff(&state, &auth, "admin:write").await?;
    if !me.is_admin() {
        return Err(ApiError::Forbidden(
            "Only admins change the node's settings".into(),
        ));
    }
    let p: SettingsParams = params.parse()?;
    let current = instance::get(&state.db).await?;
    let mode =
        match p.registrations_mode.as_deref() {
            None => None,
            Some(m) => Some(m.parse::<RegistrationsMode>().map_err(|e| {
                ApiError::field("registrations_mode", "ERR_INVALID", &e.to_string())
            })?),
        };
    if let Some(username) = p.contact_username.as_deref().filter(|u| !u.is_empty()) {
        if accounts::by_username(&state.db, username).await?.is_none() {
            return Err(ApiError::field(
                "contact_username",
                "ERR_INVALID",
                "is not an account on this node",
            ));
        }
    }
    let merge = |new: Option<String>, old: &Option<String>| match new {
        None => old.clone(),
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v.trim().to_string()),
    };
    let settings = InstanceSettings {
        title: merge(p.title, &current.settings.title),
        description: merge(p.description, &current.settings.description),
        contact_email: merge(p.contact_email, &current.settings.contact_email),
        contact_username: merge(p.contact_username, &current.settings.contact_username),
    };
    let meta = || metadata(Some(&me.id), "admin-api");
    let instance_error = |e: AggregateError<InstanceError>| match e {
        AggregateError::UserError(InstanceError::TooLong { field, max }) => ApiError::field(
            field,
            "ERR_TOO_LONG",
            &format!("is too long (maximum is {max} characters)"),
        ),
        AggregateError::UserError(e) => ApiError::Unprocessable(e.to_string()),
        other => ApiError::internal(other),
    };
    let at = now_millis();
    let mut position = state
        .commands
        .instance(InstanceCommand::UpdateSettings { settings, at }, meta())
        .await
        .map_err(instance_error)?;
    if let Some(mode) = mode {
        let p = state
            .commands
            .instance(InstanceCommand::SetRegistrationsMode { mode, at }, meta())
            .await
            .map_err(instance_error)?;
        position = position.max(p);
    }
    state.settle(position).await;
    Ok(Json(settings_json(&instance::get(&state.db).await?)))
}

/// `DELETE /api/v1/admin/accounts/:id`: deletes a suspended local account, as Mastodon does.
/// Its statuses go (each `Delete` sent where the status went), its favourites are undone, its
/// follows end both ways, and the account is recorded deleted: the outbox worker then sends a
/// `Delete` of the actor to every server it ever sent anything to. Admins only; the name stays
/// taken. Answers with the admin view of the account, now `deleted`.
pub async fn delete_account(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = staff(&state, &auth, "admin:write:accounts").await?;
    if !me.is_admin() {
        return Err(ApiError::Forbidden("Only admins delete accounts".into()));
    }
    let account = target(&state, &id).await?;
    if account.remote.is_some() {
        return Err(ApiError::Unprocessable(
            "An account of another server is deleted by that server; suspend it here instead"
                .into(),
        ));
    }
    if account.state != "suspended" {
        return Err(ApiError::Unprocessable(
            "Only a suspended account can be deleted: suspend it first".into(),
        ));
    }
    erase_local(&state, &me, &account).await?;
    let account = target(&state, &id).await?;
    Ok(Json(entities::admin_account(&state.config, &account)))
}

/// Deletes local `account` (suspended) for admin `admin`: what it left goes as for a remote
/// actor, then `AccountDeleted`, from which the outbox worker sends the `Delete` of the actor.
pub async fn erase_local(
    state: &AppState,
    admin: &AccountRow,
    account: &AccountRow,
) -> ApiResult<()> {
    let meta = || metadata(Some(&admin.id), "admin-api");
    let (_, position) = peerpx_federation::departed::remove_traces(
        &state.federation,
        account,
        &admin.id,
        true,
        meta,
    )
    .await?;
    let p = state
        .commands
        .account(
            &account.username,
            AccountCommand::Delete { at: now_millis() },
            meta(),
        )
        .await
        .map_err(crate::accounts::account_error)?;
    state.settle(position.max(p)).await;
    Ok(())
}
