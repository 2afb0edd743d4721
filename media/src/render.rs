//! Decoding (with limits), orientation, and the `large` and `small` renditions.
//!
//! Renditions are JPEG (quality 85), or PNG when the image has at least one pixel that is not
//! fully opaque (JPEG has no alpha; an alpha channel that is opaque everywhere is just dropped).
//! PNG rather than lossless WebP: every browser and Mastodon client displays it, and the image
//! crate's WebP encoder is lossless only, so it would not be smaller for photographs anyway.
//!
//! Colour: renditions keep the source's colour space and embed its ICC profile (when the
//! profile's colour space matches the rendition's pixels: an RGB profile on RGB, a grey one on
//! grey). Converting to sRGB would need a colour management engine the pure-Rust stack does not
//! have; embedding is lossless and every browser honours it. A CMYK JPEG is converted to RGB by
//! the decoder without its profile, the one case where colours may shift.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use fast_image_resize::{FilterType as ResizeFilter, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageReader};

use crate::sniff::Probe;
use crate::{blurhash, write_atomically, Limits, PipelineError, Rendition, SourceFormat};
use crate::{LARGE_SIDE, SMALL_SIDE};

const JPEG_QUALITY: u8 = 85;

/// An upright decoded image and the colour profile it came with.
pub struct Decoded {
    pub image: DynamicImage,
    pub icc: Option<Vec<u8>>,
}

/// Decodes the whole image and applies its EXIF orientation to the pixels.
pub fn decode(
    path: &Path,
    format: SourceFormat,
    probe: &Probe,
    limits: &Limits,
) -> Result<Decoded, PipelineError> {
    let too_many = || PipelineError::TooManyPixels {
        width: probe.width,
        height: probe.height,
        max: limits.max_pixels,
    };
    let map = |e: ImageError| match e {
        ImageError::Limits(_) => too_many(),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            PipelineError::Truncated
        }
        ImageError::IoError(e) => PipelineError::Io(e.to_string()),
        other => PipelineError::Corrupt(other.to_string()),
    };
    let mut reader =
        ImageReader::with_format(BufReader::new(File::open(path)?), format.image_format());
    // Second guard behind the header check: the decoder may not allocate more than the pixel
    // limit justifies (8 bytes a pixel: 16-bit RGBA, the widest PNG).
    let max_alloc = limits.max_pixels.saturating_mul(8);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(max_alloc);
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(map)?;
    // `max_alloc` bounds the decoder's working buffers, but the output buffer is only checked by
    // `ImageReader::decode`, which this path (needed for orientation and ICC) bypasses.
    if decoder.total_bytes() > max_alloc {
        return Err(too_many());
    }
    // A damaged EXIF block must not sink the photo: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(map)?;
    image.apply_orientation(orientation);
    Ok(Decoded { image, icc })
}

/// The two renditions (written into `out_dir`) and the blurhash of the small one.
pub struct Renditions {
    pub large: Rendition,
    pub small: Rendition,
    pub blurhash: String,
}

pub fn renditions(decoded: &Decoded, out_dir: &Path) -> Result<Renditions, PipelineError> {
    let alpha = has_transparency(&decoded.image);
    let gray = matches!(
        decoded.image.color(),
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16
    );
    // The small rendition is scaled from the large one: the same quality at a fraction of the
    // work, since the large one is at most 2048 pixels long.
    let large = fit(&decoded.image, LARGE_SIDE);
    let small = fit(&large, SMALL_SIDE);
    let large_pixels = output_pixels(&large, gray, alpha);
    let large = write(&large_pixels, decoded.icc.as_deref(), out_dir, "large")?;
    let small_pixels = output_pixels(&small, gray, alpha);
    let small_file = write(&small_pixels, decoded.icc.as_deref(), out_dir, "small")?;
    let hash = blurhash::encode(4, 3, &small_pixels.to_rgb8());
    Ok(Renditions {
        large,
        small: small_file,
        blurhash: hash,
    })
}

/// The size that fits in a `long` x `long` box, keeping the aspect ratio, never upscaling.
pub fn fitted_size(width: u32, height: u32, long: u32) -> (u32, u32) {
    if width.max(height) <= long {
        return (width, height);
    }
    let scale = f64::from(long) / f64::from(width.max(height));
    let shorter = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    if width >= height {
        (long, shorter(height))
    } else {
        (shorter(width), long)
    }
}

/// Scales with a Lanczos3 filter. fast_image_resize (SIMD) takes ~0.1 s where
/// `image::imageops` takes over a second for 12 MP → 3 MP, and it premultiplies alpha, so
/// transparent edges do not bleed dark fringes. `image` remains the fallback for pixel layouts
/// fast_image_resize does not know.
fn fit(image: &DynamicImage, long: u32) -> Cow<'_, DynamicImage> {
    let (w, h) = fitted_size(image.width(), image.height(), long);
    if (w, h) == (image.width(), image.height()) {
        return Cow::Borrowed(image);
    }
    let mut resized = DynamicImage::new(w, h, image.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(ResizeFilter::Lanczos3));
    match Resizer::new().resize(image, &mut resized, &options) {
        Ok(()) => Cow::Owned(resized),
        Err(_) => Cow::Owned(image.resize_exact(w, h, FilterType::Lanczos3)),
    }
}

