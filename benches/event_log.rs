//! Event append throughput: through the application versus a raw sqlx batch insert.
//!
//! Application path: account commands run through `peerpx_projections::Commands`, i.e. cqrs-es
//! loads the aggregate (snapshot + events), handles the command, and `EventLog::persist` appends
//! the event in its own transaction (lock `log_head`, take a position, insert the row). One command
//! yields exactly one event. Two variants: one task issuing commands one after another, and 8
//! tasks issuing commands concurrently on disjoint accounts.
//!
//! Raw baseline: the very rows the application wrote (copied from `events`) inserted with plain
//! sqlx into a table created from the same DDL as `events` (taken from
//! `migrations/<engine>/0001_event_log.sql`), in multi-row INSERTs of 100 rows, 1000 rows per
//! transaction, through the same `Db` pool (same connection settings). For reference the same
//! rows are also inserted one row per transaction, which is the commit pattern of the application.
//!
//! SQLite always runs (in a temporary directory). PostgreSQL and MySQL run when
//! `PEERPX_TEST_POSTGRES_URL` / `PEERPX_TEST_MYSQL_URL` are set: a fresh database
//! `peerpx_bench_<random>` is created through that URL, used, and dropped afterwards.
//!
//! `PEERPX_BENCH_COMMANDS` sets the number of commands per application variant (default 10000).
//!
//! Run with `cargo bench --bench event_log`.

use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use peerpx_aggregates::account::Registration;
use peerpx_aggregates::{AccountCommand, ProfileChanges, Role};
use peerpx_projections::{migrate, Backend, Commands, Db, EventLog};
use sqlx::any::AnyRow;
use sqlx::{ColumnIndex, Row};

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const DEFAULT_COMMANDS: usize = 10_000;
const CONCURRENCY: usize = 8;
const WARMUP_COMMANDS: usize = 30;
const RAW_ROWS_PER_INSERT: usize = 100;
const RAW_ROWS_PER_TX: usize = 1000;
const RAW_REPEATS: usize = 3;

const SQLITE_DDL: &str = include_str!("../migrations/sqlite/0001_event_log.sql");
const POSTGRES_DDL: &str = include_str!("../migrations/postgres/0001_event_log.sql");
const MYSQL_DDL: &str = include_str!("../migrations/mysql/0001_event_log.sql");

/// One row of `events`, as read back from the log.
struct EventRow {
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
    recorded_at: i64,
}

/// One line of the result table.
struct Measure {
    engine: &'static str,
    path: String,
    events: usize,
    seconds: f64,
    /// Whether the table shows its ratio to the raw batched insert of the same engine.
    compare_to_raw: bool,
}

