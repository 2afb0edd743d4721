//! Following the log: catch up, then apply new events as they are appended.
//!
//! Like the SQL projections (`peerpx_projections::projector`), the index reads "every event
//! after my checkpoint" in batches by position (the log has no gaps, so nothing is skipped), is
//! woken at once by the log's in-process notification and polls every 200 ms for events other
//! processes appended. Unlike them, its checkpoint lives in the tantivy commit's payload, written
//! in the same commit as the documents. Applying and committing are blocking work: both run on
//! blocking threads, never on the async workers.
//!
//! Commits are made when the index has caught up with the log (so `wait_for` returns soon after
//! an append), and every [`COMMIT_EVERY`] events while catching up (a crash during a rebuild
//! loses at most that much work, and the uncommitted overlay stays bounded).

use std::sync::Arc;
use std::time::{Duration, Instant};

use peerpx_projections::recorded::SELECT_RECORDED;
use peerpx_projections::{Db, EventLog, Recorded};
use tokio::sync::watch;

use crate::index::{apply_or_rollback, lock, publish_uncommitted, SearchIndex};
use crate::{Error, Result};

/// Events read per query.
const BATCH: i64 = 1000;
/// How often the follow loop looks for events appended by other processes.
const POLL: Duration = Duration::from_millis(200);
/// Events applied at most between two commits while catching up.
pub const COMMIT_EVERY: i64 = 50_000;
/// How often progress is logged while catching up.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What a catch-up or a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Events read from the log.
    pub events: u64,
    /// The checkpoint committed at the end.
    pub position: i64,
    pub seconds: f64,
}

impl Progress {
    pub fn events_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.events as f64 / self.seconds
        } else {
            0.0
        }
    }
}

async fn read_after(db: &Db, after: i64) -> Result<Vec<Recorded>> {
    let rows = sqlx::query(&db.sql(SELECT_RECORDED))
        .bind(after)
        .bind(BATCH)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .iter()
        .map(Recorded::from_row)
        .collect::<peerpx_projections::Result<Vec<_>>>()?)
}

/// Logs progress every few seconds.
struct Meter {
    started: Instant,
    last_log: Instant,
    events: u64,
    what: &'static str,
}

impl Meter {
    fn new(what: &'static str) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last_log: now,
            events: 0,
            what,
        }
    }

    fn add(&mut self, events: usize, position: i64) {
        self.events += events as u64;
        if self.last_log.elapsed() >= PROGRESS_EVERY {
            self.last_log = Instant::now();
            let seconds = self.started.elapsed().as_secs_f64();
            let rate = (self.events as f64 / seconds.max(1e-9)).round();
            tracing::info!(
                events = self.events,
                position,
                events_per_s = rate,
                "{}",
                self.what
            );
        }
    }

    fn done(&self, position: i64) -> Progress {
        Progress {
            events: self.events,
            position,
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

impl SearchIndex {
    /// Runs `f` on the writer on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut crate::writer::Writer) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || f(&mut *lock(&writer)?))
            .await
            .map_err(|e| Error::WriterGone(e.to_string()))?
    }

    /// Commits on a blocking thread and makes the batch searchable.
    pub async fn commit_async(&self) -> Result<i64> {
        let position = self.blocking(|w| w.commit()).await?;
        self.checkpoint.send_replace(position);
        Ok(position)
    }

    /// Reads and applies the next batch; returns how many events it read.
    async fn step(&self, db: &Db) -> Result<usize> {
        let after = self.applied()?;
        let events = read_after(db, after).await?;
        let n = events.len();
        let checkpoint = Arc::clone(&self.checkpoint);
        let (caught_up, behind) = self
            .blocking(move |w| {
                apply_or_rollback(w, &events)?;
                publish_uncommitted(&checkpoint, w);
                Ok((
                    (n as i64) < BATCH,
                    w.applied() - w.committed() >= COMMIT_EVERY,
                ))
            })
            .await?;
        let pending = self.lock()?.changes() > 0;
        if (caught_up && pending) || behind {
            self.commit_async().await?;
        }
        Ok(n)
    }

    async fn catch_up_with(&self, db: &Db, what: &'static str) -> Result<Progress> {
        let mut meter = Meter::new(what);
        loop {
            let n = self.step(db).await?;
            meter.add(n, self.applied()?);
            if (n as i64) < BATCH {
                break;
            }
        }
        Ok(meter.done(self.commit_async().await?))
    }

    /// Applies everything in the log after the checkpoint, commits, and returns.
    pub async fn catch_up(&self, log: &EventLog) -> Result<Progress> {
        let progress = self
            .catch_up_with(log.db(), "search index catching up")
            .await?;
        if progress.events > 0 {
            tracing::info!(
                events = progress.events,
                position = progress.position,
                events_per_s = progress.events_per_second().round(),
                "search index caught up"
            );
        }
        Ok(progress)
    }

    /// Wipes the index and indexes the whole log again from position 0 (`peerpx replay
    /// search`), logging progress every few seconds.
    pub async fn rebuild(&self, log: &EventLog) -> Result<Progress> {
        self.blocking(|w| {
            w.wipe()?;
            w.commit()
        })
        .await?;
        self.checkpoint.send_replace(0);
        let progress = self
            .catch_up_with(log.db(), "search index rebuilding")
            .await?;
        tracing::info!(
            events = progress.events,
            position = progress.position,
            events_per_s = progress.events_per_second().round(),
            seconds = progress.seconds,
            "search index rebuilt"
        );
        Ok(progress)
    }

    /// Follows the log until `stop` turns true, then applies what was appended before the stop
    /// and commits. Failures are logged and retried with a growing pause, as the SQL
    /// projections do.
    pub async fn follow(self, log: EventLog, mut stop: watch::Receiver<bool>) {
        let db = log.db().clone();
        let mut appended = log.subscribe();
        let mut failures = 0u32;
        let mut meter = Meter::new("search index catching up");
        loop {
            match self.step(&db).await {
                Ok(n) if n as i64 == BATCH => {
                    meter.add(n, self.applied().unwrap_or_default());
                    continue;
                }
                Ok(n) => {
                    meter.add(n, self.applied().unwrap_or_default());
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, code = e.code(), "search index step failed; retrying");
                    if *stop.borrow() {
                        return;
                    }
                    let backoff = Duration::from_millis(200 * u64::from(failures.min(25)));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = appended.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(e) = self.catch_up_with(&db, "search index stopping").await {
            tracing::warn!(error = %e, "last search index step failed");
        }
    }
}
