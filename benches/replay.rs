//! Replay throughput: events/s to rebuild every read model from a large log, on SQLite and, when
//! `PEERPX_TEST_POSTGRES_URL` is set, on PostgreSQL (a fresh `peerpx_bench_<random>` database
//! made through that URL and dropped afterwards).
//!
//! The log is generated directly with `EventLog::append` (large batches of serialized events,
//! exactly as cqrs-es would store them): one `AccountRegistered` per account (a tenth of the
//! events) followed by `ProfileUpdated` events round-robin over the accounts. Then
//! `Projector::replay(None)` is timed: it rebuilds the `accounts` and `instance` read models in
//! one pass over the log and one transaction, from position 0. The baseline is the time to read
//! and decode the same events: the `instance` read model alone, which keeps nothing of them.
//!
//! `PEERPX_BENCH_EVENTS` sets the number of events (default 1_000_000).
//! `PEERPX_BENCH_BREAKDOWN=0` skips the per-projection replays that follow the main measure.
//!
//! Run with `cargo bench --bench replay`.

use std::error::Error;
use std::time::Instant;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::{AccountEvent, ProfileChanges, Role};
use peerpx_projections::projector::ReplayReport;
use peerpx_projections::{accounts, migrate, Db, EventLog, Projector};
use sqlx::Row;

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const DEFAULT_EVENTS: usize = 1_000_000;
/// Events per `EventLog::append` call (one transaction each).
const APPEND_BATCH: usize = 20_000;
const BASE_AT: i64 = 1_700_000_000_000;

fn username(i: usize) -> String {
    format!("user{i}")
}

/// The `k`-th profile update of an account: three shapes, so replay runs several UPDATEs.
fn changes(k: usize, i: usize) -> ProfileChanges {
    match k % 3 {
        0 => ProfileChanges {
            display_name: Some(format!("User {i} v{k}")),
            ..Default::default()
        },
        1 => ProfileChanges {
            note: Some(format!("Note {k} of user {i}")),
            ..Default::default()
        },
        _ => ProfileChanges {
            display_name: Some(format!("User {i} v{k}")),
            bot: Some(k.is_multiple_of(2)),
            ..Default::default()
        },
    }
}

fn serialized(
    aggregate_id: String,
    sequence: usize,
    event: &AccountEvent,
) -> Result<SerializedEvent> {
    Ok(SerializedEvent::new(
        aggregate_id,
        sequence,
        "account".to_string(),
        event.event_type(),
        event.event_version(),
        serde_json::to_value(event)?,
        serde_json::json!({}),
    ))
}

/// The `n`-th event of the generated log (0-based).
fn event_at(n: usize, accounts: usize) -> Result<SerializedEvent> {
    if n < accounts {
        let event = AccountEvent::AccountRegistered(Registration {
            id: (1_000_000_000 + n).to_string(),
            username: username(n),
            email: format!("{}@example.org", username(n)),
            password_hash: "x".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved: true,
            at: BASE_AT + i64::try_from(n)?,
            key: None,
        });
        return serialized(username(n), 1, &event);
    }
    let u = n - accounts;
    let (i, k) = (u % accounts, u / accounts);
    let event = AccountEvent::ProfileUpdated {
        changes: changes(k, i),
        at: BASE_AT + i64::try_from(n)?,
    };
    serialized(username(i), k + 2, &event)
}

fn print_report(label: &str, total_events: usize, seconds: f64, report: &ReplayReport) {
    println!(
        "{label}: {total_events} log events in {seconds:.2} s = {:.0} events/s",
        total_events as f64 / seconds
    );
    println!(
        "    rebuilt {:<20} events read {:>8}  position {:>8}",
        report.projections.join(", "),
        report.events,
        report.position
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let total = match std::env::var("PEERPX_BENCH_EVENTS") {
        Ok(v) => v.parse::<usize>()?,
        Err(_) => DEFAULT_EVENTS,
    };
    let breakdown = std::env::var("PEERPX_BENCH_BREAKDOWN").map_or(true, |v| v != "0");
    if total == 0 {
        return Err("PEERPX_BENCH_EVENTS must be at least 1".into());
    }
    let mut results = Vec::new();
    let dir = tempfile::tempdir()?;
    let sqlite = peerpx_projections::db::default_sqlite_url(dir.path());
    results.push((
        "sqlite",
        bench_engine(&sqlite, Some(dir.path()), total, breakdown).await?,
    ));
    if let Ok(admin_url) = std::env::var("PEERPX_TEST_POSTGRES_URL") {
        let admin = Db::connect(&admin_url).await?;
        let name = format!("peerpx_bench_{:08x}", rand::random::<u32>());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&admin.pool)
            .await?;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&format!("/{name}"));
        let result = bench_engine(url.as_str(), None, total, breakdown).await;
        let dropped = sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin.pool)
            .await;
        admin.close().await;
        if let Err(e) = dropped {
            eprintln!("could not drop database {name}: {e}");
        }
        results.push(("postgres", result?));
    }
    println!();
    println!("engine    events  replay(None) s  events/s  read+decode s  ratio");
    for (engine, (seconds, decode)) in results {
        let ratio = decode.map_or("-".to_string(), |d| format!("{:.2}", seconds / d));
        let decode = decode.map_or("-".to_string(), |d| format!("{d:.2}"));
        println!(
            "{engine:<8} {total:>7} {seconds:>15.2} {:>9.0} {decode:>14} {ratio:>6}",
            total as f64 / seconds
        );
    }
    Ok(())
}

