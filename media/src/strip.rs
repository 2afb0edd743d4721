//! Removes location metadata from the original by container surgery, never by re-encoding: the
//! compressed image data is copied byte for byte, so the stored original is exactly as sharp as
//! the upload.
//!
//! The file is walked once, segment by segment (JPEG) or chunk by chunk (PNG, WebP; see
//! [`crate::chunks`]), into a [`Plan`]: byte ranges to copy from the upload and the few new
//! bytes (a clean EXIF block) to put in between. Only metadata blocks are read into memory.
//! When the plan changes nothing the upload is copied unchanged.
//!
//! What counts as location, and what happens to it:
//! - EXIF with a GPS IFD (or one that cannot be fully parsed, so we cannot vouch for it) is
//!   replaced by a block rewritten from an allow-list ([`crate::exif::clean_tiff`]) that keeps
//!   Orientation — so the original still displays upright — and the camera fields.
//! - XMP packets that mention GPS, a location, city, state or country are dropped whole; they
//!   are mostly editing history, not worth a fragile XML rewrite.
//! - JPEG APP13 (Photoshop/IPTC) with IPTC location datasets is dropped.
//! - Bytes after the end of the image (phones append secondary images there, each with its own
//!   EXIF) are dropped when they look like metadata or when anything else was stripped, together
//!   with the MPF index that points at them.
//! - ICC profiles (JPEG APP2 `ICC_PROFILE`, PNG iCCP, WebP ICCP) are always kept.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::plan::{
    finish_trailer, invalid, judge_exif, mentions_location, read_u8, read_vec, skip, ExifAction,
    Plan,
};
use crate::{chunks, write_atomically, PipelineError, SourceFormat};

/// Whether an IPTC-IIM block (inside Photoshop's APP13) has a location dataset: record 2,
/// datasets 26/27 (content location), 90 (city), 92 (sublocation), 95 (province/state),
/// 100/101 (country code/name).
fn iptc_has_location(data: &[u8]) -> bool {
    data.windows(3)
        .any(|w| w[0] == 0x1C && w[1] == 0x02 && matches!(w[2], 26 | 27 | 90 | 92 | 95 | 100 | 101))
}

/// Writes the upload to `out` without location metadata. Returns whether anything was removed
/// (`false`: `out` is byte-for-byte the upload).
pub fn strip_location(
    input: &Path,
    format: SourceFormat,
    out: &Path,
) -> Result<bool, PipelineError> {
    let mut file = File::open(input)?;
    let file_len = file.metadata()?.len();
    let plan = {
        let mut r = BufReader::new(&mut file);
        match format {
            SourceFormat::Jpeg => plan_jpeg(&mut r, file_len),
            SourceFormat::Png => chunks::plan_png(&mut r, file_len),
            SourceFormat::WebP => chunks::plan_webp(&mut r, file_len),
        }
    }
    .map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => PipelineError::Truncated,
        io::ErrorKind::InvalidData => PipelineError::Corrupt(e.to_string()),
        _ => PipelineError::Io(e.to_string()),
    })?;
    if plan.changed {
        write_atomically(out, |w| plan.write(&mut file, w))?;
    } else {
        file.seek(SeekFrom::Start(0))?;
        write_atomically(out, |w| io::copy(&mut file, w).map(|_| ()))?;
    }
    Ok(plan.changed)
}

const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXTENSION_ID: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

/// Reads a marker code (after one FF and any fill FFs).
fn read_marker(r: &mut impl Read, pos: &mut u64) -> io::Result<u8> {
    if read_u8(r, pos)? != 0xFF {
        return Err(invalid("JPEG marker expected"));
    }
    loop {
        let b = read_u8(r, pos)?;
        if b != 0xFF {
            return Ok(b);
        }
    }
}

/// Skips entropy-coded data (where FF is always followed by 00 or a restart marker) and returns
/// the code of the marker that ends it, with `pos` just past that code.
fn skip_entropy(r: &mut impl BufRead, pos: &mut u64) -> io::Result<u8> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let Some(i) = buf.iter().position(|&b| b == 0xFF) else {
            let n = buf.len();
            r.consume(n);
            *pos += n as u64;
            continue;
        };
        r.consume(i + 1);
        *pos += i as u64 + 1;
        let code = loop {
            let b = read_u8(r, pos)?;
            if b != 0xFF {
                break b;
            }
        };
        if !matches!(code, 0x00 | 0xD0..=0xD7) {
            return Ok(code);
        }
    }
}

