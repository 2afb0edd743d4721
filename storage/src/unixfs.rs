//! UnixFS files built exactly as `ipfs add --cid-version=1` builds them, so a photo has the same
//! CID here as on any kubo node: fixed 256 KiB chunks stored as raw leaves, a balanced tree of
//! dag-pb `File` nodes with at most 174 links each, and a file of one chunk is just its leaf.
//!
//! The dag-pb and UnixFS protobufs are encoded by hand: two tiny messages whose byte layout must
//! match the reference exactly (links before data, an empty `Name` on every link, unpacked
//! `blocksizes`), which a general protobuf library would not promise.

use std::collections::HashMap;
use std::io::{self, Read};

use crate::cid::{put_varint, read_varint, Cid, DAG_PB, RAW};

/// Kubo's default chunk size (`size-262144`).
pub const CHUNK_SIZE: usize = 262_144;
/// Kubo's balanced layout puts at most this many links in a node.
pub const MAX_LINKS: usize = 174;

/// UnixFS `Data.Type` values read here.
const TYPE_RAW: u64 = 0;
const TYPE_FILE: u64 = 2;

/// Where a builder puts each block as soon as it is made.
pub trait BlockSink {
    fn put_block(&mut self, cid: &Cid, bytes: &[u8]) -> io::Result<()>;
}

impl<T: BlockSink + ?Sized> BlockSink for &mut T {
    fn put_block(&mut self, cid: &Cid, bytes: &[u8]) -> io::Result<()> {
        (**self).put_block(cid, bytes)
    }
}

/// Keeps nothing: for computing a file's CID only.
pub struct Discard;

impl BlockSink for Discard {
    fn put_block(&mut self, _: &Cid, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps every block in memory: for tests and small files.
impl BlockSink for HashMap<Cid, Vec<u8>> {
    fn put_block(&mut self, cid: &Cid, bytes: &[u8]) -> io::Result<()> {
        self.insert(cid.clone(), bytes.to_vec());
        Ok(())
    }
}

/// What an import made: the file's root CID and its length in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub root: Cid,
    pub size: u64,
}

/// A finished subtree, as its parent links to it.
#[derive(Debug, Clone)]
struct Child {
    cid: Cid,
    /// Encoded size of the whole subtree (dag-pb `Tsize`).
    tsize: u64,
    /// File bytes under it (UnixFS `blocksizes` entry).
    filesize: u64,
}

/// Builds a file's DAG from its chunks in order, holding at most one partly filled node per
/// level: a file of any size needs only a few KiB beyond the chunk being added.
///
/// This is the balanced layout of kubo and the JavaScript importer: leaves are grouped by 174
/// into nodes, those nodes by 174 into parents, and so on until one node remains. A level is
/// flushed as soon as it holds 174 entries; the partial groups left at the end are flushed by
/// `finish`, bottom-up, which yields the same tree as building level by level.
pub struct DagBuilder<S> {
    sink: S,
    levels: Vec<Vec<Child>>,
    size: u64,
}

impl<S: BlockSink> DagBuilder<S> {
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            levels: Vec::new(),
            size: 0,
        }
    }

    /// Adds the file's next chunk: `CHUNK_SIZE` bytes, fewer only for the last one. Empty chunks
    /// are ignored (the empty file is handled by `finish`).
    pub fn push_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let cid = Cid::of_block(RAW, chunk);
        self.sink.put_block(&cid, chunk)?;
        let len = chunk.len() as u64;
        self.size += len;
        self.push_child(
            0,
            Child {
                cid,
                tsize: len,
                filesize: len,
            },
        )
    }

    /// Writes the remaining nodes; the root is written last, so once it is in the store every
    /// block under it is too.
    pub fn finish(mut self) -> io::Result<Imported> {
        if self.levels.is_empty() {
            // Like the reference, an empty file is one empty raw block.
            let cid = Cid::of_block(RAW, b"");
            self.sink.put_block(&cid, b"")?;
            return Ok(Imported { root: cid, size: 0 });
        }
        let mut level = 0;
        loop {
            let above = self.levels.iter().skip(level + 1).any(|l| !l.is_empty());
            let Some(here) = self.levels.get_mut(level) else {
                return Err(io::Error::other("DAG builder lost its root"));
            };
            match here.len() {
                1 if !above => {
                    let root = here.remove(0).cid;
                    return Ok(Imported {
                        root,
                        size: self.size,
                    });
                }
                0 => {}
                _ => self.flush(level)?,
            }
            level += 1;
        }
    }

    fn push_child(&mut self, level: usize, child: Child) -> io::Result<()> {
        if self.levels.len() == level {
            self.levels.push(Vec::with_capacity(MAX_LINKS));
        }
        self.levels[level].push(child);
        if self.levels[level].len() == MAX_LINKS {
            self.flush(level)?;
        }
        Ok(())
    }

    /// Turns a level's pending entries into one node, added to the level above.
    fn flush(&mut self, level: usize) -> io::Result<()> {
        let children = std::mem::take(&mut self.levels[level]);
        let block = encode_file_node(&children);
        let cid = Cid::of_block(DAG_PB, &block);
        self.sink.put_block(&cid, &block)?;
        let parent = Child {
            cid,
            tsize: block.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>(),
            filesize: children.iter().map(|c| c.filesize).sum(),
        };
        self.push_child(level + 1, parent)
    }
}

