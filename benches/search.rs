//! Search index: indexing throughput of the projection against raw tantivy, query latency of the
//! crate's search API against raw tantivy on the same index, and peak memory while indexing.
//!
//! - (a) Indexing during replay: a generated log of `PEERPX_BENCH_EVENTS` events (default
//!   1 000 000; `benches/support/search_events.rs`: accounts, uploads with EXIF, photo posts,
//!   remote posts, replies, edits, deletions, renames, password changes, likes) goes through
//!   `SearchIndex::apply`, committed every `COMMIT_EVERY` events as the follow loop does. Events
//!   are generated between commits, outside the timed part (a commit waits for tantivy's
//!   indexing threads, so no indexing work is left running while the next events are made).
//!   The baseline indexes the very documents the projection ended with (`Snapshot::export`: the
//!   same schema, analyzers and writer settings) with plain `IndexWriter::add_document`, with as
//!   many commits. It is the lower bound of the work: no event decoding, no lookups, no
//!   superseded versions or side documents.
//! - (b) Query latency on an index of `PEERPX_BENCH_POSTS` photo posts (default 100 000) built
//!   by the projection: two-word queries and filtered ones (`word camera:… after:…`), each
//!   through `parse` + `Snapshot::statuses` (a fresh snapshot per query, top 20) against raw
//!   tantivy (`QueryParser` over the same text fields, conjunction, top 20 by score, a fresh
//!   searcher per query) on the same directory. `PEERPX_BENCH_QUERIES` per kind (default 2000)
//!   after 200 untimed ones.
//! - (c) Peak memory: a child process (`PEERPX_BENCH_CHILD=rss`) indexes the same 100 000 posts
//!   through the projection and prints its `VmHWM` before and after.
//!
//! Run with `cargo bench --bench search`.

#[path = "support/search_events.rs"]
mod search_events;

use std::error::Error;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use peerpx_search_index::schema::{register_analyzers, schema};
use peerpx_search_index::{open_writer, parse, Scope, SearchIndex, Window, COMMIT_EVERY};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use search_events::{vocabulary, Generator, CAMERAS};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::{Index, TantivyDocument};

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(default),
    }
}

