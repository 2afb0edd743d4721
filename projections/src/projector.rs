//! Feeds read models from the log, one checkpoint per read model.
//!
//! Each step of a projection is one transaction that (1) locks the projection's checkpoint row,
//! (2) reads the checkpoint, (3) reads the next events after it by global position, (4) applies
//! them and (5) stores the new checkpoint. Rows and checkpoint commit together, so a crash never
//! applies an event twice or loses one; the lock makes two processes (a node and `peerpx replay`
//! or `peerpx admin …`) safe on one database. Because the log hands out positions in commit order
//! without gaps (see `log`), reading "everything after my checkpoint" never skips an event.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyConnection, Row};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::{sql_for, Backend, Db};
use crate::recorded::{Recorded, SELECT_RECORDED};
use crate::{Error, EventLog, Result};

/// Events applied per transaction.
const BATCH: i64 = 1000;
/// SQLite page cache for a replay's connection, in KiB.
const REPLAY_CACHE_KIB: i64 = 256 * 1024;
/// How often a following projection looks for events appended by other processes.
const POLL: Duration = Duration::from_millis(200);

/// A transaction handed to a projection.
pub struct Tx<'c> {
    pub conn: &'c mut AnyConnection,
    pub backend: Backend,
}

impl Tx<'_> {
    pub fn sql<'q>(&self, query: &'q str) -> Cow<'q, str> {
        sql_for(self.backend, query)
    }
}

/// A read model fed from the log.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// The name used for its checkpoint and by `peerpx replay --projection`.
    fn name(&self) -> &'static str;
    /// Its tables with a column that orders their rows, for snapshots and replay checks.
    fn tables(&self) -> &'static [(&'static str, &'static str)];
    /// Empties the read model (before a replay): by default, every table `tables()` lists.
    async fn reset(&self, tx: &mut Tx<'_>) -> Result<()> {
        for (table, _) in self.tables() {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx.conn)
                .await?;
        }
        Ok(())
    }
    /// Applies one event. Must be deterministic: replay has to rebuild the same rows.
    async fn apply(&self, tx: &mut Tx<'_>, event: &Recorded) -> Result<()>;
    /// Applies consecutive events; a read model overrides this to write a batch at once.
    async fn apply_batch(&self, tx: &mut Tx<'_>, events: &[Recorded]) -> Result<()> {
        for event in events {
            self.apply(tx, event).await?;
        }
        Ok(())
    }
}

struct Tracked {
    projection: Arc<dyn Projection>,
    checkpoint: watch::Sender<i64>,
}

pub struct Projector {
    db: Db,
    log: EventLog,
    tracked: Vec<Tracked>,
}

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// The read models rebuilt.
    pub projections: Vec<&'static str>,
    /// Events read from the log (each was offered to every rebuilt read model).
    pub events: u64,
    /// The checkpoint the read models now have.
    pub position: i64,
}

impl Projector {
    /// The node's read models.
    pub fn new(log: EventLog) -> Self {
        Self::with(
            log,
            vec![
                Arc::new(crate::accounts::AccountsProjection),
                Arc::new(crate::instance::InstanceProjection),
                Arc::new(crate::media::MediaProjection),
                Arc::new(crate::statuses::StatusesProjection),
                Arc::new(crate::relationships::RelationshipsProjection),
                Arc::new(crate::engagements::EngagementsProjection),
                Arc::new(crate::notifications::NotificationsProjection),
                Arc::new(crate::federation::FederationProjection),
                Arc::new(crate::deliveries::DeliveriesProjection),
                Arc::new(crate::domain_blocks::DomainBlocksProjection),
                Arc::new(crate::search::SearchProjection),
            ],
        )
    }