/// Imports everything `reader` yields, chunk by chunk, into `sink`.
pub fn import_reader<R: Read, S: BlockSink>(mut reader: R, sink: S) -> io::Result<Imported> {
    let mut builder = DagBuilder::new(sink);
    let mut chunk = vec![0; CHUNK_SIZE];
    loop {
        let n = read_full(&mut reader, &mut chunk)?;
        builder.push_chunk(&chunk[..n])?;
        if n < CHUNK_SIZE {
            return builder.finish();
        }
    }
}

/// The CID `ipfs add --cid-version=1` would give these bytes.
pub fn cid_of(bytes: &[u8]) -> io::Result<Cid> {
    import_reader(bytes, Discard).map(|imported| imported.root)
}

/// Fills `buf` unless the reader ends first: chunk boundaries must not depend on how the reader
/// happens to split its data.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

const VARINT: u64 = 0;
const LEN: u64 = 2;

fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, field << 3 | wire);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_uint(out: &mut Vec<u8>, field: u64, n: u64) {
    put_key(out, field, VARINT);
    put_varint(out, n);
}

/// A dag-pb node for a UnixFS file made of `children`, byte for byte as the reference writes
/// it: `PBNode { Links (2)…, Data (1) }`, each `PBLink { Hash (1), Name (2) = "", Tsize (3) }`,
/// and `Data { Type (1) = File, filesize (3), blocksizes (4)… }`.
fn encode_file_node(children: &[Child]) -> Vec<u8> {
    let mut data = Vec::with_capacity(8 + children.len() * 5);
    put_uint(&mut data, 1, TYPE_FILE);
    put_uint(&mut data, 3, children.iter().map(|c| c.filesize).sum());
    for child in children {
        put_uint(&mut data, 4, child.filesize);
    }
    let mut node = Vec::with_capacity(children.len() * 48 + data.len() + 4);
    for child in children {
        let mut link = Vec::with_capacity(48);
        put_bytes(&mut link, 1, &child.cid.to_bytes());
        put_bytes(&mut link, 2, b"");
        put_uint(&mut link, 3, child.tsize);
        put_bytes(&mut node, 2, &link);
    }
    put_bytes(&mut node, 1, &data);
    node
}

/// One protobuf field's value (fixed-width fields are skipped: none are used here).
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed {what}"))
}

