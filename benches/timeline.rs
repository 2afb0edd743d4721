//! Home-timeline reads per second under load, against a trivial axum handler on the same machine.
//!
//! A node starts in-process on `127.0.0.1:0` with SQLite in a temporary directory. It is seeded
//! through the domain (commands, not HTTP): 100 authors and one reader who follows 50 of them;
//! N photo posts (default 10 000) round-robin over the authors, each one `MediaCommand::Upload`,
//! `MediaCommand::Attach` and `StatusCommand::Post` with a caption carrying hashtags and the photo
//! with its alt text, exactly what `POST /api/v2/media` then `POST /api/v1/statuses` append. The
//! photo is real: `tests/data/coffee-12mp-gps.jpg` goes once through `pipeline::process` and its
//! three files into the block store; every upload reuses those CIDs (content addressing stores N
//! uploads of one photo exactly so). 8 tasks seed concurrently; the bench waits for the read
//! models, then checks the row counts.
//!
//! The reader logs in with the password grant. The bench checks that `GET
//! /api/v1/timelines/home` answers 200 with a full page of statuses, each with its photo and
//! written by someone the reader follows, then runs `wrk -t2 -c16 -d10s --latency` against it.
//! The baseline is an axum handler on another port answering the same URL with the very bytes
//! the node returned (fixed, precomputed), under the same wrk parameters. The same pair runs with
//! `?limit=40`. Each wrk run follows an untimed 2 s warm-up.
//!
//! Server CPU per request is this process's user + system CPU time during the run divided by
//! the requests wrk completed (wrk is another process; its own CPU time is shown beside it).
//!
//! The same runs against the public timeline, a tag timeline (`#coffee`) and an account's
//! statuses (the first followed author's), each with its own baseline.
//!
//! `PEERPX_BENCH_DATABASE_URL=postgres://…` runs the node on PostgreSQL instead: a fresh
//! `peerpx_bench_<random>` database made through that URL and dropped afterwards, `ANALYZE`d
//! after seeding (as autovacuum would do after such a load).
//!
//! `PEERPX_BENCH_PHOTOS` sets N (default 10 000), `PEERPX_BENCH_SECONDS` the wrk duration
//! (default 10), `PEERPX_BENCH_KEEP=1` keeps the data directory for inspection (`sqlite3
//! <dir>/peerpx.db`), `PEERPX_BENCH_SHOW=1` prints the first status of each checked page.
//! Without `wrk` on the PATH the bench prints `SKIPPED` and exits 0.
//!
//! Run with `cargo bench --bench timeline`.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use peerpx::{Node, NodeConfig};
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::media::{Exif, Location, StoredFile, Upload};
use peerpx_aggregates::status::{extract_tags, Content, MediaText, Post, DEFAULT_LICENCE};
use peerpx_aggregates::{
    AccountCommand, MediaCommand, RelationshipCommand, Role, StatusCommand, Visibility,
};
use peerpx_api::AppState;
use peerpx_media::{self as pipeline, Options, Processed};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde_json::Value;
use sqlx::Row;
use tokio::net::TcpListener;

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const DEFAULT_PHOTOS: usize = 10_000;
const DEFAULT_SECONDS: u64 = 10;
const AUTHORS: usize = 100;
const FOLLOWED: usize = 50;
const SEED_TASKS: usize = 8;
const WRK_THREADS: &str = "2";
const WRK_CONNECTIONS: &str = "16";
const WARMUP_SECONDS: u64 = 2;
const FIXTURE: &str = "tests/data/coffee-12mp-gps.jpg";
const READER_PASSWORD: &str = "reader password 1";
const TAGS: [&str; 10] = [
    "coffee",
    "morning",
    "streetphotography",
    "bokeh",
    "nikon",
    "filmisnotdead",
    "blackandwhite",
    "travel",
    "portrait",
    "landscape",
];

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(default),
    }
}

fn author_name(i: usize) -> String {
    format!("author{i:03}")
}