impl Measure {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(100_000_000_000);

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn registration(username: &str) -> Registration {
    Registration {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string(),
        username: username.to_string(),
        email: format!("{username}@bench.example.org"),
        password_hash: "x".into(),
        locale: "en".into(),
        reason: None,
        role: Role::User,
        approved: true,
        at: now_millis(),
        key: None,
    }
}

fn profile_update(round: usize) -> AccountCommand {
    AccountCommand::UpdateProfile {
        changes: ProfileChanges {
            display_name: Some(format!("Bench user r{round}")),
            ..Default::default()
        },
        at: now_millis(),
    }
}

/// Registers `accounts` accounts named `<prefix><i>`, then updates their profiles round-robin
/// until `commands` commands have run. Every command appends exactly one event.
async fn run_commands(commands: &Commands, prefix: &str, total: usize) -> Result<()> {
    let accounts = total.div_ceil(3).max(1).min(total);
    let names: Vec<String> = (0..accounts).map(|i| format!("{prefix}{i}")).collect();
    for name in &names {
        commands
            .account(
                name,
                AccountCommand::Register(registration(name)),
                peerpx_projections::log::metadata(None, "bench"),
            )
            .await?;
    }
    for k in 0..total - accounts {
        let name = &names[k % accounts];
        commands
            .account(
                name,
                profile_update(k / accounts),
                peerpx_projections::log::metadata(None, "bench"),
            )
            .await?;
    }
    Ok(())
}

fn split(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

async fn app_sequential(commands: &Commands, total: usize) -> Result<f64> {
    let start = Instant::now();
    run_commands(commands, "s_", total).await?;
    Ok(start.elapsed().as_secs_f64())
}

async fn app_concurrent(commands: Arc<Commands>, total: usize) -> Result<f64> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (task, n) in split(total, CONCURRENCY).into_iter().enumerate() {
        let commands = Arc::clone(&commands);
        tasks.push(tokio::spawn(async move {
            run_commands(&commands, &format!("c{task}_"), n).await
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The `CREATE TABLE events (...)` statement of the engine's migration, renamed to `table`.
fn events_ddl(backend: Backend, table: &str) -> Result<String> {
    let file = match backend {
        Backend::Sqlite => SQLITE_DDL,
        Backend::Postgres => POSTGRES_DDL,
        Backend::MySql => MYSQL_DDL,
    };
    let start = file
        .find("CREATE TABLE events (")
        .ok_or("no CREATE TABLE events in the migration")?;
    let len = file[start..]
        .find(';')
        .ok_or("unterminated CREATE TABLE events")?;
    Ok(file[start..start + len].replacen(
        "CREATE TABLE events (",
        &format!("CREATE TABLE {table} ("),
        1,
    ))
}

async fn read_rows(db: &Db, after: i64, upto: i64) -> Result<Vec<EventRow>> {
    let rows = sqlx::query(&db.sql(
        "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, recorded_at FROM events WHERE position > ? AND position <= ? \
         ORDER BY position",
    ))
    .bind(after)
    .bind(upto)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                position: r.try_get("position")?,
                aggregate_type: text(r, "aggregate_type")?,
                aggregate_id: text(r, "aggregate_id")?,
                sequence: r.try_get("sequence")?,
                event_type: text(r, "event_type")?,
                event_version: text(r, "event_version")?,
                payload: text(r, "payload")?,
                metadata: text(r, "metadata")?,
                recorded_at: r.try_get("recorded_at")?,
            })
        })
        .collect()
}

/// A text column. Through sqlx's `Any` driver MySQL/MariaDB `TEXT`/`MEDIUMTEXT` columns arrive as
/// BLOB values, so bytes are accepted too.
fn text<I: ColumnIndex<AnyRow> + Copy>(row: &AnyRow, column: I) -> Result<String> {
    match row.try_get::<String, _>(column) {
        Ok(s) => Ok(s),
        Err(_) => Ok(String::from_utf8(row.try_get::<Vec<u8>, _>(column)?)?),
    }
}

/// Inserts `rows` into `table`, `per_insert` rows per INSERT, `per_tx` rows per transaction.
async fn raw_insert(
    db: &Db,
    table: &str,
    rows: &[EventRow],
    per_insert: usize,
    per_tx: usize,
) -> Result<f64> {
    let start = Instant::now();
    for tx_rows in rows.chunks(per_tx) {
        let mut tx = db.pool.begin().await?;
        for chunk in tx_rows.chunks(per_insert) {
            let mut sql = format!(
                "INSERT INTO {table} (position, aggregate_type, aggregate_id, sequence, \
                 event_type, event_version, payload, metadata, recorded_at) VALUES "
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?)");
            }
            let sql = db.sql(&sql).into_owned();
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(r.position)
                    .bind(r.aggregate_type.clone())
                    .bind(r.aggregate_id.clone())
                    .bind(r.sequence)
                    .bind(r.event_type.clone())
                    .bind(r.event_version.clone())
                    .bind(r.payload.clone())
                    .bind(r.metadata.clone())
                    .bind(r.recorded_at);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn count(db: &Db, table: &str) -> Result<i64> {
    let row = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&db.pool)
        .await?;
    Ok(row.try_get(0)?)
}

/// The server's version and the settings that decide what a commit costs.
async fn server_info(db: &Db) -> String {
    let queries: &[&str] = match db.backend {
        Backend::Sqlite => &[
            "SELECT sqlite_version()",
            "PRAGMA journal_mode",
            "PRAGMA synchronous",
        ],
        Backend::Postgres => &["SELECT version()", "SHOW fsync", "SHOW synchronous_commit"],
        Backend::MySql => &[
            "SELECT VERSION()",
            "SELECT CAST(@@innodb_flush_log_at_trx_commit AS CHAR)",
        ],
    };
    let mut out = Vec::new();
    for sql in queries {
        let value = match sqlx::query(sql).fetch_one(&db.pool).await {
            Ok(row) => match (text(&row, 0), row.try_get::<i64, _>(0)) {
                (Ok(v), _) => v,
                (_, Ok(v)) => v.to_string(),
                (Err(e), Err(_)) => format!("? ({e})"),
            },
            Err(e) => format!("? ({e})"),
        };
        out.push(format!("{sql} => {value}"));
    }
    out.join("; ")
}

/// Runs every path against an empty, migrated database at `url`.
async fn bench_engine(url: &str, total: usize) -> Result<Vec<Measure>> {
    let db = Db::connect(url).await?;
    let engine = db.backend.name();
    println!("[{engine}] {}", server_info(&db).await);
    migrate::run(&db).await?;
    let log = EventLog::new(db.clone());
    let commands = Arc::new(Commands::new(log.clone()));

    // Warm-up: opens pool connections and fills statement caches; not timed, not copied.
    run_commands(&commands, "w_", WARMUP_COMMANDS).await?;

    let h0 = log.head().await?;
    let seq_seconds = app_sequential(&commands, total).await?;
    let h1 = log.head().await?;
    let conc_seconds = app_concurrent(Arc::clone(&commands), total).await?;
    let h2 = log.head().await?;
    let seq_events = usize::try_from(h1 - h0)?;
    let conc_events = usize::try_from(h2 - h1)?;
    if seq_events != total || conc_events != total {
        return Err(format!(
            "expected {total} events per variant, got {seq_events} and {conc_events}"
        )
        .into());
    }
    println!(
        "[{engine}] app sequential: {seq_events} events in {seq_seconds:.2} s; \
         app {CONCURRENCY} tasks: {conc_events} events in {conc_seconds:.2} s"
    );

    // Raw baseline: the same rows, into tables of the same shape, through the same pool.
    // The batched insert is short, so it runs RAW_REPEATS times (a fresh table each) and the
    // median counts.
    let rows = read_rows(&db, h0, h2).await?;
    let mut raw_runs = Vec::new();
    for r in 0..RAW_REPEATS {
        let table = format!("bench_raw_batched_{r}");
        sqlx::query(&events_ddl(db.backend, &table)?)
            .execute(&db.pool)
            .await?;
        let seconds = raw_insert(&db, &table, &rows, RAW_ROWS_PER_INSERT, RAW_ROWS_PER_TX).await?;
        if usize::try_from(count(&db, &table).await?)? != rows.len() {
            return Err(format!("{table} does not hold the rows inserted").into());
        }
        raw_runs.push(seconds);
    }
    println!("[{engine}] raw batched runs (s): {raw_runs:.3?}");
    raw_runs.sort_by(f64::total_cmp);
    let raw_seconds = raw_runs[raw_runs.len() / 2];
    let single_rows = &rows[..seq_events];
    sqlx::query(&events_ddl(db.backend, "bench_raw_single")?)
        .execute(&db.pool)
        .await?;
    let single_seconds = raw_insert(&db, "bench_raw_single", single_rows, 1, 1).await?;
    if usize::try_from(count(&db, "bench_raw_single").await?)? != single_rows.len() {
        return Err("bench_raw_single does not hold the rows inserted".into());
    }
    db.close().await;

    Ok(vec![
        Measure {
            engine,
            path: "app, sequential".into(),
            events: seq_events,
            seconds: seq_seconds,
            compare_to_raw: true,
        },
        Measure {
            engine,
            path: format!("app, {CONCURRENCY} tasks"),
            events: conc_events,
            seconds: conc_seconds,
            compare_to_raw: true,
        },
        Measure {
            engine,
            path: format!(
                "raw, {RAW_ROWS_PER_INSERT} rows/INSERT, {RAW_ROWS_PER_TX} rows/tx (median of {RAW_REPEATS})"
            ),
            events: rows.len(),
            seconds: raw_seconds,
            compare_to_raw: false,
        },
        Measure {
            engine,
            path: "raw, 1 row/tx (reference)".into(),
            events: single_rows.len(),
            seconds: single_seconds,
            compare_to_raw: true,
        },
    ])
}

/// Creates `peerpx_bench_<random>` on the server of `admin_url`, runs the bench there, drops it.
async fn bench_server(admin_url: &str, total: usize) -> Result<Vec<Measure>> {
    let admin = Db::connect(admin_url).await?;
    let name = format!("peerpx_bench_{:08x}", rand::random::<u32>());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin.pool)
        .await?;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let result = bench_engine(url.as_str(), total).await;
    // FORCE (PostgreSQL 13+) ends connections a failed run may have left open.
    let drop = match admin.backend {
        Backend::Postgres => format!("DROP DATABASE {name} WITH (FORCE)"),
        _ => format!("DROP DATABASE {name}"),
    };
    let dropped = sqlx::raw_sql(&drop).execute(&admin.pool).await;
    admin.close().await;
    match dropped {
        Ok(_) => println!("[{}] dropped database {name}", admin.backend.name()),
        Err(e) => eprintln!("could not drop database {name}: {e}"),
    }
    result
}

fn print_table(measures: &[Measure]) {
    println!();
    println!(
        "{:<9} {:<50} {:>7} {:>9} {:>10} {:>14}",
        "engine", "path", "events", "seconds", "events/s", "ratio app/raw"
    );
    println!("{}", "-".repeat(104));
    for m in measures {
        let raw = measures
            .iter()
            .find(|r| r.engine == m.engine && !r.compare_to_raw)
            .map(Measure::rate);
        let ratio = match raw {
            Some(raw) if m.compare_to_raw => format!("{:.4}", m.rate() / raw),
            _ => "-".into(),
        };
        println!(
            "{:<9} {:<50} {:>7} {:>9.3} {:>10.0} {:>14}",
            m.engine,
            m.path,
            m.events,
            m.seconds,
            m.rate(),
            ratio
        );
    }
    println!();
    println!("ratio app/raw = events/s of the path / events/s of the raw batched insert");
}

#[tokio::main]
async fn main() -> Result<()> {
    let total = match std::env::var("PEERPX_BENCH_COMMANDS") {
        Ok(v) => v.parse::<usize>()?,
        Err(_) => DEFAULT_COMMANDS,
    };
    println!(
        "event_log bench: {total} commands per application variant, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut measures = Vec::new();

    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let url = peerpx_projections::db::default_sqlite_url(dir.path());
    measures.extend(bench_engine(&url, total).await?);
    println!("[sqlite] total {:.1} s", started.elapsed().as_secs_f64());

    for var in ["PEERPX_TEST_POSTGRES_URL", "PEERPX_TEST_MYSQL_URL"] {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => {
                let started = Instant::now();
                measures.extend(bench_server(&url, total).await?);
                println!("[{var}] total {:.1} s", started.elapsed().as_secs_f64());
            }
            _ => println!("{var} not set: skipped"),
        }
    }

    print_table(&measures);
    Ok(())
}
