//! The reading side: what the API calls.
//!
//! A [`SearchReader`] is cheap to clone and shared by every request. Each request takes a
//! [`Snapshot`] (a tantivy searcher on the last commit) and asks it for candidates; a snapshot
//! keeps seeing the same documents, so a request pulling several chunks of candidates (to fill a
//! page of statuses the viewer may see) gets a consistent ranking. The index returns candidates
//! only: who may see a status stays decided by the SQL of `statuses::visible`.
//!
//! Queries take from microseconds to a few milliseconds; from async code, call them through
//! [`SearchReader::run`], which runs them on a blocking thread.

use std::time::Duration;

use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, Query};
use tantivy::{IndexReader, Order, Searcher, TantivyDocument};
use tokio::sync::watch;

use crate::build::{Builder, IdRange, Scope};
use crate::documents::{account_doc, media_doc, read_source, status_doc};
use crate::facets::{top, FacetCollector, Facets};
use crate::query::StatusQuery;
use crate::schema::{Fields, KIND_ACCOUNT, KIND_MEDIA, KIND_STATUS};
use crate::sources::{AccountSource, MediaSource, StatusSource};
use crate::{Error, Result};

/// Which ranked hits to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
    pub ids: IdRange,
}

impl Window {
    pub fn first(limit: usize) -> Self {
        Self {
            offset: 0,
            limit,
            ids: IdRange::default(),
        }
    }
}

#[derive(Clone)]
pub struct SearchReader {
    reader: IndexReader,
    fields: Fields,
    checkpoint: watch::Receiver<i64>,
}

impl SearchReader {
    pub(crate) fn new(
        reader: IndexReader,
        fields: Fields,
        checkpoint: watch::Receiver<i64>,
    ) -> Self {
        Self {
            reader,
            fields,
            checkpoint,
        }
    }

    /// The last log position whose effects are searchable.
    pub fn checkpoint(&self) -> i64 {
        *self.checkpoint.borrow()
    }

    /// Waits until `position` is searchable (read-your-writes); `false` on timeout or when the
    /// index's writer has stopped.
    pub async fn wait_for(&self, position: i64, timeout: Duration) -> bool {
        let mut rx = self.checkpoint.clone();
        let reached = async move { rx.wait_for(|p| *p >= position).await.is_ok() };
        tokio::time::timeout(timeout, reached)
            .await
            .unwrap_or(false)
    }

    /// A view of the last commit.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            searcher: self.reader.searcher(),
            fields: self.fields,
        }
    }

    /// Runs `f` on a fresh snapshot on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Snapshot) -> Result<T> + Send + 'static,
    {
        let snapshot = self.snapshot();
        tokio::task::spawn_blocking(move || f(&snapshot))
            .await
            .map_err(|e| Error::WriterGone(e.to_string()))?
    }
}

pub struct Snapshot {
    searcher: Searcher,
    fields: Fields,
}

impl Snapshot {
    /// Ids of the matching documents in rank order: score, then newest (highest id) first.
    fn ranked(&self, query: &dyn Query, window: &Window) -> Result<Vec<u64>> {
        if window.limit == 0 {
            return Ok(Vec::new());
        }
        let collector = TopDocs::with_limit(window.limit)
            .and_offset(window.offset)
            .order_by((
                (SortBySimilarityScore, Order::Desc),
                (SortByStaticFastValue::<u64>::for_field("id"), Order::Desc),
            ));
        let hits = self.searcher.search(query, &collector)?;
        Ok(hits.into_iter().filter_map(|((_, id), _)| id).collect())
    }

    /// Status ids for `query`, ranked; the caller filters them by visibility. To fill a page of
    /// visible statuses, call again with a larger `offset` until enough are visible or fewer
    /// than `limit` come back (this snapshot keeps the ranking stable meanwhile).
    pub fn statuses(&self, query: &StatusQuery, scope: Scope, window: &Window) -> Result<Vec<u64>> {
        let q = Builder::new(self.fields).statuses(query, scope, window.ids);
        self.ranked(q.as_ref(), window)
    }

    /// How many statuses match.
    pub fn count_statuses(&self, query: &StatusQuery, scope: Scope) -> Result<usize> {
        let q = Builder::new(self.fields).statuses(query, scope, IdRange::default());
        Ok(q.count(&self.searcher)?)
    }

    /// Account ids for a name typed by a person (prefixes of usernames and display names, or
    /// `user@host`), best first; active accounts only.
    pub fn accounts(&self, text: &str, window: &Window) -> Result<Vec<u64>> {
        match Builder::new(self.fields).accounts(text) {
            Some(q) => self.ranked(q.as_ref(), window),
            None => Ok(Vec::new()),
        }
    }

    /// The top `top` cameras, lenses and licences of the statuses `query` matches in `scope`.
    /// Counts cover every hit, not only those a viewer may see: use [`Scope::Public`] for
    /// anyone but an admin, so they reveal nothing about private statuses.
    pub fn facets(&self, query: &StatusQuery, scope: Scope, top_n: usize) -> Result<Facets> {
        let q = Builder::new(self.fields).statuses(query, scope, IdRange::default());
        let (mut maps, hits) = self.searcher.search(q.as_ref(), &FacetCollector)?;
        let mut take = |i: usize| top(std::mem::take(&mut maps[i]), top_n);
        Ok(Facets {
            hits,
            cameras: take(0),
            lenses: take(1),
            licences: take(2),
        })
    }

    /// Every live document, derived again from its stored source exactly as the projection
    /// derives it, in key order: to compare two indexes (a replay gives the same documents) and
    /// to give a baseline the very documents the projection indexed.
    pub fn export(&self) -> Result<Vec<(String, TantivyDocument)>> {
        let f = &self.fields;
        let addresses = self
            .searcher
            .search(&AllQuery, &tantivy::collector::DocSetCollector)?;
        let mut sources: Vec<(String, String, TantivyDocument)> = Vec::new();
        for address in addresses {
            let doc: TantivyDocument = self.searcher.doc::<TantivyDocument>(address)?;
            sources.push((text_of(&doc, f.kind), text_of(&doc, f.key), doc));
        }
        let accounts: std::collections::HashMap<String, AccountSource> = sources
            .iter()
            .filter(|(kind, _, _)| kind == KIND_ACCOUNT)
            .map(|(_, _, d)| read_source::<AccountSource>(f, d).map(|a| (a.id.clone(), a)))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(sources.len());
        for (kind, key, doc) in sources {
            let derived = match kind.as_str() {
                KIND_STATUS => {
                    let s: StatusSource = read_source(f, &doc)?;
                    status_doc(f, &s, accounts.get(&s.account_id))?
                }
                KIND_ACCOUNT => account_doc(f, &read_source(f, &doc)?)?,
                KIND_MEDIA => media_doc(f, &read_source::<MediaSource>(f, &doc)?)?,
                _ => continue,
            };
            out.push((key, derived));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

fn text_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> String {
    use tantivy::schema::Value;
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}