/// `n` distinct ids from `new_id`, in the order they were made (two calls in the same
/// millisecond may draw the same 16 random bits).
fn unique_ids(n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let id = peerpx_api::auth::new_id();
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    out
}

/// The three files of the processed photo, imported into the node's block store once.
#[derive(Clone)]
struct Photo {
    original: StoredFile,
    small: StoredFile,
    large: StoredFile,
    blurhash: String,
    exif: Exif,
}

fn import_photo(state: &AppState, scratch: &Path) -> Result<Photo> {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let p: Processed = pipeline::process(&input, &Options::default(), scratch)?;
    let file = |path: &Path, content_type: &str, width: u32, height: u32| -> Result<StoredFile> {
        let imported = state.ipfs.import_path(path)?;
        Ok(StoredFile {
            cid: imported.root.to_string(),
            content_type: content_type.to_string(),
            bytes: imported.size,
            width,
            height,
        })
    };
    let e = &p.exif;
    Ok(Photo {
        original: file(
            &p.original.path,
            &p.original.content_type,
            p.original.width,
            p.original.height,
        )?,
        small: file(
            &p.small.path,
            &p.small.content_type,
            p.small.width,
            p.small.height,
        )?,
        large: file(
            &p.large.path,
            &p.large.content_type,
            p.large.width,
            p.large.height,
        )?,
        blurhash: p.blurhash.clone(),
        exif: Exif {
            camera_make: e.camera_make.clone(),
            camera_model: e.camera_model.clone(),
            lens_model: e.lens_model.clone(),
            exposure_time: e.exposure_time.clone(),
            f_number: e.f_number,
            iso: e.iso,
            focal_length_mm: e.focal_length_mm,
            taken_at: e.taken_at.clone(),
            location: e.location.map(|l| Location {
                latitude: l.latitude,
                longitude: l.longitude,
            }),
        },
    })
}

/// Registers an approved account; returns the log position.
async fn register(state: &AppState, id: &str, username: &str, password_hash: &str) -> Result<i64> {
    let registration = Registration {
        id: id.to_string(),
        username: username.to_string(),
        email: format!("{username}@example.org"),
        password_hash: password_hash.to_string(),
        locale: "en".into(),
        reason: None,
        role: Role::User,
        approved: true,
        at: now_millis(),
        key: None,
    };
    let command = AccountCommand::Register(registration);
    Ok(state
        .commands
        .account(username, command, metadata(None, "bench"))
        .await?)
}

/// Post `i`: upload, attach, post, as the API appends them. Returns the last log position.
async fn post_photo(
    state: &AppState,
    photo: &Photo,
    i: usize,
    author: &str,
    media_id: &str,
    status_id: &str,
) -> Result<i64> {
    let at = now_millis();
    let meta = || metadata(Some(author), "bench");
    let description = Some(format!(
        "A flat white in a blue cup on a wooden café table, morning light from the left ({i})"
    ));
    let upload = Upload {
        id: media_id.to_string(),
        account_id: author.to_string(),
        original: photo.original.clone(),
        small: photo.small.clone(),
        large: photo.large.clone(),
        blurhash: photo.blurhash.clone(),
        exif: photo.exif.clone(),
        description: description.clone(),
        focus: None,
        at,
    };
    let commands = &state.commands;
    commands
        .media(media_id, MediaCommand::Upload(Box::new(upload)), meta())
        .await?;
    let attach = MediaCommand::Attach {
        account_id: author.to_string(),
        status_id: status_id.to_string(),
        at,
    };
    commands.media(media_id, attach, meta()).await?;
    let text = format!(
        "Frame {i} of the morning walk: first coffee before the light turns harsh. #{} #{}",
        TAGS[i % TAGS.len()],
        TAGS[(i / TAGS.len()) % TAGS.len()]
    );
    let html = peerpx_api::captions::text_html(&state.config.base_url(), &text, &[]);
    let content = Content {
        tags: extract_tags(&text),
        text,
        html,
        media: vec![MediaText {
            media_id: media_id.to_string(),
            description,
        }],
        title: Some(format!("Morning walk, frame {i}")),
        licence: DEFAULT_LICENCE.to_string(),
        allow_download: i.is_multiple_of(3),
        ..Content::default()
    };
    let post = Post {
        id: status_id.to_string(),
        account_id: author.to_string(),
        visibility: if i % 10 == 9 {
            Visibility::Unlisted
        } else {
            Visibility::Public
        },
        in_reply_to: None,
        content,
        at,
        remote: None,
    };
    Ok(commands
        .status(status_id, StatusCommand::Post(post), meta())
        .await?)
}

