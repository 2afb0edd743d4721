//! What every container walker of [`crate::strip`] builds and reads with: the [`Plan`] of a
//! rewrite (ranges of the input and new bytes), the judgement of EXIF blocks and of text that
//! may carry a location, and small byte-reading helpers that keep the walkers' positions.
//!
//! It sits below the JPEG walker (`strip`) and the PNG/WebP walker (`chunks`), so both use it
//! and neither needs the other.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use crate::exif::{clean_tiff, has_location, parse_raw};

/// A rewrite of the input: ranges of the input and new bytes, in output order.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) pieces: Vec<Piece>,
    /// Whether the output differs from the input.
    pub changed: bool,
}

#[derive(Debug)]
pub(crate) enum Piece {
    Copy { start: u64, len: u64 },
    Bytes(Vec<u8>),
}

impl Plan {
    pub fn copy(&mut self, start: u64, len: u64) -> usize {
        self.pieces.push(Piece::Copy { start, len });
        self.pieces.len() - 1
    }

    pub fn insert(&mut self, bytes: Vec<u8>) -> usize {
        self.changed = true;
        self.pieces.push(Piece::Bytes(bytes));
        self.pieces.len() - 1
    }

    pub fn drop_range(&mut self) {
        self.changed = true;
    }

    /// Replaces an earlier piece (a header whose size is only known at the end, or a segment
    /// that turns out to be unwanted).
    pub fn replace(&mut self, index: usize, bytes: Vec<u8>) {
        self.changed = true;
        self.pieces[index] = Piece::Bytes(bytes);
    }

    /// Total output length.
    pub fn len(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Copy { len, .. } => *len,
                Piece::Bytes(b) => b.len() as u64,
            })
            .sum()
    }

    pub(crate) fn write(&self, input: &mut File, w: &mut dyn Write) -> io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Copy { start, len } => {
                    input.seek(SeekFrom::Start(*start))?;
                    let copied = io::copy(&mut (&mut *input).take(*len), w)?;
                    if copied != *len {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                Piece::Bytes(b) => w.write_all(b)?,
            }
        }
        Ok(())
    }
}

/// What to do with one EXIF block.
pub(crate) enum ExifAction {
    Keep,
    Replace(Vec<u8>),
    Drop,
}

/// Judges a raw EXIF (TIFF) block: kept as is when it is readable and has no GPS, otherwise
/// rewritten clean, or dropped when nothing is worth keeping.
pub(crate) fn judge_exif(tiff: &[u8]) -> ExifAction {
    match parse_raw(tiff) {
        Some((exif, true)) if !has_location(&exif) => ExifAction::Keep,
        Some((exif, _)) => clean_tiff(&exif).map_or(ExifAction::Drop, ExifAction::Replace),
        None => ExifAction::Drop,
    }
}

/// Whether XMP or free text mentions a place. Generous on purpose: a false positive only
/// costs an XMP packet, a false negative could reveal where someone lives.
pub(crate) fn mentions_location(text: &[u8]) -> bool {
    const WORDS: [&[u8]; 9] = [
        b"gps",
        b"location",
        b"latitude",
        b"longitude",
        b"photoshop:city",
        b"photoshop:state",
        b"photoshop:country",
        b"iptc4xmpcore:countrycode",
        b"iptc4xmpext",
    ];
    let lower = text.to_ascii_lowercase();
    WORDS
        .iter()
        .any(|w| lower.windows(w.len()).any(|win| win == *w))
}

/// Whether bytes after the end of the image carry metadata (an appended image's EXIF or XMP).
/// Streams through them; patterns spanning two reads are found thanks to a small overlap.
pub(crate) fn trailer_has_metadata(r: &mut impl Read) -> io::Result<bool> {
    const PATTERNS: [&[u8]; 3] = [b"Exif\0\0", b"<x:xmpmeta", b"http://ns.adobe.com/xap/1.0/"];
    let overlap = 32;
    let mut buf = vec![0u8; 64 * 1024];
    let mut kept = 0;
    loop {
        let n = r.read(&mut buf[kept..])?;
        if n == 0 {
            return Ok(false);
        }
        let filled = kept + n;
        let window = &buf[..filled];
        if PATTERNS
            .iter()
            .any(|p| window.windows(p.len()).any(|w| w == *p))
        {
            return Ok(true);
        }
        kept = overlap.min(filled);
        buf.copy_within(filled - kept..filled, 0);
    }
}

pub(crate) fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

pub(crate) fn read_u8(r: &mut impl Read, pos: &mut u64) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    *pos += 1;
    Ok(b[0])
}

pub(crate) fn read_vec(r: &mut impl Read, len: u64, pos: &mut u64) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.take(len).read_to_end(&mut v)?;
    if (v.len() as u64) < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    *pos += len;
    Ok(v)
}

pub(crate) fn skip(r: &mut BufReader<&mut File>, len: u64, pos: &mut u64) -> io::Result<()> {
    r.seek_relative(i64::try_from(len).map_err(|_| invalid("length overflow"))?)?;
    *pos += len;
    Ok(())
}

/// Decides about bytes after the end of the image: kept only when nothing else changed and they
/// do not look like metadata. `index_pieces` (JPEG's MPF segment) describe the trailer and go
/// with it.
pub(crate) fn finish_trailer(
    r: &mut impl Read,
    plan: &mut Plan,
    pos: u64,
    file_len: u64,
    index_pieces: &[usize],
) -> io::Result<()> {
    if pos >= file_len {
        return Ok(());
    }
    let suspicious = trailer_has_metadata(r)?;
    if plan.changed || suspicious {
        for &i in index_pieces {
            plan.replace(i, Vec::new());
        }
        plan.drop_range();
    } else {
        plan.copy(pos, file_len - pos);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn trailing_metadata_is_detected_across_reads() {
        let mut data = vec![0u8; 64 * 1024 - 3];
        data.extend_from_slice(b"Exif\0\0MM");
        assert!(trailer_has_metadata(&mut &data[..]).unwrap());
        assert!(!trailer_has_metadata(&mut &[0u8; 100_000][..]).unwrap());
    }
}
