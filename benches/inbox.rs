//! Inbox throughput: signed `Create` activities verified and appended per second by a real
//! node, against the raw RSA-2048 verification rate of the same key, measured in the same run.
//!
//! A node starts in-process on `127.0.0.1:0` (SQLite in a temporary directory, `--protocol
//! http`, private addresses allowed, as the multi-node tests run it). A fake remote host (a tiny
//! axum server on another 127.0.0.1 port, `support/federation.rs`) serves the actor `ben` with
//! its public key. The local user `ana` resolves ben (`/api/v2/search?resolve=true`: the node
//! fetches ben's document and records it, key included, in the accounts read model) and follows
//! him (`POST /api/v1/accounts/{id}/follow`); the fake host receives the Follow and ben answers
//! with a signed Accept. From then on ben's Creates are wanted (someone here follows him) and
//! his key is cached: the node fetches nothing while the bench runs (checked).
//!
//! Each run builds N `Create` activities of a photo `Note` (caption with a hashtag, one `Image`
//! attachment left on its server, public addressing) and signs them all with ben's key through
//! `signatures::Signer` (draft-cavage, rsa-sha256 over `(request-target) host date digest`)
//! before the clock starts. Then they are POSTed over loopback HTTP to the node's shared inbox,
//! one at a time or 8 at a time. Two figures per run, both from the same start:
//!
//! - **accepted**: until the last 202. The inbox answers 202 once it has verified the signature
//!   (key from the read model), checked the actor and appended `ActivityReceived`.
//! - **interpreted**: until the inbox worker has interpreted every activity (each one a remote
//!   status posted, then `ActivityInterpreted`): `peerpx_projections::federation::pending` is
//!   empty and the read models have reached the log's head. The bench then checks that exactly N
//!   remote statuses were added.
//!
//! The baselines, on one thread, before the runs: the raw verification of one of the very
//! signatures the node received (its signing string rebuilt from the headers) with the `rsa`
//! crate (`pkcs1v15::VerifyingKey<Sha256>`, key parsed once), and the node's own
//! `signatures::verify` called in-process with the key handed over from memory (no HTTP, no
//! database: header parsing, date window, SHA-256 digest of the body, PEM parsing and the
//! OpenSSL verification `sigh` does, which is what the inbox runs per request).
//!
//! `PEERPX_BENCH_ACTIVITIES` sets N (default 500), `PEERPX_BENCH_VERIFY_SECONDS` how long each
//! verification baseline runs (default 2). `PEERPX_BENCH_DATABASE_URL` (a PostgreSQL or MySQL
//! server URL, as `PEERPX_TEST_POSTGRES_URL`) runs the node on a fresh database there instead of
//! SQLite. Run with `cargo bench --bench inbox`.

#[allow(dead_code)]
#[path = "support/federation.rs"]
mod support;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use futures::{StreamExt as _, TryStreamExt as _};
use peerpx_api::AppState;
use peerpx_federation::signatures::{self, ResolvedKey, Signer};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use serde_json::{json, Value};
use sqlx::Row as _;
use url::Url;

use support::{BoxError, FakeHosts, Result};

const DEFAULT_ACTIVITIES: usize = 500;
const DEFAULT_VERIFY_SECONDS: f64 = 2.0;
const WARMUP: usize = 20;
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
const PASSWORD: &str = "ana's bench password";
const WAIT: Duration = Duration::from_secs(60);

