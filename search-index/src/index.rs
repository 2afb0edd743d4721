//! Opening the index: in RAM for tests, or in a directory, checked before it is served.
//!
//! A directory without an index gets a new, empty one (the follow loop then builds it from the
//! log, from position 0). An index that cannot be trusted (its `meta.json` unreadable, a file
//! failing its checksum, a segment missing, a stored document unreadable, another schema or
//! [`SCHEMA_VERSION`]) is logged, wiped and replaced by an empty one, never served: search is a
//! projection, the log can always give it back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use peerpx_projections::Recorded;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyError};
use tokio::sync::watch;

use crate::schema::{register_analyzers, schema, SCHEMA_VERSION};
use crate::search::SearchReader;
use crate::writer::{Payload, Writer};
use crate::{Error, Result};

/// How the index was found at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A valid index, with its checkpoint.
    Existing,
    /// No index was there: a new one, to build from the log.
    Created,
    /// The index there could not be trusted (the reason given): wiped, to build from the log.
    Rebuilt(String),
}

/// The index and its one writer. Owned by one task (the follow loop); the API holds
/// [`SearchReader`]s.
pub struct SearchIndex {
    pub(crate) writer: Arc<Mutex<Writer>>,
    pub(crate) checkpoint: Arc<watch::Sender<i64>>,
    reader: SearchReader,
    opened: Opened,
}

fn reader_of(index: &Index) -> Result<IndexReader> {
    Ok(index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?)
}

impl SearchIndex {
    /// A new index in memory (tests).
    pub fn in_ram() -> Result<Self> {
        let index = Index::create_in_ram(schema().0);
        Self::assemble(index, Opened::Created, None)
    }

    /// Opens the index in `dir`, creating it when missing, and wiping it when it cannot be
    /// trusted. The caller then follows the log from [`SearchIndex::committed`].
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        if !dir.join("meta.json").exists() {
            // Files without a meta.json are the remains of an index that never committed.
            wipe(dir)?;
            return Self::create(dir, Opened::Created);
        }
        let problem = match check(dir) {
            Ok(index) => match Self::assemble(index, Opened::Existing, Some(dir)) {
                Ok(opened) => return Ok(opened),
                Err(e @ (Error::Locked(_) | Error::Io(_))) => return Err(e),
                Err(e) => format!("its documents cannot be read: {e}"),
            },
            Err(problem) => problem,
        };
        tracing::warn!(dir = %dir.display(), %problem, "search index cannot be trusted; rebuilding it from the log");
        wipe(dir)?;
        Self::create(dir, Opened::Rebuilt(problem))
    }

    fn create(dir: &Path, opened: Opened) -> Result<Self> {
        let index = Index::create_in_dir(dir, schema().0)?;
        Self::assemble(index, opened, Some(dir))
    }

    fn assemble(index: Index, opened: Opened, dir: Option<&Path>) -> Result<Self> {
        register_analyzers(&index);
        let fields = schema().1;
        let reader = reader_of(&index)?;
        let mut writer = Writer::new(&index, reader.clone(), fields).map_err(|e| match e {
            Error::Tantivy(TantivyError::LockFailure(..)) => {
                Error::Locked(dir.map(Path::to_path_buf).unwrap_or_default())
            }
            e => e,
        })?;
        if opened != Opened::Existing {
            // A first commit, so the directory holds a valid index (checkpoint 0) at once.
            writer.commit()?;
        }
        let checkpoint = Arc::new(watch::channel(writer.committed()).0);
        let reader = SearchReader::new(reader, fields, checkpoint.subscribe());
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            checkpoint,
            reader,
            opened,
        })
    }

    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    /// The handle the API reads through.
    pub fn reader(&self) -> SearchReader {
        self.reader.clone()
    }

    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Writer>> {
        lock(&self.writer)
    }

    /// The last position applied, committed or not.
    pub fn applied(&self) -> Result<i64> {
        Ok(self.lock()?.applied())
    }

    /// The last position committed: where a restart resumes.
    pub fn committed(&self) -> Result<i64> {
        Ok(self.lock()?.committed())
    }

    /// Applies events on the calling thread (blocking); those already applied are skipped. On a
    /// failure, the uncommitted batch is rolled back.
    pub fn apply(&mut self, events: &[Recorded]) -> Result<()> {
        let mut w = self.lock()?;
        apply_or_rollback(&mut w, events)?;
        publish_uncommitted(&self.checkpoint, &w);
        Ok(())
    }

    /// Commits on the calling thread (blocking) and makes the batch searchable.
    pub fn commit(&mut self) -> Result<i64> {
        let position = self.lock()?.commit()?;
        self.checkpoint.send_replace(position);
        Ok(position)
    }
}

