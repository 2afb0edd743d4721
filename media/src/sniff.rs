//! Everything checked before decoding: file size, format by magic bytes, completeness, and the
//! pixel dimensions as the header declares them. Only the first few bytes of the file are read
//! (plus the JPEG marker segments before the frame header, and the last kilobyte — or, when the
//! image does not end there, its segments up to the end marker), never pixel data.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::ImageFormat;
use serde::{Deserialize, Serialize};

use crate::profile::is_complete;
use crate::{chunks, strip, Limits, PipelineError};

/// The formats the pipeline accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
}

impl SourceFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::WebP => "webp",
        }
    }

    pub(crate) fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::WebP => ImageFormat::WebP,
        }
    }
}

/// What the header says, before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: SourceFormat,
    /// Width and height as stored (before EXIF orientation).
    pub width: u32,
    pub height: u32,
}

/// Recognises the format from the first bytes of a file.
pub fn detect(head: &[u8]) -> Result<SourceFormat, PipelineError> {
    let unsupported = |found: &str| {
        Err(PipelineError::UnsupportedFormat {
            found: found.to_string(),
        })
    };
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(SourceFormat::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(SourceFormat::Png);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Ok(SourceFormat::WebP);
    }
    // Formats people do upload (phones save HEIC by default), named so the message can say
    // "HEIC images are not accepted" rather than "not an image".
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return match iso_bmff_brand(head) {
            Some(found) => unsupported(found),
            None => Err(PipelineError::NotAnImage),
        };
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return unsupported("GIF");
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return unsupported("TIFF");
    }
    if head.starts_with(&[0xFF, 0x0A]) || head.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return unsupported("JPEG XL");
    }
    if head.starts_with(b"BM") && head.len() >= 26 && head[6..10] == [0, 0, 0, 0] {
        return unsupported("BMP");
    }
    if head.starts_with(b"8BPS") {
        return unsupported("Photoshop (PSD)");
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if text.contains("<svg") {
        return unsupported("SVG");
    }
    Err(PipelineError::NotAnImage)
}

/// Names the image format of an ISO base media file (HEIF family) from its `ftyp` brands, or
/// `None` for video and other non-image files.
fn iso_bmff_brand(head: &[u8]) -> Option<&'static str> {
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = size.clamp(12, head.len());
    // Major brand at 8..12, minor version at 12..16, compatible brands after.
    let brands = std::iter::once(&head[8..12]).chain(head.get(16..end).unwrap_or(&[]).chunks(4));
    let mut heif = None;
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some("AVIF"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => heif = Some("HEIC"),
            b"mif1" | b"msf1" => heif = heif.or(Some("HEIF")),
            _ => {}
        }
    }
    heif
}

