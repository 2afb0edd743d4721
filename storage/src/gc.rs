//! `peerpx gc`: removes the blocks no media refers to any more.
//!
//! The live set is every block reachable from the CIDs of the rows of the `media` read model
//! (original, small and large of every photo that is neither deleted nor gone with its post),
//! after the read models have caught up with the log. Blocks are shared between files with equal
//! chunks (and between two uploads of one photo), so a block is kept when any live file reaches
//! it, however many dead ones reach it too.
//!
//! Two guards keep an upload in flight safe:
//!
//! - **A lock.** An upload holds [`lock_shared`] from before it writes its first block until its
//!   `MediaUploaded` event is appended; a collection holds [`lock_exclusive`] from before it reads
//!   the live set until it has deleted. So a collection never sees an upload half-way: either the
//!   upload's event is in the log (and its blocks are live), or the upload has not written
//!   anything yet. This also covers a block that was already on disk, unreferenced, when an upload
//!   needed it again: the store does not rewrite an existing block, so its age says nothing.
//! - **A grace period.** Only blocks older than it are removed, so whatever the lock does not
//!   cover (a writer that does not take it, a clock step) still has an hour to be referenced.
//!
//! The locks are advisory file locks (`flock`) on a file in the block directory: they work
//! between the serving node and a `peerpx gc` process, and between two handles in one process.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cid::{Cid, DAG_PB};
use crate::store::BlockStore;
use crate::unixfs::decode_pb;

/// The default grace period of `peerpx gc`, in seconds.
pub const DEFAULT_GRACE_SECS: u64 = 3600;

/// Where the node keeps its blocks inside its data directory.
pub fn blocks_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("blocks")
}

const LOCK_FILE: &str = ".gc.lock";
/// Prefix of the temporary files `write_durably` renames into place.
const TEMP_PREFIX: &str = ".tmp-";

/// A held lock on the block store; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

fn lock_file(blocks_dir: &Path) -> io::Result<File> {
    std::fs::create_dir_all(blocks_dir)?;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(blocks_dir.join(LOCK_FILE))
}

/// Taken by writers (uploads) until the event that references their blocks is appended. Many
/// writers hold it at once. Blocks while a collection runs.
pub fn lock_shared(blocks_dir: &Path) -> io::Result<StoreLock> {
    let file = lock_file(blocks_dir)?;
    file.lock_shared()?;
    Ok(StoreLock { _file: file })
}

/// Taken by a collection; waits for every writer to finish.
pub fn lock_exclusive(blocks_dir: &Path) -> io::Result<StoreLock> {
    let file = lock_file(blocks_dir)?;
    file.lock()?;
    Ok(StoreLock { _file: file })
}

/// [`lock_shared`] without blocking an async worker.
pub async fn lock_shared_async(blocks_dir: PathBuf) -> io::Result<StoreLock> {
    tokio::task::spawn_blocking(move || lock_shared(&blocks_dir))
        .await
        .map_err(io::Error::other)?
}

/// What a collection found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Files (CIDs) the media read model refers to.
    pub live_roots: usize,
    pub removed_blocks: u64,
    pub removed_bytes: u64,
    /// Blocks left in place: the reachable ones and the unreachable ones still in their grace
    /// period.
    pub kept_blocks: u64,
    pub kept_bytes: u64,
    /// Unreachable blocks kept because they are younger than the grace period (part of `kept`).
    pub young_blocks: u64,
    /// Blocks a live file needs that are not in the store. Never removed (they are not there),
    /// reported because such a file cannot be served whole.
    pub missing_blocks: u64,
    /// Leftover temporary files of interrupted writes, older than the grace period, removed.
    pub removed_temp_files: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("block store: {0}")]
    Io(#[from] io::Error),
    /// The caller could not say which files are live (its read models failed).
    #[error("{0}")]
    LiveSet(String),
    #[error("a live file has an invalid CID {cid:?}: {reason}; nothing was removed")]
    BadCid { cid: String, reason: String },
}

impl GcError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io(_) => "io",
            Self::LiveSet(_) => "live_set",
            Self::BadCid { .. } => "bad_cid",
        }
    }
}

