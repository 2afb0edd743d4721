//! Accounts: registration, the owner's profile and public lookups.

use axum::extract::{Path, Query, State};
use axum::Json;
use cqrs_es::AggregateError;
use peerpx_aggregates::account::{
    check_profile, password_problem, valid_email, valid_username, ProfileField, Registration,
};
use peerpx_aggregates::{AccountCommand, AccountError, ProfileChanges, RegistrationsMode, Role};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::log::metadata;
use peerpx_projections::{instance, now_millis};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{hash_password, issue_token, new_id, Authed, MaybeAuthed};
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::params::{lenient, Params};
use crate::AppState;
use peerpx_federation::resolve;
use peerpx_media::profile::ImageKind;

/// Maps a domain error to the HTTP error Mastodon would give.
pub fn account_error(e: AggregateError<AccountError>) -> ApiError {
    match e {
        AggregateError::UserError(e) => match e {
            AccountError::UsernameTaken => {
                ApiError::field("username", "ERR_TAKEN", "has already been taken")
            }
            AccountError::InvalidUsername => ApiError::field(
                "username",
                "ERR_INVALID",
                "must contain only letters, numbers and underscores (at most 30)",
            ),
            AccountError::InvalidEmail => ApiError::field("email", "ERR_INVALID", "is invalid"),
            AccountError::NotFound => ApiError::NotFound,
            AccountError::NotPending => {
                ApiError::Forbidden("This account is not pending approval".into())
            }
            AccountError::Suspended => {
                ApiError::Forbidden("Your login is currently disabled".into())
            }
            AccountError::NotSuspended => {
                ApiError::Forbidden("This account is not suspended".into())
            }
            AccountError::TooLong { field, max } => ApiError::field(
                field,
                "ERR_TOO_LONG",
                &format!("is too long (maximum is {max} characters)"),
            ),
            AccountError::TooManyFields => {
                ApiError::field("fields", "ERR_TOO_LONG", "are too many (maximum is 4)")
            }
            // Only the node's start-up asks for a key, and it skips accounts that have one.
            AccountError::KeyExists => ApiError::Unprocessable(e.to_string()),
        },
        // Two writers raced on one aggregate: for registration that means the name was taken.
        AggregateError::AggregateConflict => {
            ApiError::field("username", "ERR_TAKEN", "has already been taken")
        }
        other => ApiError::internal(other),
    }
}

#[derive(Deserialize)]
struct RegisterParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    password: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    agreement: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    locale: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    reason: Option<String>,
}

/// `POST /api/v1/accounts`: registration with an app token.
pub async fn register(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:accounts"])?;
    let settings = instance::get(&state.db).await?;
    if settings.mode == RegistrationsMode::Closed {
        return Err(ApiError::Forbidden(
            "Registrations are closed on this server".into(),
        ));
    }
    let p: RegisterParams = params.parse()?;
    let username = p.username.unwrap_or_default().trim().to_string();
    let email = p.email.unwrap_or_default().trim().to_string();
    let password = p.password.unwrap_or_default();
    if username.is_empty() {
        return Err(ApiError::field("username", "ERR_BLANK", "can't be blank"));
    }
    if !valid_username(&username) {
        return Err(account_error(AggregateError::UserError(
            AccountError::InvalidUsername,
        )));
    }
    if email.is_empty() {
        return Err(ApiError::field("email", "ERR_BLANK", "can't be blank"));
    }
    if !valid_email(&email) {
        return Err(ApiError::field("email", "ERR_INVALID", "is invalid"));
    }
    if let Some(problem) = password_problem(&password) {
        let code = if password.len() < 8 {
            "ERR_TOO_SHORT"
        } else {
            "ERR_TOO_LONG"
        };
        let description = problem.trim_start_matches("password ");
        return Err(ApiError::field("password", code, description));
    }
    if p.agreement != Some(true) {
        return Err(ApiError::field(
            "agreement",
            "ERR_ACCEPTED",
            "must be accepted",
        ));
    }
    let locale = p
        .locale
        .filter(|l| !l.is_empty() && l.len() <= 16)
        .unwrap_or_else(|| "en".into());
    if accounts::by_username(&state.db, &username).await?.is_some() {
        return Err(ApiError::field(
            "username",
            "ERR_TAKEN",
            "has already been taken",
        ));
    }
    if accounts::email_taken(&state.db, &email).await? {
        return Err(ApiError::field(
            "email",
            "ERR_TAKEN",
            "has already been taken",
        ));
    }
    let approved = settings.mode == RegistrationsMode::Open;
    // The actor's key pair: generated now, on a blocking thread, and kept in the event.
    let key = peerpx_federation::keys::generate_blocking().await?;
    let registration = Registration {
        id: new_id(),
        username: username.clone(),
        email,
        password_hash: hash_password(password).await?,
        locale,
        reason: p.reason.filter(|r| !r.trim().is_empty()),
        role: Role::User,
        approved,
        at: now_millis(),
        key: Some(key),
    };
    let account_id = registration.id.clone();
    let position = state
        .commands
        .account(
            &username,
            AccountCommand::Register(registration),
            metadata(None, "api"),
        )
        .await
        .map_err(account_error)?;
    state.settle(position).await;
    let scopes = auth.token.scopes.clone();
    let (token, created_at) =
        issue_token(&state, &auth.token.app_id, Some(&account_id), &scopes).await?;
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "created_at": created_at,
    });
    // peerpx extension: say plainly what happens next.
    body["approval_required"] = json!(!approved);
    body["message"] = json!(if approved {
        "Your account is ready."
    } else {
        "Your account was created and is awaiting approval by a moderator. You can log in once it is approved."
    });
    Ok(Json(body))
}

