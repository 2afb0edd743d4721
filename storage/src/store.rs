//! The block store: one file per block under the data directory, named by its CID.
//!
//! Blocks are written with `write_durably` (temp file, fsync, rename), leaves before the nodes
//! that link to them, so a root that is on disk always has its whole DAG on disk. Every block is
//! checked against its CID when read: a flipped bit on disk becomes an error, never wrong bytes.

use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::blobs::write_durably;
use crate::cid::{Cid, DAG_PB, RAW};
use crate::unixfs::{
    decode_pb, decode_unixfs, import_reader, BlockSink, DagBuilder, Imported, UnixFs, CHUNK_SIZE,
};

#[derive(Debug, Clone)]
pub struct BlockStore {
    root: PathBuf,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl BlockStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// `<root>/<shard>/<cid>`. The shard is the two characters before the CID's last one, as in
    /// kubo's flatfs (`next-to-last/2`): a CID's first characters are its fixed header (`bafk…`,
    /// `bafy…`) and would put every block in the same directory.
    fn path(&self, cid: &Cid) -> PathBuf {
        let name = cid.to_string();
        let end = name.len().saturating_sub(1);
        let shard = name.get(end.saturating_sub(2)..end).unwrap_or("__");
        self.root.join(shard).join(name)
    }

    /// Stores a block after checking that `bytes` are what `cid` names.
    pub fn put(&self, cid: &Cid, bytes: &[u8]) -> io::Result<()> {
        if !cid.verifies(bytes) {
            return Err(invalid(format!("block does not match {cid}")));
        }
        self.write(cid, bytes)
    }

    fn write(&self, cid: &Cid, bytes: &[u8]) -> io::Result<()> {
        if cid.inline_block().is_some() {
            return Ok(());
        }
        write_durably(&self.path(cid), bytes)
    }

    pub fn has(&self, cid: &Cid) -> bool {
        cid.inline_block().is_some() || self.path(cid).is_file()
    }

    /// The block's bytes, `None` if it is not here, an error if it is here but corrupt.
    pub fn get(&self, cid: &Cid) -> io::Result<Option<Vec<u8>>> {
        if let Some(inline) = cid.inline_block() {
            return Ok(Some(inline.to_vec()));
        }
        let bytes = match std::fs::read(self.path(cid)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !cid.verifies(&bytes) {
            return Err(invalid(format!("block {cid} is corrupt on disk")));
        }
        Ok(Some(bytes))
    }

    /// Like `get`, for blocks a DAG says must be here.
    pub fn require(&self, cid: &Cid) -> io::Result<Vec<u8>> {
        self.get(cid)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("block {cid} is missing"))
        })
    }

    /// Imports a file from disk without reading it whole into memory. Blocking.
    pub fn import_path(&self, path: &Path) -> io::Result<Imported> {
        let file = io::BufReader::with_capacity(CHUNK_SIZE, std::fs::File::open(path)?);
        import_reader(file, self.clone())
    }

    /// Imports bytes already in memory. Blocking.
    pub fn import_bytes(&self, bytes: &[u8]) -> io::Result<Imported> {
        import_reader(bytes, self.clone())
    }

    /// Imports everything `reader` yields; blocks are written off the async runtime.
    pub async fn import<R: AsyncRead + Unpin>(&self, mut reader: R) -> io::Result<Imported> {
        let mut importer = self.importer();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return importer.finish().await;
            }
            importer.write(&buf[..n]).await?;
        }
    }

    /// A push-style importer, for bytes that arrive in pieces (e.g. a multipart field).
    pub fn importer(&self) -> AsyncImporter {
        AsyncImporter {
            builder: Some(DagBuilder::new(self.clone())),
            chunk: Vec::with_capacity(CHUNK_SIZE),
        }
    }

    /// The length of the file whose root is `root`.
    pub fn file_size(&self, root: &Cid) -> io::Result<u64> {
        let block = self.require(root)?;
        match root.codec() {
            RAW => Ok(block.len() as u64),
            DAG_PB => Ok(file_node(root, &block)?.1.size()),
            _ => Err(not_a_file(root)),
        }
    }

    /// The file's bytes in `range`, in order, as they are read from the DAG. Subtrees outside
    /// the range are skipped using their `blocksizes`, without being read.
    pub fn read_file(&self, root: &Cid, range: Range<u64>) -> FileReader {
        FileReader {
            store: self.clone(),
            pending: vec![(root.clone(), 0)],
            range,
            current: Vec::new(),
            at: 0,
        }
    }

    /// The whole file in memory: for small files and tests.
    pub fn read_all(&self, root: &Cid) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_file(root, 0..u64::MAX).read_to_end(&mut out)?;
        Ok(out)
    }
}

impl BlockSink for BlockStore {
    /// The builder has just hashed `bytes` into `cid`: no need to hash them again.
    fn put_block(&mut self, cid: &Cid, bytes: &[u8]) -> io::Result<()> {
        self.write(cid, bytes)
    }
}

fn not_a_file(cid: &Cid) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{cid} is not a UnixFS file"),
    )
}

/// Decodes a dag-pb block of a file: its links and UnixFS metadata.
fn file_node(cid: &Cid, block: &[u8]) -> io::Result<(Vec<Cid>, UnixFs)> {
    let node = decode_pb(block)?;
    let unixfs = decode_unixfs(node.data.as_deref().unwrap_or_default())?;
    if !unixfs.is_file() {
        return Err(not_a_file(cid));
    }
    if unixfs.blocksizes.len() != node.links.len() {
        return Err(invalid(format!("{cid}: blocksizes do not match links")));
    }
    Ok((node.links.into_iter().map(|l| l.cid).collect(), unixfs))
}