/// Generates the log on `url`, replays it; returns the replay's seconds and, with the
/// breakdown, those of the `instance` replay (reading and decoding alone).
async fn bench_engine(
    url: &str,
    dir: Option<&std::path::Path>,
    total: usize,
    breakdown: bool,
) -> Result<(f64, Option<f64>)> {
    let accounts_n = total.div_ceil(10);
    let db = Db::connect(url).await?;
    let engine = db.backend.name();
    println!(
        "replay bench: {total} events ({accounts_n} accounts), {engine}, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    migrate::run(&db).await?;
    let log = EventLog::new(db.clone());

    // Generate the log.
    let started = Instant::now();
    let mut n = 0;
    while n < total {
        let end = (n + APPEND_BATCH).min(total);
        let batch = (n..end)
            .map(|i| event_at(i, accounts_n))
            .collect::<Result<Vec<_>>>()?;
        log.append(&batch).await?;
        n = end;
    }
    let generate_seconds = started.elapsed().as_secs_f64();
    let head = log.head().await?;
    if usize::try_from(head)? != total {
        return Err(format!("log head is {head}, expected {total}").into());
    }
    let size: u64 = match dir {
        Some(dir) => std::fs::read_dir(dir)?
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum(),
        None => {
            let row = sqlx::query("SELECT pg_database_size(current_database())")
                .fetch_one(&db.pool)
                .await?;
            u64::try_from(row.try_get::<i64, _>(0)?)?
        }
    };
    println!(
        "generated {total} events in {generate_seconds:.2} s ({:.0} events/s appended, \
         {APPEND_BATCH} per append); database {:.0} MiB",
        total as f64 / generate_seconds,
        size as f64 / 1_048_576.0
    );

    // The measure: rebuild every read model from the whole log.
    let projector = Projector::new(log.clone());
    projector.init().await?;
    let started = Instant::now();
    let report = projector.replay(None).await?;
    let seconds = started.elapsed().as_secs_f64();
    print_report("replay(None)", total, seconds, &report);

    // The rebuilt read model must match the generated log.
    let row = sqlx::query("SELECT COUNT(*) FROM accounts")
        .fetch_one(&db.pool)
        .await?;
    let rows: i64 = row.try_get(0)?;
    if usize::try_from(rows)? != accounts_n {
        return Err(format!("accounts has {rows} rows, expected {accounts_n}").into());
    }
    let last = total - 1;
    if last >= accounts_n {
        let u = last - accounts_n;
        let (i, k) = (u % accounts_n, u / accounts_n);
        let account = accounts::by_username(&db, &username(i))
            .await?
            .ok_or("last updated account missing")?;
        let expected = changes(k, i);
        if expected
            .display_name
            .is_some_and(|d| d != account.display_name)
            || expected.note.is_some_and(|d| d != account.note)
            || account.updated_at != BASE_AT + i64::try_from(last)?
        {
            return Err(format!("account {} does not show its last update", username(i)).into());
        }
    }
    println!("check: {rows} accounts rebuilt, last update visible");

    let mut decode = None;
    if breakdown {
        for name in ["accounts", "statuses", "instance"] {
            let started = Instant::now();
            let report = projector.replay(Some(name)).await?;
            let seconds = started.elapsed().as_secs_f64();
            print_report(&format!("replay({name:?})"), total, seconds, &report);
            if name == "instance" {
                decode = Some(seconds);
            }
        }
    }
    db.close().await;
    Ok((seconds, decode))
}
