//! The home feed read model: fan-out cost, size on disk, and a sparse home timeline.
//!
//! 1. **Fan-out to 10 000 local followers.** The log is generated with `EventLog::append` (the
//!    events cqrs-es would store): 10 000 registrations and 10 000 follows of one author, plus a
//!    second author nobody follows; the projections catch up. Then each round appends one
//!    `StatusPosted` of the followed author, and one of the other, and times `catch_up` (every
//!    read model applying it). The feed of every follower must hold the post.
//! 2. **Bytes per 1 000 000 feed entries.** After 100 posts of the followed author (1 000 100
//!    entries: 10 001 feeds of 100), the size of `home_feed` with its index: SQLite's `dbstat`,
//!    PostgreSQL's `pg_total_relation_size`.
//! 3. **A follower of 500 accounts that posted once a year, among many statuses.** 500 authors
//!    post once each, spread over the past year, and one account follows them all, through the
//!    log as above. Then `PEERPX_BENCH_BACKGROUND` statuses (default 1 000 000; the issue's
//!    figure is 10 000 000) by 1 000 other authors, newer than all of those, are inserted
//!    directly into `statuses` with multi-row INSERTs (nobody here follows their authors, so the
//!    projections would write nothing else for them; going through the log would take hours at
//!    10 000 000). Measured in-process, one call at a time: `statuses::home` (the feed) and
//!    `statuses::home_reference` (the query it replaced) for the follower's first page, p50 and
//!    p99.
//!
//! SQLite always; PostgreSQL too when `PEERPX_TEST_POSTGRES_URL` is set (a fresh database made
//! through it and dropped afterwards). `PEERPX_BENCH_ROUNDS` (default 5) sets the fan-out rounds.
//!
//! Run with `cargo bench --bench home_feed`.

use std::collections::HashMap;
use std::error::Error;
use std::time::Instant;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::relationship::Pair;
use peerpx_aggregates::status::{Content, Post};
use peerpx_aggregates::{AccountEvent, RelationshipEvent, Role, StatusEvent, Visibility};
use peerpx_projections::{migrate, statuses, Backend, Db, EventLog, Page, Projector};
use sqlx::Row;

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const FOLLOWERS: usize = 10_000;
const SPARSE_AUTHORS: usize = 500;
const BACKGROUND_AUTHORS: usize = 1_000;
const NOW: i64 = 1_790_000_000_000;
const YEAR: i64 = 365 * 24 * 3600 * 1000;
const APPEND_BATCH: usize = 10_000;

/// A snowflake-like id for `millis`, as `auth::new_id` makes them.
fn id_at(millis: i64, n: u64) -> i64 {
    (millis << 16) | i64::try_from(n & 0xffff).unwrap_or(0)
}

struct Log {
    log: EventLog,
    sequences: HashMap<String, usize>,
    pending: Vec<SerializedEvent>,
}

impl Log {
    fn push<E: DomainEvent>(&mut self, kind: &str, id: &str, event: &E) -> Result<()> {
        let n = self.sequences.entry(format!("{kind}/{id}")).or_default();
        *n += 1;
        self.pending.push(SerializedEvent::new(
            id.to_string(),
            *n,
            kind.to_string(),
            event.event_type(),
            event.event_version(),
            serde_json::to_value(event)?,
            serde_json::json!({}),
        ));
        Ok(())
    }

    fn register(&mut self, id: &str, name: &str) -> Result<()> {
        let e = AccountEvent::AccountRegistered(Registration {
            id: id.to_string(),
            username: name.to_string(),
            email: format!("{name}@example.org"),
            password_hash: "x".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved: true,
            at: NOW - YEAR,
            key: None,
        });
        self.push("account", name, &e)
    }

    fn follow(&mut self, account: &str, target: &str) -> Result<()> {
        let e = RelationshipEvent::Followed {
            pair: Pair {
                account_id: account.to_string(),
                target_id: target.to_string(),
            },
            at: NOW,
        };
        self.push("relationship", &format!("{account}:{target}"), &e)
    }

