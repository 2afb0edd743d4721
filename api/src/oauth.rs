//! OAuth 2 as Mastodon speaks it: the authorize page (login and consent), tokens and revocation.
//! Client applications are `oauth_apps.rs`.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use base64::Engine;
use peerpx_projections::db::TextRow;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::auth::{
    authenticate, issue_token, parse_scopes, random_secret, secret_hash, unknown_scope, LoginError,
};
use crate::entities::escape_html;
use crate::error::{ApiError, ApiResult};
use crate::oauth_apps::{app_where, App};
use crate::params::{lenient, Params};
use crate::{AppState, ClientIp};
use peerpx_projections::now_millis;

pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;

#[derive(Deserialize, Default)]
pub struct AuthorizeQuery {
    #[serde(default)]
    response_type: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

/// The checked parts of an authorization request.
struct Grant {
    app: App,
    redirect_uri: String,
    scopes: Vec<String>,
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = page(
        "Authorization failed",
        &format!("<p class=\"error\">{}</p>", escape_html(message)),
    );
    (status, Html(body)).into_response()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · peerpx</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         label{{display:block;margin:.8rem 0 .2rem}}input[type=text],input[type=password]{{width:100%;padding:.5rem;box-sizing:border-box}}\
         button{{margin:1rem .5rem 0 0;padding:.5rem 1rem}}.error{{color:#b00020}}code{{font-size:1.2rem}}\
         @media (prefers-color-scheme: dark){{body{{background:#111;color:#eee}}}}\
         </style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title)
    )
}

async fn check_grant(state: &AppState, q: &AuthorizeQuery) -> Result<Grant, Response> {
    if q.response_type.as_deref() != Some("code") {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The request must use response_type=code.",
        ));
    }
    let Some(client_id) = q.client_id.as_deref() else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The request names no application (client_id).",
        ));
    };
    let app = match app_where(state, "client_id", client_id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "This application is not known to this server.",
            ))
        }
        Err(e) => return Err(e.into_response()),
    };
    let redirect_uri = q
        .redirect_uri
        .clone()
        .unwrap_or_else(|| app.redirect_uris[0].clone());
    if !app.redirect_uris.contains(&redirect_uri) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is not one this application registered.",
        ));
    }
    let scopes = q
        .scope
        .as_deref()
        .map(parse_scopes)
        .unwrap_or_else(|| vec!["read".into()]);
    if unknown_scope(&scopes).is_some() || !app.allows(&scopes) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The requested scopes are not allowed for this application.",
        ));
    }
    if let Some(method) = q.code_challenge_method.as_deref() {
        if method != "S256" && method != "plain" {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "code_challenge_method must be S256 or plain.",
            ));
        }
    }
    Ok(Grant {
        app,
        redirect_uri,
        scopes,
    })
}

fn authorize_form(q: &AuthorizeQuery, grant: &Grant, login: &str, error: Option<&str>) -> String {
    let hidden = |name: &str, value: &Option<String>| {
        value.as_ref().map_or(String::new(), |v| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape_html(v)
            )
        })
    };
    let scopes: String = grant
        .scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape_html(s)))
        .collect();
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e))
    });
    let body = format!(
        "<p><strong>{app}</strong> wants to use your account with these permissions:</p><ul>{scopes}</ul>\
         {error}<form method=\"post\" action=\"/oauth/authorize\">\
         {h1}{h2}{h3}{h4}{h5}{h6}{h7}\
         <label for=\"login\">Email or username</label>\
         <input type=\"text\" id=\"login\" name=\"login\" autocomplete=\"username\" value=\"{login}\" required>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Authorize</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
        app = escape_html(&grant.app.name),
        login = escape_html(login),
        h1 = hidden("response_type", &q.response_type),
        h2 = hidden("client_id", &q.client_id),
        h3 = hidden("redirect_uri", &Some(grant.redirect_uri.clone())),
        h4 = hidden("scope", &Some(grant.scopes.join(" "))),
        h5 = hidden("state", &q.state),
        h6 = hidden("code_challenge", &q.code_challenge),
        h7 = hidden("code_challenge_method", &q.code_challenge_method),
    );
    page("Sign in to authorize", &body)
}

/// `GET /oauth/authorize`: a login-and-consent page.
pub async fn authorize_page(
    State(state): State<AppState>,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    match check_grant(&state, &q).await {
        Ok(grant) => Html(authorize_form(&q, &grant, "", None)).into_response(),
        Err(response) => response,
    }
}