/// A Pixelfed-shaped `Create` of photo note `n` of run `run`, by `ben`.
fn create_activity(ben: &str, run: &str, n: usize) -> Vec<u8> {
    let note = format!("{ben}/statuses/{run}-{n}");
    let tag_href = ben.replace("/users/ben", "/discover/tags/harbour");
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{note}/activity"),
        "type": "Create",
        "actor": ben,
        "published": "2026-11-24T07:30:00Z",
        "to": [PUBLIC],
        "cc": [format!("{ben}/followers")],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": ben,
            "url": note,
            "published": "2026-11-24T07:30:00Z",
            "to": [PUBLIC],
            "cc": [format!("{ben}/followers")],
            "sensitive": false,
            "summary": null,
            "content": format!(
                "<p>Morning light over the harbour, frame {n}. \
                 <a href=\"{tag_href}\" class=\"mention hashtag\" rel=\"tag\">#<span>harbour</span></a></p>"
            ),
            "tag": [{ "type": "Hashtag", "name": "#harbour", "href": tag_href }],
            "attachment": [{
                "type": "Image",
                "mediaType": "image/jpeg",
                "url": format!("{note}/photo.jpg"),
                "name": "Fishing boats moored in a harbour at sunrise",
                "blurhash": "LKO2?U%2Tw=w]~RBVZRi};RPxuwH",
                "width": 4000,
                "height": 3000,
            }],
        },
    })
    .to_string()
    .into_bytes()
}

/// `n` activities of run `run`, signed for POSTing to `inbox`: (headers, body).
async fn sign_all(
    signer: &Signer,
    inbox: &Url,
    ben: &str,
    run: &str,
    n: usize,
) -> Result<Vec<(HeaderMap, Bytes)>> {
    let (signer, inbox, ben, run) = (
        signer.clone(),
        inbox.clone(),
        ben.to_string(),
        run.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|i| {
                let body = create_activity(&ben, &run, i);
                let headers = signer.sign_post(&inbox, &body)?;
                Ok((headers, Bytes::from(body)))
            })
            .collect::<Result<Vec<_>>>()
    })
    .await?
}

async fn remote_statuses(state: &AppState) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) FROM statuses WHERE uri IS NOT NULL")
        .fetch_one(&state.db.pool)
        .await?;
    Ok(row.try_get(0)?)
}

/// POSTs every activity to `url`, `in_flight` at a time; each must be answered 202.
async fn post_all(
    http: &reqwest::Client,
    url: &str,
    signed: Vec<(HeaderMap, Bytes)>,
    in_flight: usize,
) -> Result<()> {
    futures::stream::iter(signed)
        .map(|(headers, body)| support::post_signed(http, url, headers, body))
        .buffer_unordered(in_flight)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// The raw verification: `(signing string, signature bytes)` of a signed POST to `path`.
fn signing_input(path: &str, headers: &HeaderMap) -> Result<(String, Vec<u8>)> {
    let h = |name: &str| -> Result<String> {
        Ok(headers
            .get(name)
            .ok_or(format!("no {name} header"))?
            .to_str()?
            .to_string())
    };
    let text = format!(
        "(request-target): post {path}\nhost: {}\ndate: {}\ndigest: {}",
        h("host")?,
        h("date")?,
        h("digest")?
    );
    let signature = h("signature")?;
    let encoded = signature
        .rsplit_once("signature=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .ok_or("no signature parameter")?;
    Ok((text, BASE64.decode(encoded)?))
}

/// Verifications per second of `text`/`signature` with the `rsa` crate, one thread.
fn rsa_rate(public_pem: &str, text: &str, signature: &[u8], seconds: f64) -> Result<(u64, f64)> {
    let key = rsa::RsaPublicKey::from_public_key_pem(public_pem)?;
    let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key);
    let signature = rsa::pkcs1v15::Signature::try_from(signature)?;
    verifier
        .verify(text.as_bytes(), &signature)
        .map_err(|e| format!("the rsa crate does not verify the node's signature: {e}"))?;
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..50 {
            verifier
                .verify(text.as_bytes(), &signature)
                .map_err(|e| format!("verify: {e}"))?;
        }
        count += 50;
    }
    Ok((count, start.elapsed().as_secs_f64()))
}

/// Calls of the node's `signatures::verify` per second, key from memory, one thread.
fn node_verify_rate(
    public_pem: &str,
    owner: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    seconds: f64,
) -> Result<(u64, f64)> {
    let key = ResolvedKey {
        public_key_pem: public_pem.to_string(),
        owner: owner.to_string(),
        cached: true,
    };
    let resolver = |_key_id: String, _refresh: bool| {
        let key = key.clone();
        async move { Ok::<_, String>(key) }
    };
    let once = || {
        futures::executor::block_on(signatures::verify(
            &Method::POST,
            path,
            headers,
            body,
            &resolver,
        ))
    };
    once().map_err(|e| format!("the node's verify refuses its own input: {e}"))?;
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..50 {
            once().map_err(|e| format!("verify: {e}"))?;
        }
        count += 50;
    }
    Ok((count, start.elapsed().as_secs_f64()))
}