/// Collects bytes into chunks and adds each full chunk to the DAG on a blocking thread.
pub struct AsyncImporter {
    builder: Option<DagBuilder<BlockStore>>,
    chunk: Vec<u8>,
}

impl AsyncImporter {
    pub async fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let take = bytes.len().min(CHUNK_SIZE - self.chunk.len());
            self.chunk.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.chunk.len() == CHUNK_SIZE {
                let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_SIZE));
                self.push(chunk).await?;
            }
        }
        Ok(())
    }

    /// Adds the last partial chunk and writes the remaining nodes; returns the root.
    pub async fn finish(mut self) -> io::Result<Imported> {
        let chunk = std::mem::take(&mut self.chunk);
        self.push(chunk).await?;
        let builder = self.take_builder()?;
        tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(io::Error::other)?
    }

    async fn push(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        let mut builder = self.take_builder()?;
        let builder =
            tokio::task::spawn_blocking(move || builder.push_chunk(&chunk).map(|()| builder))
                .await
                .map_err(io::Error::other)??;
        self.builder = Some(builder);
        Ok(())
    }

    /// The builder is only absent after a failed write: the import cannot go on.
    fn take_builder(&mut self) -> io::Result<DagBuilder<BlockStore>> {
        self.builder
            .take()
            .ok_or_else(|| io::Error::other("import already failed"))
    }
}

/// Reads a range of a file by walking its DAG depth-first; an iterator of byte pieces (one per
/// leaf) and a `Read`.
pub struct FileReader {
    store: BlockStore,
    /// Subtrees still to read, last first, with the file offset each starts at.
    pending: Vec<(Cid, u64)>,
    range: Range<u64>,
    current: Vec<u8>,
    at: usize,
}

impl FileReader {
    /// Reads one block; returns the part of its own bytes inside the range and queues the
    /// children that overlap the range.
    fn visit(&mut self, cid: &Cid, offset: u64) -> io::Result<Vec<u8>> {
        let block = self.store.require(cid)?;
        match cid.codec() {
            RAW => Ok(self.clip(offset, block)),
            DAG_PB => {
                let (links, unixfs) = file_node(cid, &block)?;
                let mut start = offset + unixfs.data.len() as u64;
                let mut children = Vec::new();
                for (link, size) in links.into_iter().zip(&unixfs.blocksizes) {
                    if start < self.range.end && start + size > self.range.start {
                        children.push((link, start));
                    }
                    start += size;
                }
                self.pending.extend(children.into_iter().rev());
                Ok(self.clip(offset, unixfs.data))
            }
            _ => Err(not_a_file(cid)),
        }
    }

    /// The part of `bytes`, found at file offset `offset`, that lies inside the range.
    fn clip(&self, offset: u64, mut bytes: Vec<u8>) -> Vec<u8> {
        let len = bytes.len() as u64;
        let from = self.range.start.saturating_sub(offset).min(len) as usize;
        let to = self.range.end.saturating_sub(offset).min(len) as usize;
        if from >= to {
            return Vec::new();
        }
        bytes.truncate(to);
        bytes.drain(..from);
        bytes
    }
}

impl Iterator for FileReader {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some((cid, offset)) = self.pending.pop() {
            match self.visit(&cid, offset) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Some(Ok(bytes)),
                Err(e) => {
                    self.pending.clear();
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.next() {
                Some(piece) => (self.current, self.at) = (piece?, 0),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn pseudo_random(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn ranges_of_a_multi_chunk_file_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::new(dir.path().to_path_buf());
        let bytes = pseudo_random(3 * CHUNK_SIZE + 11);
        let imported = store.import_bytes(&bytes).unwrap();
        assert_eq!(store.file_size(&imported.root).unwrap(), bytes.len() as u64);
        assert_eq!(store.read_all(&imported.root).unwrap(), bytes);
        let len = bytes.len() as u64;
        let edge = CHUNK_SIZE as u64;
        for range in [
            0..1,
            edge - 1..edge + 1,
            5..len,
            len - 3..len,
            2 * edge..3 * edge,
        ] {
            let mut out = Vec::new();
            store
                .read_file(&imported.root, range.clone())
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, &bytes[range.start as usize..range.end as usize]);
        }
    }

    #[test]
    fn a_corrupt_block_is_an_error_not_wrong_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::new(dir.path().to_path_buf());
        let cid = store.import_bytes(b"hello world\n").unwrap().root;
        assert!(store.has(&cid));
        std::fs::write(store.path(&cid), b"hello w0rld\n").unwrap();
        let e = store.get(&cid).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn put_refuses_bytes_that_do_not_match_the_cid() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::new(dir.path().to_path_buf());
        let cid = Cid::of_block(RAW, b"a");
        assert!(store.put(&cid, b"b").is_err());
        store.put(&cid, b"a").unwrap();
        assert_eq!(store.get(&cid).unwrap().unwrap(), b"a");
    }

    #[tokio::test]
    async fn async_import_matches_the_blocking_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::new(dir.path().to_path_buf());
        let bytes = pseudo_random(2 * CHUNK_SIZE + 3);
        let expected = crate::unixfs::cid_of(&bytes).unwrap();
        let imported = store.import(&bytes[..]).await.unwrap();
        assert_eq!(imported.root, expected);
        assert_eq!(store.read_all(&imported.root).unwrap(), bytes);
    }
}
