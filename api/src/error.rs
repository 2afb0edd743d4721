//! The HTTP edge's one error type, rendered the way Mastodon renders errors.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Record not found")]
    NotFound,
    /// 410: it existed and was deleted for good (a deleted account's actor, as Mastodon answers).
    #[error("{0}")]
    Gone(String),
    /// 422 with Mastodon's per-field `details`.
    #[error("{message}")]
    Validation { message: String, details: Value },
    #[error("{0}")]
    Unprocessable(String),
    #[error("Too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// An OAuth error in RFC 6749's shape (`error` + `error_description`).
    #[error("{description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    /// A server-side failure: logged once with its cause, shown to the client generically.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Gone(_) => StatusCode::GONE,
            Self::Validation { .. } | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::OAuth { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// A 422 for one field, with Mastodon's error code (`ERR_TAKEN`, `ERR_INVALID`, …).
    pub fn field(field: &str, code: &str, description: &str) -> Self {
        let label = {
            let mut c = field.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        };
        Self::Validation {
            message: format!("Validation failed: {label} {description}"),
            details: json!({ field: [{ "error": code, "description": description }] }),
        }
    }

    pub fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            status,
            error,
            description: description.into(),
        }
    }
}

impl From<peerpx_projections::Error> for ApiError {
    fn from(e: peerpx_projections::Error) -> Self {
        Self::internal(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

/// Attached to 5xx responses so the logging middleware can record the cause once.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Internal(_) => {
                json!({ "error": "An internal error occurred; it has been logged" })
            }
            Self::Validation { message, details } => {
                json!({ "error": message, "details": details })
            }
            Self::OAuth {
                error, description, ..
            } => {
                json!({ "error": error, "error_description": description })
            }
            other => json!({ "error": other.to_string() }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let Self::Internal(cause) = self {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}
