//! OAuth client applications as Mastodon has them: `POST /api/v1/apps` registers one (its
//! redirect URIs and scopes checked; the client secret stored only as its SHA-256), and
//! `GET /api/v1/apps/verify_credentials` tells an app's token who it is. The authorize page and
//! the token endpoint (`oauth.rs`) look apps up here.

use axum::extract::State;
use axum::Json;
use peerpx_projections::db::TextRow;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{
    has_scope, new_id, parse_scopes, random_secret, secret_hash, unknown_scope, Authed,
};
use crate::error::{ApiError, ApiResult};
use crate::oauth::OOB;
use crate::params::{lenient, Params};
use crate::AppState;
use peerpx_projections::now_millis;

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub client_id: String,
    pub(crate) secret_hash: String,
}

impl App {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "website": self.website,
            "scopes": self.scopes,
            "redirect_uri": self.redirect_uris.join("\n"),
            "redirect_uris": self.redirect_uris,
            "vapid_key": "",
        })
    }

    /// Requested scopes must each be covered by the app's scopes.
    pub(crate) fn allows(&self, requested: &[String]) -> bool {
        requested.iter().all(|r| has_scope(&self.scopes, r))
    }
}

pub(crate) async fn app_where(
    state: &AppState,
    column: &str,
    value: &str,
) -> ApiResult<Option<App>> {
    let sql = format!(
        "SELECT id, name, website, redirect_uris, scopes, client_id, client_secret_hash \
         FROM oauth_apps WHERE {column} = ?"
    );
    let row = sqlx::query(&state.db.sql(&sql))
        .bind(value)
        .fetch_optional(&state.db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let redirect: String = row.text("redirect_uris")?;
    let scopes: String = row.text("scopes")?;
    Ok(Some(App {
        id: row.text("id")?,
        name: row.text("name")?,
        website: row.opt_text("website")?,
        redirect_uris: redirect.lines().map(str::to_string).collect(),
        scopes: parse_scopes(&scopes),
        client_id: row.text("client_id")?,
        secret_hash: row.text("client_secret_hash")?,
    }))
}

#[derive(Deserialize)]
struct NewApp {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    client_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string_or_list")]
    redirect_uris: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::opt_string_or_list")]
    scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    website: Option<String>,
}

fn valid_redirect(uri: &str) -> bool {
    uri == OOB || url::Url::parse(uri).is_ok_and(|u| !u.cannot_be_a_base() || u.scheme() != "http")
}

/// `POST /api/v1/apps`
pub async fn create_app(State(state): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let p: NewApp = params.parse()?;
    let name = p.client_name.unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(ApiError::field(
            "client_name",
            "ERR_BLANK",
            "can't be blank",
        ));
    }
    if name.chars().count() > 60 {
        return Err(ApiError::field(
            "client_name",
            "ERR_TOO_LONG",
            "is too long (maximum is 60 characters)",
        ));
    }
    let redirect_uris: Vec<String> = p
        .redirect_uris
        .unwrap_or_default()
        .iter()
        .flat_map(|s| s.split(['\n', ' ']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if redirect_uris.is_empty() {
        return Err(ApiError::field(
            "redirect_uri",
            "ERR_BLANK",
            "can't be blank",
        ));
    }
    if let Some(bad) = redirect_uris.iter().find(|u| !valid_redirect(u)) {
        return Err(ApiError::field(
            "redirect_uri",
            "ERR_INVALID",
            &format!("must be an absolute URI ({bad:?} is not)"),
        ));
    }
    let scopes: Vec<String> = match p.scopes {
        Some(list) => list.iter().flat_map(|s| parse_scopes(s)).collect(),
        None => vec!["read".to_string()],
    };
    let scopes = if scopes.is_empty() {
        vec!["read".to_string()]
    } else {
        scopes
    };
    if let Some(bad) = unknown_scope(&scopes) {
        return Err(ApiError::field(
            "scopes",
            "ERR_INVALID",
            &format!("contains an unknown scope {bad:?}"),
        ));
    }
    let website = p.website.filter(|w| !w.trim().is_empty());
    let (id, client_id, client_secret) = (new_id(), random_secret(), random_secret());
    sqlx::query(&state.db.sql(
        "INSERT INTO oauth_apps (id, name, website, redirect_uris, scopes, client_id, \
         client_secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(id.clone())
    .bind(name.clone())
    .bind(website.clone())
    .bind(redirect_uris.join("\n"))
    .bind(scopes.join(" "))
    .bind(client_id.clone())
    .bind(secret_hash(&client_secret))
    .bind(now_millis())
    .execute(&state.db.pool)
    .await?;
    let app = App {
        id,
        name,
        website,
        redirect_uris,
        scopes,
        client_id: client_id.clone(),
        secret_hash: String::new(),
    };
    let mut body = app.json();
    body["client_id"] = json!(client_id);
    body["client_secret"] = json!(client_secret);
    body["client_secret_expires_at"] = json!(0);
    Ok(Json(body))
}

/// `GET /api/v1/apps/verify_credentials`
pub async fn verify_app(State(state): State<AppState>, auth: Authed) -> ApiResult<Json<Value>> {
    let app = app_where(&state, "id", &auth.token.app_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The access token is invalid".into()))?;
    let mut body = app.json();
    if let Some(map) = body.as_object_mut() {
        map.remove("id");
    }
    Ok(Json(body))
}