    fn post(&mut self, id: i64, author: &str, at: i64) -> Result<()> {
        let e = StatusEvent::StatusPosted(Post {
            id: id.to_string(),
            account_id: author.to_string(),
            visibility: Visibility::Public,
            in_reply_to: None,
            content: Content {
                text: format!("Status {id}, a photo walk"),
                html: format!("<p>Status {id}, a photo walk</p>"),
                licence: "all-rights-reserved".into(),
                ..Content::default()
            },
            at,
            remote: None,
        });
        self.push("status", &id.to_string(), &e)
    }

    async fn flush(&mut self) -> Result<()> {
        for chunk in self.pending.chunks(APPEND_BATCH) {
            self.log.append(chunk).await?;
        }
        self.pending.clear();
        Ok(())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn feed_bytes(db: &Db) -> Result<i64> {
    let sql = match db.backend {
        Backend::Sqlite => "SELECT SUM(pgsize) FROM dbstat WHERE name = 'home_feed'",
        Backend::Postgres => "SELECT pg_total_relation_size('home_feed')",
        Backend::MySql => {
            "SELECT data_length + index_length FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'home_feed'"
        }
    };
    Ok(sqlx::query(sql).fetch_one(&db.pool).await?.try_get(0)?)
}

async fn count(db: &Db, sql: &str) -> Result<i64> {
    Ok(sqlx::query(sql).fetch_one(&db.pool).await?.try_get(0)?)
}

async fn bench_engine(url: &str, rounds: usize, background: usize) -> Result<()> {
    let db = Db::connect(url).await?;
    let engine = db.backend.name();
    migrate::run(&db).await?;
    let log = EventLog::new(db.clone());
    let projector = Projector::new(log.clone());
    projector.init().await?;
    let mut w = Log {
        log,
        sequences: HashMap::new(),
        pending: Vec::new(),
    };

    // 1. Fan-out to 10 000 followers.
    // Account ids as the node makes them (18 digits), so the sizes below are realistic.
    let account = |n: usize| id_at(NOW - 2 * YEAR + i64::try_from(n).unwrap_or(0), 9).to_string();
    let (star, loner) = (account(FOLLOWERS), account(FOLLOWERS + 1));
    w.register(&star, "star")?;
    w.register(&loner, "loner")?;
    for i in 0..FOLLOWERS {
        w.register(&account(i), &format!("f{i}"))?;
        w.follow(&account(i), &star)?;
    }
    w.flush().await?;
    let started = Instant::now();
    projector.catch_up().await?;
    println!(
        "[{engine}] {FOLLOWERS} registrations and follows applied in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut next = 0u64;
    let mut timed = || {
        next += 1;
        id_at(NOW, next)
    };
    let (mut to_many, mut to_none) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (author, samples) in [(&star, &mut to_many), (&loner, &mut to_none)] {
            let id = timed();
            w.post(id, author, NOW)?;
            w.flush().await?;
            let started = Instant::now();
            projector.catch_up().await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    for s in [&mut to_many, &mut to_none] {
        s.sort_by(f64::total_cmp);
    }
    let sql = db.sql(
        "SELECT COUNT(*) FROM home_feed WHERE status_id = (SELECT MAX(id) FROM statuses \
         WHERE account_id = ?)",
    );
    let holders: i64 = sqlx::query(&sql)
        .bind(star.clone())
        .fetch_one(&db.pool)
        .await?
        .try_get(0)?;
    if usize::try_from(holders)? != FOLLOWERS + 1 {
        return Err(format!("the last post is in {holders} feeds, not {}", FOLLOWERS + 1).into());
    }
    let (s, l) = (percentile(&to_many, 0.5), percentile(&to_none, 0.5));
    println!(
        "[{engine}] one post applied by every read model, median of {rounds}: to {FOLLOWERS} \
         followers {s:.1} ms, to none {l:.1} ms; {:.2} us per follower",
        (s - l) * 1000.0 / FOLLOWERS as f64
    );

    // 2. Bytes per 1 000 000 entries.
    for _ in rounds..100 {
        let id = timed();
        w.post(id, &star, NOW)?;
    }
    w.flush().await?;
    projector.catch_up().await?;
    let entries = count(&db, "SELECT COUNT(*) FROM home_feed").await?;
    let bytes = feed_bytes(&db).await?;
    println!(
        "[{engine}] home_feed: {entries} entries in {:.1} MiB = {:.1} MiB per 1 000 000 entries \
         ({:.0} bytes an entry)",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / 1_048_576.0 * 1e6 / entries as f64,
        bytes as f64 / entries as f64
    );

    // 3. A sparse home timeline.
    let reader = account(FOLLOWERS + 2);
    w.register(&reader, "reader")?;
    for i in 0..SPARSE_AUTHORS {
        let author = account(FOLLOWERS + 3 + i);
        w.register(&author, &format!("yearly{i}"))?;
        let at = NOW - YEAR + i64::try_from(i)? * (YEAR / SPARSE_AUTHORS as i64);
        w.post(id_at(at, 1), &author, at)?;
        w.follow(&reader, &author)?;
    }
    w.flush().await?;
    projector.catch_up().await?;
    let started = Instant::now();
    let mut inserted = 0usize;
    while inserted < background {
        let n = (background - inserted).min(500);
        let values =
            vec!["(?, ?, 'public', '', '', '', 0, 'all-rights-reserved', 0, 0, ?)"; n].join(", ");
        let sql = format!(
            "INSERT INTO statuses (id, account_id, visibility, text, content, spoiler_text, \
             is_sensitive, licence, allow_download, media_count, created_at) VALUES {values}"
        );
        let sql = db.sql(&sql);
        let mut query = sqlx::query(&sql);
        for k in inserted..inserted + n {
            let at = NOW + 1000 + i64::try_from(k)?;
            query = query
                .bind(id_at(at, 7))
                .bind(account(2 * FOLLOWERS + k % BACKGROUND_AUTHORS))
                .bind(at);
        }
        query.execute(&db.pool).await?;
        inserted += n;
    }
    if db.backend == Backend::Postgres {
        sqlx::query("ANALYZE").execute(&db.pool).await?;
    }
    println!(
        "[{engine}] {background} background statuses inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (label, reference, calls) in [
        ("home (feed)", false, 200usize),
        ("home_reference (old query)", true, 20),
    ] {
        let mut samples = Vec::new();
        let mut first = Vec::new();
        for _ in 0..calls {
            let started = Instant::now();
            let page = if reference {
                statuses::home_reference(&db, &reader, Page::first(20)).await?
            } else {
                statuses::home(&db, &reader, Page::first(20)).await?
            };
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            first = page.iter().map(|s| s.id).collect::<Vec<_>>();
        }
        if first.len() != 20 {
            return Err(format!("{label}: {} statuses on the first page", first.len()).into());
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "[{engine}] reader of {SPARSE_AUTHORS} yearly posters among {background} statuses, \
             {label}: p50 {:.2} ms, p99 {:.2} ms ({calls} calls)",
            percentile(&samples, 0.5),
            percentile(&samples, 0.99)
        );
    }
    db.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let number = |name: &str, default: usize| -> Result<usize> {
        Ok(match std::env::var(name) {
            Ok(v) => v.parse()?,
            Err(_) => default,
        })
    };
    let rounds = number("PEERPX_BENCH_ROUNDS", 5)?.clamp(1, 100);
    let background = number("PEERPX_BENCH_BACKGROUND", 1_000_000)?;
    println!(
        "home_feed bench: {FOLLOWERS} followers, {rounds} rounds, {background} background \
         statuses, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let dir = tempfile::tempdir()?;
    bench_engine(
        &peerpx_projections::db::default_sqlite_url(dir.path()),
        rounds,
        background,
    )
    .await?;
    if let Ok(admin_url) = std::env::var("PEERPX_TEST_POSTGRES_URL") {
        let admin = Db::connect(&admin_url).await?;
        let name = format!("peerpx_bench_{:08x}", rand::random::<u32>());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&admin.pool)
            .await?;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&format!("/{name}"));
        let result = bench_engine(url.as_str(), rounds, background).await;
        let _ = sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin.pool)
            .await;
        admin.close().await;
        result?;
    }
    Ok(())
}
