//! The federation edge's error: what a handler answers a peer, or what a function called by the
//! client API reports (which `peerpx-api` turns into its own `ApiError`, variant for variant).
//!
//! Bodies have the shape the whole node answers with, Mastodon's `{"error": "…"}`; a server-side
//! cause is not shown to the peer, and travels in [`InternalCause`] for the node's logging
//! middleware to record once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    /// 401: a signature that does not verify, or none where one is required; the reason is the
    /// body (Fedify retries with draft-cavage only on 401, and peers log it).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Record not found")]
    NotFound,
    /// 410: it existed and was deleted for good (a deleted account's actor, as Mastodon answers).
    #[error("{0}")]
    Gone(String),
    /// A server-side failure: logged once with its cause, shown to the peer generically.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Gone(_) => StatusCode::GONE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable snake_case name for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::Gone(_) => "gone",
            Self::Internal(_) => "internal",
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<peerpx_projections::Error> for Error {
    fn from(e: peerpx_projections::Error) -> Self {
        Self::internal(e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

/// Attached to 5xx responses so the logging middleware can record the cause once.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Internal(_) => {
                json!({ "error": "An internal error occurred; it has been logged" })
            }
            other => json!({ "error": other.to_string() }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::Internal(cause) = self {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}