struct Seeded {
    /// Ids of the accounts the reader follows.
    followed: HashSet<String>,
    /// One of them, whose profile is measured.
    first_followed: String,
}

/// Accounts, follows and `photos` posts, through the domain; waits for the read models.
async fn seed(state: &AppState, photo: &Photo, photos: usize) -> Result<Seeded> {
    // Only the reader logs in; one hash serves every account (argon2 takes ~50 ms a call).
    let hash = peerpx_api::auth::hash_password(READER_PASSWORD.into())
        .await
        .map_err(|e| format!("hash: {e:?}"))?;
    let account_ids = unique_ids(AUTHORS + 1);
    let reader_id = account_ids[AUTHORS].clone();
    let mut last = register(state, &reader_id, "reader", &hash).await?;
    let mut tasks = Vec::new();
    for t in 0..SEED_TASKS {
        let (state, ids, hash) = (state.clone(), account_ids.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for a in (t..AUTHORS).step_by(SEED_TASKS) {
                last = last.max(register(&state, &ids[a], &author_name(a), &hash).await?);
            }
            Ok::<_, BoxError>(last)
        }));
    }
    for t in tasks {
        last = last.max(t.await??);
    }
    // The reader follows every other author.
    let mut followed = HashSet::new();
    for a in (0..AUTHORS).step_by(AUTHORS / FOLLOWED) {
        let command = RelationshipCommand::Follow {
            account_id: reader_id.clone(),
            target_id: account_ids[a].clone(),
            locked: false,
            at: now_millis(),
        };
        let meta = metadata(Some(&reader_id), "bench");
        last = last.max(
            state
                .commands
                .relationship(&reader_id, &account_ids[a], command, meta)
                .await?,
        );
        followed.insert(account_ids[a].clone());
    }

    let ids = Arc::new(unique_ids(2 * photos));
    let account_ids = Arc::new(account_ids);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..SEED_TASKS {
        let (state, photo) = (state.clone(), photo.clone());
        let (ids, account_ids) = (ids.clone(), account_ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for i in (t..photos).step_by(SEED_TASKS) {
                let author = &account_ids[i % AUTHORS];
                let p = post_photo(&state, &photo, i, author, &ids[2 * i], &ids[2 * i + 1]).await?;
                last = last.max(p);
            }
            Ok::<_, BoxError>(last)
        }));
    }
    for t in tasks {
        last = last.max(t.await??);
    }
    let appended = started.elapsed().as_secs_f64();
    if !state
        .projector
        .wait_for(last, Duration::from_secs(600))
        .await
    {
        return Err(format!("read models did not reach position {last} in 600 s").into());
    }
    let settled = started.elapsed().as_secs_f64();
    println!(
        "seeded {photos} photo posts ({} commands) in {appended:.1} s with {SEED_TASKS} tasks \
         ({:.0} commands/s); read models caught up at {settled:.1} s (log position {last})",
        3 * photos,
        (3 * photos) as f64 / appended
    );

    let count = |sql: &'static str| async move {
        let row = sqlx::query(sql).fetch_one(&state.db.pool).await?;
        Ok::<i64, BoxError>(row.try_get(0)?)
    };
    let statuses = count("SELECT COUNT(*) FROM statuses").await?;
    let attached = count("SELECT COUNT(*) FROM media WHERE status_id IS NOT NULL").await?;
    let follows = count("SELECT COUNT(*) FROM follows").await?;
    if usize::try_from(statuses)? != photos
        || usize::try_from(attached)? != photos
        || usize::try_from(follows)? != FOLLOWED
    {
        return Err(format!(
            "read models hold {statuses} statuses, {attached} attached media, {follows} \
             follows; expected {photos}, {photos}, {FOLLOWED}"
        )
        .into());
    }
    Ok(Seeded {
        followed,
        first_followed: account_ids[0].clone(),
    })
}