/// ana follows ben and ben accepts; returns ben's account id on the node.
async fn follow_ben(
    state: &AppState,
    http: &reqwest::Client,
    base: &str,
    token: &str,
    hosts: &FakeHosts,
    ben_signer: &Signer,
) -> Result<String> {
    let ben = hosts.actor(0, "ben");
    let found = support::expect_json(
        http.get(format!("{base}/api/v2/search"))
            .query(&[
                ("q", ben.as_str()),
                ("resolve", "true"),
                ("type", "accounts"),
            ])
            .bearer_auth(token),
        reqwest::StatusCode::OK,
    )
    .await?;
    let id = found["accounts"][0]["id"]
        .as_str()
        .ok_or(format!("search found no account for {ben}: {found}"))?
        .to_string();
    let mark = hosts.recorder.len();
    support::expect_json(
        http.post(format!("{base}/api/v1/accounts/{id}/follow"))
            .bearer_auth(token),
        reqwest::StatusCode::OK,
    )
    .await?;
    let got = hosts
        .recorder
        .wait_until(mark, WAIT, "ana's Follow to reach ben", |r| {
            r.iter().any(|r| r.kind == "Follow")
        })
        .await?;
    let follow_id = got
        .iter()
        .find(|r| r.kind == "Follow")
        .map(|r| r.id.clone())
        .unwrap_or_default();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{ben}#accepts/1"),
        "type": "Accept",
        "actor": ben,
        "object": follow_id,
    })
    .to_string();
    let inbox = Url::parse(&format!("{base}/inbox"))?;
    let headers = ben_signer.sign_post(&inbox, accept.as_bytes())?;
    support::post_signed(http, inbox.as_str(), headers, Bytes::from(accept)).await?;
    support::eventually(
        WAIT,
        Duration::from_millis(50),
        "ana to follow ben",
        || async {
            let r = support::expect_json(
                http.get(format!("{base}/api/v1/accounts/relationships?id[]={id}"))
                    .bearer_auth(token),
                reqwest::StatusCode::OK,
            )
            .await?;
            Ok((r[0]["following"] == Value::Bool(true)).then_some(()))
        },
    )
    .await?;
    support::quiet(state, WAIT).await?;
    Ok(id)
}

struct Measured {
    label: String,
    count: u64,
    seconds: f64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let n: usize = support::env_number("PEERPX_BENCH_ACTIVITIES", DEFAULT_ACTIVITIES)?;
    let verify_seconds: f64 =
        support::env_number("PEERPX_BENCH_VERIFY_SECONDS", DEFAULT_VERIFY_SECONDS)?;
    if n == 0 || verify_seconds <= 0.0 {
        return Err("PEERPX_BENCH_ACTIVITIES and PEERPX_BENCH_VERIFY_SECONDS must be > 0".into());
    }
    support::init_tracing();
    let db = support::NodeDb::from_env().await?;
    let result = run(n, verify_seconds, &db).await;
    db.drop_database().await?;
    result
}