/// Splits a protobuf message into (field number, value) pairs.
fn fields<'a>(bytes: &'a [u8], what: &str) -> io::Result<Vec<(u64, Value<'a>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at).ok_or_else(|| malformed(what))?;
        let value = match key & 7 {
            0 => Value::Varint(read_varint(bytes, &mut at).ok_or_else(|| malformed(what))?),
            2 => {
                let len = read_varint(bytes, &mut at).ok_or_else(|| malformed(what))?;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|len| at.checked_add(len))
                    .filter(|&end| end <= bytes.len())
                    .ok_or_else(|| malformed(what))?;
                let slice = &bytes[at..end];
                at = end;
                Value::Bytes(slice)
            }
            1 => skip(&mut at, 8, bytes.len()).ok_or_else(|| malformed(what))?,
            5 => skip(&mut at, 4, bytes.len()).ok_or_else(|| malformed(what))?,
            _ => return Err(malformed(what)),
        };
        out.push((key >> 3, value));
    }
    Ok(out)
}

fn skip<'a>(at: &mut usize, n: usize, len: usize) -> Option<Value<'a>> {
    *at = at.checked_add(n).filter(|&end| end <= len)?;
    Some(Value::Fixed)
}

/// A dag-pb link, as far as reading files needs it.
#[derive(Debug, Clone)]
pub struct PbLink {
    pub cid: Cid,
    pub tsize: Option<u64>,
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, Default)]
pub struct PbNode {
    pub links: Vec<PbLink>,
    pub data: Option<Vec<u8>>,
}

pub fn decode_pb(bytes: &[u8]) -> io::Result<PbNode> {
    let mut node = PbNode::default();
    for (field, value) in fields(bytes, "dag-pb node")? {
        match (field, value) {
            (1, Value::Bytes(data)) => node.data = Some(data.to_vec()),
            (2, Value::Bytes(link)) => node.links.push(decode_link(link)?),
            _ => return Err(malformed("dag-pb node")),
        }
    }
    Ok(node)
}

fn decode_link(bytes: &[u8]) -> io::Result<PbLink> {
    let (mut cid, mut tsize) = (None, None);
    for (field, value) in fields(bytes, "dag-pb link")? {
        match (field, value) {
            (1, Value::Bytes(hash)) => {
                let (parsed, used) = Cid::from_bytes(hash)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if used != hash.len() {
                    return Err(malformed("dag-pb link CID"));
                }
                cid = Some(parsed);
            }
            (2, Value::Bytes(_)) => {}
            (3, Value::Varint(n)) => tsize = Some(n),
            _ => return Err(malformed("dag-pb link")),
        }
    }
    let cid = cid.ok_or_else(|| malformed("dag-pb link without a hash"))?;
    Ok(PbLink { cid, tsize })
}

/// The UnixFS metadata in a dag-pb node's `Data`.
#[derive(Debug, Clone, Default)]
pub struct UnixFs {
    pub kind: u64,
    pub data: Vec<u8>,
    pub filesize: Option<u64>,
    pub blocksizes: Vec<u64>,
}

impl UnixFs {
    /// Whether this node is part of a file (a `File`, or an old-style `Raw` leaf).
    pub fn is_file(&self) -> bool {
        matches!(self.kind, TYPE_FILE | TYPE_RAW)
    }

    /// The file bytes under this node.
    pub fn size(&self) -> u64 {
        self.filesize
            .unwrap_or_else(|| self.data.len() as u64 + self.blocksizes.iter().sum::<u64>())
    }
}

pub fn decode_unixfs(bytes: &[u8]) -> io::Result<UnixFs> {
    let mut out = UnixFs::default();
    for (field, value) in fields(bytes, "UnixFS data")? {
        match (field, value) {
            (1, Value::Varint(kind)) => out.kind = kind,
            (2, Value::Bytes(data)) => out.data = data.to_vec(),
            (3, Value::Varint(size)) => out.filesize = Some(size),
            (4, Value::Varint(size)) => out.blocksizes.push(size),
            // Accept packed `blocksizes` too, though the reference never writes them.
            (4, Value::Bytes(packed)) => unpack(packed, &mut out.blocksizes)?,
            _ => {}
        }
    }
    Ok(out)
}

