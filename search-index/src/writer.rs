//! The projection's side of the index: the one `IndexWriter`, and the view the fold reads.
//!
//! What the fold reads is the committed index (through a searcher opened at the last commit)
//! overlaid with what this batch changed and has not committed yet (tantivy's searchers do not
//! see uncommitted documents). Documents are written at commit, from the overlay's final state:
//! an upload posted within the batch, or a status edited twice, costs no document of its own,
//! and the replaced versions already committed are deleted by term when they are replaced. Accounts are the exception: few and read by every post, they are
//! all kept in memory, loaded from the committed index at open and after a rollback. Nothing
//! else is kept outside the index, so a crash loses only the uncommitted batch, and the
//! checkpoint, in the same commit, says to read it again.

use std::collections::{HashMap, HashSet};

use peerpx_projections::Recorded;
use serde::{Deserialize, Serialize};
use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocSet, Index, IndexReader, IndexWriter, Searcher, TantivyDocument, Term, TERMINATED,
};

use crate::documents::{account_doc, media_doc, media_key, read_source, status_doc, status_key};
use crate::fold::{self, Put, View};
use crate::schema::{Fields, KIND_ACCOUNT, SCHEMA_VERSION};
use crate::sources::{AccountSource, MediaSource, StatusSource};
use crate::Result;

/// Memory for the writer's in-flight segments, all threads together.
pub const WRITER_HEAP_BYTES: usize = 96_000_000;
/// Indexing threads at most (the node shares its cores with everything else).
pub const WRITER_THREADS: usize = 2;

/// The writer the projection uses (also what a baseline must use to compare fairly).
pub fn open_writer(index: &Index) -> tantivy::Result<IndexWriter> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(WRITER_THREADS);
    index.writer_with_num_threads(threads, WRITER_HEAP_BYTES)
}

/// What a commit records beside the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub schema: u32,
    /// The last log position applied.
    pub position: i64,
}

impl Payload {
    pub fn read(index: &Index) -> Result<Option<Payload>> {
        let metas = index.load_metas()?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()))
    }
}

/// A document changed by the batch not committed yet.
enum Pending {
    Status(StatusSource),
    Media(MediaSource),
    Gone,
}

#[derive(Default)]
struct Accounts {
    by_key: HashMap<String, AccountSource>,
    key_of: HashMap<String, String>,
}

pub struct Writer {
    fields: Fields,
    writer: IndexWriter,
    reader: IndexReader,
    /// Opened at the last commit.
    searcher: Searcher,
    accounts: Accounts,
    overlay: HashMap<String, Pending>,
    /// Status ids this batch put, by author, for renames within the batch.
    overlay_by_author: HashMap<String, Vec<String>>,
    /// Accounts put by this batch, written at commit.
    dirty_accounts: HashSet<String>,
    /// Keys with no committed document left: created by this batch, or already deleted by term
    /// in it. Deleting them again would cost a term lookup in every segment at commit.
    clean: HashSet<String>,
    /// Documents added or deleted since the last commit.
    changes: usize,
    applied: i64,
    committed: i64,
}

impl Writer {
    pub fn new(index: &Index, reader: IndexReader, fields: Fields) -> Result<Self> {
        let position = Payload::read(index)?.map_or(0, |p| p.position);
        let writer = open_writer(index)?;
        let searcher = reader.searcher();
        let mut w = Self {
            fields,
            writer,
            reader,
            searcher,
            accounts: Accounts::default(),
            overlay: HashMap::new(),
            overlay_by_author: HashMap::new(),
            dirty_accounts: HashSet::new(),
            clean: HashSet::new(),
            changes: 0,
            applied: position,
            committed: position,
        };
        w.load_accounts()?;
        Ok(w)
    }

    pub fn applied(&self) -> i64 {
        self.applied
    }

    pub fn committed(&self) -> i64 {
        self.committed
    }

    /// Documents changed since the last commit.
    pub fn changes(&self) -> usize {
        self.changes
    }

