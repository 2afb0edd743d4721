//! Fan-out delivery: the time from posting a status to its `Create` reaching 1,000 followers on
//! 100 hosts, against the same 100 POSTs made directly, measured in the same run.
//!
//! A node starts in-process on `127.0.0.1:0` (SQLite in a temporary directory, `--protocol
//! http`, private addresses allowed). 100 fake hosts start beside it (`support/federation.rs`:
//! tiny axum servers, each on its own 127.0.0.1 port, hence its own `host:port` authority), each
//! with 10 actors `f0`..`f9` whose documents name the host's shared inbox `/inbox`. Every fake
//! actor follows the local user `ana` the way a peer does: a `Follow` signed with its key,
//! POSTed to `/users/ana/inbox`; the node fetches the actor's document to verify it, records
//! the remote account, interprets the Follow and delivers an `Accept` (the fake inboxes answer
//! 202). All 1,000 actors publish one shared public key (each under its own `keyId`): generating
//! 1,000 RSA keys would take minutes and changes nothing the node does. The set-up waits for
//! 1,000 Accepts and for `followers_count` = 1,000.
//!
//! Each round, ana posts a text status (`POST /api/v1/statuses`, public). The node records the
//! `Create` with one inbox per host (the shared one) and its delivery worker POSTs it, signed
//! once per host. The round's figures, from just before the POST: the API's answer, the first
//! and the last host receiving the Create (read by the fake host), and every delivery recorded
//! as `delivered` in the `deliveries` read model. The bench then checks that exactly 100 POSTs
//! of that Create arrived, one per host, all to `/inbox`.
//!
//! The baselines, in the same round, send the body the hosts received to the 100 shared inboxes
//! from a plain `reqwest` client in this process (warm connection pool, all 100 at once, as the
//! worker does): signed with ana's key by `signatures::Signer` (one signature per host, then the
//! POST: the worker's work minus the queue and the log), unsigned, and the 100 signatures alone
//! on one thread. One untimed warm-up round comes first; the table gives the median of the
//! rounds and `ratio node/baseline` = the node's last receipt ÷ the signed baseline.
//!
//! `PEERPX_BENCH_HOSTS` (default 100), `PEERPX_BENCH_FOLLOWERS_PER_HOST` (default 10) and
//! `PEERPX_BENCH_ROUNDS` (default 5) change the shape; `PEERPX_BENCH_DATABASE_URL` (a PostgreSQL
//! or MySQL server URL) runs the node on a fresh database there instead of SQLite. Run with
//! `cargo bench --bench fanout`.

#[allow(dead_code)]
#[path = "support/federation.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use peerpx_api::AppState;
use peerpx_federation::signatures::Signer;
use serde_json::json;
use url::Url;

use support::{BoxError, FakeHosts, Receipt, Result, BASELINE_HEADER};

const DEFAULT_HOSTS: usize = 100;
const DEFAULT_PER_HOST: usize = 10;
const DEFAULT_ROUNDS: usize = 5;
const FOLLOWS_IN_FLIGHT: usize = 16;
const PASSWORD: &str = "ana's bench password";
const WAIT: Duration = Duration::from_secs(120);

