//! The event log: cqrs-es's `PersistedEventRepository` on our own table, with a global position.
//!
//! Why not the stock `sqlite-es` / `postgres-es` / `mysql-es`: they order events only within one
//! aggregate, insert one row per statement and, on PostgreSQL and MySQL, a position taken from a
//! sequence could become visible out of order. Here every append transaction first locks the single
//! `log_head` row and takes the next positions from it, so positions are handed out in commit order
//! with no gaps (a rolled-back append also rolls back its positions). A reader that sees position
//! `n` therefore already sees every position below `n`: projections can never skip an event.
//! See `docs/decisions/0001-own-event-repository.md`.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tokio::sync::watch;

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
}

fn conn_err(e: sqlx::Error) -> PersistenceError {
    PersistenceError::ConnectionError(Box::new(e))
}

fn to_usize(v: i64) -> usize {
    usize::try_from(v).unwrap_or_default()
}

impl EventLog {
    pub fn new(db: Db) -> Self {
        let (head, _) = watch::channel(0);
        Self {
            db,
            head: Arc::new(head),
        }
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

    /// Appends serialized events in one transaction; returns the last position given.
    pub async fn append(&self, events: &[SerializedEvent]) -> Result<i64, PersistenceError> {
        self.append_with(events, None).await
    }

    async fn append_with(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<(&str, String, Value, usize)>,
    ) -> Result<i64, PersistenceError> {
        if events.is_empty() && snapshot.is_none() {
            // cqrs-es commits even when a command produced no event: nothing to store.
            return Ok(0);
        }
        let mut tx = self.db.pool.begin().await.map_err(conn_err)?;
        let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
        // The UPDATE comes first: it takes the write lock (SQLite) or the row lock (PostgreSQL,
        // MySQL) that makes appends commit in position order.
        sqlx::query(
            &self
                .db
                .sql("UPDATE log_head SET position = position + ? WHERE id = 1"),
        )
        .bind(n)
        .execute(&mut *tx)
        .await
        .map_err(conn_err)?;
        let last: i64 = sqlx::query("SELECT position FROM log_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(conn_err)?;
        let first = last - n + 1;
        let recorded_at = now_millis();
        for (chunk_index, chunk) in events.chunks(ROWS_PER_INSERT).enumerate() {
            let offset = i64::try_from(chunk_index * ROWS_PER_INSERT).unwrap_or(0);
            insert_rows(&self.db, &mut tx, chunk, first + offset, recorded_at).await?;
        }
        if let Some((aggregate_type, aggregate_id, payload, current_snapshot)) = snapshot {
            let last_sequence = events.last().map(|e| e.sequence).unwrap_or_default();
            write_snapshot(
                &self.db,
                &mut tx,
                aggregate_type,
                &aggregate_id,
                payload,
                last_sequence,
                current_snapshot,
            )
            .await?;
        }
        tx.commit().await.map_err(conn_err)?;
        if n > 0 {
            self.head.send_if_modified(|h| {
                let changed = last > *h;
                *h = (*h).max(last);
                changed
            });
        }
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
        let snapshot = snapshot_update.map(|(id, payload, n)| (A::TYPE, id, payload, n));
        self.append_with(events, snapshot).await.map(|_| ())
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
