//! peerpx-media: the photo pipeline. It turns an uploaded file (already streamed to disk) into
//! what a photo page needs — a privacy-safe original, two upright renditions, a blurhash and an
//! EXIF summary — and makes profile images ([`profile`]).
//!
//! Depends on no peerpx crate and does no I/O beyond the file it is given and the files it
//! writes: storing them (the block store) and answering HTTP are the node's.
//!
//! [`process`] runs these steps, each refusing bad input as early and as cheaply as it can:
//!
//! 1. **Limits before decoding.** The file size is checked against [`Limits::max_bytes`], the
//!    format is recognised by its magic bytes (never the file name), and the pixel dimensions are
//!    read from the header alone ([`sniff`]); an image over [`Limits::max_pixels`] — a
//!    decompression bomb such as a 389 KB PNG that would decode to 400 MP — is refused after
//!    reading a few dozen bytes, before anything is allocated for pixels. A file that does not end
//!    the way its format ends (an upload cut short) is refused too. `image::Limits::max_alloc` is
//!    set on the decoder as a second guard.
//! 2. **EXIF summary** ([`exif`]): camera, lens, exposure, date taken, orientation. GPS
//!    coordinates appear in [`ExifSummary::location`] only when [`Options::keep_location`] is set.
//! 3. **Original without location** ([`strip`]): unless `keep_location`, location metadata is
//!    removed by lossless container surgery — the compressed image data stays byte-exact, EXIF is
//!    rewritten from an allow-list (Orientation and camera fields kept, GPS, serial numbers, maker
//!    notes and thumbnails dropped), XMP/IPTC that mention a location are dropped, ICC profiles are
//!    kept. A file with nothing to remove is stored byte-exact.
//! 4. **Renditions** ([`render`]): decoded once, turned upright (EXIF orientation applied to the
//!    pixels), scaled to a long side of 2048 (`large`) and 640 (`small`) pixels, never upscaled,
//!    and encoded as JPEG (quality 85), or PNG when the image has transparent pixels. Renditions
//!    carry no metadata except the source's ICC profile, so colours do not shift.
//! 5. **Blurhash** ([`blurhash`]) of the small rendition, 4x3 components as Mastodon uses.
//!
//! Guarantees: when `keep_location` is false no output file (original or rendition) and no field of
//! [`Processed`] carries the location; reported sizes are upright sizes; every output file is
//! written to a temporary name, synced and renamed, so a file that exists is complete.
//!
//! [`process`] blocks (a 12 MP JPEG costs about 0.2 s of CPU in a release build, most of it
//! decoding and encoding): call it from `tokio::task::spawn_blocking`.

pub mod blurhash;
mod chunks;
pub mod exif;
mod plan;
pub mod profile;
pub mod render;
pub mod sniff;
pub mod strip;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use exif::{ExifSummary, GpsLocation};
pub use sniff::SourceFormat;

/// Upper bounds on what [`process`] accepts, checked before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Largest image accepted, in pixels (width x height as stored).
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 40 * 1000 * 1000,
            max_pixels: 100_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Options {
    pub limits: Limits,
    /// Keep GPS and other location metadata in the stored original and expose the coordinates in
    /// [`ExifSummary::location`]. Off by default: a location is where someone lives, often.
    pub keep_location: bool,
}

/// Why an upload was refused. Everything but [`PipelineError::Io`] is the uploader's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error("The file is not an image. Accepted formats: JPEG, PNG and WebP.")]
    NotAnImage,
    #[error("{found} images are not accepted. Accepted formats: JPEG, PNG and WebP.")]
    UnsupportedFormat { found: String },
    #[error("The image is incomplete: the file was cut short. Try uploading it again.")]
    Truncated,
    #[error("The file is {} MB; the largest accepted is {} MB.", mb(*bytes), mb(*max))]
    TooLarge { bytes: u64, max: u64 },
    #[error(
        "The image is {width} x {height} pixels; the largest accepted is {} megapixels.",
        mb(*max)
    )]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("The image could not be decoded ({0}); the file may be damaged.")]
    Corrupt(String),
    #[error("Could not read or write the image files: {0}")]
    Io(String),
}

/// Millions, with one decimal only when it is not zero ("40", "52.3").
fn mb(n: u64) -> String {
    let m = n as f64 / 1_000_000.0;
    if (m - m.round()).abs() < 0.05 {
        format!("{m:.0}")
    } else {
        format!("{m:.1}")
    }
}

impl PipelineError {
    /// A stable snake_case identifier for logs, metrics and API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnImage => "not_an_image",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::Truncated => "truncated",
            Self::TooLarge { .. } => "too_large",
            Self::TooManyPixels { .. } => "too_many_pixels",
            Self::Corrupt(_) => "corrupt",
            Self::Io(_) => "io",
        }
    }
}

