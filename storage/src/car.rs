//! CARv1 streams: a DAG's blocks with their CIDs, so a client can check every byte it receives
//! against the root CID it asked for without trusting this node.
//!
//! Layout: `varint(len) header`, then for each block `varint(len) cid block`. The header is the
//! dag-cbor map `{"roots": [cid], "version": 1}`, encoded by hand: it is a dozen fixed bytes
//! around the CID, not worth a CBOR library.

use std::collections::HashSet;
use std::io;

use crate::cid::{put_varint, Cid, DAG_PB};
use crate::store::BlockStore;
use crate::unixfs::decode_pb;

/// CBOR major types used by the header.
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;

/// A CBOR item head: major type and length, in the shortest form (dag-cbor requires it).
fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend([major | 24, len as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend((len as u32).to_be_bytes());
        }
    }
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// The varint-prefixed CARv1 header naming `root`. Keys are in dag-cbor order (shorter first).
pub fn header(root: &Cid) -> Vec<u8> {
    let cid = root.to_bytes();
    let mut cbor = Vec::with_capacity(cid.len() + 24);
    cbor_head(&mut cbor, MAP, 2);
    cbor_text(&mut cbor, "roots");
    cbor_head(&mut cbor, ARRAY, 1);
    // Tag 42 (CID), whose bytes start with the identity multibase prefix 0x00.
    cbor.extend([0xd8, 42]);
    cbor_head(&mut cbor, BYTES, cid.len() as u64 + 1);
    cbor.push(0);
    cbor.extend_from_slice(&cid);
    cbor_text(&mut cbor, "version");
    cbor.push(1);
    let mut out = Vec::with_capacity(cbor.len() + 2);
    put_varint(&mut out, cbor.len() as u64);
    out.extend(cbor);
    out
}

/// One block section: `varint(len) cid block`.
pub fn section(cid: &Cid, block: &[u8]) -> Vec<u8> {
    let cid = cid.to_bytes();
    let mut out = Vec::with_capacity(cid.len() + block.len() + 10);
    put_varint(&mut out, (cid.len() + block.len()) as u64);
    out.extend_from_slice(&cid);
    out.extend_from_slice(block);
    out
}

/// What a CAR response holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarOptions {
    /// Send a block again each time the DAG links to it (`dups=y`), or only once (`dups=n`).
    pub dups: bool,
    /// Only the root block (`dag-scope=block`) instead of the whole DAG.
    pub root_only: bool,
}

/// A CAR of the DAG under `root`, blocks in depth-first (pre-)order, produced lazily: an
/// iterator of byte pieces (the header, then one section per block).
pub struct CarStream {
    store: BlockStore,
    header: Option<Vec<u8>>,
    pending: Vec<Cid>,
    seen: Option<HashSet<Cid>>,
    root_only: bool,
}

impl CarStream {
    pub fn new(store: BlockStore, root: Cid, options: CarOptions) -> Self {
        Self {
            store,
            header: Some(header(&root)),
            pending: vec![root],
            seen: (!options.dups).then(HashSet::new),
            root_only: options.root_only,
        }
    }

    /// The section for `cid`, queueing its children; `None` for a block not to send.
    fn visit(&mut self, cid: Cid) -> io::Result<Option<Vec<u8>>> {
        if let Some(seen) = &mut self.seen {
            if !seen.insert(cid.clone()) {
                return Ok(None);
            }
        }
        let block = self.store.require(&cid)?;
        if cid.codec() == DAG_PB && !self.root_only {
            let links = decode_pb(&block)?.links;
            self.pending.extend(links.into_iter().rev().map(|l| l.cid));
        }
        // Identity blocks live inside their CID; the spec forbids sending them as blocks.
        if cid.inline_block().is_some() {
            return Ok(None);
        }
        Ok(Some(section(&cid, &block)))
    }
}

impl Iterator for CarStream {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(header) = self.header.take() {
            return Some(Ok(header));
        }
        while let Some(cid) = self.pending.pop() {
            match self.visit(cid) {
                Ok(None) => continue,
                Ok(Some(section)) => return Some(Ok(section)),
                Err(e) => {
                    self.pending.clear();
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::cid::RAW;

    #[test]
    fn the_header_is_the_canonical_dag_cbor_map() {
        let root = Cid::of_block(RAW, b"");
        let bytes = header(&root);
        let cid = root.to_bytes();
        let mut expected = vec![0xa2, 0x65];
        expected.extend(b"roots");
        expected.extend([0x81, 0xd8, 0x2a, 0x58, 0x25, 0x00]);
        expected.extend(&cid);
        expected.push(0x67);
        expected.extend(b"version");
        expected.push(0x01);
        assert_eq!(bytes[0] as usize, expected.len());
        assert_eq!(&bytes[1..], &expected[..]);
    }

    #[test]
    fn duplicate_blocks_are_sent_once_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::new(dir.path().to_path_buf());
        // Three identical chunks: one leaf block linked three times.
        let bytes = vec![0u8; 3 * crate::unixfs::CHUNK_SIZE];
        let root = store.import_bytes(&bytes).unwrap().root;
        let count = |dups| {
            let options = CarOptions {
                dups,
                root_only: false,
            };
            CarStream::new(store.clone(), root.clone(), options).count()
        };
        assert_eq!(count(false), 1 + 2);
        assert_eq!(count(true), 1 + 4);
    }
}