/// Every fake actor sends a signed Follow of ana; waits until all are accepted. Returns how
/// many Accept POSTs arrived, and how many distinct Accept activities they carried.
async fn follow_ana(
    state: &AppState,
    http: &reqwest::Client,
    base: &str,
    hosts: &FakeHosts,
    per_host: usize,
    private_pem: &str,
) -> Result<(usize, usize)> {
    let ana = format!("{base}/users/ana");
    let inbox = Url::parse(&format!("{ana}/inbox"))?;
    let mut signed = Vec::new();
    for h in 0..hosts.bases.len() {
        for j in 0..per_host {
            let actor = hosts.actor(h, &format!("f{j}"));
            let body = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}#follows/1"),
                "type": "Follow",
                "actor": actor,
                "object": ana,
            })
            .to_string();
            let signer = Signer::new(format!("{actor}#main-key"), private_pem)?;
            let headers = signer.sign_post(&inbox, body.as_bytes())?;
            signed.push((headers, Bytes::from(body)));
        }
    }
    let total = signed.len();
    let mark = hosts.recorder.len();
    futures::stream::iter(signed)
        .map(|(headers, body)| support::post_signed(http, inbox.as_str(), headers, body))
        .buffer_unordered(FOLLOWS_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    hosts
        .recorder
        .wait_until(mark, Duration::from_secs(1200), "every Accept", |r| {
            r.iter().filter(|r| r.kind == "Accept").count() >= total
        })
        .await?;
    support::quiet(state, WAIT).await?;
    delivered_all(state).await?;
    let ana_row = peerpx_projections::accounts::by_username(&state.db, "ana")
        .await?
        .ok_or("no ana")?;
    let me = support::expect_json(
        http.get(format!("{base}/api/v1/accounts/{}", ana_row.id)),
        reqwest::StatusCode::OK,
    )
    .await?;
    if me["followers_count"].as_u64() != Some(u64::try_from(total)?) {
        return Err(format!(
            "ana has {} followers, expected {total}",
            me["followers_count"]
        )
        .into());
    }
    let accepts: Vec<Receipt> = hosts
        .recorder
        .since(mark)
        .into_iter()
        .filter(|r| r.kind == "Accept")
        .collect();
    let distinct: HashSet<&str> = accepts.iter().map(|r| r.id.as_str()).collect();
    Ok((accepts.len(), distinct.len()))
}

/// Waits until no delivery is pending or failed.
async fn delivered_all(state: &AppState) -> Result<()> {
    support::eventually(
        WAIT,
        Duration::from_millis(20),
        "the delivery queue to drain",
        || async {
            let counts = peerpx_projections::deliveries::counts(&state.db).await?;
            let open: i64 = counts
                .iter()
                .filter(|(s, _)| s != "delivered")
                .map(|(_, n)| *n)
                .sum();
            Ok((open == 0).then_some(()))
        },
    )
    .await
}

/// One node round's timings, in seconds from just before the POST.
struct NodeRound {
    api: f64,
    first: f64,
    last: f64,
    recorded: f64,
    /// POSTs of the Create that arrived, on how many hosts, and how many not to `/inbox`.
    posts: usize,
    hosts: usize,
    elsewhere: usize,
    body: Bytes,
}

async fn node_round(
    state: &AppState,
    http: &reqwest::Client,
    base: &str,
    token: &str,
    hosts: &FakeHosts,
    round: usize,
) -> Result<NodeRound> {
    let host_count = hosts.bases.len();
    let mark = hosts.recorder.len();
    let text = format!(
        "Harbour at dawn, round {round}: the fishing boats come back before the light turns \
         harsh. #harbour #morning"
    );
    let start = Instant::now();
    let status = support::expect_json(
        http.post(format!("{base}/api/v1/statuses"))
            .bearer_auth(token)
            .form(&[("status", text.as_str()), ("visibility", "public")]),
        reqwest::StatusCode::OK,
    )
    .await?;
    let api = start.elapsed().as_secs_f64();
    let uri = status["uri"].as_str().ok_or("the status has no uri")?;
    let create_id = format!("{uri}/activity");
    let is_ours = |r: &Receipt| !r.baseline && r.kind == "Create" && r.id == create_id;
    let got = hosts
        .recorder
        .wait_until(mark, WAIT, "the Create on every host", |r| {
            r.iter()
                .filter(|r| is_ours(r))
                .map(|r| r.host)
                .collect::<HashSet<_>>()
                .len()
                == host_count
        })
        .await?;
    // Each host's first copy: a host that got the Create twice was reached the first time.
    let seconds = |r: &Receipt| r.at.duration_since(start).as_secs_f64();
    let mut reached: HashMap<usize, f64> = HashMap::new();
    for r in got.iter().filter(|r| is_ours(r)) {
        reached.entry(r.host).or_insert_with(|| seconds(r));
    }
    let first = reached.values().copied().fold(f64::INFINITY, f64::min);
    let last = reached.values().copied().fold(0.0, f64::max);
    support::eventually(
        WAIT,
        Duration::from_millis(5),
        "every delivery recorded",
        || async {
            let rows = peerpx_projections::deliveries::of_activity(&state.db, &create_id).await?;
            let done = rows.len() == host_count && rows.iter().all(|r| r.state == "delivered");
            Ok(done.then_some(()))
        },
    )
    .await?;
    let recorded = start.elapsed().as_secs_f64();
    // Every delivery is recorded as delivered, so nothing more of this Create is on its way.
    support::quiet(state, WAIT).await?;
    let all: Vec<Receipt> = hosts
        .recorder
        .since(mark)
        .into_iter()
        .filter(|r| is_ours(r))
        .collect();
    let distinct: HashSet<usize> = all.iter().map(|r| r.host).collect();
    let elsewhere = all.iter().filter(|r| r.path != "/inbox").count();
    let body = all.first().map(|r| r.body.clone()).unwrap_or_default();
    Ok(NodeRound {
        api,
        first,
        last,
        recorded,
        posts: all.len(),
        hosts: distinct.len(),
        elsewhere,
        body,
    })
}