    fn load_accounts(&mut self) -> Result<()> {
        let query = TermQuery::new(
            Term::from_field_text(self.fields.kind, KIND_ACCOUNT),
            IndexRecordOption::Basic,
        );
        let mut accounts = Accounts::default();
        for address in self.searcher.search(&query, &DocSetCollector)? {
            let doc: TantivyDocument = self.searcher.doc(address)?;
            let a: AccountSource = read_source(&self.fields, &doc)?;
            accounts.key_of.insert(a.id.clone(), a.key.clone());
            accounts.by_key.insert(a.key.clone(), a);
        }
        self.accounts = accounts;
        Ok(())
    }

    /// Applies the events after the last one applied, in order.
    pub fn apply(&mut self, events: &[Recorded]) -> Result<()> {
        for e in events {
            if e.position <= self.applied {
                continue;
            }
            fold::apply(self, e)?;
            self.applied = e.position;
        }
        Ok(())
    }

    /// Writes the batch's documents in key order (so the same events give the same segments).
    fn flush(&mut self) -> Result<()> {
        let mut keys: Vec<&String> = self.overlay.keys().collect();
        keys.sort_unstable();
        for key in keys {
            let doc = match &self.overlay[key] {
                Pending::Status(s) => {
                    let author = self
                        .accounts
                        .key_of
                        .get(&s.account_id)
                        .and_then(|k| self.accounts.by_key.get(k));
                    status_doc(&self.fields, s, author)?
                }
                Pending::Media(m) => media_doc(&self.fields, m)?,
                Pending::Gone => continue,
            };
            self.writer.add_document(doc)?;
        }
        let mut keys: Vec<&String> = self.dirty_accounts.iter().collect();
        keys.sort_unstable();
        for key in keys {
            if let Some(a) = self.accounts.by_key.get(key) {
                self.writer.add_document(account_doc(&self.fields, a)?)?;
            }
        }
        Ok(())
    }

    /// Commits the batch with the checkpoint in the same commit, then opens a searcher on it.
    pub fn commit(&mut self) -> Result<i64> {
        self.flush()?;
        let payload = Payload {
            schema: SCHEMA_VERSION,
            position: self.applied,
        };
        let payload =
            serde_json::to_string(&payload).map_err(|e| crate::Error::BadSource(e.to_string()))?;
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        self.searcher = self.reader.searcher();
        self.overlay.clear();
        self.overlay_by_author.clear();
        self.dirty_accounts.clear();
        self.clean.clear();
        self.changes = 0;
        self.committed = self.applied;
        Ok(self.committed)
    }

    /// Forgets the uncommitted batch (after a failure), back to the last commit.
    pub fn rollback(&mut self) -> Result<()> {
        self.writer.rollback()?;
        self.overlay.clear();
        self.overlay_by_author.clear();
        self.dirty_accounts.clear();
        self.clean.clear();
        self.changes = 0;
        self.applied = self.committed;
        self.load_accounts()
    }

    /// Deletes every document; the next commit records `position` 0.
    pub fn wipe(&mut self) -> Result<()> {
        self.writer.delete_all_documents()?;
        self.overlay.clear();
        self.overlay_by_author.clear();
        self.dirty_accounts.clear();
        self.clean.clear();
        self.accounts = Accounts::default();
        self.applied = 0;
        self.changes += 1;
        Ok(())
    }

