//! Domain blocks, Mastodon's admin API: `GET/POST /api/v1/admin/domain_blocks`,
//! `GET/PUT/DELETE /api/v1/admin/domain_blocks/{id}`, rendered as Mastodon's
//! `Admin::DomainBlock`.
//!
//! Admins only (Mastodon's "manage federation" permission), with the `admin:read:domain_blocks`
//! or `admin:write:domain_blocks` scope (or `admin:read` / `admin:write`). The rules are the
//! `DomainBlock` aggregate's; what a block does to federation is `federation::domain_blocks`.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::domain_block::{normalize_domain, BlockSettings, Severity};
use peerpx_aggregates::{DomainBlockCommand, DomainBlockError};
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::domain_blocks::{self, DomainBlockRow};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::{new_id, Authed};
use crate::entities::iso;
use crate::error::{ApiError, ApiResult};
use crate::paging::{self, PageQuery};
use crate::params::Params;
use crate::AppState;
use peerpx_federation::domain_blocks::sever_follows;

/// Mastodon's page sizes for admin domain blocks.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/domain_blocks", get(list).post(create))
        .route(
            "/api/v1/admin/domain_blocks/{id}",
            get(show).put(update).delete(remove),
        )
}

/// The token needs the scope and its user the admin role.
async fn admin(state: &AppState, auth: &Authed, scope: &str) -> ApiResult<AccountRow> {
    auth.require(&[scope])?;
    let me = auth.user(state).await?;
    if !me.is_admin() {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    Ok(me)
}

/// Mastodon's `Admin::DomainBlock` entity.
pub fn entity(row: &DomainBlockRow) -> Value {
    let s = &row.settings;
    json!({
        "id": row.id.to_string(),
        "domain": row.domain,
        "digest": hex::encode(Sha256::digest(row.domain.as_bytes())),
        "created_at": iso(row.created_at),
        "severity": s.severity.as_str(),
        "reject_media": s.reject_media,
        "reject_reports": s.reject_reports,
        "private_comment": s.private_comment,
        "public_comment": s.public_comment,
        "obfuscate": s.obfuscate,
    })
}

async fn target(state: &AppState, id: &str) -> ApiResult<DomainBlockRow> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(ApiError::NotFound);
    };
    domain_blocks::by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// `GET /api/v1/admin/domain_blocks`, newest first, with a `Link` header.
pub async fn list(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    admin(&state, &auth, "admin:read:domain_blocks").await?;
    let q: PageQuery = params.parse()?;
    let rows = domain_blocks::list(&state.db, q.page(DEFAULT_LIMIT, MAX_LIMIT)?).await?;
    let keys: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let items = rows.iter().map(entity).collect();
    Ok(paging::respond(
        &state.config.base_url(),
        &uri,
        items,
        &keys,
    ))
}

/// `GET /api/v1/admin/domain_blocks/{id}`
pub async fn show(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&state, &auth, "admin:read:domain_blocks").await?;
    Ok(Json(entity(&target(&state, &id).await?)))
}

/// A boolean parameter, as Rails reads one.
fn flag(params: &Map<String, Value>, key: &str, current: bool) -> ApiResult<bool> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(current),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) => Ok(n.as_i64() != Some(0)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" | "t" => Ok(true),
            "false" | "0" | "off" | "no" | "f" | "" => Ok(false),
            _ => Err(ApiError::field(key, "ERR_INVALID", "must be true or false")),
        },
        Some(_) => Err(ApiError::field(key, "ERR_INVALID", "must be true or false")),
    }
}

/// A comment parameter: absent keeps `current`, null or blank clears it.
fn comment(
    params: &Map<String, Value>,
    key: &str,
    current: &Option<String>,
) -> ApiResult<Option<String>> {
    match params.get(key) {
        None => Ok(current.clone()),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ApiError::field(key, "ERR_INVALID", "must be text")),
    }
}