/// POSTs `body` to every shared inbox at once, signed with `signer` (one signature per host,
/// made in the task that sends it) or not; returns the seconds until the last 202.
async fn baseline(
    http: &reqwest::Client,
    hosts: &FakeHosts,
    body: &Bytes,
    signer: Option<&Signer>,
) -> Result<f64> {
    let mark = hosts.recorder.len();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for base in &hosts.bases {
        let (http, body, signer) = (http.clone(), body.clone(), signer.cloned());
        let url = Url::parse(&format!("{base}/inbox"))?;
        tasks.spawn(async move {
            let mut headers = match signer {
                Some(s) => s.sign_post(&url, &body)?,
                None => {
                    let mut h = axum::http::HeaderMap::new();
                    h.insert(
                        axum::http::header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static("application/activity+json"),
                    );
                    h
                }
            };
            headers.insert(BASELINE_HEADER, axum::http::HeaderValue::from_static("1"));
            support::post_signed(&http, url.as_str(), headers, body).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let arrived = hosts
        .recorder
        .since(mark)
        .iter()
        .filter(|r| r.baseline)
        .count();
    if arrived != hosts.bases.len() {
        return Err(format!("{arrived} baseline POSTs arrived").into());
    }
    Ok(seconds)
}

/// Seconds to sign a POST of `body` to each shared inbox, one after the other, one thread.
async fn sign_only(hosts: &FakeHosts, body: &Bytes, signer: &Signer) -> Result<f64> {
    let urls: Vec<Url> = hosts
        .bases
        .iter()
        .map(|b| Url::parse(&format!("{b}/inbox")))
        .collect::<Result<_, _>>()?;
    let (body, signer) = (body.clone(), signer.clone());
    tokio::task::spawn_blocking(move || -> Result<f64> {
        let start = Instant::now();
        for url in &urls {
            signer.sign_post(url, &body)?;
        }
        Ok(start.elapsed().as_secs_f64())
    })
    .await?
}

#[derive(Default)]
struct Columns {
    api: Vec<f64>,
    first: Vec<f64>,
    last: Vec<f64>,
    recorded: Vec<f64>,
    signed: Vec<f64>,
    unsigned: Vec<f64>,
    signing: Vec<f64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let host_count: usize = support::env_number("PEERPX_BENCH_HOSTS", DEFAULT_HOSTS)?;
    let per_host: usize = support::env_number("PEERPX_BENCH_FOLLOWERS_PER_HOST", DEFAULT_PER_HOST)?;
    let rounds: usize = support::env_number("PEERPX_BENCH_ROUNDS", DEFAULT_ROUNDS)?;
    if host_count == 0 || per_host == 0 || rounds == 0 {
        return Err("PEERPX_BENCH_HOSTS, _FOLLOWERS_PER_HOST and _ROUNDS must be > 0".into());
    }
    support::init_tracing();
    let db = support::NodeDb::from_env().await?;
    let result = run(host_count, per_host, rounds, &db).await;
    db.drop_database().await?;
    result
}

async fn run(
    host_count: usize,
    per_host: usize,
    rounds: usize,
    db: &support::NodeDb,
) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "fanout bench: {} followers on {host_count} hosts ({per_host} per host), {rounds} rounds, \
         {}, {cores} cores",
        host_count * per_host,
        db.engine
    );

    let key = peerpx_federation::keys::generate_blocking()
        .await
        .map_err(|e| format!("key: {e:?}"))?;
    let hosts = FakeHosts::start(host_count, &key.public_pem).await?;
    let support::BenchNode {
        dir: _dir,
        node,
        state,
        base,
        http,
        token,
    } = support::node_with_ana(db, PASSWORD).await?;

    let started = Instant::now();
    let (accepts, distinct) =
        follow_ana(&state, &http, &base, &hosts, per_host, &key.private_pem).await?;
    println!(
        "set-up: {} signed Follows sent, accepted and their Accepts delivered in {:.1} s \
         ({} actor documents fetched, {accepts} Accept POSTs received, of {distinct} distinct Accepts)",
        host_count * per_host,
        started.elapsed().as_secs_f64(),
        hosts.recorder.documents()
    );

    let ana = peerpx_projections::accounts::by_username(&state.db, "ana")
        .await?
        .ok_or("no ana")?;
    let ana_signer = peerpx_federation::resolve::signer_for(&state.federation, &ana)
        .map_err(|e| format!("{e:?}"))?;
    let mut c = Columns::default();
    let mut failures = Vec::new();
    for round in 0..=rounds {
        let r = node_round(&state, &http, &base, &token, &hosts, round).await?;
        let signed = baseline(&http, &hosts, &r.body, Some(&ana_signer)).await?;
        let unsigned = baseline(&http, &hosts, &r.body, None).await?;
        let signing = sign_only(&hosts, &r.body, &ana_signer).await?;
        support::quiet(&state, WAIT).await?;
        let name = if round == 0 {
            "warm-up".to_string()
        } else {
            format!("round {round}")
        };
        println!(
            "{name}: api {:.3} s, first host {:.3} s, last host {:.3} s, recorded {:.3} s; \
             {} POSTs of the Create on {} hosts ({} elsewhere than /inbox), {} byte body; \
             baseline signed {signed:.3} s, unsigned {unsigned:.3} s, signing {signing:.3} s",
            r.api,
            r.first,
            r.last,
            r.recorded,
            r.posts,
            r.hosts,
            r.elsewhere,
            r.body.len()
        );
        if r.posts != host_count || r.hosts != host_count || r.elsewhere != 0 {
            failures.push(format!(
                "{name}: {} POSTs of the Create on {} hosts ({} not to the shared inbox), \
                 expected exactly one POST to /inbox on each of the {host_count} hosts",
                r.posts, r.hosts, r.elsewhere
            ));
        }
        if round == 0 {
            continue;
        }
        c.api.push(r.api);
        c.first.push(r.first);
        c.last.push(r.last);
        c.recorded.push(r.recorded);
        c.signed.push(signed);
        c.unsigned.push(unsigned);
        c.signing.push(signing);
    }

    let m = support::median;
    let reference = m(&c.signed);
    let rows: Vec<(String, f64)> = vec![
        ("node: POST /api/v1/statuses answered".into(), m(&c.api)),
        ("node: first host received the Create".into(), m(&c.first)),
        (
            format!("node: all {host_count} hosts received it"),
            m(&c.last),
        ),
        (
            "node: all deliveries recorded delivered".into(),
            m(&c.recorded),
        ),
        (
            format!("baseline: {host_count} signed POSTs, reqwest"),
            reference,
        ),
        (
            format!("baseline: {host_count} unsigned POSTs, reqwest"),
            m(&c.unsigned),
        ),
        (
            format!("baseline: {host_count} signatures, 1 thread"),
            m(&c.signing),
        ),
    ];
    println!();
    println!("median of {rounds} rounds, seconds from just before the request");
    println!(
        "{:<48} {:>10} {:>22}",
        "what", "seconds", "ratio to signed POSTs"
    );
    println!("{}", "-".repeat(82));
    for (label, seconds) in &rows {
        println!("{label:<48} {seconds:>10.3} {:>22.1}", seconds / reference);
    }
    let per_second = (host_count * per_host) as f64 / m(&c.last);
    println!(
        "\n{:.0} followers reached per second ({host_count} hosts reached in {:.3} s)",
        per_second,
        m(&c.last)
    );
    for f in &failures {
        println!("!!! CHECK FAILED: {f}");
    }

    drop(hosts);
    node.shutdown()
        .await
        .map_err(|e| -> BoxError { format!("{e:#}").into() })?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} rounds delivered the Create more than once per host",
            failures.len(),
            rounds + 1
        )
        .into())
    }
}