/// A `read` token for the reader, through `POST /api/v1/apps` and the password grant.
async fn reader_token(http: &reqwest::Client, base: &str) -> Result<String> {
    let app: Value = http
        .post(format!("{base}/api/v1/apps"))
        .form(&[
            ("client_name", "timeline bench"),
            ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            ("scopes", "read"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let field = |v: &Value, k: &str| -> Result<String> {
        Ok(v[k].as_str().ok_or(format!("no {k} in {v}"))?.to_string())
    };
    let token: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &field(&app, "client_id")?),
            ("client_secret", &field(&app, "client_secret")?),
            ("username", "reader"),
            ("password", READER_PASSWORD),
            ("scope", "read"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    field(&token, "access_token")
}

/// Fetches the page once and checks it is the real thing; returns its exact body.
async fn check_page(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    expected: usize,
    followed: Option<&Seeded>,
) -> Result<Bytes> {
    let response = http.get(url).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("{url}: {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    let page: Vec<Value> = serde_json::from_slice(&body)?;
    if page.len() != expected {
        return Err(format!("{url}: {} statuses, expected {expected}", page.len()).into());
    }
    for s in &page {
        let author = s["account"]["id"].as_str().unwrap_or_default();
        let media = s["media_attachments"].as_array().map_or(0, Vec::len);
        let photo_url = s["media_attachments"][0]["url"]
            .as_str()
            .unwrap_or_default();
        let tags = s["tags"].as_array().map_or(0, Vec::len);
        if media != 1
            || !photo_url.contains("/ipfs/")
            || tags == 0
            || followed.is_some_and(|seeded| !seeded.followed.contains(author))
        {
            return Err(format!("{url}: unexpected status {s}").into());
        }
    }
    if std::env::var("PEERPX_BENCH_SHOW").is_ok_and(|v| v == "1") {
        println!(
            "first status of {url}:\n{}",
            serde_json::to_string_pretty(&page[0])?
        );
    }
    Ok(Bytes::from(body.to_vec()))
}

/// The home timeline's path with `query` (none when empty).
fn home_path(query: &str) -> String {
    if query.is_empty() {
        "/api/v1/timelines/home".to_string()
    } else {
        format!("/api/v1/timelines/home?{query}")
    }
}

/// The baseline: answers each measured path (with its query) with a fixed body.
async fn fixed(State(bodies): State<Arc<HashMap<String, Bytes>>>, uri: Uri) -> Response {
    let key = uri.path_and_query().map_or("", |p| p.as_str());
    match bodies.get(key) {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// CPU seconds of this process and of its waited-for children (`/proc/self/stat`).
fn cpu_seconds(ticks_per_second: f64) -> Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rsplit_once(')').ok_or("bad /proc/self/stat")?.1;
    let f: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if f.len() != 4 {
        return Err("short /proc/self/stat".into());
    }
    Ok((
        (f[0] + f[1]) / ticks_per_second,
        (f[2] + f[3]) / ticks_per_second,
    ))
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

struct WrkResult {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_us: f64,
    wrk_cpu_s: f64,
}

/// wrk's duration text ("812.00us", "1.20ms", "2.01s") in milliseconds.
fn millis(text: &str) -> Result<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        return Err(format!("unknown duration {text:?}").into());
    };
    Ok(number.parse::<f64>()? * factor)
}

fn parse_wrk(out: &str) -> Result<(u64, f64, f64, f64)> {
    let mut requests = None;
    let (mut per_second, mut p50, mut p99) = (None, None, None);
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => per_second = Some(n.parse::<f64>()?),
            ["50%", d] => p50 = Some(millis(d)?),
            ["99%", d] => p99 = Some(millis(d)?),
            [n, "requests", "in", ..] => requests = Some(n.parse::<u64>()?),
            ["Non-2xx", ..] => return Err(format!("wrk saw errors:\n{out}").into()),
            _ => {}
        }
    }
    match (requests, per_second, p50, p99) {
        (Some(r), Some(s), Some(a), Some(b)) => Ok((r, s, a, b)),
        _ => Err(format!("cannot read wrk's output:\n{out}").into()),
    }
}

async fn wrk(url: &str, token: &str, seconds: u64, ticks: f64) -> Result<WrkResult> {
    let auth = format!("Authorization: Bearer {token}");
    let run = |seconds: u64| {
        tokio::process::Command::new("wrk")
            .args(["-t", WRK_THREADS, "-c", WRK_CONNECTIONS, "--latency"])
            .args(["-d", &format!("{seconds}s"), "-H", &auth, url])
            .output()
    };
    run(WARMUP_SECONDS).await?;
    let (cpu0, child0) = cpu_seconds(ticks)?;
    let output = run(seconds).await?;
    let (cpu1, child1) = cpu_seconds(ticks)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("wrk failed: {}\n{stdout}{stderr}", output.status).into());
    }
    if let Some(errors) = stdout.lines().find(|l| l.contains("Socket errors")) {
        println!("!!! {url}: {}", errors.trim());
    }
    let (requests, per_second, p50_ms, p99_ms) = parse_wrk(&stdout)?;
    Ok(WrkResult {
        requests,
        per_second,
        p50_ms,
        p99_ms,
        server_cpu_us: (cpu1 - cpu0) * 1e6 / requests.max(1) as f64,
        wrk_cpu_s: child1 - child0,
    })
}

