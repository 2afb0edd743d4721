//! Read model: the delivery queue of the activities we send, and how their hosts answer.
//!
//! `ActivityQueued` makes one `deliveries` row per inbox (keyed by the event's position and the
//! inbox's index, so replay rebuilds the same rows); `DeliverySucceeded`, `DeliveryFailed` and
//! `DeliveryAbandoned` move it to `delivered`, `failed` (due again at the failure's `retry_at`)
//! or `abandoned`. The same events keep `delivery_hosts`: a host failing
//! [`UNAVAILABLE_AFTER`] times in a row is unavailable until a delivery to it succeeds. The
//! delivery worker (`api::federation::queue`) reads the due rows and appends the outcomes.

use peerpx_aggregates::OutboundEvent;
use sqlx::Row;

use crate::db::TextRow;
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

/// Consecutive failures after which a host is marked unavailable.
pub const UNAVAILABLE_AFTER: i64 = 5;

/// `host[:port]` of an inbox URL, lower-cased (`""` when it has none).
pub fn host_of(inbox: &str) -> String {
    let rest = inbox.split_once("://").map_or(inbox, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    authority.to_ascii_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub position: i64,
    pub inbox_index: i64,
    pub activity_id: String,
    pub account_id: String,
    pub inbox: String,
    pub host: String,
    /// `pending`, `delivered`, `failed` or `abandoned`.
    pub state: String,
    pub attempts: i64,
    pub queued_at: i64,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    pub host: String,
    pub consecutive_failures: i64,
    pub available: bool,
    pub last_error: Option<String>,
    pub last_failure_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "position, inbox_index, activity_id, account_id, inbox, host, \
    state, attempts, queued_at, next_attempt_at, last_attempt_at, last_error";

fn delivery(r: &sqlx::any::AnyRow) -> Result<DeliveryRow> {
    Ok(DeliveryRow {
        position: r.try_get("position")?,
        inbox_index: r.try_get("inbox_index")?,
        activity_id: r.text("activity_id")?,
        account_id: r.text("account_id")?,
        inbox: r.text("inbox")?,
        host: r.text("host")?,
        state: r.text("state")?,
        attempts: r.try_get("attempts")?,
        queued_at: r.try_get("queued_at")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_error: r.opt_text("last_error")?,
    })
}

fn host_row(r: &sqlx::any::AnyRow) -> Result<HostRow> {
    Ok(HostRow {
        host: r.text("host")?,
        consecutive_failures: r.try_get("consecutive_failures")?,
        available: r.try_get::<i64, _>("available")? != 0,
        last_error: r.opt_text("last_error")?,
        last_failure_at: r.try_get("last_failure_at")?,
        last_success_at: r.try_get("last_success_at")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
    })
}

/// Deliveries waiting (`pending` or `failed`) whose next attempt is due at `now`, oldest first.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
    let query = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE next_attempt_at <= ? \
         AND state IN ('pending', 'failed') ORDER BY next_attempt_at, position, inbox_index \
         LIMIT ?"
    );
    let sql = db.sql(&query);
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(delivery).collect()
}

/// The deliveries of one activity.
pub async fn of_activity(db: &Db, activity_id: &str) -> Result<Vec<DeliveryRow>> {
    let query = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE activity_id = ? ORDER BY inbox_index"
    );
    let sql = db.sql(&query);
    let rows = sqlx::query(&sql)
        .bind(activity_id.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(delivery).collect()
}

/// The inboxes the `Create` (`{uri}/activity`) and the `Update`s (`{uri}#updates/…`) of the
/// object `uri` were queued to: where its `Delete` goes.
pub async fn sent_for_object(db: &Db, uri: &str) -> Result<Vec<String>> {
    // `#updates/` up to `#updates0` (`0` follows `/`): every id with that prefix.
    let sql = db.sql(
        "SELECT DISTINCT inbox FROM deliveries WHERE activity_id = ? \
         OR (activity_id >= ? AND activity_id < ?) ORDER BY inbox",
    );
    let rows = sqlx::query(&sql)
        .bind(format!("{uri}/activity"))
        .bind(format!("{uri}#updates/"))
        .bind(format!("{uri}#updates0"))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(r.text("inbox")?)).collect()
}