    pub fn with(log: EventLog, projections: Vec<Arc<dyn Projection>>) -> Self {
        let tracked = projections
            .into_iter()
            .map(|projection| Tracked {
                projection,
                checkpoint: watch::channel(0).0,
            })
            .collect();
        Self {
            db: log.db().clone(),
            log,
            tracked,
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.tracked.iter().map(|t| t.projection.name()).collect()
    }

    /// Creates missing checkpoint rows and loads the stored checkpoints.
    pub async fn init(&self) -> Result<()> {
        for t in &self.tracked {
            let name = t.projection.name();
            let row = sqlx::query(
                &self
                    .db
                    .sql("SELECT position FROM projection_checkpoints WHERE name = ?"),
            )
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?;
            let position = match row {
                Some(row) => row.try_get(0)?,
                None => {
                    let insert =
                        sqlx::query(&self.db.sql(
                            "INSERT INTO projection_checkpoints (name, position) VALUES (?, 0)",
                        ))
                        .bind(name)
                        .execute(&self.db.pool)
                        .await;
                    match insert {
                        Err(e) if !crate::db::is_unique_violation(&e) => return Err(e.into()),
                        _ => 0,
                    }
                }
            };
            t.checkpoint.send_replace(position);
        }
        Ok(())
    }

    /// Brings every projection up to the head of the log, then returns.
    pub async fn catch_up(&self) -> Result<()> {
        for t in &self.tracked {
            while step(&self.db, t).await?.1 == BATCH {}
        }
        Ok(())
    }

    /// The lowest checkpoint of all projections.
    pub fn checkpoint(&self) -> i64 {
        self.tracked
            .iter()
            .map(|t| *t.checkpoint.borrow())
            .min()
            .unwrap_or(0)
    }

    /// Waits until every projection has applied `position` (read-your-writes); `false` on timeout.
    pub async fn wait_for(&self, position: i64, timeout: Duration) -> bool {
        let all = async {
            for t in &self.tracked {
                let mut rx = t.checkpoint.subscribe();
                if rx.wait_for(|p| *p >= position).await.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(timeout, all).await.unwrap_or(false)
    }

    /// Follows the log until `stop` turns true; each projection runs in its own task.
    pub fn spawn(self: &Arc<Self>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        (0..self.tracked.len())
            .map(|i| {
                let this = Arc::clone(self);
                let mut stop = stop.clone();
                tokio::spawn(async move { this.follow(i, &mut stop).await })
            })
            .collect()
    }

    async fn follow(&self, index: usize, stop: &mut watch::Receiver<bool>) {
        let t = &self.tracked[index];
        let name = t.projection.name();
        let mut appended = self.log.subscribe();
        let mut failures = 0u32;
        loop {
            match step(&self.db, t).await {
                Ok((_, n)) if n == BATCH => continue,
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::error!(projection = name, error = %e, "projection step failed; retrying");
                    if *stop.borrow() {
                        // Shutting down with the database failing: stop rather than retry for ever.
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
        // A final step so that everything appended before the stop is applied.
        if let Err(e) = step(&self.db, t).await {
            tracing::warn!(projection = name, error = %e, "last projection step failed");
        }
    }

    /// Drops the read models (all, or the one named) and rebuilds them from the whole log in one
    /// pass and one transaction: the log is read and decoded once for all of them, and readers see
    /// the old or the rebuilt models, never half of one.
    pub async fn replay(&self, only: Option<&str>) -> Result<ReplayReport> {
        if let Some(name) = only {
            if !self.names().contains(&name) {
                return Err(Error::UnknownProjection(name.to_string()));
            }
        }
        let selected: Vec<&Tracked> = self
            .tracked
            .iter()
            .filter(|t| only.is_none_or(|n| n == t.projection.name()))
            .collect();
        let mut conn = self.db.pool.acquire().await?;
        if self.db.backend == Backend::Sqlite {
            // The rebuild rewrites every index of every read model in one transaction; with
            // SQLite's default 2 MiB page cache most B-tree pages it touches are read again
            // from the OS for each batch (see docs/benchmarks.md, replay).
            sqlx::query(&format!("PRAGMA cache_size = -{REPLAY_CACHE_KIB}"))
                .execute(&mut *conn)
                .await?;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        if self.db.backend == Backend::Postgres {
            // The read models are emptied and refilled inside this transaction, so their
            // statistics are those of before (an empty table, after a first migration), and
            // PostgreSQL planned the keyed reads of a batch as scans of the whole table (2.5 s
            // for 500 accounts by name at 100 000 rows). Every statement of a replay is a keyed
            // read or write.
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await?;
        }
        for t in &selected {
            lock_checkpoint(&self.db, &mut tx, t.projection.name()).await?;
            t.projection
                .reset(&mut Tx {
                    conn: &mut tx,
                    backend: self.db.backend,
                })
                .await?;
        }
        let mut position = 0;
        let mut events = 0u64;
        loop {
            let rows = sqlx::query(&self.db.sql(SELECT_RECORDED))
                .bind(position)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
            let batch = rows
                .iter()
                .map(Recorded::from_row)
                .collect::<Result<Vec<_>>>()?;
            for t in &selected {
                let mut ptx = Tx {
                    conn: &mut tx,
                    backend: self.db.backend,
                };
                t.projection.apply_batch(&mut ptx, &batch).await?;
            }
            if let Some(last) = batch.last() {
                position = last.position;
            }
            events += rows.len() as u64;
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        for t in &selected {
            store_checkpoint(&self.db, &mut tx, t.projection.name(), position).await?;
        }
        tx.commit().await?;
        if self.db.backend == Backend::Sqlite {
            // Back to SQLite's default before the connection returns to the pool.
            sqlx::query("PRAGMA cache_size = -2000")
                .execute(&mut *conn)
                .await?;
        }
        let projections: Vec<&'static str> = selected.iter().map(|t| t.projection.name()).collect();
        for t in &selected {
            t.checkpoint.send_replace(position);
        }
        tracing::info!(?projections, events, position, "read models rebuilt");
        Ok(ReplayReport {
            projections,
            events,
            position,
        })
    }

    /// Every row of every read model, in a stable order: used to prove replay gives the same state.
    pub async fn snapshot(&self) -> Result<BTreeMap<String, Vec<Vec<serde_json::Value>>>> {
        let mut out = BTreeMap::new();
        for t in &self.tracked {
            for (table, order) in t.projection.tables() {
                let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
                    .fetch_all(&self.db.pool)
                    .await?;
                let rows = rows.iter().map(row_values).collect();
                out.insert((*table).to_string(), rows);
            }
        }
        Ok(out)
    }
}

fn row_values(row: &sqlx::any::AnyRow) -> Vec<serde_json::Value> {
    use serde_json::Value;
    (0..row.len())
        .map(|i| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                v.map_or(Value::Null, |b| {
                    Value::from(String::from_utf8_lossy(&b).into_owned())
                })
            } else {
                Value::String("<unreadable>".into())
            }
        })
        .collect()
}

async fn lock_checkpoint(db: &Db, conn: &mut AnyConnection, name: &str) -> Result<i64> {
    // A write first: it takes SQLite's write lock, or the row lock elsewhere, before any read.
    sqlx::query(&db.sql("UPDATE projection_checkpoints SET position = position WHERE name = ?"))
        .bind(name)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(&db.sql("SELECT position FROM projection_checkpoints WHERE name = ?"))
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

async fn store_checkpoint(
    db: &Db,
    conn: &mut AnyConnection,
    name: &str,
    position: i64,
) -> Result<()> {
    sqlx::query(&db.sql("UPDATE projection_checkpoints SET position = ? WHERE name = ?"))
        .bind(position)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Applies up to `BATCH` events after `after`; returns the last position applied and how many.
async fn apply_after(
    db: &Db,
    conn: &mut AnyConnection,
    projection: &dyn Projection,
    after: i64,
) -> Result<(i64, i64)> {
    let rows = sqlx::query(&db.sql(SELECT_RECORDED))
        .bind(after)
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await?;
    let events = rows
        .iter()
        .map(Recorded::from_row)
        .collect::<Result<Vec<_>>>()?;
    let mut tx = Tx {
        conn: &mut *conn,
        backend: db.backend,
    };
    projection.apply_batch(&mut tx, &events).await?;
    let last = events.last().map_or(after, |e| e.position);
    Ok((last, i64::try_from(rows.len()).unwrap_or(0)))
}

/// One transaction of progress for one projection; returns (checkpoint, events applied).
async fn step(db: &Db, t: &Tracked) -> Result<(i64, i64)> {
    let name = t.projection.name();
    let mut tx = db.pool.begin().await?;
    let from = lock_checkpoint(db, &mut tx, name).await?;
    let (last, n) = apply_after(db, &mut tx, t.projection.as_ref(), from).await?;
    if n > 0 {
        store_checkpoint(db, &mut tx, name, last).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    t.checkpoint.send_if_modified(|p| {
        let changed = *p != last;
        *p = last;
        changed
    });
    Ok((last, n))
}