/// Whether any pixel is less than fully opaque.
fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(b) => b.as_raw().chunks_exact(2).any(|p| p[1] < u8::MAX),
        DynamicImage::ImageRgba8(b) => b.as_raw().chunks_exact(4).any(|p| p[3] < u8::MAX),
        DynamicImage::ImageLumaA16(b) => b.as_raw().chunks_exact(2).any(|p| p[1] < u16::MAX),
        DynamicImage::ImageRgba16(b) => b.as_raw().chunks_exact(4).any(|p| p[3] < u16::MAX),
        DynamicImage::ImageRgba32F(b) => b.as_raw().chunks_exact(4).any(|p| p[3] < 1.0),
        other => other.color().has_alpha(),
    }
}

/// 8-bit pixels in the layout the rendition is encoded in.
fn output_pixels(image: &DynamicImage, gray: bool, alpha: bool) -> DynamicImage {
    match (gray, alpha) {
        (true, true) => DynamicImage::ImageLumaA8(image.to_luma_alpha8()),
        (true, false) => DynamicImage::ImageLuma8(image.to_luma8()),
        (false, true) => DynamicImage::ImageRgba8(image.to_rgba8()),
        (false, false) => DynamicImage::ImageRgb8(image.to_rgb8()),
    }
}

/// The profile, if it describes pixels like these (ICC header bytes 16..20: data colour space).
fn matching_icc<'a>(icc: Option<&'a [u8]>, pixels: &DynamicImage) -> Option<&'a [u8]> {
    let space: &[u8] = if matches!(pixels.color(), ColorType::L8 | ColorType::La8) {
        b"GRAY"
    } else {
        b"RGB "
    };
    icc.filter(|p| p.get(16..20) == Some(space))
}

fn write(
    pixels: &DynamicImage,
    icc: Option<&[u8]>,
    out_dir: &Path,
    name: &str,
) -> Result<Rendition, PipelineError> {
    let (width, height) = (pixels.width(), pixels.height());
    let icc = matching_icc(icc, pixels).map(<[u8]>::to_vec);
    let mut buf = Vec::new();
    let (ext, content_type) = if pixels.color().has_alpha() {
        let mut encoder =
            PngEncoder::new_with_quality(&mut buf, CompressionType::Default, PngFilter::Adaptive);
        if let Some(icc) = icc {
            // Only fails for encoders without ICC support; PNG has it.
            let _ = encoder.set_icc_profile(icc);
        }
        encoder
            .write_image(pixels.as_bytes(), width, height, pixels.color().into())
            .map_err(|e| PipelineError::Io(format!("PNG encoding failed: {e}")))?;
        ("png", "image/png")
    } else {
        let mut encoder = JpegEncoder::new_with_quality(&mut buf, JPEG_QUALITY);
        if let Some(icc) = icc {
            let _ = encoder.set_icc_profile(icc);
        }
        encoder
            .write_image(pixels.as_bytes(), width, height, pixels.color().into())
            .map_err(|e| PipelineError::Io(format!("JPEG encoding failed: {e}")))?;
        ("jpg", "image/jpeg")
    };
    let path = out_dir.join(format!("{name}.{ext}"));
    write_atomically(&path, |w| w.write_all(&buf))?;
    Ok(Rendition {
        path,
        content_type: content_type.to_string(),
        bytes: buf.len() as u64,
        width,
        height,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    #[test]
    fn sizes_fit_the_long_side_and_never_grow() {
        assert_eq!(fitted_size(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fitted_size(2048, 1536, 640), (640, 480));
        assert_eq!(fitted_size(3000, 4000, 640), (480, 640));
        assert_eq!(fitted_size(451, 300, 640), (451, 300));
        assert_eq!(fitted_size(10000, 3, 640), (640, 1));
    }

    #[test]
    fn opaque_alpha_is_not_transparency() {
        let opaque = DynamicImage::ImageRgba8(RgbaImage::from_pixel(4, 4, Rgba([1, 2, 3, 255])));
        assert!(!has_transparency(&opaque));
        let mut see_through = RgbaImage::from_pixel(4, 4, Rgba([1, 2, 3, 255]));
        see_through.put_pixel(3, 3, Rgba([0, 0, 0, 10]));
        assert!(has_transparency(&DynamicImage::ImageRgba8(see_through)));
        assert!(!has_transparency(&DynamicImage::ImageRgb8(RgbImage::new(
            2, 2
        ))));
    }

    #[test]
    fn icc_profiles_are_embedded_only_on_matching_pixels() {
        let mut rgb_profile = vec![0u8; 128];
        rgb_profile[16..20].copy_from_slice(b"RGB ");
        let mut cmyk_profile = rgb_profile.clone();
        cmyk_profile[16..20].copy_from_slice(b"CMYK");
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([200, 10, 10])));
        assert!(matching_icc(Some(&rgb_profile), &rgb).is_some());
        assert!(matching_icc(Some(&cmyk_profile), &rgb).is_none());
        let gray = DynamicImage::ImageLuma8(image::GrayImage::new(2, 2));
        assert!(matching_icc(Some(&rgb_profile), &gray).is_none());

        let dir = tempfile::tempdir().unwrap();
        let r = write(&rgb, Some(&rgb_profile), dir.path(), "x").unwrap();
        let mut decoder =
            image::codecs::jpeg::JpegDecoder::new(BufReader::new(File::open(&r.path).unwrap()))
                .unwrap();
        assert_eq!(decoder.icc_profile().unwrap(), Some(rgb_profile));
    }
}