/// Runs wrk against the node and the baseline, for each target, and prints the table.
async fn compare(
    targets: &[(String, String, Bytes)],
    [node, trivial]: [SocketAddr; 2],
    token: &str,
    seconds: u64,
) -> Result<()> {
    let ticks = clock_ticks();
    println!(
        "wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s --latency, after a {WARMUP_SECONDS} \
         s warm-up each"
    );
    println!();
    println!(
        "{:<40} {:>6} {:>10} {:>9} {:>9} {:>9} {:>10} {:>7}",
        "target", "bytes", "requests", "req/s", "p50 ms", "p99 ms", "server us", "wrk s"
    );
    println!("{}", "-".repeat(108));
    for (name, path, body) in targets {
        let bytes = body.len();
        let mut rates = Vec::new();
        for (label, host) in [("peerpx", node), ("trivial axum, same bytes", trivial)] {
            let r = wrk(&format!("http://{host}{path}"), token, seconds, ticks).await?;
            println!(
                "{:<40} {bytes:>6} {:>10} {:>9.0} {:>9.2} {:>9.2} {:>10.0} {:>7.1}",
                format!("{label}, {name}"),
                r.requests,
                r.per_second,
                r.p50_ms,
                r.p99_ms,
                r.server_cpu_us,
                r.wrk_cpu_s
            );
            rates.push(r.per_second);
        }
        println!(
            "{:<40} {:>6} {:>10} {:>9.4}",
            format!("ratio peerpx/trivial, {name}"),
            "",
            "",
            rates[0] / rates[1]
        );
    }
    Ok(())
}

/// A fresh database on the server of `admin_url`; returns its URL and name.
async fn fresh_database(admin_url: &str) -> Result<(String, String)> {
    let admin = peerpx_projections::Db::connect(admin_url).await?;
    let name = format!("peerpx_bench_{:08x}", rand::random::<u32>());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin.pool)
        .await?;
    admin.close().await;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), name))
}