fn unpack(packed: &[u8], into: &mut Vec<u64>) -> io::Result<()> {
    let mut at = 0;
    while at < packed.len() {
        into.push(read_varint(packed, &mut at).ok_or_else(|| malformed("blocksizes"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn import(bytes: &[u8]) -> (Imported, HashMap<Cid, Vec<u8>>) {
        let mut blocks = HashMap::new();
        let imported = import_reader(bytes, &mut blocks).unwrap();
        (imported, blocks)
    }

    /// Vectors computed with `ipfs-unixfs-importer` and kubo's parameters (tests/js/cids.mjs).
    #[test]
    fn known_cids_match_the_reference_importer() {
        let empty = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        let hello = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
        assert_eq!(cid_of(b"").unwrap().to_string(), empty);
        assert_eq!(cid_of(b"hello world\n").unwrap().to_string(), hello);
    }

    #[test]
    fn a_file_of_one_chunk_is_its_raw_leaf() {
        let bytes = vec![7u8; CHUNK_SIZE];
        let (imported, blocks) = import(&bytes);
        assert_eq!(imported.root, Cid::of_block(RAW, &bytes));
        assert_eq!(imported.size, CHUNK_SIZE as u64);
        assert_eq!(blocks.len(), 1);
    }

    #[test]
    fn a_two_chunk_file_has_a_root_with_two_links_and_blocksizes() {
        let bytes: Vec<u8> = (0..CHUNK_SIZE + 5).map(|i| i as u8).collect();
        let (imported, blocks) = import(&bytes);
        assert_eq!(imported.root.codec(), DAG_PB);
        let node = decode_pb(&blocks[&imported.root]).unwrap();
        let unixfs = decode_unixfs(node.data.as_deref().unwrap()).unwrap();
        assert_eq!(unixfs.kind, TYPE_FILE);
        assert_eq!(unixfs.filesize, Some(imported.size));
        assert_eq!(unixfs.blocksizes, vec![CHUNK_SIZE as u64, 5]);
        let tsizes: Vec<_> = node.links.iter().map(|l| l.tsize).collect();
        assert_eq!(tsizes, vec![Some(CHUNK_SIZE as u64), Some(5)]);
        // Links first, then data, as dag-pb requires.
        assert_eq!(blocks[&imported.root][0], 0x12);
    }

    #[test]
    fn past_174_chunks_the_tree_grows_a_level() {
        // Blocks are tiny here: the layout depends on the number of chunks, not their content.
        let mut blocks = HashMap::new();
        let mut builder = DagBuilder::new(&mut blocks);
        for i in 0..=MAX_LINKS {
            builder.push_chunk(&(i as u32).to_be_bytes()).unwrap();
        }
        let root = builder.finish().unwrap().root;
        let top = decode_pb(&blocks[&root]).unwrap();
        assert_eq!(top.links.len(), 2);
        let first = decode_pb(&blocks[&top.links[0].cid]).unwrap();
        let second = decode_pb(&blocks[&top.links[1].cid]).unwrap();
        assert_eq!((first.links.len(), second.links.len()), (MAX_LINKS, 1));
    }

    #[test]
    fn exactly_174_chunks_make_a_single_node() {
        let mut blocks = HashMap::new();
        let mut builder = DagBuilder::new(&mut blocks);
        for i in 0..MAX_LINKS {
            builder.push_chunk(&(i as u32).to_be_bytes()).unwrap();
        }
        let root = builder.finish().unwrap().root;
        assert_eq!(decode_pb(&blocks[&root]).unwrap().links.len(), MAX_LINKS);
        assert_eq!(blocks.len(), MAX_LINKS + 1);
    }
}
