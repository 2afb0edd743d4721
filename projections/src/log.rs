//! The event log: cqrs-es's `PersistedEventRepository` on our own table, with a global position.
//!
//! Why not the stock `sqlite-es` / `postgres-es` / `mysql-es`: they order events only within one
//! aggregate, insert one row per statement and, on PostgreSQL and MySQL, a position taken from a
//! sequence could become visible out of order. Here one writer task per process commits appends in
//! groups: each group's transaction first locks the single `log_head` row, then gives positions to
//! its appends in turn (each in a savepoint, so a refused append takes none), then stores the new
//! head and commits. Positions are thus handed out in commit order with no gaps, across processes
//! too. A reader that sees position `n` already sees every position below `n`: projections can
//! never skip an event. Concurrent commands share one durable commit (group commit).
//! See `docs/decisions/0001-own-event-repository.md`.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Acquire, AnyConnection, Row};
use tokio::sync::{mpsc, oneshot, watch};

use crate::db::{is_unique_violation, Db, TextRow};
use crate::now_millis;

/// Rows per INSERT statement when appending a batch (9 binds per row stays under every engine's
/// placeholder limit).
const ROWS_PER_INSERT: usize = 100;

tokio::task_local! {
    /// Set by [`EventLog::persist`] to the last position it appended, for the caller's task.
    pub static LAST_APPENDED: std::cell::Cell<i64>;
}

#[derive(Clone)]
pub struct EventLog {
    db: Db,
    head: Arc<watch::Sender<i64>>,
    writer: mpsc::Sender<Append>,
}

/// Appends waiting for the writer task, each with the reply its caller awaits.
struct Append {
    events: Vec<SerializedEvent>,
    snapshot: Option<Snapshot>,
    reply: oneshot::Sender<Result<i64, PersistenceError>>,
}

struct Snapshot {
    aggregate_type: &'static str,
    aggregate_id: String,
    payload: Value,
    current_snapshot: usize,
}

/// Appends committed together at most (group commit).
const MAX_GROUP: usize = 128;

fn conn_err(e: sqlx::Error) -> PersistenceError {
    PersistenceError::ConnectionError(Box::new(e))
}

fn to_usize(v: i64) -> usize {
    usize::try_from(v).unwrap_or_default()
}