async fn run(n: usize, verify_seconds: f64, db: &support::NodeDb) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "inbox bench: {n} signed Create activities per run, {}, {cores} cores",
        db.engine
    );

    let ben_key = peerpx_federation::keys::generate_blocking()
        .await
        .map_err(|e| format!("key: {e:?}"))?;
    let hosts = FakeHosts::start(1, &ben_key.public_pem).await?;
    let ben = hosts.actor(0, "ben");
    let ben_signer = Signer::new(format!("{ben}#main-key"), &ben_key.private_pem)?;

    let support::BenchNode {
        dir: _dir,
        node,
        state,
        base,
        http,
        token,
    } = support::node_with_ana(db, PASSWORD).await?;
    follow_ben(&state, &http, &base, &token, &hosts, &ben_signer).await?;
    let cached = peerpx_projections::accounts::by_key_id(&state.db, ben_signer.key_id())
        .await?
        .and_then(|a| a.public_key_pem);
    if cached.as_deref() != Some(ben_key.public_pem.as_str()) {
        return Err("ben's key is not cached in the accounts read model".into());
    }

    let inbox = Url::parse(&format!("{base}/inbox"))?;
    // Untimed: the first activities open connections and warm the caches.
    let warmup = sign_all(&ben_signer, &inbox, &ben, "warmup", WARMUP).await?;
    let sample = warmup.first().cloned().ok_or("no warm-up activity")?;
    post_all(&http, inbox.as_str(), warmup, 4).await?;
    support::quiet(&state, WAIT).await?;

    // The baselines, on the very first signature the node accepted.
    let (text, signature) = signing_input(inbox.path(), &sample.0)?;
    let (pem, owner) = (ben_key.public_pem.clone(), ben.clone());
    let path = inbox.path().to_string();
    let (raw, in_process) = tokio::task::spawn_blocking(move || -> Result<_> {
        let raw = rsa_rate(&pem, &text, &signature, verify_seconds)?;
        let node = node_verify_rate(&pem, &owner, &path, &sample.0, &sample.1, verify_seconds)?;
        Ok((raw, node))
    })
    .await??;
    let mut rows = vec![
        Measured {
            label: "raw RSA-2048 verify, rsa crate, 1 thread".into(),
            count: raw.0,
            seconds: raw.1,
        },
        Measured {
            label: "signatures::verify in-process, 1 thread".into(),
            count: in_process.0,
            seconds: in_process.1,
        },
    ];

    let documents = hosts.recorder.documents();
    for (run, in_flight) in [("seq", 1), ("par", 8)] {
        let started = Instant::now();
        let signed = sign_all(&ben_signer, &inbox, &ben, run, n).await?;
        let signing = started.elapsed().as_secs_f64();
        support::quiet(&state, WAIT).await?;
        let before = remote_statuses(&state).await?;
        let start = Instant::now();
        post_all(&http, inbox.as_str(), signed, in_flight).await?;
        let accepted = start.elapsed().as_secs_f64();
        support::quiet(&state, Duration::from_secs(600)).await?;
        let interpreted = start.elapsed().as_secs_f64();
        let added = remote_statuses(&state).await? - before;
        if usize::try_from(added)? != n {
            return Err(format!("{added} remote statuses added by {n} Creates").into());
        }
        println!(
            "run {run}: {n} activities signed beforehand in {signing:.2} s ({:.0}/s); \
             {added} remote statuses added",
            n as f64 / signing
        );
        let count = u64::try_from(n)?;
        rows.push(Measured {
            label: format!("inbox, {in_flight} in flight: accepted (202)"),
            count,
            seconds: accepted,
        });
        rows.push(Measured {
            label: format!("inbox, {in_flight} in flight: interpreted"),
            count,
            seconds: interpreted,
        });
    }
    if hosts.recorder.documents() != documents {
        return Err("the node fetched ben's actor document during the runs".into());
    }

    let raw_rate = rows[0].rate();
    let node_verify_rate = rows[1].rate();
    println!();
    println!(
        "{:<46} {:>8} {:>9} {:>10} {:>12} {:>12}",
        "what", "count", "seconds", "per s", "ratio/raw", "ratio/verify"
    );
    println!("{}", "-".repeat(102));
    for r in &rows {
        println!(
            "{:<46} {:>8} {:>9.3} {:>10.0} {:>12.4} {:>12.4}",
            r.label,
            r.count,
            r.seconds,
            r.rate(),
            r.rate() / raw_rate,
            r.rate() / node_verify_rate
        );
    }

    drop(hosts);
    node.shutdown()
        .await
        .map_err(|e| -> BoxError { format!("{e:#}").into() })?;
    Ok(())
}
