//! Profile images (avatar, header) over HTTP: uploads checked, made by `peerpx_media::profile`
//! off the async workers and kept in the blob store, served at `/system/media/{hash}.{ext}`,
//! and the placeholder images of accounts without one.
//!
//! Blobs are written to a temporary file, synced and renamed before the event that references
//! them is appended, so an acknowledged profile never points at a missing file.

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use peerpx_aggregates::account::ImageRef;
use peerpx_media::profile::{self, ImageKind, ProfileImageError};
use peerpx_storage::BlobStore;

use crate::error::{ApiError, ApiResult};
use crate::params::Upload;
use crate::{ApiConfig, AppState};

/// The public URL of a profile image.
pub fn url(config: &ApiConfig, image: &ImageRef) -> String {
    peerpx_storage::blobs::url(&config.base_url(), &image.hash, &image.content_type)
}

impl From<ProfileImageError> for ApiError {
    fn from(e: ProfileImageError) -> Self {
        match e {
            ProfileImageError::Invalid { kind, description } => {
                ApiError::field(kind.field(), "ERR_INVALID", description)
            }
            ProfileImageError::Encode(_) => ApiError::internal(e),
        }
    }
}

/// Processes and stores a profile image; returns its reference once it is durable.
pub async fn store(
    blobs: &BlobStore,
    config: &ApiConfig,
    upload: Upload,
    kind: ImageKind,
) -> ApiResult<ImageRef> {
    if upload.bytes.len() > config.max_profile_image_bytes {
        let mb = config.max_profile_image_bytes as f64 / 1_048_576.0;
        return Err(ApiError::field(
            kind.field(),
            "ERR_TOO_LARGE",
            &format!("file size must be less than {mb:.0} MB"),
        ));
    }
    let (bytes, content_type) =
        tokio::task::spawn_blocking(move || profile::process(&upload.bytes, kind))
            .await
            .map_err(ApiError::internal)??;
    let blobs = blobs.clone();
    let hash = tokio::task::spawn_blocking(move || blobs.put(&bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(ImageRef {
        hash,
        content_type: content_type.to_string(),
    })
}

/// `GET /system/media/{hash}.{ext}`
pub async fn serve(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
) -> ApiResult<Response> {
    let (hash, ext) = file.split_once('.').ok_or(ApiError::NotFound)?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound);
    }
    let content_type = match ext {
        "png" => "image/png",
        "jpg" => "image/jpeg",
        _ => return Err(ApiError::NotFound),
    };
    let bytes = state
        .blobs
        .read(&hash.to_ascii_lowercase())
        .await
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CACHE_CONTROL,
                "public, max-age=29030400, immutable".to_string(),
            ),
            (header::ETAG, format!("\"{hash}\"")),
        ],
        bytes,
    )
        .into_response())
}

fn png(bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}

/// The image shown for accounts without an avatar.
pub async fn missing_avatar() -> Response {
    png(profile::missing_avatar())
}

/// The image shown for accounts without a header.
pub async fn missing_header() -> Response {
    png(profile::missing_header())
}