impl From<io::Error> for PipelineError {
    fn from(e: io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

/// One rendition written to disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    pub path: PathBuf,
    pub content_type: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

/// The stored original: the uploaded file, minus location metadata unless it was kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Original {
    pub path: PathBuf,
    pub content_type: String,
    pub bytes: u64,
    /// Upright size (after EXIF orientation), which is how the photo is shown.
    pub width: u32,
    pub height: u32,
    /// Whether metadata was removed; `false` means the file is byte-for-byte the upload.
    pub stripped: bool,
}

/// Mastodon's focal point: x and y in -1.0..=1.0, (0, 0) the centre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Focus {
    pub x: f32,
    pub y: f32,
}

/// Everything [`process`] produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Processed {
    pub format: SourceFormat,
    pub original: Original,
    pub small: Rendition,
    pub large: Rendition,
    pub blurhash: String,
    pub exif: ExifSummary,
    /// Always `None` from the pipeline; the uploader may set it later.
    pub focus: Option<Focus>,
}

/// Long side of the `large` rendition.
pub const LARGE_SIDE: u32 = 2048;
/// Long side of the `small` rendition.
pub const SMALL_SIDE: u32 = 640;

/// Runs the whole pipeline on the file at `input` and writes `original.<ext>`, `large.<ext>` and
/// `small.<ext>` into `out_dir` (created if missing; existing files of those names are replaced).
///
/// Blocking: run it in `spawn_blocking`. Only the decoder holds the image in memory; the original
/// is streamed from `input` to `out_dir`. Input errors are found before `out_dir` is touched; after
/// an [`PipelineError::Io`] error `out_dir` may hold some of the files and should be discarded.
pub fn process(input: &Path, opts: &Options, out_dir: &Path) -> Result<Processed, PipelineError> {
    let probe = sniff::probe(input, &opts.limits)?;
    let format = probe.format;
    let mut summary = exif::read_summary(input);
    if !opts.keep_location {
        summary.location = None;
    }

    // Decode before writing anything, so that a damaged image leaves no files behind.
    let decoded = render::decode(input, format, &probe, &opts.limits)?;
    let (width, height) = (decoded.image.width(), decoded.image.height());

    std::fs::create_dir_all(out_dir)?;
    let original_path = out_dir.join(format!("original.{}", format.extension()));
    let stripped = if opts.keep_location {
        write_atomically(&original_path, |w| copy_file(input, w))?;
        false
    } else {
        strip::strip_location(input, format, &original_path)?
    };
    let renditions = render::renditions(&decoded, out_dir)?;

    Ok(Processed {
        format,
        original: Original {
            bytes: std::fs::metadata(&original_path)?.len(),
            path: original_path,
            content_type: format.content_type().to_string(),
            width,
            height,
            stripped,
        },
        small: renditions.small,
        large: renditions.large,
        blurhash: renditions.blurhash,
        exif: summary,
        focus: None,
    })
}

/// Copies `input` to `w` unchanged.
fn copy_file(input: &Path, w: &mut dyn Write) -> io::Result<()> {
    let mut file = File::open(input)?;
    io::copy(&mut file, w)?;
    Ok(())
}

/// Writes through `fill` into a temporary file next to `path`, syncs it, renames it over `path`
/// and syncs the directory: readers see the old file or the complete new one, never a partial
/// one. Unlike `media::write_durably` (content-addressed blobs, so an existing file is already
/// right) this replaces an existing file, since `original.jpg` and friends are fixed names.
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("output path has no parent"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", rand::random::<u64>()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    pub fn data(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/")).join(name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod errors_tests {
    use super::*;

    #[test]
    fn errors_read_as_sentences_a_person_understands() {
        let too_large = PipelineError::TooLarge {
            bytes: 52_300_000,
            max: 40_000_000,
        };
        assert_eq!(
            too_large.to_string(),
            "The file is 52.3 MB; the largest accepted is 40 MB."
        );
        let heic = PipelineError::UnsupportedFormat {
            found: "HEIC".into(),
        };
        assert_eq!(heic.code(), "unsupported_format");
        assert!(heic.to_string().contains("JPEG, PNG and WebP"), "{heic}");
        let bomb = PipelineError::TooManyPixels {
            width: 20000,
            height: 20000,
            max: 100_000_000,
        };
        assert_eq!(
            bomb.to_string(),
            "The image is 20000 x 20000 pixels; the largest accepted is 100 megapixels."
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        write_atomically(&path, |w| w.write_all(b"one")).unwrap();
        write_atomically(&path, |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