    /// The committed documents holding `term` in `field`, their sources read.
    fn committed_with<T: serde::de::DeserializeOwned>(
        &self,
        field: Field,
        value: &str,
        first_only: bool,
    ) -> Result<Vec<T>> {
        let term = Term::from_field_text(field, value);
        let mut out = Vec::new();
        for (ord, segment) in self.searcher.segment_readers().iter().enumerate() {
            let inverted = segment.inverted_index(field)?;
            let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !segment.is_deleted(doc) {
                    let address = tantivy::DocAddress::new(ord as u32, doc);
                    let stored: TantivyDocument = self.searcher.doc(address)?;
                    out.push(read_source(&self.fields, &stored)?);
                    if first_only {
                        return Ok(out);
                    }
                }
                doc = postings.advance();
            }
        }
        Ok(out)
    }

    /// Deletes the committed document of `key`, once per batch.
    fn delete_committed(&mut self, key: &str) {
        if !self.clean.contains(key) {
            self.writer
                .delete_term(Term::from_field_text(self.fields.key, key));
            self.clean.insert(key.to_string());
        }
    }

    fn replace(&mut self, key: &str, put: Put) {
        match put {
            Put::Create => {
                self.clean.insert(key.to_string());
            }
            Put::Replace => self.delete_committed(key),
        }
    }

    fn delete(&mut self, key: String) {
        self.delete_committed(&key);
        self.overlay.insert(key, Pending::Gone);
        self.changes += 1;
    }
}

impl View for Writer {
    fn account_by_key(&self, key: &str) -> Option<&AccountSource> {
        self.accounts.by_key.get(key)
    }

    fn status(&mut self, id: &str) -> Result<Option<StatusSource>> {
        let key = status_key(id);
        match self.overlay.get(&key) {
            Some(Pending::Status(s)) => Ok(Some(s.clone())),
            Some(_) => Ok(None),
            None => Ok(self
                .committed_with(self.fields.key, &key, true)?
                .into_iter()
                .next()),
        }
    }

    fn media(&mut self, id: &str) -> Result<Option<MediaSource>> {
        let key = media_key(id);
        match self.overlay.get(&key) {
            Some(Pending::Media(m)) => Ok(Some(m.clone())),
            Some(_) => Ok(None),
            None => Ok(self
                .committed_with(self.fields.key, &key, true)?
                .into_iter()
                .next()),
        }
    }

    fn statuses_of(&mut self, account_id: &str) -> Result<Vec<StatusSource>> {
        let committed: Vec<StatusSource> =
            self.committed_with(self.fields.author_id, account_id, false)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for s in committed {
            if !self.overlay.contains_key(&status_key(&s.id)) && seen.insert(s.id.clone()) {
                out.push(s);
            }
        }
        for id in self.overlay_by_author.get(account_id).into_iter().flatten() {
            if let Some(Pending::Status(s)) = self.overlay.get(&status_key(id)) {
                if seen.insert(id.clone()) {
                    out.push(s.clone());
                }
            }
        }
        // The order documents are written in must not depend on segment layout.
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn put_status(&mut self, status: StatusSource, put: Put) -> Result<()> {
        let key = status_key(&status.id);
        self.replace(&key, put);
        self.changes += 1;
        self.overlay_by_author
            .entry(status.account_id.clone())
            .or_default()
            .push(status.id.clone());
        self.overlay.insert(key, Pending::Status(status));
        Ok(())
    }

    fn delete_status(&mut self, id: &str) -> Result<()> {
        self.delete(status_key(id));
        Ok(())
    }

    fn put_media(&mut self, media: MediaSource, put: Put) -> Result<()> {
        let key = media_key(&media.id);
        self.replace(&key, put);
        self.changes += 1;
        self.overlay.insert(key, Pending::Media(media));
        Ok(())
    }

    fn delete_media(&mut self, id: &str) -> Result<()> {
        self.delete(media_key(id));
        Ok(())
    }

    fn put_account(&mut self, account: AccountSource, put: Put) -> Result<()> {
        self.replace(&account.key, put);
        self.changes += 1;
        self.dirty_accounts.insert(account.key.clone());
        self.accounts
            .key_of
            .insert(account.id.clone(), account.key.clone());
        self.accounts.by_key.insert(account.key.clone(), account);
        Ok(())
    }

    fn delete_account(&mut self, key: &str) -> Result<()> {
        self.delete_committed(key);
        self.changes += 1;
        self.dirty_accounts.remove(key);
        if let Some(a) = self.accounts.by_key.remove(key) {
            self.accounts.key_of.remove(&a.id);
        }
        Ok(())
    }
}
