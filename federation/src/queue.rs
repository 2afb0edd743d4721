//! The delivery worker: sends the activities the `deliveries` read model says are due, and
//! records each outcome as an event on the activity's `Outbound` aggregate.
//!
//! Nothing here is remembered across restarts except through the log: a row is `pending` or
//! `failed` with a `next_attempt_at` until a `DeliverySucceeded` (or `DeliveryAbandoned`) event
//! for it is applied. The worker appends the outcome and waits for the read model to apply it
//! before it looks at that row again, so an acknowledged delivery is never sent twice. A crash
//! between the remote server's answer and the append sends the activity once more after the
//! restart (at-least-once); receivers are idempotent on the activity id.
//!
//! Rows are one per (activity, inbox) and the inboxes of an activity are one per host (shared
//! inbox preferred, see `deliver::send`), so one POST, signed once, goes to each host. At most
//! [`DeliveryConfig::per_host`] POSTs run at once per host. A host marked unavailable in
//! `delivery_hosts` gets a single probe when its next attempt is due, and nothing else until a
//! probe succeeds.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::AggregateError;
use peerpx_aggregates::activity::retry_at;
use peerpx_aggregates::OutboundCommand;
use peerpx_aggregates::OutboundEvent;
use peerpx_projections::deliveries::{self, DeliveryRow};
use peerpx_projections::log::metadata;
use peerpx_projections::recorded::{DomainEvent, SELECT_RECORDED};
use peerpx_projections::{accounts, now_millis, Recorded};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::deliver::deliver;
use crate::resolve::signer_for;
use crate::{Error, Federation, Result};

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The pause after the first failed attempt; doubled after each further one.
    pub backoff_base: Duration,
    /// The longest pause between two attempts.
    pub backoff_cap: Duration,
    /// A delivery still failing this long after it was queued is abandoned.
    pub give_up: Duration,
    /// POSTs at once to one host.
    pub per_host: usize,
    /// How often the worker looks for due deliveries when nothing wakes it.
    pub poll: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_secs(4),
            backoff_cap: Duration::from_secs(3600),
            give_up: Duration::from_secs(48 * 3600),
            per_host: 2,
            poll: Duration::from_secs(1),
        }
    }
}

