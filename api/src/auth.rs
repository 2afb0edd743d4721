//! Bearer tokens, scopes, password hashing and login rate limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use peerpx_projections::db::TextRow;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::now_millis;

/// Every scope Mastodon defines; anything else is refused as `invalid_scope`.
pub const KNOWN_SCOPES: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "admin:read",
    "admin:write",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "admin:read:accounts",
    "admin:read:reports",
    "admin:read:domain_allows",
    "admin:read:domain_blocks",
    "admin:read:ip_blocks",
    "admin:read:email_domain_blocks",
    "admin:read:canonical_email_blocks",
    "admin:write:accounts",
    "admin:write:reports",
    "admin:write:domain_allows",
    "admin:write:domain_blocks",
    "admin:write:ip_blocks",
    "admin:write:email_domain_blocks",
    "admin:write:canonical_email_blocks",
];

/// Scopes implied by the legacy `follow` scope.
const FOLLOW_IMPLIES: &[&str] = &[
    "read:follows",
    "write:follows",
    "read:blocks",
    "write:blocks",
    "read:mutes",
    "write:mutes",
];

pub fn parse_scopes(text: &str) -> Vec<String> {
    text.split([' ', '+', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn unknown_scope(scopes: &[String]) -> Option<&String> {
    scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str()))
}

/// Does one granted scope cover the required one? `read` covers `read:accounts`, and so on.
pub fn scope_covers(granted: &str, required: &str) -> bool {
    granted == required
        || required
            .strip_prefix(granted)
            .is_some_and(|rest| rest.starts_with(':'))
        || (granted == "follow" && FOLLOW_IMPLIES.contains(&required))
}

pub fn has_scope(granted: &[String], required: &str) -> bool {
    granted.iter().any(|g| scope_covers(g, required))
}

/// A random 256-bit secret, URL-safe base64.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Secrets are stored only as their SHA-256.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A sortable numeric id: milliseconds since the epoch, then 16 random bits (like Mastodon's).
pub use peerpx_projections::new_id;

pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// An access token as presented by a request.
#[derive(Debug, Clone)]
pub struct Token {
    pub app_id: String,
    pub account_id: Option<String>,
    pub scopes: Vec<String>,
}

/// Looks a bearer token up; `Err` says why it is refused, in Doorkeeper's words.
pub async fn lookup_token(state: &AppState, secret: &str) -> ApiResult<Token> {
    let db = &state.db;
    let row = sqlx::query(&db.sql(
        "SELECT app_id, account_id, scopes, expires_at, revoked_at FROM oauth_tokens WHERE token_hash = ?",
    ))
    .bind(secret_hash(secret))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Err(ApiError::Unauthorized("The access token is invalid".into()));
    };
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(ApiError::Unauthorized(
            "The access token was revoked".into(),
        ));
    }
    if row
        .try_get::<Option<i64>, _>("expires_at")?
        .is_some_and(|t| t <= now_millis())
    {
        return Err(ApiError::Unauthorized("The access token expired".into()));
    }
    let scopes: String = row.text("scopes")?;
    Ok(Token {
        app_id: row.text("app_id")?,
        account_id: row.opt_text("account_id")?,
        scopes: parse_scopes(&scopes),
    })
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Any valid token (app or user). Endpoints check scopes with [`Authed::require`].
pub struct Authed {
    pub token: Token,
}

impl Authed {
    pub fn require(&self, scopes: &[&str]) -> ApiResult<()> {
        if scopes.iter().any(|s| has_scope(&self.token.scopes, s)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "This action is outside the authorized scopes".into(),
            ))
        }
    }

    /// The token's user, refusing app tokens and accounts that may not use the API.
    pub async fn user(&self, state: &AppState) -> ApiResult<AccountRow> {
        let Some(id) = &self.token.account_id else {
            return Err(ApiError::Unprocessable(
                "This method requires an authenticated user".into(),
            ));
        };
        let account = accounts::by_id(&state.db, id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("The access token is invalid".into()))?;
        match account.state.as_str() {
            "active" => Ok(account),
            "pending" => Err(ApiError::Forbidden(
                "Your login is currently pending approval".into(),
            )),
            _ => Err(ApiError::Forbidden(
                "Your login is currently disabled".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let secret = bearer(parts)
            .ok_or_else(|| ApiError::Unauthorized("The access token is invalid".into()))?;
        Ok(Self {
            token: lookup_token(state, &secret).await?,
        })
    }
}

/// A token if the request carries one; public endpoints use this.
pub struct MaybeAuthed(pub Option<Authed>);

impl FromRequestParts<AppState> for MaybeAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match bearer(parts) {
            None => Ok(Self(None)),
            Some(secret) => Ok(Self(Some(Authed {
                token: lookup_token(state, &secret).await?,
            }))),
        }
    }
}