fn redirect_with(uri: &str, pairs: &[(&str, Option<&str>)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return error_page(StatusCode::BAD_REQUEST, "The redirect URI is not valid.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
    }
    Redirect::to(url.as_str()).into_response()
}

/// `POST /oauth/authorize`: checks the password, then redirects back with a code (or shows it).
pub async fn authorize_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    params: Params,
) -> Response {
    let get = |k: &str| {
        params
            .value
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let q = AuthorizeQuery {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    };
    let grant = match check_grant(&state, &q).await {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    if get("decision").as_deref() == Some("deny") {
        if grant.redirect_uri == OOB {
            return error_page(StatusCode::FORBIDDEN, "You denied the application access.");
        }
        return redirect_with(
            &grant.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("state", q.state.as_deref()),
            ],
        );
    }
    let login = get("login").unwrap_or_default();
    let password = get("password").unwrap_or_default();
    let account = match authenticate(&state, ip, &login, &password).await {
        Ok(account) => account,
        Err(e) => {
            let status = match e {
                LoginError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
                LoginError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                LoginError::Pending | LoginError::Disabled => StatusCode::FORBIDDEN,
                LoginError::Invalid => StatusCode::UNAUTHORIZED,
            };
            return (
                status,
                Html(authorize_form(&q, &grant, &login, Some(&e.message()))),
            )
                .into_response();
        }
    };
    let code = random_secret();
    let stored = sqlx::query(&state.db.sql(
        "INSERT INTO oauth_codes (code_hash, app_id, account_id, redirect_uri, scopes, \
         code_challenge, challenge_method, expires_at, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
    ))
    .bind(secret_hash(&code))
    .bind(grant.app.id.clone())
    .bind(account.id.clone())
    .bind(grant.redirect_uri.clone())
    .bind(grant.scopes.join(" "))
    .bind(q.code_challenge.clone())
    .bind(q.code_challenge.as_ref().map(|_| {
        q.code_challenge_method
            .clone()
            .unwrap_or_else(|| "plain".into())
    }))
    .bind(now_millis() + CODE_LIFETIME_MS)
    .execute(&state.db.pool)
    .await;
    if let Err(e) = stored {
        return ApiError::from(e).into_response();
    }
    if grant.redirect_uri == OOB {
        let body = format!(
            "<p>Copy this authorization code and paste it into {}:</p><p><code id=\"code\">{}</code></p>",
            escape_html(&grant.app.name),
            escape_html(&code)
        );
        return Html(page("Authorization code", &body)).into_response();
    }
    redirect_with(
        &grant.redirect_uri,
        &[("code", Some(&code)), ("state", q.state.as_deref())],
    )
}

#[derive(Deserialize, Default)]
struct TokenRequest {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    grant_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    client_secret: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    code_verifier: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    password: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    token: Option<String>,
}

/// Client credentials from the body or an HTTP Basic header.
fn client_credentials(headers: &HeaderMap, r: &TokenRequest) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (r.client_id.clone(), r.client_secret.clone()),
    }
}

fn invalid_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
    )
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn token_response(secret: String, scopes: &[String], created_at: i64) -> Json<Value> {
    Json(json!({
        "access_token": secret,
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "created_at": created_at,
    }))
}

