//! Location stripping for the chunked formats, PNG and WebP (RIFF). See [`crate::strip`] for
//! the rules; this is only the container walking.

use std::fs::File;
use std::io::{self, BufReader, Read};

use crate::plan::{
    finish_trailer, invalid, judge_exif, mentions_location, read_vec, skip, ExifAction, Plan,
};

/// Metadata chunks are read into memory to be judged; one larger than this is dropped unread
/// (no real EXIF or XMP block comes close, and a crafted one must not cost memory).
const MAX_METADATA_CHUNK: u64 = 4 * 1024 * 1024;

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(data.len()).map_err(|_| invalid("chunk too large"))?;
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    Ok(out)
}

/// Whether a PNG text chunk may carry a location. ImageMagick and exiftool store whole EXIF,
/// XMP or IPTC profiles as hex in "Raw profile type …" text chunks, usually compressed, so
/// those are treated as carrying one; compressed text is judged by its keyword alone.
fn png_text_has_location(kind: &[u8], data: &[u8]) -> bool {
    let nul = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let keyword = data[..nul].to_ascii_lowercase();
    if keyword.starts_with(b"raw profile type") || mentions_location(&keyword) {
        return true;
    }
    let rest = data.get(nul + 1..).unwrap_or(&[]);
    match kind {
        b"tEXt" => mentions_location(rest),
        // iTXt: compression flag, method, language tag NUL, translated keyword NUL, text.
        b"iTXt" => rest.first() != Some(&0) || mentions_location(rest),
        // zTXt is always compressed; its keyword was fine. XMP is never stored in zTXt.
        _ => false,
    }
}

/// Walks a PNG chunk by chunk up to IEND.
pub(crate) fn plan_png(r: &mut BufReader<&mut File>, file_len: u64) -> io::Result<Plan> {
    let mut plan = Plan::default();
    let mut pos = 0u64;
    let mut signature = [0u8; 8];
    r.read_exact(&mut signature)?;
    pos += 8;
    plan.copy(0, 8);
    loop {
        let start = pos;
        let header = read_vec(r, 8, &mut pos)?;
        let len = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let whole = 12 + len;
        let metadata = matches!(&kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt");
        if !metadata || len > MAX_METADATA_CHUNK {
            skip(r, len + 4, &mut pos)?;
            if metadata {
                plan.drop_range();
            } else {
                plan.copy(start, whole);
            }
            if &kind == b"IEND" {
                break;
            }
            continue;
        }
        let data = read_vec(r, len, &mut pos)?;
        skip(r, 4, &mut pos)?; // CRC, recomputed when the chunk is rewritten
        if &kind == b"eXIf" {
            match judge_exif(&data) {
                ExifAction::Keep => {
                    plan.copy(start, whole);
                }
                ExifAction::Replace(tiff) => {
                    plan.insert(png_chunk(b"eXIf", &tiff)?);
                }
                ExifAction::Drop => plan.drop_range(),
            }
        } else if png_text_has_location(&kind, &data) {
            plan.drop_range();
        } else {
            plan.copy(start, whole);
        }
    }
    finish_trailer(r, &mut plan, pos, file_len, &[])?;
    Ok(plan)
}

const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(data.len()).map_err(|_| invalid("chunk too large"))?;
    let mut out = Vec::with_capacity(data.len() + 9);
    out.extend_from_slice(kind);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    Ok(out)
}