/// Peak resident set size of this process so far, in KiB (`VmHWM` in `/proc/self/status`).
fn vm_hwm_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM line in /proc/self/status")?;
    Ok(line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

struct Indexed {
    index: SearchIndex,
    events: usize,
    seconds: f64,
    commits: usize,
}

/// Feeds the projection until `done`, one commit window at a time; only applying and
/// committing are timed.
fn project(
    dir: &Path,
    generator: &mut Generator,
    done: impl Fn(&Generator, usize) -> bool,
) -> Result<Indexed> {
    let mut index = SearchIndex::open(dir)?;
    let (mut events, mut seconds, mut commits) = (0, 0.0, 0);
    let per_commit = usize::try_from(COMMIT_EVERY)?;
    while !done(generator, events) {
        // The whole window is made before the clock starts.
        let mut window: Vec<Vec<_>> = Vec::new();
        let mut in_window = 0;
        while in_window < per_commit && !done(generator, events + in_window) {
            let chunk = generator.chunk(1000);
            in_window += chunk.len();
            window.push(chunk);
        }
        let started = Instant::now();
        for chunk in &window {
            index.apply(chunk)?;
        }
        index.commit()?;
        seconds += started.elapsed().as_secs_f64();
        events += in_window;
        commits += 1;
    }
    Ok(Indexed {
        index,
        events,
        seconds,
        commits,
    })
}

/// Raw tantivy: the same documents, schema, analyzers and writer settings, as many commits.
fn raw_indexing(dir: &Path, docs: Vec<TantivyDocument>, commits: usize) -> Result<f64> {
    std::fs::create_dir_all(dir)?;
    let index = Index::create_in_dir(dir, schema().0)?;
    register_analyzers(&index);
    let mut writer = open_writer(&index)?;
    let per_commit = docs.len().div_ceil(commits.max(1)).max(1);
    let mut docs = docs.into_iter().peekable();
    let started = Instant::now();
    while docs.peek().is_some() {
        for doc in docs.by_ref().take(per_commit) {
            writer.add_document(doc)?;
        }
        writer.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn indexing(events: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut generator = Generator::new(7, 40);
    let ours = project(&tmp.path().join("projection"), &mut generator, |_, n| {
        n >= events
    })?;
    let docs: Vec<TantivyDocument> = ours
        .index
        .reader()
        .snapshot()
        .export()?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let n_docs = docs.len();
    drop(ours.index);
    let raw_seconds = raw_indexing(&tmp.path().join("raw"), docs, ours.commits)?;
    let ours_rate = ours.events as f64 / ours.seconds;
    let raw_rate = ours.events as f64 / raw_seconds;
    println!(
        "(a) indexing during replay: {} events, {n_docs} documents in the end, {} commits",
        ours.events, ours.commits
    );
    println!(
        "    projection   {:>8.2} s  {:>9.0} events/s",
        ours.seconds, ours_rate
    );
    println!(
        "    raw tantivy  {:>8.2} s  {:>9.0} events/s  ({:.0} docs/s)",
        raw_seconds,
        raw_rate,
        n_docs as f64 / raw_seconds
    );
    println!(
        "    ratio projection/raw = {:.2} (goal >= 0.7)",
        ours_rate / raw_rate
    );
    Ok(())
}

fn percentiles(mut micros: Vec<f64>) -> (f64, f64) {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)];
    (at(0.50), at(0.99))
}

/// The two kinds of queries, as typed: two frequent words; one word with a camera and a date.
fn queries(n: usize) -> (Vec<String>, Vec<String>) {
    let words = vocabulary();
    let mut rng = StdRng::seed_from_u64(11);
    let word = |rng: &mut StdRng| words[rng.gen_range(0..60)].clone();
    let two = (0..n)
        .map(|_| format!("{} {}", word(&mut rng), word(&mut rng)))
        .collect();
    let filtered = (0..n)
        .map(|_| {
            let (make, _) = CAMERAS[rng.gen_range(0..CAMERAS.len())];
            let make = make.split(' ').next().unwrap_or(make).to_lowercase();
            format!(
                "{} camera:{make} after:20{}-06-30",
                word(&mut rng),
                rng.gen_range(18..24)
            )
        })
        .collect();
    (two, filtered)
}

/// The raw query of a typed one: the same words over the same fields; `camera:` and `after:`
/// as tantivy's own syntax on the same fields.
fn raw_text(q: &str) -> String {
    q.split(' ')
        .map(|part| match part.split_once(':') {
            Some(("after", date)) => {
                let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                    .map(|d| chrono::Datelike::num_days_from_ce(&d));
                format!("day:{{{} TO *}}", d.unwrap_or(0))
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn latency(posts: usize, n: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("posts");
    let mut generator = Generator::new(3, 100);
    let built = project(&dir, &mut generator, |g, _| g.statuses() >= posts)?;
    println!(
        "(b) query latency: index of {} photo posts ({} events, indexed in {:.1} s)",
        generator.statuses(),
        built.events,
        built.seconds
    );
    let reader = built.index.reader();
    let raw = Index::open_in_dir(&dir)?;
    register_analyzers(&raw);
    let raw_reader = raw.reader()?;
    let f = schema().1;
    let mut parser = QueryParser::for_index(
        &raw,
        vec![
            f.caption,
            f.title,
            f.spoiler,
            f.alt,
            f.author_name,
            f.camera,
            f.lens,
            f.tag,
        ],
    );
    parser.set_conjunction_by_default();
    let (two, filtered) = queries(n + 200);
    for (label, qs) in [("2 words", &two), ("filtered", &filtered)] {
        let mut ours = Vec::with_capacity(n);
        let mut theirs = Vec::with_capacity(n);
        let mut hits = (0, 0);
        for (i, q) in qs.iter().enumerate() {
            let started = Instant::now();
            let found = reader
                .snapshot()
                .statuses(&parse(q)?, Scope::All, &Window::first(20))?;
            let t_ours = started.elapsed().as_secs_f64() * 1e6;
            let started = Instant::now();
            let searcher = raw_reader.searcher();
            let query = parser.parse_query(&raw_text(q))?;
            let top = searcher.search(&query, &TopDocs::with_limit(20).order_by_score())?;
            let t_raw = started.elapsed().as_secs_f64() * 1e6;
            if i >= 200 {
                ours.push(t_ours);
                theirs.push(t_raw);
                hits.0 += found.len();
                hits.1 += top.len();
            }
        }
        let (p50, p99) = percentiles(ours);
        let (r50, r99) = percentiles(theirs);
        println!("    {label:<9} ours p50 {p50:>7.0} µs  p99 {p99:>7.0} µs | raw p50 {r50:>7.0} µs  p99 {r99:>7.0} µs | p99 ratio {:.2} | hits {}/{}", p99 / r99, hits.0, hits.1);
    }
    Ok(())
}

/// The child of (c): index `posts` posts and print the peak resident set.
fn child(posts: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut generator = Generator::new(3, 100);
    let baseline = vm_hwm_kib()?;
    let built = project(&tmp.path().join("posts"), &mut generator, |g, _| {
        g.statuses() >= posts
    })?;
    let peak = vm_hwm_kib()?;
    println!("seconds {:.3}", built.seconds);
    println!("baseline_kib {baseline}");
    println!("peak_kib {peak}");
    Ok(())
}

fn value(stdout: &str, key: &str) -> Result<f64> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .ok_or_else(|| format!("no `{key}` in the child's output:\n{stdout}"))?;
    Ok(line.trim().parse()?)
}

fn memory(posts: usize) -> Result<()> {
    let output = Command::new(std::env::current_exe()?)
        .env("PEERPX_BENCH_CHILD", "rss")
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the memory child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (baseline, peak) = (value(&stdout, "baseline_kib")?, value(&stdout, "peak_kib")?);
    println!(
        "(c) peak memory indexing {posts} photo posts: VmHWM {:.0} MiB (process before indexing {:.0} MiB), {:.1} s",
        peak / 1024.0,
        baseline / 1024.0,
        value(&stdout, "seconds")?
    );
    Ok(())
}

fn main() -> Result<()> {
    let events = env_usize("PEERPX_BENCH_EVENTS", 1_000_000)?;
    let posts = env_usize("PEERPX_BENCH_POSTS", 100_000)?;
    let n = env_usize("PEERPX_BENCH_QUERIES", 2000)?;
    if std::env::var("PEERPX_BENCH_CHILD").is_ok_and(|v| v == "rss") {
        return child(posts);
    }
    println!(
        "search bench: {} cores, writer {} threads at most, {} MB heap",
        std::thread::available_parallelism().map_or(0, usize::from),
        peerpx_search_index::WRITER_THREADS,
        peerpx_search_index::WRITER_HEAP_BYTES / 1_000_000
    );
    memory(posts)?;
    latency(posts, n)?;
    indexing(events)?;
    Ok(())
}