async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let admin = peerpx_projections::Db::connect(admin_url).await?;
    let force = if admin.backend == peerpx_projections::Backend::Postgres {
        " WITH (FORCE)"
    } else {
        ""
    };
    sqlx::raw_sql(&format!("DROP DATABASE {name}{force}"))
        .execute(&admin.pool)
        .await?;
    admin.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "SKIPPED: wrk not installed (apt-get install wrk), the timeline bench did not run"
        );
        return Ok(());
    }
    let photos: usize = env_number("PEERPX_BENCH_PHOTOS", DEFAULT_PHOTOS)?;
    let seconds: u64 = env_number("PEERPX_BENCH_SECONDS", DEFAULT_SECONDS)?;
    if photos < 2 * 40 * AUTHORS / FOLLOWED || seconds == 0 {
        return Err("PEERPX_BENCH_PHOTOS must be at least 160, PEERPX_BENCH_SECONDS 1".into());
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let admin_url = std::env::var("PEERPX_BENCH_DATABASE_URL").ok();
    let database = match &admin_url {
        Some(url) => Some(fresh_database(url).await?),
        None => None,
    };
    let engine = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("timeline bench: {photos} photo posts, {engine}, {cores} cores");

    let dir = tempfile::tempdir()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let db_url = database.as_ref().map(|(url, _)| url.clone());
    let mut config = NodeConfig::new(dir.path().join("node"), db_url, &addr.to_string());
    config.protocol = "http".into();
    let node = Node::start(config, listener).await?;
    let state = node.state.clone();

    let scratch = dir.path().join("pipeline");
    let photo = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || import_photo(&state, &scratch)).await??
    };
    let seeded = seed(&state, &photo, photos).await?;
    if database.is_some() {
        // What autovacuum does after a bulk load, done at once so the plans do not depend on
        // when it wakes: without statistics PostgreSQL plans the timelines from `accounts`.
        sqlx::query("ANALYZE").execute(&state.db.pool).await?;
    }

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = format!("http://{addr}");
    let token = reader_token(&http, &base).await?;
    let account = seeded.first_followed.clone();
    let pages = [
        ("home, limit 20", home_path(""), true),
        ("home, limit 40", home_path("limit=40"), true),
        ("public", "/api/v1/timelines/public".to_string(), false),
        (
            "tag #coffee",
            "/api/v1/timelines/tag/coffee".to_string(),
            false,
        ),
        (
            "account",
            format!("/api/v1/accounts/{account}/statuses"),
            false,
        ),
    ];
    let mut targets = Vec::new();
    for (name, path, home) in pages {
        let expected = if path.contains("limit=40") { 40 } else { 20 };
        let url = format!("{base}{path}");
        let body = check_page(&http, &url, &token, expected, home.then_some(&seeded)).await?;
        targets.push((name.to_string(), path, body));
    }
    let bodies: HashMap<String, Bytes> = targets
        .iter()
        .map(|(_, path, body)| (path.clone(), body.clone()))
        .collect();

    let bodies = Arc::new(bodies);
    let trivial = TcpListener::bind("127.0.0.1:0").await?;
    let trivial_addr = trivial.local_addr()?;
    let app = axum::Router::new()
        .fallback(axum::routing::get(fixed))
        .with_state(bodies.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(trivial, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    compare(&targets, [addr, trivial_addr], &token, seconds).await?;

    let _ = stop.send(());
    server.await??;
    node.shutdown().await.map_err(|e| format!("{e:#}"))?;
    if let (Some(admin_url), Some((_, name))) = (&admin_url, &database) {
        drop_database(admin_url, name).await?;
    }
    if std::env::var("PEERPX_BENCH_KEEP").is_ok_and(|v| v == "1") {
        let kept = dir.keep();
        println!("kept the data directory: {}", kept.join("node").display());
    }
    Ok(())
}