pub(crate) fn lock(writer: &Mutex<Writer>) -> Result<MutexGuard<'_, Writer>> {
    writer
        .lock()
        .map_err(|_| Error::WriterGone("a batch panicked".into()))
}

pub(crate) fn apply_or_rollback(w: &mut Writer, events: &[Recorded]) -> Result<()> {
    if let Err(e) = w.apply(events) {
        w.rollback()?;
        return Err(e);
    }
    Ok(())
}

/// Events that changed no document are searchable as soon as they are applied.
pub(crate) fn publish_uncommitted(checkpoint: &watch::Sender<i64>, w: &Writer) {
    if w.changes() == 0 {
        checkpoint.send_if_modified(|p| {
            let moved = w.applied() > *p;
            *p = (*p).max(w.applied());
            moved
        });
    }
}

/// Why the index in `dir` cannot be served, if it cannot.
fn check(dir: &Path) -> Result<Index, String> {
    let index = Index::open_in_dir(dir).map_err(|e| format!("it cannot be opened: {e}"))?;
    if index.schema() != schema().0 {
        return Err("its schema is not this version's".into());
    }
    match Payload::read(&index) {
        Ok(Some(p)) if p.schema == SCHEMA_VERSION => {}
        Ok(Some(p)) => {
            return Err(format!(
                "it has schema version {}, not {SCHEMA_VERSION}",
                p.schema
            ))
        }
        Ok(None) => return Err("its last commit has no checkpoint".into()),
        Err(e) => return Err(format!("its metadata cannot be read: {e}")),
    }
    match index.validate_checksum() {
        Ok(damaged) if damaged.is_empty() => {}
        Ok(damaged) => {
            let mut names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            return Err(format!("files fail their checksum: {}", names.join(", ")));
        }
        Err(e) => return Err(format!("its files cannot be checked: {e}")),
    }
    // Opening a searcher opens every segment's files: a missing one fails here.
    reader_of(&index).map_err(|e| format!("its segments cannot be opened: {e}"))?;
    Ok(index)
}

/// Whether a file name is one tantivy writes: `meta.json`, `.managed.json`, lock files,
/// temporary files of atomic writes, and segment files named by a 32-digit hex id.
fn tantivy_file(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("");
    matches!(name, "meta.json" | ".managed.json")
        || name.starts_with(".tantivy-")
        || name.starts_with(".tmp")
        || (stem.len() == 32 && stem.chars().all(|c| c.is_ascii_hexdigit()) && name.len() > 33)
}

/// Deletes the index files in `dir`, refusing if anything else is there: the directory is
/// given by configuration, and a wrong path must not cost someone their files.
fn wipe(dir: &Path) -> Result<()> {
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file() || !tantivy_file(&name) {
            return Err(Error::ForeignFile(entry.path()));
        }
        files.push(entry.path());
    }
    for f in files {
        std::fs::remove_file(f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tantivy_file;

    #[test]
    fn only_files_tantivy_writes_count_as_index_files() {
        assert!(tantivy_file("meta.json"));
        assert!(tantivy_file("0123456789abcdef0123456789abcdef.store"));
        assert!(tantivy_file("0123456789abcdef0123456789abcdef.12.del"));
        assert!(tantivy_file(".tantivy-writer.lock"));
        assert!(!tantivy_file("events.sqlite"));
        assert!(!tantivy_file("0123456789abcdef.store"));
    }
}