/// Checks size, format, completeness and declared dimensions against `limits`.
pub fn probe(path: &Path, limits: &Limits) -> Result<Probe, PipelineError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > limits.max_bytes {
        return Err(PipelineError::TooLarge {
            bytes: len,
            max: limits.max_bytes,
        });
    }
    let mut head = Vec::with_capacity(64);
    (&mut file).take(64).read_to_end(&mut head)?;
    if head.is_empty() {
        return Err(PipelineError::NotAnImage);
    }
    let format = detect(&head)?;

    let (width, height) = dimensions(&mut file, format).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => PipelineError::Truncated,
        io::ErrorKind::InvalidData => PipelineError::Corrupt(e.to_string()),
        _ => PipelineError::Io(e.to_string()),
    })?;
    if width == 0 || height == 0 {
        return Err(PipelineError::Corrupt("the image has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PipelineError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }

    if !complete(&mut file, format, len)? {
        return Err(PipelineError::Truncated);
    }
    Ok(Probe {
        format,
        width,
        height,
    })
}

/// Whether the file ends the way its format ends (decoders may fill a cut-short image with grey
/// instead of failing). JPEG and PNG reuse `profile::is_complete`, which only looks at the last
/// kilobyte; when that fails, the file may still be whole with data appended after the image
/// (Samsung phones add a trailer to every JPEG), so the segments or chunks are walked to the end
/// marker. WebP compares the RIFF size with the file length.
fn complete(file: &mut File, format: SourceFormat, len: u64) -> io::Result<bool> {
    match format {
        SourceFormat::WebP => {
            let mut header = [0u8; 8];
            file.seek(SeekFrom::Start(0))?;
            file.read_exact(&mut header)?;
            let declared = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            Ok(u64::from(declared) + 8 <= len)
        }
        SourceFormat::Jpeg | SourceFormat::Png => {
            let tail_len = len.min(1024);
            file.seek(SeekFrom::Start(len - tail_len))?;
            let mut tail = Vec::with_capacity(tail_len as usize);
            file.take(tail_len).read_to_end(&mut tail)?;
            if is_complete(format.image_format(), &tail) {
                return Ok(true);
            }
            file.seek(SeekFrom::Start(0))?;
            let mut r = BufReader::new(file);
            let walked = match format {
                SourceFormat::Png => chunks::plan_png(&mut r, len),
                _ => strip::plan_jpeg(&mut r, len),
            };
            match walked {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads the stored width and height from the header.
fn dimensions(file: &mut File, format: SourceFormat) -> io::Result<(u32, u32)> {
    file.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::new(file);
    match format {
        SourceFormat::Png => {
            // The IHDR chunk must come first: signature, length, "IHDR", width, height.
            let mut h = [0u8; 24];
            r.read_exact(&mut h)?;
            if &h[12..16] != b"IHDR" {
                return Err(invalid("PNG without IHDR"));
            }
            Ok((be32(&h[16..20]), be32(&h[20..24])))
        }
        SourceFormat::WebP => webp_dimensions(&mut r),
        SourceFormat::Jpeg => jpeg_dimensions(&mut r),
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn le24(b: &[u8]) -> u32 {
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

fn webp_dimensions(r: &mut impl Read) -> io::Result<(u32, u32)> {
    // RIFF header (12) + first chunk header (8) + enough of its payload (10).
    let mut h = [0u8; 30];
    r.read_exact(&mut h)?;
    let payload = &h[20..];
    match &h[12..16] {
        // Extended format: 24-bit canvas width-1 and height-1 after 4 bytes of flags.
        b"VP8X" => Ok((le24(&payload[4..7]) + 1, le24(&payload[7..10]) + 1)),
        // Lossless: signature 0x2F, then 14 bits of width-1 and 14 bits of height-1.
        b"VP8L" => {
            if payload[0] != 0x2F {
                return Err(invalid("bad VP8L signature"));
            }
            let bits = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        // Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        b"VP8 " => {
            if payload[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(invalid("bad VP8 start code"));
            }
            let w = u16::from_le_bytes([payload[6], payload[7]]) & 0x3FFF;
            let h = u16::from_le_bytes([payload[8], payload[9]]) & 0x3FFF;
            Ok((u32::from(w), u32::from(h)))
        }
        _ => Err(invalid("unknown WebP chunk")),
    }
}

/// Walks the marker segments up to the first frame header (SOFn) without reading pixel data.
fn jpeg_dimensions(r: &mut BufReader<&mut File>) -> io::Result<(u32, u32)> {
    let mut soi = [0u8; 2];
    r.read_exact(&mut soi)?;
    loop {
        let marker = next_marker(r)?;
        match marker {
            // Stand-alone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            // SOI again, EOI or start of scan before any frame header.
            0xD8..=0xDA => return Err(invalid("JPEG without a frame header")),
            _ => {}
        }
        let mut len = [0u8; 2];
        r.read_exact(&mut len)?;
        let len = u16::from_be_bytes(len);
        if len < 2 {
            return Err(invalid("bad JPEG segment length"));
        }
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let mut sof = [0u8; 5];
            r.read_exact(&mut sof)?;
            let height = u16::from_be_bytes([sof[1], sof[2]]);
            let width = u16::from_be_bytes([sof[3], sof[4]]);
            return Ok((u32::from(width), u32::from(height)));
        }
        r.seek_relative(i64::from(len) - 2)?;
        // A seek past the end is not an error by itself; the next read reports it.
    }
}

/// Reads up to and including the next marker code, skipping fill bytes (FF FF …).
fn next_marker(r: &mut impl BufRead) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    if b[0] != 0xFF {
        return Err(invalid("JPEG marker expected"));
    }
    loop {
        r.read_exact(&mut b)?;
        if b[0] != 0xFF {
            return Ok(b[0]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::data;
    use std::io::Write;

    fn probe_file(name: &str) -> Result<Probe, PipelineError> {
        probe(&data(name), &Limits::default())
    }

    #[test]
    fn header_dimensions_of_each_format() {
        let p = probe_file("chelsea-orientation-6.jpg").unwrap();
        assert_eq!(
            (p.format, p.width, p.height),
            (SourceFormat::Jpeg, 300, 451)
        );
        let p = probe_file("coffee.png").unwrap();
        assert_eq!((p.format, p.width, p.height), (SourceFormat::Png, 600, 400));
        let p = probe_file("rocket.webp").unwrap();
        assert_eq!(
            (p.format, p.width, p.height),
            (SourceFormat::WebP, 640, 427)
        );
        let p = probe_file("coffee-12mp-gps.jpg").unwrap();
        assert_eq!((p.width, p.height), (4000, 3000));
    }

    #[test]
    fn bad_inputs_are_refused_with_clear_errors() {
        assert_eq!(
            probe_file("bad-truncated.jpg"),
            Err(PipelineError::Truncated)
        );
        assert_eq!(
            probe_file("bad-not-an-image.jpg"),
            Err(PipelineError::NotAnImage)
        );
        let small = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        assert_eq!(
            probe(&data("rocket.jpg"), &small),
            Err(PipelineError::TooLarge {
                bytes: 57005,
                max: 1000
            })
        );
    }

    #[test]
    fn other_formats_are_named() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(
            detect(heic),
            Err(PipelineError::UnsupportedFormat {
                found: "HEIC".into()
            })
        );
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
        assert_eq!(
            detect(avif),
            Err(PipelineError::UnsupportedFormat {
                found: "AVIF".into()
            })
        );
        assert_eq!(
            detect(b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2"),
            Err(PipelineError::NotAnImage)
        );
        assert!(
            matches!(detect(b"GIF89a\x01\0"), Err(PipelineError::UnsupportedFormat { found }) if found == "GIF")
        );
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic").unwrap();
        f.write_all(&[0u8; 200]).unwrap();
        let err = probe(f.path(), &Limits::default()).unwrap_err();
        assert_eq!(err.code(), "unsupported_format");
    }
}
