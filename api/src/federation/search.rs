//! `GET /api/v2/search`: accounts for now (local ones by name prefix, remote ones by their
//! `user@domain` or actor URL, fetched when `resolve=true`); statuses and hashtags come later and
//! are answered as empty lists.

use axum::extract::State;
use axum::Json;
use peerpx_projections::accounts::{self, AccountRow};
use serde::Deserialize;
use serde_json::{json, Value};

use super::resolve::{self, signer_for};
use crate::auth::MaybeAuthed;
use crate::entities;
use crate::params::{lenient, Params};
use crate::{ApiError, ApiResult, AppState};

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 40;

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    resolve: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    offset: Option<i64>,
}

/// `user@domain` (with or without a leading `@`), split.
pub fn split_acct(q: &str) -> Option<(&str, &str)> {
    let q = q.trim().trim_start_matches('@');
    let (user, domain) = q.split_once('@')?;
    let valid = |s: &str| !s.is_empty() && !s.contains(['@', '/', ' ']);
    (valid(user) && valid(domain)).then_some((user, domain))
}

pub async fn search(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    params: Params,
) -> ApiResult<Json<Value>> {
    let q: SearchQuery = params.parse()?;
    let resolve = q.resolve.unwrap_or(false);
    let me = match &auth.0 {
        Some(a) => {
            a.require(&["read:search", "read"])?;
            Some(a.user(&state).await?)
        }
        None if resolve => {
            return Err(ApiError::Unauthorized(
                "Search queries that resolve remote resources require a user token".into(),
            ))
        }
        None => None,
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let wants_accounts = q.kind.as_deref().is_none_or(|k| k == "accounts");
    let mut found: Vec<AccountRow> = Vec::new();
    let text = q.q.trim();
    if wants_accounts && !text.is_empty() && q.offset.unwrap_or(0) == 0 {
        let signer = me.as_ref().and_then(|m| signer_for(&state, m).ok());
        if let Some(a) = exact(&state, text, resolve, signer.as_ref()).await? {
            found.push(a);
        }
        let prefix = match split_acct(text) {
            Some((user, domain)) if domain.eq_ignore_ascii_case(&state.config.domain) => user,
            Some(_) => text.trim_start_matches('@'),
            None if text.starts_with("http") => "",
            None => text.trim_start_matches('@'),
        };
        if !prefix.is_empty() {
            for a in accounts::search(&state.db, prefix, limit).await? {
                if !found.iter().any(|f| f.id == a.id) {
                    found.push(a);
                }
            }
        }
    }
    found.truncate(usize::try_from(limit).unwrap_or(20));
    let rendered: Vec<Value> = found
        .iter()
        .map(|a| entities::account(&state.config, a))
        .collect();
    Ok(Json(json!({
        "accounts": rendered,
        "statuses": [],
        "hashtags": [],
    })))
}

/// The one account `text` names exactly: a remote `user@domain` or an actor URL (fetched when
/// `resolve`), or nothing.
async fn exact(
    state: &AppState,
    text: &str,
    resolve: bool,
    signer: Option<&super::signatures::Signer>,
) -> ApiResult<Option<AccountRow>> {
    let outcome = if text.starts_with("https://") || text.starts_with("http://") {
        if !resolve {
            return Ok(accounts::by_uri(&state.db, text).await?);
        }
        resolve::resolve_uri(state, text, signer, false).await?
    } else if let Some((user, domain)) = split_acct(text) {
        if domain.eq_ignore_ascii_case(&state.config.domain) {
            return Ok(accounts::by_username(&state.db, user)
                .await?
                .filter(|a| a.state == "active"));
        }
        if !resolve {
            return Ok(accounts::by_acct(&state.db, user, domain).await?);
        }
        resolve::resolve_acct(state, user, domain, signer).await?
    } else {
        return Ok(None);
    };
    match outcome {
        Ok(a) => Ok(Some(a)),
        Err(e) => {
            // Mastodon answers a failed resolution with empty results, not an error.
            tracing::info!(query = %text, error = %e, "search could not resolve");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_with_or_without_the_leading_at() {
        assert_eq!(split_acct("@ben@b.example"), Some(("ben", "b.example")));
        assert_eq!(
            split_acct("ben@127.0.0.1:8080"),
            Some(("ben", "127.0.0.1:8080"))
        );
        assert_eq!(split_acct("ben"), None);
        assert_eq!(split_acct("@ben@"), None);
        assert_eq!(split_acct("a@b@c"), None);
    }
}