/// The settings `params` give, over `current`.
fn settings(params: &Map<String, Value>, current: &BlockSettings) -> ApiResult<BlockSettings> {
    let severity = match params.get("severity") {
        None | Some(Value::Null) => current.severity,
        Some(Value::String(s)) => s.trim().parse::<Severity>().map_err(|_| {
            ApiError::field(
                "severity",
                "ERR_INVALID",
                "is not one of silence, suspend or noop",
            )
        })?,
        Some(_) => {
            return Err(ApiError::field(
                "severity",
                "ERR_INVALID",
                "is not one of silence, suspend or noop",
            ))
        }
    };
    Ok(BlockSettings {
        severity,
        reject_media: flag(params, "reject_media", current.reject_media)?,
        reject_reports: flag(params, "reject_reports", current.reject_reports)?,
        private_comment: comment(params, "private_comment", &current.private_comment)?,
        public_comment: comment(params, "public_comment", &current.public_comment)?,
        obfuscate: flag(params, "obfuscate", current.obfuscate)?,
    })
}

/// The domain as typed: Unicode names become their ASCII (punycode) form, then the aggregate's
/// normal form applies.
fn domain_param(params: &Map<String, Value>) -> ApiResult<String> {
    let text = match params.get("domain") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return Err(ApiError::field("domain", "ERR_BLANK", "can't be blank")),
    };
    let ascii = if text.is_ascii() {
        text.clone()
    } else {
        url::Url::parse(&format!("http://{text}/"))
            .ok()
            .filter(|u| u.path() == "/" && u.username().is_empty())
            .and_then(|u| peerpx_federation::resolve::authority(&u))
            .unwrap_or(text.clone())
    };
    normalize_domain(&ascii)
        .map_err(|_| ApiError::field("domain", "ERR_INVALID", "is not a valid domain name"))
}

fn block_error(e: AggregateError<DomainBlockError>) -> ApiError {
    match e {
        AggregateError::UserError(DomainBlockError::NotBlocked) => ApiError::NotFound,
        AggregateError::UserError(DomainBlockError::TooLong { field, max }) => ApiError::field(
            field,
            "ERR_TOO_LONG",
            &format!("is too long (maximum is {max} characters)"),
        ),
        AggregateError::UserError(DomainBlockError::InvalidDomain(_)) => {
            ApiError::field("domain", "ERR_INVALID", "is not a valid domain name")
        }
        AggregateError::UserError(e) => ApiError::Unprocessable(e.to_string()),
        other => ApiError::internal(other),
    }
}