/// Walks a JPEG from SOI to EOI and decides about every metadata segment.
pub(crate) fn plan_jpeg(r: &mut BufReader<&mut File>, file_len: u64) -> io::Result<Plan> {
    let mut plan = Plan::default();
    let mut pos = 0u64;
    let mut soi = [0u8; 2];
    r.read_exact(&mut soi)?;
    pos += 2;
    plan.copy(0, 2);
    let mut pending: Option<u8> = None;
    let mut mpf: Vec<usize> = Vec::new();
    let mut xmp_dropped = false;
    loop {
        let (start, code) = match pending.take() {
            Some(code) => (pos - 2, code),
            None => {
                let start = pos;
                (start, read_marker(r, &mut pos)?)
            }
        };
        match code {
            0xD9 => {
                plan.copy(start, pos - start);
                break;
            }
            0x01 | 0xD0..=0xD7 => {
                plan.copy(start, pos - start);
                continue;
            }
            0xD8 => return Err(invalid("unexpected SOI")),
            _ => {}
        }
        let len = u16::from_be_bytes([read_u8(r, &mut pos)?, read_u8(r, &mut pos)?]);
        let payload_len = u64::from(len.checked_sub(2).ok_or_else(|| invalid("bad length"))?);
        let whole = pos + payload_len - start;
        // Only the segments that may carry location are read; the rest are skipped over.
        if !matches!(code, 0xE1 | 0xE2 | 0xED) {
            skip(r, payload_len, &mut pos)?;
            plan.copy(start, whole);
            if code == 0xDA {
                let data_start = pos;
                pending = Some(skip_entropy(r, &mut pos)?);
                plan.copy(data_start, pos - 2 - data_start);
            }
            continue;
        }
        let payload = read_vec(r, payload_len, &mut pos)?;
        match code {
            0xE1 if payload.starts_with(b"Exif\0\0") => match judge_exif(&payload[6..]) {
                ExifAction::Keep => {
                    plan.copy(start, whole);
                }
                ExifAction::Replace(tiff) if tiff.len() + 8 <= usize::from(u16::MAX) => {
                    let seg_len = (tiff.len() + 8) as u16;
                    let mut seg = vec![0xFF, 0xE1];
                    seg.extend_from_slice(&seg_len.to_be_bytes());
                    seg.extend_from_slice(b"Exif\0\0");
                    seg.extend_from_slice(&tiff);
                    plan.insert(seg);
                }
                ExifAction::Replace(_) | ExifAction::Drop => plan.drop_range(),
            },
            0xE1 if payload.starts_with(XMP_ID) && mentions_location(&payload) => {
                xmp_dropped = true;
                plan.drop_range();
            }
            // Extended XMP continues the main packet: gone with it, or judged on its own.
            0xE1 if payload.starts_with(XMP_EXTENSION_ID)
                && (xmp_dropped || mentions_location(&payload)) =>
            {
                plan.drop_range();
            }
            0xED if payload.starts_with(b"Photoshop 3.0\0") && iptc_has_location(&payload) => {
                plan.drop_range();
            }
            0xE2 if payload.starts_with(b"MPF\0") => mpf.push(plan.copy(start, whole)),
            _ => {
                plan.copy(start, whole);
            }
        }
    }
    finish_trailer(r, &mut plan, pos, file_len, &mpf)?;
    Ok(plan)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::plan::Piece;
    use crate::test_support::data;

    fn plan_of(name: &str) -> Plan {
        let mut file = File::open(data(name)).unwrap();
        let len = file.metadata().unwrap().len();
        plan_jpeg(&mut BufReader::new(&mut file), len).unwrap()
    }

    #[test]
    fn a_jpeg_without_location_is_left_alone() {
        assert!(!plan_of("rocket.jpg").changed);
        // An Adobe EXIF block and XMP history, but no place: kept byte-exact too.
        assert!(!plan_of("hubble-deep-field.jpg").changed);
    }

    #[test]
    fn a_jpeg_with_gps_gets_a_clean_exif_block_and_the_same_scan_data() {
        let plan = plan_of("astronaut-exif-gps.jpg");
        assert!(plan.changed);
        let scan = plan
            .pieces
            .iter()
            .filter(|p| matches!(p, Piece::Copy { len, .. } if *len > 60_000))
            .count();
        assert_eq!(scan, 1, "the entropy-coded data is copied as one range");
    }

    #[test]
    fn location_words_and_iptc_datasets() {
        assert!(mentions_location(
            b"<exif:GPSLatitude>48,51.5N</exif:GPSLatitude>"
        ));
        assert!(mentions_location(b"photoshop:City=\"Paris\""));
        assert!(!mentions_location(b"<xmpMM:History>saved</xmpMM:History>"));
        assert!(iptc_has_location(&[0x1C, 0x02, 90, 0, 5, b'P']));
        assert!(!iptc_has_location(&[0x1C, 0x02, 120, 0, 5, b'P']));
    }
}
