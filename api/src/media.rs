//! Profile images (avatar, header): decoded, cropped, re-encoded without metadata, and kept in a
//! content-addressed blob store under the data directory.
//!
//! Re-encoding drops every metadata block, GPS included. Blobs are written to a temporary file,
//! synced and renamed before the event that references them is appended, so an acknowledged
//! profile never points at a missing file.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use peerpx_aggregates::account::ImageRef;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::params::Upload;
use crate::{ApiConfig, AppState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Avatar,
    Header,
}

impl ImageKind {
    fn size(self) -> (u32, u32) {
        match self {
            Self::Avatar => (400, 400),
            Self::Header => (1500, 500),
        }
    }
    fn field(self) -> &'static str {
        match self {
            Self::Avatar => "avatar",
            Self::Header => "header",
        }
    }
}

pub struct BlobStore {
    root: PathBuf,
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        _ => "jpg",
    }
}

pub fn url(config: &ApiConfig, image: &ImageRef) -> String {
    format!(
        "{}/system/media/{}.{}",
        config.base_url(),
        image.hash,
        extension(&image.content_type)
    )
}

fn invalid(kind: ImageKind, description: &str) -> ApiError {
    ApiError::field(kind.field(), "ERR_INVALID", description)
}

/// Whether the file ends the way its format says a file ends. Some decoders fill a truncated
/// image with grey rather than fail, so an upload cut short is caught here first.
pub fn is_complete(format: ImageFormat, bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    match format {
        // EOI marker; inside entropy-coded data 0xFF is always stuffed, so FF D9 only ends images.
        ImageFormat::Jpeg => tail.windows(2).any(|w| w == [0xFF, 0xD9]),
        ImageFormat::Png => tail.len() >= 12 && &tail[tail.len() - 8..tail.len() - 4] == b"IEND",
        ImageFormat::WebP => {
            bytes.len() >= 12 && {
                let declared =
                    u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
                declared + 8 <= bytes.len()
            }
        }
        ImageFormat::Gif => tail.iter().rev().take(16).any(|b| *b == 0x3B),
        _ => true,
    }
}

/// Decodes with limits, turns upright, crops to the kind's frame and re-encodes.
fn process(bytes: &[u8], kind: ImageKind) -> ApiResult<(Vec<u8>, &'static str)> {
    let format = image::guess_format(bytes).map_err(|_| {
        invalid(
            kind,
            "is not an image this server can read (use JPEG, PNG, WebP or GIF)",
        )
    })?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(invalid(kind, "must be a JPEG, PNG, WebP or GIF image"));
    }
    if !is_complete(format, bytes) {
        return Err(invalid(
            kind,
            "is incomplete: the file was cut short (try uploading it again)",
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let too_big = || invalid(kind, "is too large in pixels (at most 8192 x 8192)");
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => too_big(),
        _ => invalid(
            kind,
            "could not be decoded: the file is damaged or not an image",
        ),
    })?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => too_big(),
        _ => invalid(
            kind,
            "could not be decoded: the file is damaged or truncated",
        ),
    })?;
    img.apply_orientation(orientation);
    let (w, h) = kind.size();
    let img = img.resize_to_fill(w, h, image::imageops::FilterType::Lanczos3);
    let mut out = Vec::new();
    if img.color().has_alpha() {
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(ApiError::internal)?;
        Ok((out, "image/png"))
    } else {
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88);
        rgb.write_with_encoder(encoder)
            .map_err(ApiError::internal)?;
        Ok((out, "image/jpeg"))
    }
}

impl BlobStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.root.join("sha256").join(&hash[..2]).join(hash)
    }

    /// Processes and stores a profile image; returns its reference once it is durable.
    pub async fn store_profile_image(
        &self,
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
            tokio::task::spawn_blocking(move || process(&upload.bytes, kind))
                .await
                .map_err(ApiError::internal)??;
        let hash = hex::encode(Sha256::digest(&bytes));
        let path = self.path(&hash);
        tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        Ok(ImageRef {
            hash,
            content_type: content_type.to_string(),
        })
    }

    pub async fn read(&self, hash: &str) -> Option<Vec<u8>> {
        tokio::fs::read(self.path(hash)).await.ok()
    }
}

/// Writes to a temporary file, syncs it, renames it into place and syncs the directory.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", rand::random::<u64>()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
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

fn placeholder(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([shade, shade, shade]));
    let mut out = Vec::new();
    let _ = DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), ImageFormat::Png);
    out
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
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    png(PNG.get_or_init(|| placeholder(400, 400, 0xb0)))
}

/// The image shown for accounts without a header.
pub async fn missing_header() -> Response {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    png(PNG.get_or_init(|| placeholder(1500, 500, 0xdd)))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_short_jpeg_or_png_is_incomplete() {
        let mut png = Vec::new();
        let img = DynamicImage::ImageRgb8(image::RgbImage::new(4, 4));
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode");
        assert!(is_complete(ImageFormat::Png, &png));
        assert!(!is_complete(ImageFormat::Png, &png[..png.len() - 5]));
        let mut jpg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpg), ImageFormat::Jpeg)
            .expect("encode");
        assert!(is_complete(ImageFormat::Jpeg, &jpg));
        assert!(!is_complete(ImageFormat::Jpeg, &jpg[..jpg.len() - 2]));
    }
}