/// `POST /oauth/token`
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Response> {
    let r: TokenRequest = params.parse()?;
    let (client_id, client_secret) = client_credentials(&headers, &r);
    let app = match client_id.as_deref() {
        Some(id) => app_where(&state, "client_id", id)
            .await?
            .ok_or_else(invalid_client)?,
        None => return Err(invalid_client()),
    };
    let secret_ok = client_secret
        .as_deref()
        .is_some_and(|s| secret_hash(s) == app.secret_hash);
    if client_secret.is_some() && !secret_ok {
        return Err(invalid_client());
    }
    let requested = r
        .scope
        .as_deref()
        .map(parse_scopes)
        .filter(|s| !s.is_empty());
    let check_scopes = |scopes: Vec<String>| -> ApiResult<Vec<String>> {
        if unknown_scope(&scopes).is_some() || !app.allows(&scopes) {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            ));
        }
        Ok(scopes)
    };
    match r.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = r
                .code
                .as_deref()
                .ok_or_else(|| invalid_grant("The authorization code is missing."))?;
            let row = sqlx::query(&state.db.sql(
                "SELECT app_id, account_id, redirect_uri, scopes, code_challenge, challenge_method, \
                 expires_at, used FROM oauth_codes WHERE code_hash = ?",
            ))
            .bind(secret_hash(code))
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| invalid_grant("The authorization code is invalid."))?;
            let challenge: Option<String> = row.opt_text("code_challenge")?;
            if challenge.is_none() && !secret_ok {
                return Err(invalid_client());
            }
            if row.text("app_id")? != app.id {
                return Err(invalid_grant(
                    "The authorization code was issued to another client.",
                ));
            }
            if row.try_get::<i64, _>("used")? != 0 {
                return Err(invalid_grant("The authorization code was already used."));
            }
            if row.try_get::<i64, _>("expires_at")? < now_millis() {
                return Err(invalid_grant("The authorization code expired."));
            }
            let redirect: String = row.text("redirect_uri")?;
            if r.redirect_uri.as_deref().is_some_and(|u| u != redirect) {
                return Err(invalid_grant(
                    "The redirect URI does not match the authorization request.",
                ));
            }
            if let Some(challenge) = challenge {
                let method: Option<String> = row.opt_text("challenge_method")?;
                let verifier = r
                    .code_verifier
                    .as_deref()
                    .ok_or_else(|| invalid_grant("The PKCE code_verifier is missing."))?;
                let computed = if method.as_deref() == Some("S256") {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_string()
                };
                if computed != challenge {
                    return Err(invalid_grant(
                        "The PKCE code_verifier does not match the code challenge.",
                    ));
                }
            }
            // Spend the code exactly once, even when two requests race.
            let spent = sqlx::query(
                &state
                    .db
                    .sql("UPDATE oauth_codes SET used = 1 WHERE code_hash = ? AND used = 0"),
            )
            .bind(secret_hash(code))
            .execute(&state.db.pool)
            .await?;
            if spent.rows_affected() != 1 {
                return Err(invalid_grant("The authorization code was already used."));
            }
            let account_id: String = row.text("account_id")?;
            let scopes = parse_scopes(&row.text("scopes")?);
            let (secret, created) =
                issue_token(&state, &app.id, Some(&account_id), &scopes).await?;
            Ok(token_response(secret, &scopes, created).into_response())
        }
        Some("password") => {
            if !secret_ok {
                return Err(invalid_client());
            }
            let scopes = check_scopes(requested.unwrap_or_else(|| vec!["read".into()]))?;
            let login = r.username.as_deref().unwrap_or_default();
            let password = r.password.as_deref().unwrap_or_default();
            let account = match authenticate(&state, ip, login, password).await {
                Ok(a) => a,
                Err(LoginError::Limited(e)) | Err(LoginError::Internal(e)) => return Err(e),
                Err(e) => return Err(invalid_grant(&e.message())),
            };
            let (secret, created) =
                issue_token(&state, &app.id, Some(&account.id), &scopes).await?;
            Ok(token_response(secret, &scopes, created).into_response())
        }
        Some("client_credentials") => {
            if !secret_ok {
                return Err(invalid_client());
            }
            let scopes = check_scopes(requested.unwrap_or_else(|| vec!["read".into()]))?;
            let (secret, created) = issue_token(&state, &app.id, None, &scopes).await?;
            Ok(token_response(secret, &scopes, created).into_response())
        }
        Some(_) | None => Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )),
    }
}

/// `POST /oauth/revoke`
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Json<Value>> {
    let r: TokenRequest = params.parse()?;
    let (client_id, client_secret) = client_credentials(&headers, &r);
    let app = match client_id.as_deref() {
        Some(id) => app_where(&state, "client_id", id).await?,
        None => None,
    };
    let Some(app) = app.filter(|a| {
        client_secret
            .as_deref()
            .is_some_and(|s| secret_hash(s) == a.secret_hash)
    }) else {
        return Err(ApiError::oauth(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        ));
    };
    if let Some(token) = r.token.as_deref() {
        sqlx::query(&state.db.sql(
            "UPDATE oauth_tokens SET revoked_at = ? WHERE token_hash = ? AND app_id = ? AND revoked_at IS NULL",
        ))
        .bind(now_millis())
        .bind(secret_hash(token))
        .bind(app.id.clone())
        .execute(&state.db.pool)
        .await?;
    }
    Ok(Json(json!({})))
}