/// Counts failed logins per account and attempts per IP in sliding windows.
pub struct LoginLimiter {
    per_account: u32,
    per_ip: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
    attempts: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl LoginLimiter {
    pub fn new(per_account: u32, per_ip: u32, window: Duration) -> Self {
        Self {
            per_account,
            per_ip,
            window,
            failures: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn prune(list: &mut Vec<Instant>, window: Duration) {
        let now = Instant::now();
        list.retain(|t| now.duration_since(*t) < window);
    }

    /// Records an attempt from `ip` for `login`; refuses when either limit is reached.
    pub fn check(&self, ip: Option<IpAddr>, login: &str) -> ApiResult<()> {
        let refuse = || ApiError::TooManyRequests {
            retry_after_secs: self.window.as_secs(),
        };
        if let Some(ip) = ip {
            let mut attempts = self
                .attempts
                .lock()
                .map_err(|_| ApiError::internal("limiter lock"))?;
            let list = attempts.entry(ip).or_default();
            Self::prune(list, self.window);
            if list.len() >= self.per_ip as usize {
                return Err(refuse());
            }
            list.push(Instant::now());
        }
        let mut failures = self
            .failures
            .lock()
            .map_err(|_| ApiError::internal("limiter lock"))?;
        if let Some(list) = failures.get_mut(&login.to_lowercase()) {
            Self::prune(list, self.window);
            if list.len() >= self.per_account as usize {
                return Err(refuse());
            }
        }
        Ok(())
    }

    pub fn failed(&self, login: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures
                .entry(login.to_lowercase())
                .or_default()
                .push(Instant::now());
        }
    }

    pub fn succeeded(&self, login: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&login.to_lowercase());
        }
    }
}

/// Checks a login (email or username) and password; the error says what a person should know.
pub async fn authenticate(
    state: &AppState,
    ip: Option<IpAddr>,
    login: &str,
    password: &str,
) -> Result<AccountRow, LoginError> {
    state
        .limiter
        .check(ip, login)
        .map_err(LoginError::Limited)?;
    let account = accounts::by_login(&state.db, login)
        .await
        .map_err(|e| LoginError::Internal(e.into()))?;
    let Some(account) = account else {
        // Spend the same time as a real check, so timing does not reveal which logins exist.
        let _ = verify_password(password.to_string(), dummy_hash()).await;
        state.limiter.failed(login);
        return Err(LoginError::Invalid);
    };
    if !verify_password(password.to_string(), account.password_hash.clone()).await {
        state.limiter.failed(login);
        return Err(LoginError::Invalid);
    }
    state.limiter.succeeded(login);
    match account.state.as_str() {
        "active" => Ok(account),
        "pending" => Err(LoginError::Pending),
        _ => Err(LoginError::Disabled),
    }
}

/// A real hash of a random password, computed once, to check unknown logins against.
fn dummy_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(random_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
    .clone()
}

#[derive(Debug)]
pub enum LoginError {
    Invalid,
    Pending,
    Disabled,
    Limited(ApiError),
    Internal(ApiError),
}

impl LoginError {
    pub fn message(&self) -> String {
        match self {
            Self::Invalid => "Invalid email or password.".into(),
            Self::Pending => "Your account is awaiting approval by a moderator; you can log in once it is approved.".into(),
            Self::Disabled => "Your account has been suspended.".into(),
            Self::Limited(_) => "Too many login attempts; wait a few minutes and try again.".into(),
            Self::Internal(_) => "Something went wrong on the server; try again.".into(),
        }
    }
}

/// Issues a new access token; returns the secret (shown once) and its creation time in seconds.
pub async fn issue_token(
    state: &AppState,
    app_id: &str,
    account_id: Option<&str>,
    scopes: &[String],
) -> ApiResult<(String, i64)> {
    let secret = random_secret();
    let now = now_millis();
    let expires_at = state
        .config
        .token_lifetime
        .map(|d| now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    sqlx::query(&state.db.sql(
        "INSERT INTO oauth_tokens (token_hash, app_id, account_id, scopes, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    ))
    .bind(secret_hash(&secret))
    .bind(app_id)
    .bind(account_id.map(str::to_string))
    .bind(scopes.join(" "))
    .bind(now)
    .bind(expires_at)
    .execute(&state.db.pool)
    .await?;
    Ok((secret, now / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_scopes_cover_their_sub_scopes_only() {
        assert!(scope_covers("read", "read:accounts"));
        assert!(scope_covers("admin:read", "admin:read:accounts"));
        assert!(!scope_covers("read", "write:accounts"));
        assert!(!scope_covers("read:accounts", "read"));
        assert!(!scope_covers("admin:read", "admin:write:accounts"));
        assert!(!scope_covers("read", "readable"));
        assert!(scope_covers("follow", "write:follows"));
    }

    #[test]
    fn ids_grow_with_time_and_are_numeric() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a.parse::<u64>().is_ok());
        assert!(b.len() > a.len() || b > a);
    }
}
