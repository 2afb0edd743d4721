//! Profile images (avatar, header): decoded with limits, turned upright, cropped to their frame
//! and re-encoded without metadata.
//!
//! Re-encoding drops every metadata block, GPS included. Pure and blocking, like the photo
//! pipeline: call [`process`] from `spawn_blocking`. Storing the result is the caller's (the blob
//! store of `peerpx-storage`).

use std::io::Cursor;
use std::sync::OnceLock;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

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

    /// The form field (and Mastodon `details` key) an image of this kind is uploaded as.
    pub fn field(self) -> &'static str {
        match self {
            Self::Avatar => "avatar",
            Self::Header => "header",
        }
    }
}

/// Why a profile image was refused, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileImageError {
    /// The upload itself is wrong; the description reads after the field name ("avatar is …").
    #[error("{} {description}", kind.field())]
    Invalid {
        kind: ImageKind,
        description: &'static str,
    },
    /// Encoding the result failed: the server's fault, not the uploader's.
    #[error("encoding the image failed: {0}")]
    Encode(String),
}

impl ProfileImageError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::Encode(_) => "encode",
        }
    }
}

fn invalid(kind: ImageKind, description: &'static str) -> ProfileImageError {
    ProfileImageError::Invalid { kind, description }
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
pub fn process(
    bytes: &[u8],
    kind: ImageKind,
) -> Result<(Vec<u8>, &'static str), ProfileImageError> {
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
            .map_err(|e| ProfileImageError::Encode(e.to_string()))?;
        Ok((out, "image/png"))
    } else {
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88);
        rgb.write_with_encoder(encoder)
            .map_err(|e| ProfileImageError::Encode(e.to_string()))?;
        Ok((out, "image/jpeg"))
    }
}

/// A plain grey PNG of the given size (the image shown for accounts without an avatar or
/// header), made once per process by its caller.
pub fn placeholder(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([shade, shade, shade]));
    let mut out = Vec::new();
    let _ = DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), ImageFormat::Png);
    out
}

/// [`placeholder`] for accounts without an avatar, made once.
pub fn missing_avatar() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| placeholder(400, 400, 0xb0))
}

/// [`placeholder`] for accounts without a header, made once.
pub fn missing_header() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| placeholder(1500, 500, 0xdd))
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