impl EventLog {
    /// Opens the log on `db` and starts its writer task (call inside a tokio runtime).
    pub fn new(db: Db) -> Self {
        let (head, _) = watch::channel(0);
        let head = Arc::new(head);
        let (writer, requests) = mpsc::channel(1024);
        tokio::spawn(write_loop(db.clone(), Arc::clone(&head), requests));
        Self { db, head, writer }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Watches the last position appended by this process (other processes are seen by polling).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// The last position committed to the log by anyone.
    pub async fn head(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT position FROM log_head WHERE id = 1")
            .fetch_one(&self.db.pool)
            .await?;
        row.try_get(0)
    }

    /// Appends serialized events atomically; returns the last position given.
    pub async fn append(&self, events: &[SerializedEvent]) -> Result<i64, PersistenceError> {
        self.submit(events.to_vec(), None).await
    }

    /// Hands the events to the writer task and waits until they are durable.
    async fn submit(
        &self,
        events: Vec<SerializedEvent>,
        snapshot: Option<Snapshot>,
    ) -> Result<i64, PersistenceError> {
        if events.is_empty() && snapshot.is_none() {
            // cqrs-es commits even when a command produced no event: nothing to store.
            return Ok(0);
        }
        let (reply, answer) = oneshot::channel();
        let gone = || PersistenceError::UnknownError("the event log writer has stopped".into());
        self.writer
            .send(Append {
                events,
                snapshot,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        let last = answer.await.map_err(|_| gone())??;
        let _ = LAST_APPENDED.try_with(|cell| cell.set(last));
        Ok(last)
    }

    async fn select_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let rows = sqlx::query(&self.db.sql(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
             metadata FROM events WHERE aggregate_type = ? AND aggregate_id = ? AND sequence > ? \
             ORDER BY sequence",
        ))
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(i64::try_from(after_sequence).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(conn_err)?;
        rows.iter().map(row_to_event).collect()
    }
}

/// The one task per process that writes the log. It takes every append that is waiting (up to
/// `MAX_GROUP`) and commits them in one transaction, so concurrent commands share one durable
/// commit. Each append runs inside its own savepoint: a conflict (another writer took that
/// aggregate's sequence number) rolls back that append alone and takes no positions.
async fn write_loop(db: Db, head: Arc<watch::Sender<i64>>, mut requests: mpsc::Receiver<Append>) {
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let outcome = commit_group(&db, &group).await;
        match outcome {
            Ok((results, last)) => {
                head.send_if_modified(|h| {
                    let changed = last > *h;
                    *h = (*h).max(last);
                    changed
                });
                for (append, result) in group.into_iter().zip(results) {
                    let _ = append.reply.send(result);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, appends = group.len(), "event log commit failed");
                for append in group {
                    let _ = append
                        .reply
                        .send(Err(conn_err(sqlx::Error::Protocol(e.to_string()))));
                }
            }
        }
    }
}

/// Commits a group; returns each append's result and the new head.
///
/// Fast path: all appends' rows go in together (one multi-row INSERT per 100 rows). If that hits a
/// conflict, it is undone and each append is retried alone inside its own savepoint, so only the
/// conflicting ones are refused and the positions stay dense.
async fn commit_group(
    db: &Db,
    group: &[Append],
) -> Result<(Vec<Result<i64, PersistenceError>>, i64), sqlx::Error> {
    let sizes: Vec<i64> = group
        .iter()
        .map(|a| i64::try_from(a.events.len()).unwrap_or(i64::MAX))
        .collect();
    let total: i64 = sizes.iter().sum();
    let mut tx = db.pool.begin().await?;
    // The UPDATE comes first: it takes the write lock (SQLite) or the row lock (PostgreSQL,
    // MySQL) that makes appends commit in position order, across processes too.
    sqlx::query(&db.sql("UPDATE log_head SET position = position + ? WHERE id = 1"))
        .bind(total)
        .execute(&mut *tx)
        .await?;
    let reserved: i64 = sqlx::query("SELECT position FROM log_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let first = reserved - total + 1;
    let recorded_at = now_millis();

    if let [only] = group {
        // One append: the transaction itself is its all-or-nothing unit.
        return match write_append(db, &mut tx, only, first, recorded_at).await {
            Ok(()) => {
                tx.commit().await?;
                Ok((vec![Ok(reserved)], reserved))
            }
            Err(e) => {
                tx.rollback().await?;
                Ok((vec![Err(e)], reserved - total))
            }
        };
    }

    let mut together = tx.begin().await?;
    if write_all(db, &mut together, group, first, recorded_at)
        .await
        .is_ok()
    {
        together.commit().await?;
        tx.commit().await?;
        let mut last = first - 1;
        let results = sizes.iter().map(|n| {
            last += n;
            Ok(last)
        });
        return Ok((results.collect(), reserved));
    }
    together.rollback().await?;

    let mut last = first - 1;
    let mut results = Vec::with_capacity(group.len());
    for (append, n) in group.iter().zip(&sizes) {
        let mut savepoint = tx.begin().await?;
        match write_append(db, &mut savepoint, append, last + 1, recorded_at).await {
            Ok(()) => {
                savepoint.commit().await?;
                last += n;
                results.push(Ok(last));
            }
            Err(e) => {
                savepoint.rollback().await?;
                results.push(Err(e));
            }
        }
    }
    // Give back the positions that refused appends had reserved.
    sqlx::query(&db.sql("UPDATE log_head SET position = ? WHERE id = 1"))
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((results, last))
}

/// Writes every append of a group in position order, batching rows across appends.
async fn write_all(
    db: &Db,
    conn: &mut AnyConnection,
    group: &[Append],
    first: i64,
    recorded_at: i64,
) -> Result<(), PersistenceError> {
    let rows: Vec<SerializedEvent> = group
        .iter()
        .flat_map(|a| a.events.iter().cloned())
        .collect();
    for (chunk_index, chunk) in rows.chunks(ROWS_PER_INSERT).enumerate() {
        let offset = i64::try_from(chunk_index * ROWS_PER_INSERT).unwrap_or(0);
        insert_rows(db, conn, chunk, first + offset, recorded_at).await?;
    }
    for append in group {
        if let Some(s) = &append.snapshot {
            let last_sequence = append.events.last().map(|e| e.sequence).unwrap_or_default();
            write_snapshot(
                db,
                conn,
                s.aggregate_type,
                &s.aggregate_id,
                s.payload.clone(),
                last_sequence,
                s.current_snapshot,
            )
            .await?;
        }
    }
    Ok(())
}

/// Writes one append at the positions from `first`.
async fn write_append(
    db: &Db,
    conn: &mut AnyConnection,
    append: &Append,
    first: i64,
    recorded_at: i64,
) -> Result<(), PersistenceError> {
    write_all(db, conn, std::slice::from_ref(append), first, recorded_at).await
}

async fn insert_rows(
    db: &Db,
    conn: &mut AnyConnection,
    events: &[SerializedEvent],
    first_position: i64,
    recorded_at: i64,
) -> Result<(), PersistenceError> {
    let mut sql = String::from(
        "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, recorded_at) VALUES ",
    );
    for i in 0..events.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    }
    let sql = db.sql(&sql).into_owned();
    let mut query = sqlx::query(&sql);
    for (i, e) in events.iter().enumerate() {
        query = query
            .bind(first_position + i64::try_from(i).unwrap_or(0))
            .bind(e.aggregate_type.clone())
            .bind(e.aggregate_id.clone())
            .bind(i64::try_from(e.sequence).unwrap_or(i64::MAX))
            .bind(e.event_type.clone())
            .bind(e.event_version.clone())
            .bind(e.payload.to_string())
            .bind(e.metadata.to_string())
            .bind(recorded_at);
    }
    query.execute(&mut *conn).await.map_err(|e| {
        if is_unique_violation(&e) {
            PersistenceError::OptimisticLockError
        } else {
            conn_err(e)
        }
    })?;
    Ok(())
}

async fn write_snapshot(
    db: &Db,
    conn: &mut AnyConnection,
    aggregate_type: &str,
    aggregate_id: &str,
    payload: Value,
    last_sequence: usize,
    current_snapshot: usize,
) -> Result<(), PersistenceError> {
    let last_sequence = i64::try_from(last_sequence).unwrap_or(i64::MAX);
    let current = i64::try_from(current_snapshot).unwrap_or(i64::MAX);
    if current_snapshot <= 1 {
        sqlx::query(&db.sql(
            "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, \
             payload) VALUES (?, ?, ?, ?, ?)",
        ))
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(last_sequence)
        .bind(current)
        .bind(payload.to_string())
        .execute(&mut *conn)
        .await
        .map_err(|e| if is_unique_violation(&e) { PersistenceError::OptimisticLockError } else { conn_err(e) })?;
    } else {
        let done = sqlx::query(&db.sql(
            "UPDATE snapshots SET last_sequence = ?, current_snapshot = ?, payload = ? \
             WHERE aggregate_type = ? AND aggregate_id = ? AND current_snapshot = ?",
        ))
        .bind(last_sequence)
        .bind(current)
        .bind(payload.to_string())
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(current - 1)
        .execute(&mut *conn)
        .await
        .map_err(conn_err)?;
        if done.rows_affected() != 1 {
            return Err(PersistenceError::OptimisticLockError);
        }
    }
    Ok(())
}

fn row_to_event(row: &AnyRow) -> Result<SerializedEvent, PersistenceError> {
    let get = |e: sqlx::Error| PersistenceError::UnknownError(Box::new(e));
    let payload: String = row.text("payload").map_err(get)?;
    let metadata: String = row.text("metadata").map_err(get)?;
    Ok(SerializedEvent {
        aggregate_type: row.text("aggregate_type").map_err(get)?,
        aggregate_id: row.text("aggregate_id").map_err(get)?,
        sequence: to_usize(row.try_get("sequence").map_err(get)?),
        event_type: row.text("event_type").map_err(get)?,
        event_version: row.text("event_version").map_err(get)?,
        payload: serde_json::from_str(&payload)?,
        metadata: serde_json::from_str(&metadata)?,
    })
}

impl PersistedEventRepository for EventLog {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events(A::TYPE, aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let row = sqlx::query(&self.db.sql(
            "SELECT last_sequence, current_snapshot, payload FROM snapshots \
             WHERE aggregate_type = ? AND aggregate_id = ?",
        ))
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(conn_err)?;
        let Some(row) = row else { return Ok(None) };
        let get = |e: sqlx::Error| PersistenceError::UnknownError(Box::new(e));
        let payload: String = row.text("payload").map_err(get)?;
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_string(),
            aggregate: serde_json::from_str(&payload)?,
            current_sequence: to_usize(row.try_get("last_sequence").map_err(get)?),
            current_snapshot: to_usize(row.try_get("current_snapshot").map_err(get)?),
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let snapshot = snapshot_update.map(|(aggregate_id, payload, current_snapshot)| Snapshot {
            aggregate_type: A::TYPE,
            aggregate_id,
            payload,
            current_snapshot,
        });
        self.submit(events.to_vec(), snapshot).await.map(|_| ())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.select_events(A::TYPE, aggregate_id, 0).await?;
        Ok(stream_of(events))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let rows = sqlx::query(&self.db.sql(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
             metadata FROM events WHERE aggregate_type = ? ORDER BY position",
        ))
        .bind(A::TYPE)
        .fetch_all(&self.db.pool)
        .await
        .map_err(conn_err)?;
        let events = rows
            .iter()
            .map(row_to_event)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(stream_of(events))
    }
}

fn stream_of(events: Vec<SerializedEvent>) -> ReplayStream {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    tokio::spawn(async move {
        for event in events {
            if feed.push(Ok(event)).await.is_err() {
                break;
            }
        }
    });
    stream
}

/// Metadata recorded with every command's events.
pub fn metadata(actor: Option<&str>, source: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    if let Some(actor) = actor {
        m.insert("actor".to_string(), actor.to_string());
    }
    m.insert("source".to_string(), source.to_string());
    m
}