/// Mastodon's answer to a block an existing one makes pointless: 422 naming that block.
fn conflict(existing: &DomainBlockRow) -> Response {
    let body = json!({
        "error": format!("You have already imposed stricter limits on {}.", existing.domain),
        "details": { "domain": [{ "error": "ERR_TAKEN", "description": "is already blocked" }] },
        "existing_domain_block": entity(existing),
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Ends the follows with the domain when the block suspends; returns the last position.
async fn apply_suspension(
    state: &AppState,
    me: &AccountRow,
    row: &DomainBlockRow,
) -> ApiResult<()> {
    if row.suspends() {
        let position = sever_follows(&state.federation, &me.id, &row.domain).await?;
        state.settle(position).await;
    }
    Ok(())
}

/// `POST /api/v1/admin/domain_blocks`: `domain` (required), `severity` (`suspend` by default),
/// `reject_media`, `reject_reports`, `private_comment`, `public_comment`, `obfuscate`.
pub async fn create(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Response> {
    let me = admin(&state, &auth, "admin:write:domain_blocks").await?;
    let p: Map<String, Value> = params.parse()?;
    let domain = domain_param(&p)?;
    let settings = settings(&p, &BlockSettings::default())?;
    // As Mastodon: refused when the domain is blocked already, or when a block of a parent
    // domain is at least as strict.
    if let Some(existing) = domain_blocks::rule_for(&state.db, &domain).await? {
        if existing.domain == domain || !settings.stricter_than(&existing.settings) {
            return Ok(conflict(&existing));
        }
    }
    let command = DomainBlockCommand::Block {
        id: new_id(),
        domain: domain.clone(),
        settings,
        at: now_millis(),
    };
    let result = state
        .commands
        .domain_block(&domain, command, metadata(Some(&me.id), "admin-api"))
        .await;
    let position = match result {
        Ok(p) => p,
        Err(AggregateError::UserError(DomainBlockError::AlreadyBlocked { .. }))
        | Err(AggregateError::AggregateConflict) => {
            // Blocked by a request racing this one.
            let existing = domain_blocks::by_domain(&state.db, &domain).await?;
            return match existing {
                Some(existing) => Ok(conflict(&existing)),
                None => Err(ApiError::Unprocessable(
                    "This domain is being blocked by another request".into(),
                )),
            };
        }
        Err(e) => return Err(block_error(e)),
    };
    state.settle(position).await;
    let row = domain_blocks::by_domain(&state.db, &domain)
        .await?
        .ok_or_else(|| ApiError::internal(format!("block of {domain} not in the read model")))?;
    apply_suspension(&state, &me, &row).await?;
    Ok(Json(entity(&row)).into_response())
}

/// `PUT /api/v1/admin/domain_blocks/{id}`: the parameters given replace the block's (the domain
/// stays).
pub async fn update(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let me = admin(&state, &auth, "admin:write:domain_blocks").await?;
    let current = target(&state, &id).await?;
    let p: Map<String, Value> = params.parse()?;
    let settings = settings(&p, &current.settings)?;
    let command = DomainBlockCommand::Update {
        id: current.id.to_string(),
        settings,
        at: now_millis(),
    };
    let position = state
        .commands
        .domain_block(
            &current.domain,
            command,
            metadata(Some(&me.id), "admin-api"),
        )
        .await
        .map_err(block_error)?;
    state.settle(position).await;
    let row = target(&state, &id).await?;
    if !current.suspends() {
        apply_suspension(&state, &me, &row).await?;
    }
    Ok(Json(entity(&row)))
}

/// `DELETE /api/v1/admin/domain_blocks/{id}`: lifts the block; answers `{}`.
pub async fn remove(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = admin(&state, &auth, "admin:write:domain_blocks").await?;
    let current = target(&state, &id).await?;
    let command = DomainBlockCommand::Unblock {
        id: current.id.to_string(),
        at: now_millis(),
    };
    let position = state
        .commands
        .domain_block(
            &current.domain,
            command,
            metadata(Some(&me.id), "admin-api"),
        )
        .await
        .map_err(block_error)?;
    state.settle(position).await;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_entity_has_mastodons_shape() {
        let row = DomainBlockRow {
            id: 7,
            domain: "spam.example".into(),
            settings: BlockSettings::default(),
            created_at: 0,
            updated_at: 0,
        };
        let v = entity(&row);
        assert_eq!(v["id"], "7");
        assert_eq!(v["severity"], "suspend");
        assert_eq!(v["created_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["digest"], hex::encode(Sha256::digest(b"spam.example")));
        assert_eq!(v["private_comment"], Value::Null);
    }

    #[test]
    fn parameters_merge_over_the_current_settings() {
        let current = BlockSettings {
            public_comment: Some("spam".into()),
            reject_media: true,
            ..BlockSettings::default()
        };
        let s = settings(
            &params(json!({"severity": "silence", "reject_media": "false"})),
            &current,
        )
        .expect("settings");
        assert_eq!(s.severity, Severity::Silence);
        assert!(!s.reject_media);
        assert_eq!(s.public_comment.as_deref(), Some("spam"));
        let cleared = settings(&params(json!({"public_comment": ""})), &current).expect("ok");
        assert_eq!(cleared.public_comment, None);
        assert!(settings(&params(json!({"severity": "ban"})), &current).is_err());
        assert!(settings(&params(json!({"obfuscate": "maybe"})), &current).is_err());
    }

    #[test]
    fn domains_are_required_normalised_and_idn_becomes_punycode() {
        let d = |v: Value| domain_param(&params(json!({ "domain": v })));
        assert_eq!(d(json!(" Spam.EXAMPLE ")).expect("ok"), "spam.example");
        assert_eq!(
            d(json!("bücher.example")).expect("ok"),
            "xn--bcher-kva.example"
        );
        assert_eq!(d(json!("127.0.0.1:8080")).expect("ok"), "127.0.0.1:8080");
        assert!(d(json!("")).is_err());
        assert!(d(json!("not a domain")).is_err());
        assert!(domain_param(&Map::new()).is_err());
    }
}