/// Removes every block of `blocks_dir` that no live file reaches and that is older than `grace`.
/// `live_roots` names the live files (their root CIDs); it is asked with the exclusive lock held,
/// so uploads in flight have finished and uploads that start in the meantime wait. The store
/// does not know which files are live: the node does (its media read model, brought up to date
/// inside `live_roots`).
pub async fn collect<F, Fut, E>(
    blocks_dir: &Path,
    grace: Duration,
    live_roots: F,
) -> Result<GcReport, GcError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>, E>>,
    E: std::fmt::Display,
{
    let dir = blocks_dir.to_path_buf();
    let lock = tokio::task::spawn_blocking(move || lock_exclusive(&dir))
        .await
        .map_err(io::Error::other)??;
    let roots = live_roots()
        .await
        .map_err(|e| GcError::LiveSet(e.to_string()))?
        .into_iter()
        .map(|text| {
            Cid::parse(&text).map_err(|e| GcError::BadCid {
                cid: text.clone(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = blocks_dir.to_path_buf();
    let report = tokio::task::spawn_blocking(move || sweep(&dir, &roots, grace))
        .await
        .map_err(io::Error::other)??;
    drop(lock);
    Ok(report)
}

/// Every block reachable from `roots`, and how many of them are missing. A live block that is
/// corrupt stops the collection: its links cannot be read, so its children cannot be told from
/// garbage.
fn reachable(store: &BlockStore, roots: &[Cid]) -> io::Result<(HashSet<Cid>, u64)> {
    let mut seen = HashSet::new();
    let mut missing = 0;
    let mut pending: Vec<Cid> = roots.to_vec();
    while let Some(cid) = pending.pop() {
        if !seen.insert(cid.clone()) {
            continue;
        }
        let Some(block) = store.get(&cid)? else {
            missing += 1;
            continue;
        };
        if cid.codec() == DAG_PB {
            pending.extend(decode_pb(&block)?.links.into_iter().map(|l| l.cid));
        }
    }
    Ok((seen, missing))
}

fn older_than(meta: &std::fs::Metadata, cutoff: SystemTime) -> bool {
    // A file whose age cannot be told is treated as new.
    meta.modified().is_ok_and(|m| m < cutoff)
}

/// The collection itself, with the lock held. Blocking.
pub fn sweep(blocks_dir: &Path, roots: &[Cid], grace: Duration) -> io::Result<GcReport> {
    let store = BlockStore::new(blocks_dir.to_path_buf());
    let (live, missing_blocks) = reachable(&store, roots)?;
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = GcReport {
        live_roots: roots.len(),
        missing_blocks,
        ..GcReport::default()
    };
    let shards = match std::fs::read_dir(blocks_dir) {
        Ok(shards) => shards,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(e),
    };
    for shard in shards {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(shard.path())? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(cid) = Cid::parse(&name) else {
                if name.starts_with(TEMP_PREFIX) && older_than(&meta, cutoff) {
                    remove(&entry.path())?;
                    report.removed_temp_files += 1;
                }
                continue;
            };
            let old = older_than(&meta, cutoff);
            if live.contains(&cid) || !old {
                report.kept_blocks += 1;
                report.kept_bytes += meta.len();
                if !live.contains(&cid) {
                    report.young_blocks += 1;
                }
            } else {
                remove(&entry.path())?;
                report.removed_blocks += 1;
                report.removed_bytes += meta.len();
            }
        }
    }
    Ok(report)
}

/// Removes a file; one already gone is fine.
fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::unixfs::CHUNK_SIZE;

    fn count_blocks(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|s| s.file_type().unwrap().is_dir())
            .flat_map(|s| std::fs::read_dir(s.path()).unwrap())
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                Cid::parse(&name.to_string_lossy()).is_ok()
            })
            .count()
    }

    /// Bytes of `chunks` 256 KiB chunks, chunk `i` filled with `fill[i]`.
    fn chunks(fill: &[u8]) -> Vec<u8> {
        fill.iter()
            .flat_map(|b| std::iter::repeat_n(*b, CHUNK_SIZE))
            .collect()
    }

    #[test]
    fn shared_chunks_stay_while_one_file_needs_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::new(dir.path().to_path_buf());
        // Two files sharing the leaf of chunk "1": a = [1, 2], b = [1, 3].
        let a = store.import_bytes(&chunks(&[1, 2])).unwrap().root;
        let b = store.import_bytes(&chunks(&[1, 3])).unwrap().root;
        assert_eq!(count_blocks(dir.path()), 5, "3 leaves and 2 roots");

        // Within the grace period nothing goes, reachable or not.
        let report = sweep(
            dir.path(),
            std::slice::from_ref(&b),
            Duration::from_secs(3600),
        )
        .unwrap();
        assert_eq!((report.removed_blocks, report.kept_blocks), (0, 5));
        assert_eq!(report.young_blocks, 2);

        // Without grace, only what `a` alone reached goes: its root and the leaf of chunk "2".
        let report = sweep(dir.path(), std::slice::from_ref(&b), Duration::ZERO).unwrap();
        assert_eq!((report.removed_blocks, report.kept_blocks), (2, 3));
        assert!(report.removed_bytes > CHUNK_SIZE as u64);
        assert!(!store.has(&a));
        assert_eq!(store.read_all(&b).unwrap(), chunks(&[1, 3]));
        assert_eq!(report.missing_blocks, 0);

        // A root that is not there is reported, not fatal; everything else goes.
        let report = sweep(dir.path(), &[a], Duration::ZERO).unwrap();
        assert_eq!(report.missing_blocks, 1);
        assert_eq!(report.removed_blocks, 3);
        assert_eq!(count_blocks(dir.path()), 0);
    }

    #[test]
    fn old_leftover_temporary_files_go_and_other_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let shard = dir.path().join("ab");
        std::fs::create_dir_all(&shard).unwrap();
        std::fs::write(shard.join(".tmp-123"), b"half a block").unwrap();
        std::fs::write(shard.join("notes.txt"), b"not a block").unwrap();
        let report = sweep(dir.path(), &[], Duration::from_secs(3600)).unwrap();
        assert_eq!(report.removed_temp_files, 0);
        let report = sweep(dir.path(), &[], Duration::ZERO).unwrap();
        assert_eq!(report.removed_temp_files, 1);
        assert!(shard.join("notes.txt").exists());
    }

    #[test]
    fn a_collection_waits_for_writers() {
        let dir = tempfile::tempdir().unwrap();
        let writer = lock_shared(dir.path()).unwrap();
        let second_writer = lock_shared(dir.path()).unwrap();
        let exclusive = lock_file(dir.path()).unwrap();
        assert!(exclusive.try_lock().is_err(), "writers hold the store");
        drop((writer, second_writer));
        assert!(exclusive.try_lock().is_ok());
        assert!(lock_file(dir.path()).unwrap().try_lock_shared().is_err());
    }
}
