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

impl From<peerpx_media::PipelineError> for ApiError {
    /// 413 for a file over the byte limit, 500 for server-side I/O, 422 (with Mastodon's per-field
    /// `details` on the `file` field) for everything wrong with the image itself.
    fn from(e: peerpx_media::PipelineError) -> Self {
        let message = e.to_string();
        match e {
            peerpx_media::PipelineError::TooLarge { .. } => ApiError::PayloadTooLarge(message),
            peerpx_media::PipelineError::Io(_) => ApiError::Internal(message),
            _ => ApiError::Validation {
                details: json!({ "file": [{
                    "error": format!("ERR_{}", e.code().to_ascii_uppercase()),
                    "description": message,
                }] }),
                message,
            },
        }
    }
}

/// Attached to 5xx responses so the logging middleware can record the cause once; the same type
/// as federation's, so one middleware logs both.
pub use peerpx_federation::error::InternalCause;

impl From<peerpx_federation::Error> for ApiError {
    fn from(e: peerpx_federation::Error) -> Self {
        use peerpx_federation::Error as F;
        match e {
            F::BadRequest(m) => Self::BadRequest(m),
            F::Unauthorized(m) => Self::Unauthorized(m),
            F::Forbidden(m) => Self::Forbidden(m),
            F::NotFound => Self::NotFound,
            F::Gone(m) => Self::Gone(m),
            F::Internal(m) => Self::Internal(m),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use peerpx_media::PipelineError;

    #[test]
    fn pipeline_errors_map_to_the_right_status_and_a_readable_message() {
        let too_large = PipelineError::TooLarge {
            bytes: 52_300_000,
            max: 40_000_000,
        };
        assert_eq!(
            ApiError::from(too_large).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let heic = PipelineError::UnsupportedFormat {
            found: "HEIC".into(),
        };
        let api = ApiError::from(heic);
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(api.to_string().contains("JPEG, PNG and WebP"), "{api}");
        assert_eq!(
            ApiError::from(PipelineError::Io("disk full".into())).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            ApiError::from(PipelineError::Truncated).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