/// Every inbox anything of local account `account_id` was queued to, one per host (the
/// first in host order): where the `Delete` of the account goes.
pub async fn inboxes_of_account(db: &Db, account_id: &str) -> Result<Vec<String>> {
    let sql = db.sql(
        "SELECT DISTINCT host, inbox FROM deliveries WHERE account_id = ? ORDER BY host, inbox",
    );
    let rows = sqlx::query(&sql)
        .bind(account_id.to_string())
        .fetch_all(&db.pool)
        .await?;
    let mut out: Vec<(String, String)> = Vec::new();
    for r in &rows {
        let host = r.text("host")?;
        if out.last().is_none_or(|(h, _)| *h != host) {
            out.push((host, r.text("inbox")?));
        }
    }
    Ok(out.into_iter().map(|(_, inbox)| inbox).collect())
}

/// The deliveries of the latest activities queued, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<DeliveryRow>> {
    let query = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries ORDER BY position DESC, inbox_index LIMIT ?"
    );
    let sql = db.sql(&query);
    let rows = sqlx::query(&sql).bind(limit).fetch_all(&db.pool).await?;
    rows.iter().map(delivery).collect()
}

/// How many deliveries are in each state.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.text("state")?, r.try_get::<i64, _>("n")?)))
        .collect()
}