/// Walks a WebP's RIFF chunks. When something is removed, the RIFF size is recomputed and the
/// VP8X flags no longer announce EXIF or XMP that is gone.
pub(crate) fn plan_webp(r: &mut BufReader<&mut File>, file_len: u64) -> io::Result<Plan> {
    let mut plan = Plan::default();
    let mut pos = 0u64;
    let header = read_vec(r, 12, &mut pos)?;
    let riff_size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let riff_end = (8 + u64::from(riff_size)).min(file_len);
    let header_piece = plan.copy(0, 12);
    let mut vp8x: Option<(usize, Vec<u8>)> = None;
    let (mut exif_kept, mut xmp_kept) = (false, false);
    while pos + 8 <= riff_end {
        let start = pos;
        let chunk_header = read_vec(r, 8, &mut pos)?;
        let kind: [u8; 4] = [
            chunk_header[0],
            chunk_header[1],
            chunk_header[2],
            chunk_header[3],
        ];
        let len = u64::from(u32::from_le_bytes([
            chunk_header[4],
            chunk_header[5],
            chunk_header[6],
            chunk_header[7],
        ]));
        if len > riff_end - pos {
            return Err(invalid("WebP chunk runs past the end of the file"));
        }
        // Payloads are padded to an even length; the last pad byte may be missing at the end.
        let padded = (len + (len & 1)).min(riff_end - pos);
        let whole = 8 + padded;
        let metadata = matches!(&kind, b"EXIF" | b"XMP " | b"VP8X");
        if !metadata || len > MAX_METADATA_CHUNK {
            skip(r, padded, &mut pos)?;
            if metadata {
                plan.drop_range();
            } else {
                plan.copy(start, whole);
            }
            continue;
        }
        let data = read_vec(r, len, &mut pos)?;
        skip(r, padded - len, &mut pos)?;
        match &kind {
            b"VP8X" => vp8x = Some((plan.copy(start, whole), data)),
            b"EXIF" => {
                // Some writers keep JPEG's "Exif\0\0" prefix inside the chunk.
                let tiff = data.strip_prefix(b"Exif\0\0").unwrap_or(&data);
                match judge_exif(tiff) {
                    ExifAction::Keep => {
                        exif_kept = true;
                        plan.copy(start, whole);
                    }
                    ExifAction::Replace(clean) => {
                        exif_kept = true;
                        plan.insert(riff_chunk(b"EXIF", &clean)?);
                    }
                    ExifAction::Drop => plan.drop_range(),
                }
            }
            _ => {
                if mentions_location(&data) {
                    plan.drop_range();
                } else {
                    xmp_kept = true;
                    plan.copy(start, whole);
                }
            }
        }
    }
    finish_trailer(r, &mut plan, pos, file_len, &[])?;
    if plan.changed {
        if let Some((index, mut data)) = vp8x {
            if let Some(flags) = data.first_mut() {
                if !exif_kept {
                    *flags &= !VP8X_EXIF;
                }
                if !xmp_kept {
                    *flags &= !VP8X_XMP;
                }
            }
            plan.replace(index, riff_chunk(b"VP8X", &data)?);
        }
        // RIFF size: everything after the 8-byte "RIFF" + size field.
        let body = plan.len() - 12;
        let size = u32::try_from(body + 4).map_err(|_| invalid("RIFF too large"))?;
        let mut h = b"RIFF".to_vec();
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(b"WEBP");
        plan.replace(header_piece, h);
    }
    Ok(plan)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::data;
    use std::io::Write;

    fn plan_with(
        f: fn(&mut BufReader<&mut File>, u64) -> io::Result<Plan>,
        path: &std::path::Path,
    ) -> Plan {
        let mut file = File::open(path).unwrap();
        let len = file.metadata().unwrap().len();
        f(&mut BufReader::new(&mut file), len).unwrap()
    }

    #[test]
    fn files_without_metadata_are_left_alone() {
        assert!(!plan_with(plan_png, &data("coffee.png")).changed);
        assert!(!plan_with(plan_png, &data("coffee-alpha.png")).changed);
        assert!(!plan_with(plan_webp, &data("rocket.webp")).changed);
    }

    #[test]
    fn png_text_chunks_are_judged_by_keyword_and_text() {
        assert!(png_text_has_location(
            b"tEXt",
            b"Comment\0taken near GPS 1,2"
        ));
        assert!(png_text_has_location(
            b"zTXt",
            b"Raw profile type exif\0\0x"
        ));
        assert!(!png_text_has_location(b"tEXt", b"Software\0GIMP"));
        assert!(png_text_has_location(
            b"iTXt",
            b"XML:com.adobe.xmp\0\x01\0\0\0zz"
        ));
        assert!(!png_text_has_location(
            b"iTXt",
            b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>"
        ));
    }

    #[test]
    fn a_png_text_chunk_with_a_place_is_removed_and_crcs_stay_valid() {
        let src = std::fs::read(data("coffee.png")).unwrap();
        // Insert a tEXt chunk with a location and an innocent one right after IHDR (8 + 25 bytes).
        let mut png = src[..33].to_vec();
        png.extend(png_chunk(b"tEXt", b"Location\0Lyon").unwrap());
        png.extend(png_chunk(b"tEXt", b"Software\0peerpx").unwrap());
        png.extend_from_slice(&src[33..]);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&png).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.png");
        let changed =
            crate::strip::strip_location(f.path(), crate::SourceFormat::Png, &out).unwrap();
        assert!(changed);
        let written = std::fs::read(&out).unwrap();
        assert_eq!(written.len(), png.len() - (12 + 13));
        assert!(!written.windows(4).any(|w| w == b"Lyon"));
        assert!(written.windows(6).any(|w| w == b"peerpx"));
        image::load_from_memory(&written).expect("still a valid PNG");
    }
}