/// `GET /api/v1/accounts/verify_credentials`
pub async fn verify_credentials(
    State(state): State<AppState>,
    auth: Authed,
) -> ApiResult<Json<Value>> {
    auth.require(&["read:accounts", "profile"])?;
    let me = auth.user(&state).await?;
    Ok(Json(entities::credential_account(&state.config, &me)))
}

#[derive(Deserialize, Default)]
struct FieldParam {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct UpdateParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    note: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    bot: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    discoverable: Option<bool>,
    /// A list, or an object keyed by index as Rails forms send it.
    #[serde(default)]
    fields_attributes: Option<Value>,
}

fn parse_fields(value: Value) -> ApiResult<Vec<ProfileField>> {
    let items: Vec<(String, Value)> = match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("{i:05}"), v))
            .collect(),
        Value::Object(map) => {
            let mut items: Vec<(String, Value)> = map.into_iter().collect();
            items.sort_by_key(|(k, _)| k.parse::<u32>().unwrap_or(u32::MAX));
            items
        }
        Value::Null => vec![],
        _ => {
            return Err(ApiError::Unprocessable(
                "fields_attributes must be a list of {name, value}".into(),
            ))
        }
    };
    let mut fields = Vec::new();
    for (_, item) in items {
        let f: FieldParam = serde_json::from_value(item)
            .map_err(|e| ApiError::Unprocessable(format!("fields_attributes: {e}")))?;
        let (name, value) = (f.name.unwrap_or_default(), f.value.unwrap_or_default());
        // Mastodon drops rows left empty in the form.
        if !name.trim().is_empty() || !value.trim().is_empty() {
            fields.push(ProfileField {
                name: name.trim().to_string(),
                value: value.trim().to_string(),
            });
        }
    }
    Ok(fields)
}

/// `PATCH /api/v1/accounts/update_credentials`
pub async fn update_credentials(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:accounts"])?;
    let me = auth.user(&state).await?;
    let p: UpdateParams = params.parse()?;
    let mut changes = ProfileChanges {
        display_name: p.display_name,
        note: p.note,
        locked: p.locked,
        bot: p.bot,
        discoverable: p.discoverable,
        fields: p.fields_attributes.map(parse_fields).transpose()?,
        ..Default::default()
    };
    // Validate everything before storing any image, so a refused edit leaves nothing behind.
    check_profile(&changes).map_err(|e| account_error(AggregateError::UserError(e)))?;
    for (name, kind) in [("avatar", ImageKind::Avatar), ("header", ImageKind::Header)] {
        if let Some(upload) = params.files.get(name) {
            let image =
                crate::profile_images::store(&state.blobs, &state.config, upload.clone(), kind)
                    .await?;
            match kind {
                ImageKind::Avatar => changes.avatar = Some(image),
                ImageKind::Header => changes.header = Some(image),
            }
        }
    }
    let position = state
        .commands
        .account(
            &me.username,
            AccountCommand::UpdateProfile {
                changes,
                at: now_millis(),
            },
            metadata(Some(&me.id), "api"),
        )
        .await
        .map_err(account_error)?;
    state.settle(position).await;
    let me = accounts::by_id(&state.db, &me.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Followers elsewhere get the `Update` from the log (`federation::outbox`).
    Ok(Json(entities::credential_account(&state.config, &me)))
}

/// Accounts others may see: active ones. Pending and suspended accounts are not found.
fn visible(account: Option<AccountRow>) -> ApiResult<AccountRow> {
    account
        .filter(|a| a.state == "active")
        .ok_or(ApiError::NotFound)
}

/// `GET /api/v1/accounts/:id`
pub async fn show(
    State(state): State<AppState>,
    _auth: MaybeAuthed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let account = visible(accounts::by_id(&state.db, &id).await?)?;
    Ok(Json(entities::account(&state.config, &account)))
}

#[derive(Deserialize)]
pub struct LookupQuery {
    acct: Option<String>,
}

/// `GET /api/v1/accounts/lookup?acct=`: `user`, `@user`, `user@this.domain`, or a remote
/// `user@domain`: known ones from the read model, others fetched (WebFinger, then the actor) when
/// a signed-in user asks.
pub async fn lookup(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Query(q): Query<LookupQuery>,
) -> ApiResult<Json<Value>> {
    let acct = q.acct.unwrap_or_default();
    let acct = acct.trim().trim_start_matches('@');
    if acct.is_empty() {
        return Err(ApiError::BadRequest(
            "The acct parameter is required".into(),
        ));
    }
    let username = match acct.split_once('@') {
        Some((user, domain)) if domain.eq_ignore_ascii_case(&state.config.domain) => user,
        Some((user, domain)) => {
            let account = match auth.0 {
                Some(auth) => {
                    let me = auth.user(&state).await?;
                    let signer = resolve::signer_for(&state.federation, &me).ok();
                    resolve::resolve_acct(&state.federation, user, domain, signer.as_ref())
                        .await?
                        .map_err(|e| {
                            tracing::info!(%acct, error = %e, "lookup could not resolve");
                            ApiError::NotFound
                        })?
                }
                None => accounts::by_acct(&state.db, user, domain)
                    .await?
                    .ok_or(ApiError::NotFound)?,
            };
            return Ok(Json(entities::account(
                &state.config,
                &visible(Some(account))?,
            )));
        }
        None => acct,
    };
    let account = visible(accounts::by_username(&state.db, username).await?)?;
    Ok(Json(entities::account(&state.config, &account)))
}
