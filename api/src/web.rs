//! The web UI: the Vue app built into `web/dist` (`npm run build` in `web/`), served by the node.
//!
//! Release builds embed the files in the binary; debug builds read them from `web/dist` at run
//! time, so a rebuilt UI shows without recompiling. Files are served by path (`/assets/…` with
//! hashed names are cached for ever); every other browser path the router does not know gets
//! `index.html`, so the app's own routes (`/explore`, `/@ana/123`, `/oauth/callback` …) load it.
//! Paths that belong to the node (`/api/`, `/oauth/…`, `/ipfs/` …) never fall back to the app.

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use crate::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Assets;

/// Prefixes the node answers itself; an unknown path under them is a JSON 404, not the app.
const NODE_PATHS: &[&str] = &[
    "/api/",
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/revoke",
    "/ipfs/",
    "/system/",
    "/avatars/",
    "/headers/",
    "/nodeinfo/",
    "/.well-known/",
    "/users/",
    "/inbox",
];

fn file(path: &str) -> Option<Response> {
    let asset = Assets::get(path)?;
    let mime = asset.metadata.mimetype().to_string();
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = asset.data.into_owned().into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(response)
}

/// Whether the UI was built (`web/dist/index.html` exists, or was embedded).
pub fn available() -> bool {
    Assets::get("index.html").is_some()
}

/// The router's fallback: a UI file, the app's `index.html`, or the node's 404.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if !matches!(method, Method::GET | Method::HEAD)
        || NODE_PATHS.iter().any(|p| path.starts_with(p))
    {
        return ApiError::NotFound.into_response();
    }
    let relative = path.trim_start_matches('/');
    let relative = if relative == "favicon.ico" {
        "favicon.svg"
    } else {
        relative
    };
    if !relative.is_empty() {
        if let Some(response) = file(relative) {
            return response;
        }
        // A missing hashed asset is a real 404, not the app.
        if relative.starts_with("assets/") {
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    if let Some(response) = file("index.html") {
        return response;
    }
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><title>peerpx</title><h1>peerpx</h1><p>This node's web UI is not \
             built. Build it with <code>npm ci --prefix web &amp;&amp; npm run build --prefix \
             web</code> and restart the node (release builds embed it). The API is at \
             <code>/api/</code>.</p>",
        ),
    )
        .into_response()
}

/// `GET /@{username}`: the actor for ActivityPub clients; for browsers the web app's profile page
/// when the UI is built, else federation's minimal page.
pub async fn profile_by_handle(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    axum::extract::Path(username): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> crate::ApiResult<Response> {
    use peerpx_federation::{actors, html, ld, local};
    if ld::wants_activity_json(&headers) {
        let federation = axum::extract::State(state.federation.clone());
        return Ok(actors::actor(federation, axum::extract::Path(username), headers).await?);
    }
    if available() {
        let uri = Uri::try_from(format!("/@{username}")).map_err(ApiError::internal)?;
        return Ok(fallback(Method::GET, uri).await);
    }
    let account = local::active_account(&state.federation, &username).await?;
    Ok(html::profile(&state.federation.config, &account))
}