/// Due rows read per round.
const BATCH: i64 = 500;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What the worker keeps between rounds: rows being sent, hosts being probed, rows finished
/// since the current round began reading, and one lock per activity for recording outcomes.
#[derive(Default)]
struct InFlight {
    rows: HashSet<(i64, i64)>,
    probing: HashSet<String>,
    /// Rows whose outcome was recorded after this round read the due rows: what it read of them
    /// may predate the outcome, so they are not started again in this round.
    finished: HashSet<(i64, i64)>,
    /// The outcomes of one activity's deliveries go to one `Outbound` aggregate: appending them
    /// one at a time per activity avoids optimistic-concurrency conflicts (100 hosts finishing
    /// at once would otherwise mostly conflict).
    recording: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

/// Starts the worker; it stops (after the deliveries in flight finish) when `stop` turns true.
pub fn spawn(state: Federation, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let in_flight = Arc::new(Mutex::new(InFlight::default()));
        let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut appended = state.commands.log().subscribe();
        loop {
            if *stop.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            // The queue is a read model: let it include what was just appended, so a new
            // activity is sent now rather than at the next poll.
            let head = *appended.borrow_and_update();
            state.projector.wait_for(head, Duration::from_secs(5)).await;
            if let Err(e) = round(&state, &in_flight, &mut hosts, &mut tasks).await {
                tracing::warn!(error = %e, "delivery round failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(state.config.delivery.poll) => {}
                _ = appended.changed() => {}
                _ = stop.changed() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    })
}

/// One look at the due rows: abandons the expired ones, starts the others.
async fn round(
    state: &Federation,
    in_flight: &Arc<Mutex<InFlight>>,
    hosts: &mut HashMap<String, Arc<Semaphore>>,
    tasks: &mut JoinSet<()>,
) -> Result<(), Error> {
    let now = now_millis();
    in_flight
        .lock()
        .map_err(|_| Error::internal("poisoned"))?
        .finished
        .clear();
    let due = deliveries::due(&state.db, now, BATCH).await?;
    if due.is_empty() {
        return Ok(());
    }
    let unavailable: HashMap<String, i64> = deliveries::unavailable_hosts(&state.db)
        .await?
        .into_iter()
        .map(|h| (h.host, h.next_attempt_at.unwrap_or(0)))
        .collect();
    let give_up = millis(state.config.delivery.give_up);
    for row in due {
        let key = (row.position, row.inbox_index);
        {
            let mut f = in_flight.lock().map_err(|_| Error::internal("poisoned"))?;
            if f.rows.contains(&key) || f.finished.contains(&key) {
                continue;
            }
            if let Some(probe_at) = unavailable.get(&row.host) {
                if *probe_at > now || f.probing.contains(&row.host) {
                    continue;
                }
                f.probing.insert(row.host.clone());
            }
            f.rows.insert(key);
        }
        let state = state.clone();
        let in_flight = Arc::clone(in_flight);
        if now >= row.queued_at.saturating_add(give_up) {
            tasks.spawn(async move {
                let at = now_millis();
                let command = OutboundCommand::Abandon {
                    inbox: row.inbox.clone(),
                    at,
                };
                record(&state, &in_flight, &row, command).await;
                release(&in_flight, &row);
            });
            continue;
        }
        let limit = state.config.delivery.per_host.max(1);
        let semaphore = Arc::clone(
            hosts
                .entry(row.host.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(limit))),
        );
        tasks.spawn(async move {
            if let Ok(_permit) = semaphore.acquire_owned().await {
                attempt(&state, &in_flight, &row).await;
            }
            release(&in_flight, &row);
        });
    }
    Ok(())
}

fn release(in_flight: &Mutex<InFlight>, row: &DeliveryRow) {
    if let Ok(mut f) = in_flight.lock() {
        let key = (row.position, row.inbox_index);
        f.rows.remove(&key);
        f.finished.insert(key);
        f.probing.remove(&row.host);
    }
}

/// Sends one row's activity and records the outcome.
async fn attempt(state: &Federation, in_flight: &Mutex<InFlight>, row: &DeliveryRow) {
    if crate::domain_blocks::refuse_delivery(state, row).await {
        return;
    }
    let result = send(state, row).await;
    let at = now_millis();
    let command = match result {
        Ok(status) => {
            tracing::debug!(activity = %row.activity_id, inbox = %row.inbox, status, "activity delivered");
            OutboundCommand::RecordSuccess {
                inbox: row.inbox.clone(),
                at,
            }
        }
        Err(error) => {
            let attempt = row.attempts + 1;
            tracing::info!(activity = %row.activity_id, inbox = %row.inbox, attempt, %error, "delivery failed");
            let d = &state.config.delivery;
            OutboundCommand::RecordFailure {
                inbox: row.inbox.clone(),
                attempt,
                error,
                at,
                retry_at: retry_at(
                    &row.activity_id,
                    attempt,
                    at,
                    millis(d.backoff_base),
                    millis(d.backoff_cap),
                ),
                give_up_at: row.queued_at.saturating_add(millis(d.give_up)),
            }
        }
    };
    record(state, in_flight, row, command).await;
}

/// Loads the activity from the log and its sender's key, and POSTs it.
async fn send(state: &Federation, row: &DeliveryRow) -> Result<u16, String> {
    let rows = sqlx::query(&state.db.sql(SELECT_RECORDED))
        .bind(row.position - 1)
        .bind(1i64)
        .fetch_all(&state.db.pool)
        .await
        .map_err(|e| format!("cannot read the log: {e}"))?;
    let recorded = rows
        .first()
        .map(Recorded::from_row)
        .transpose()
        .map_err(|e| e.to_string())?;
    let Some(Recorded {
        event: DomainEvent::Outbound(OutboundEvent::ActivityQueued(activity)),
        ..
    }) = recorded
    else {
        return Err(format!("no queued activity at position {}", row.position));
    };
    let account = accounts::by_id(&state.db, &row.account_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account {}", row.account_id))?;
    let signer = signer_for(state, &account).map_err(|e| e.to_string())?;
    deliver(state, &row.inbox, activity.raw.as_bytes(), &signer)
        .await
        .map_err(|e| e.to_string())
}

/// Appends an outcome, one at a time per activity in this process (and retrying with a pause
/// if another process appended to it meanwhile), and waits until the read model has it, so the
/// row is not picked up again in between.
async fn record(
    state: &Federation,
    in_flight: &Mutex<InFlight>,
    row: &DeliveryRow,
    command: OutboundCommand,
) {
    let lock = match in_flight.lock() {
        Ok(mut f) => Arc::clone(f.recording.entry(row.activity_id.clone()).or_default()),
        Err(_) => Arc::default(),
    };
    let guard = lock.lock().await;
    record_one(state, row, command).await;
    drop(guard);
    // The last one out removes the activity's lock.
    if let Ok(mut f) = in_flight.lock() {
        if Arc::strong_count(&lock) == 2 {
            f.recording.remove(&row.activity_id);
        }
    }
}

async fn record_one(state: &Federation, row: &DeliveryRow, command: OutboundCommand) {
    let mut tries = 0u64;
    loop {
        let result = state
            .commands
            .outbound(
                &row.activity_id,
                command.clone(),
                metadata(None, "delivery"),
            )
            .await;
        match result {
            Ok(position) => {
                state.settle(position).await;
                return;
            }
            Err(AggregateError::AggregateConflict) if tries < 10 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10 * tries)).await;
            }
            Err(e) => {
                tracing::error!(activity = %row.activity_id, inbox = %row.inbox, error = %e, "cannot record a delivery outcome");
                return;
            }
        }
    }
}