/// Hosts whose last delivery failed, the most failing first.
pub async fn failing_hosts(db: &Db, limit: i64) -> Result<Vec<HostRow>> {
    let sql = db.sql(
        "SELECT host, consecutive_failures, available, last_error, last_failure_at, \
         last_success_at, next_attempt_at FROM delivery_hosts WHERE consecutive_failures > 0 \
         ORDER BY consecutive_failures DESC, host LIMIT ?",
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(&db.pool).await?;
    rows.iter().map(host_row).collect()
}

/// Hosts marked unavailable.
pub async fn unavailable_hosts(db: &Db) -> Result<Vec<HostRow>> {
    let rows = sqlx::query(
        "SELECT host, consecutive_failures, available, last_error, last_failure_at, \
         last_success_at, next_attempt_at FROM delivery_hosts WHERE available = 0",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(host_row).collect()
}

pub struct DeliveriesProjection;

/// What an outcome event does to its host's row.
fn fold_host(row: Option<HostRow>, host: &str, event: &OutboundEvent) -> Option<HostRow> {
    let mut row = row.unwrap_or(HostRow {
        host: host.to_string(),
        consecutive_failures: 0,
        available: true,
        last_error: None,
        last_failure_at: None,
        last_success_at: None,
        next_attempt_at: None,
    });
    match event {
        OutboundEvent::DeliverySucceeded { at, .. } => {
            row.consecutive_failures = 0;
            row.available = true;
            row.last_success_at = Some(*at);
            row.next_attempt_at = None;
        }
        OutboundEvent::DeliveryFailed {
            error,
            at,
            retry_at,
            ..
        } => {
            row.consecutive_failures += 1;
            row.available = row.consecutive_failures < UNAVAILABLE_AFTER;
            row.last_error = Some(error.clone());
            row.last_failure_at = Some(*at);
            row.next_attempt_at = Some(*retry_at);
        }
        _ => return None,
    }
    Some(row)
}

async fn load_host(tx: &mut Tx<'_>, host: &str) -> Result<Option<HostRow>> {
    let row = sqlx::query(&tx.sql(
        "SELECT host, consecutive_failures, available, last_error, last_failure_at, \
         last_success_at, next_attempt_at FROM delivery_hosts WHERE host = ?",
    ))
    .bind(host.to_string())
    .fetch_optional(&mut *tx.conn)
    .await?;
    row.as_ref().map(host_row).transpose()
}

async fn store_host(tx: &mut Tx<'_>, row: HostRow) -> Result<()> {
    sqlx::query(&tx.sql("DELETE FROM delivery_hosts WHERE host = ?"))
        .bind(row.host.clone())
        .execute(&mut *tx.conn)
        .await?;
    sqlx::query(&tx.sql(
        "INSERT INTO delivery_hosts (host, consecutive_failures, available, last_error, \
         last_failure_at, last_success_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(row.host)
    .bind(row.consecutive_failures)
    .bind(i64::from(row.available))
    .bind(row.last_error)
    .bind(row.last_failure_at)
    .bind(row.last_success_at)
    .bind(row.next_attempt_at)
    .execute(&mut *tx.conn)
    .await?;
    Ok(())
}

async fn queue(
    tx: &mut Tx<'_>,
    position: i64,
    a: &peerpx_aggregates::activity::QueuedActivity,
) -> Result<()> {
    for (index, inbox) in a.inboxes.iter().enumerate() {
        let index = i64::try_from(index).unwrap_or(i64::MAX);
        sqlx::query(&tx.sql("DELETE FROM deliveries WHERE position = ? AND inbox_index = ?"))
            .bind(position)
            .bind(index)
            .execute(&mut *tx.conn)
            .await?;
        sqlx::query(&tx.sql(&format!(
            "INSERT INTO deliveries ({DELIVERY_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, NULL, NULL)"
        )))
        .bind(position)
        .bind(index)
        .bind(a.activity_id.clone())
        .bind(a.account_id.clone())
        .bind(inbox.clone())
        .bind(host_of(inbox))
        .bind(a.at)
        .bind(a.at)
        .execute(&mut *tx.conn)
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Projection for DeliveriesProjection {
    fn name(&self) -> &'static str {
        "deliveries"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("deliveries", "position, inbox_index"),
            ("delivery_hosts", "host"),
        ]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let DomainEvent::Outbound(event) = &recorded.event else {
            return Ok(());
        };
        let activity_id = recorded.aggregate_id.clone();
        let inbox = match event {
            OutboundEvent::ActivityQueued(a) => return queue(tx, recorded.position, a).await,
            OutboundEvent::DeliverySucceeded { inbox, at } => {
                let sql = tx.sql(
                    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, \
                     last_attempt_at = ? WHERE activity_id = ? AND inbox = ?",
                );
                sqlx::query(&sql)
                    .bind(*at)
                    .bind(activity_id)
                    .bind(inbox.clone())
                    .execute(&mut *tx.conn)
                    .await?;
                inbox
            }
            OutboundEvent::DeliveryFailed {
                inbox,
                attempt,
                error,
                at,
                retry_at,
            } => {
                let sql = tx.sql(
                    "UPDATE deliveries SET state = 'failed', attempts = ?, last_error = ?, \
                     last_attempt_at = ?, next_attempt_at = ? WHERE activity_id = ? AND inbox = ?",
                );
                sqlx::query(&sql)
                    .bind(*attempt)
                    .bind(error.clone())
                    .bind(*at)
                    .bind(*retry_at)
                    .bind(activity_id)
                    .bind(inbox.clone())
                    .execute(&mut *tx.conn)
                    .await?;
                inbox
            }
            OutboundEvent::DeliveryAbandoned { inbox, .. } => {
                let sql = tx.sql(
                    "UPDATE deliveries SET state = 'abandoned' WHERE activity_id = ? AND inbox = ?",
                );
                sqlx::query(&sql)
                    .bind(activity_id)
                    .bind(inbox.clone())
                    .execute(&mut *tx.conn)
                    .await?;
                inbox
            }
        };
        let host = host_of(inbox);
        let current = load_host(tx, &host).await?;
        if let Some(row) = fold_host(current, &host, event) {
            store_host(tx, row).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_belongs_to_its_authority() {
        assert_eq!(host_of("https://B.example/inbox"), "b.example");
        assert_eq!(
            host_of("http://127.0.0.1:8080/users/x/inbox"),
            "127.0.0.1:8080"
        );
        assert_eq!(host_of("https://u@h.example?x"), "h.example");
    }

    #[test]
    fn five_failures_in_a_row_make_a_host_unavailable_until_a_success() {
        let failed = |n| OutboundEvent::DeliveryFailed {
            inbox: "https://h/inbox".into(),
            attempt: n,
            error: "refused".into(),
            at: n * 10,
            retry_at: n * 10 + 5,
        };
        let mut row = None;
        for n in 1..=4 {
            row = fold_host(row, "h", &failed(n));
            assert!(row.as_ref().is_some_and(|r| r.available));
        }
        row = fold_host(row, "h", &failed(5));
        let r = row.clone().expect("row");
        assert!(!r.available);
        assert_eq!(r.consecutive_failures, 5);
        assert_eq!(r.next_attempt_at, Some(55));
        assert_eq!(r.last_error.as_deref(), Some("refused"));
        let ok = OutboundEvent::DeliverySucceeded {
            inbox: "https://h/inbox".into(),
            at: 99,
        };
        let r = fold_host(row, "h", &ok).expect("row");
        assert!(r.available);
        assert_eq!(r.consecutive_failures, 0);
        assert_eq!(r.last_success_at, Some(99));
    }
}
