//! HTTP signatures and the safe fetcher over real HTTP: a small axum server on 127.0.0.1 checks
//! what `federation::fetch` sends with `federation::signatures::verify`, and serves redirects,
//! oversized and slow bodies to show the fetcher's refusals and limits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use peerpx_federation::fetch::{FetchConfig, FetchError, Fetcher};
use peerpx_federation::keys;
use peerpx_federation::signatures::{self, ResolvedKey, Signer, ACCEPT_ACTIVITY};
use serde_json::json;
use tokio::net::TcpListener;

const OWNER: &str = "https://remote.example/users/ana";
const KEY_ID: &str = "https://remote.example/users/ana#main-key";
const ACTIVITY: &[u8] = br#"{"type":"Follow","actor":"https://remote.example/users/ana"}"#;

#[derive(Clone)]
struct Peer {
    addr: SocketAddr,
    /// The public key the server trusts for `KEY_ID`.
    public_pem: Arc<String>,
    hits: Arc<AtomicUsize>,
}

impl Peer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<signatures::Verified, signatures::VerifyError> {
        let pem = self.public_pem.clone();
        let keys = move |key_id: String, _refresh: bool| {
            let answer = if key_id == KEY_ID {
                Ok(ResolvedKey {
                    public_key_pem: pem.to_string(),
                    owner: OWNER.to_string(),
                    cached: false,
                })
            } else {
                Err(format!("unknown key {key_id}"))
            };
            async move { answer }
        };
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        signatures::verify(method, target, headers, body, &keys).await
    }
}

async fn count(State(peer): State<Peer>, request: Request, next: Next) -> Response {
    peer.hits.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn inbox(
    State(peer): State<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match peer.verify(&method, &uri, &headers, &body).await {
        Ok(v) => (StatusCode::ACCEPTED, Json(json!({ "signedBy": v.owner }))).into_response(),
        Err(e) => peerpx_federation::Error::from(e).into_response(),
    }
}

/// An actor document served only to signed requests (authorized fetch).
async fn actor(State(peer): State<Peer>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    match peer.verify(&method, &uri, &headers, b"").await {
        Ok(v) => Json(json!({
            "id": peer.url("/actor"),
            "signedBy": v.owner,
            "accept": headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()),
        }))
        .into_response(),
        Err(e) => peerpx_federation::Error::from(e).into_response(),
    }
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// A body of `size` bytes in 64 KiB chunks, without a Content-Length.
fn streamed(size: usize) -> Response {
    let chunks =
        (0..size.div_ceil(65536)).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 65536])));
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

/// Headers and a first chunk at once, the rest five seconds later.
fn slow() -> Response {
    let stream = futures::stream::unfold(0, |n| async move {
        match n {
            0 => Some((Ok::<_, std::io::Error>(Bytes::from_static(b"{\"a\":")), 1)),
            1 => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Some((Ok(Bytes::from_static(b"1}")), 2))
            }
            _ => None,
        }
    });
    Body::from_stream(stream).into_response()
}

async fn start_peer(public_pem: &str) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let peer = Peer {
        addr,
        public_pem: Arc::new(public_pem.to_string()),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let port = addr.port();
    let app = Router::new()
        .route("/inbox", post(inbox))
        .route("/actor", get(actor))
        .route("/doc", get(|| async { Json(json!({ "id": "doc" })) }))
        .route("/to-doc", get(|| async { redirect("/doc".into()) }))
        .route("/to-actor", get(|| async { redirect("/actor".into()) }))
        .route(
            "/to-loopback",
            get(move || async move { redirect(format!("http://127.0.0.1:{port}/doc")) }),
        )
        .route(
            "/to-localhost",
            get(move || async move { redirect(format!("http://localhost:{port}/doc")) }),
        )
        .route(
            "/to-file",
            get(|| async { redirect("file:///etc/passwd".into()) }),
        )
        .route("/loop", get(|| async { redirect("/loop".into()) }))
        .route("/big", get(|| async { vec![b' '; 2 * 1024 * 1024] }))
        .route("/big-stream", get(|| async { streamed(2 * 1024 * 1024) }))
        .route("/slow", get(|| async { slow() }))
        .layer(middleware::from_fn_with_state(peer.clone(), count))
        .with_state(peer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    peer
}

/// Two actor key pairs, from the node's own generator.
async fn key_pairs() -> [(String, String); 2] {
    tokio::task::spawn_blocking(|| {
        let a = keys::generate().expect("key");
        let b = keys::generate().expect("key");
        [(a.private_pem, a.public_pem), (b.private_pem, b.public_pem)]
    })
    .await
    .expect("keygen thread")
}

fn fetcher(allow_http: bool, allow_private_addresses: bool) -> Fetcher {
    Fetcher::new(FetchConfig {
        allow_http,
        allow_private_addresses,
        timeout: Duration::from_secs(2),
        ..FetchConfig::new("peerpx-test")
    })
    .expect("fetcher")
}

fn reason(result: Result<impl std::fmt::Debug, FetchError>) -> String {
    match result {
        Err(FetchError::Refused { reason }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn signed_gets_and_posts_verify_on_a_real_server() {
    let [(private, public), (other_private, _)] = key_pairs().await;
    let peer = start_peer(&public).await;
    let signer = Signer::new(KEY_ID, &private).expect("signer");
    let fetch = fetcher(true, true);

    let fetched = fetch
        .get_json(&peer.url("/actor?page=1"), ACCEPT_ACTIVITY, Some(&signer))
        .await
        .expect("signed GET");
    assert_eq!(fetched.json["signedBy"], OWNER);
    assert_eq!(fetched.json["accept"], ACCEPT_ACTIVITY);
    assert!(matches!(
        fetch
            .get_json(&peer.url("/actor"), ACCEPT_ACTIVITY, None)
            .await,
        Err(FetchError::Status(401))
    ));

    let inbox = url::Url::parse(&peer.url("/inbox")).expect("url");
    let status = fetch
        .post_activity(&inbox, ACTIVITY, &signer)
        .await
        .expect("signed POST");
    assert_eq!(status, 202);
    // The same keyId with another key: the server's key does not verify it.
    let impostor = Signer::new(KEY_ID, &other_private).expect("signer");
    assert!(matches!(
        fetch.post_activity(&inbox, ACTIVITY, &impostor).await,
        Err(FetchError::Status(401))
    ));
}

#[tokio::test]
async fn refusals_reach_the_client_as_401_with_a_reason() {
    let [(private, public), _] = key_pairs().await;
    let peer = start_peer(&public).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let inbox = url::Url::parse(&peer.url("/inbox")).expect("url");
    let signed = Signer::new(KEY_ID, &private)
        .expect("signer")
        .sign_post(&inbox, ACTIVITY)
        .expect("sign");

    // A body changed after signing.
    let response = http
        .post(inbox.clone())
        .headers(signed.clone())
        .body(&b"{\"type\":\"Delete\"}"[..])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(
        body["error"].as_str().expect("error").contains("Digest"),
        "{body}"
    );

    // An RFC 9421 signature, as Fedify sends first: refused with a 401 so it falls back.
    let mut rfc9421 = signed.clone();
    rfc9421.insert(
        "signature-input",
        "sig1=(\"@method\" \"@target-uri\");created=1;keyid=\"k\""
            .parse()
            .expect("value"),
    );
    let response = http
        .post(inbox.clone())
        .headers(rfc9421)
        .body(ACTIVITY)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body["error"],
        "RFC 9421 signatures are not supported; use draft-cavage"
    );

    // The untouched request verifies.
    let response = http
        .post(inbox)
        .headers(signed)
        .body(ACTIVITY)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn redirects_are_followed_resigned_and_each_hop_rechecked() {
    let [(private, public), _] = key_pairs().await;
    let peer = start_peer(&public).await;
    // peer.test is pinned to the server; every other private address stays refused.
    let fetch = Fetcher::new(FetchConfig {
        allow_http: true,
        allow_private_addresses: false,
        pinned_hosts: vec![("peer.test".into(), peer.addr)],
        ..FetchConfig::new("peerpx-test")
    })
    .expect("fetcher");
    let at = |path: &str| format!("http://peer.test:{}{path}", peer.addr.port());

    let fetched = fetch
        .get_json(&at("/to-doc"), ACCEPT_ACTIVITY, None)
        .await
        .expect("redirected GET");
    assert_eq!(fetched.json["id"], "doc");
    assert_eq!(fetched.url.path(), "/doc");

    // The signature is made again for the redirect's target.
    let signer = Signer::new(KEY_ID, &private).expect("signer");
    let fetched = fetch
        .get_json(&at("/to-actor"), ACCEPT_ACTIVITY, Some(&signer))
        .await
        .expect("redirected signed GET");
    assert_eq!(fetched.json["signedBy"], OWNER);

    let before = peer.hits();
    let refused = reason(
        fetch
            .get_json(&at("/to-loopback"), ACCEPT_ACTIVITY, None)
            .await,
    );
    assert!(refused.contains("loopback"), "{refused}");
    let refused = reason(
        fetch
            .get_json(&at("/to-localhost"), ACCEPT_ACTIVITY, None)
            .await,
    );
    assert!(refused.contains("loopback"), "{refused}");
    let refused = reason(fetch.get_json(&at("/to-file"), ACCEPT_ACTIVITY, None).await);
    assert!(refused.contains("not http(s)"), "{refused}");
    // Only the three redirecting requests arrived: no refused hop was requested.
    assert_eq!(peer.hits(), before + 3);

    let refused = reason(fetch.get_json(&at("/loop"), ACCEPT_ACTIVITY, None).await);
    assert!(refused.contains("more than 5 redirects"), "{refused}");
}

#[tokio::test]
async fn oversized_documents_are_cut_off() {
    let peer = start_peer("unused").await;
    let fetch = fetcher(true, true);
    for path in ["/big", "/big-stream"] {
        let result = fetch.get_json(&peer.url(path), ACCEPT_ACTIVITY, None).await;
        assert!(
            matches!(result, Err(FetchError::TooLarge { limit: 1_048_576 })),
            "{path}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_slow_body_times_out() {
    let peer = start_peer("unused").await;
    let fetch = fetcher(true, true);
    let started = Instant::now();
    let result = fetch
        .get_json(&peer.url("/slow"), ACCEPT_ACTIVITY, None)
        .await;
    assert!(matches!(result, Err(FetchError::Timeout)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn plain_http_is_refused_without_allow_http() {
    let [(private, public), _] = key_pairs().await;
    let peer = start_peer(&public).await;
    let fetch = fetcher(false, true);
    let refused = reason(
        fetch
            .get_json(&peer.url("/doc"), ACCEPT_ACTIVITY, None)
            .await,
    );
    assert!(refused.contains("plain http"), "{refused}");
    let signer = Signer::new(KEY_ID, &private).expect("signer");
    let inbox = url::Url::parse(&peer.url("/inbox")).expect("url");
    let refused = reason(fetch.post_activity(&inbox, ACTIVITY, &signer).await);
    assert!(refused.contains("plain http"), "{refused}");
    assert_eq!(peer.hits(), 0, "a refused URL was requested");
}

#[tokio::test]
async fn private_addresses_are_refused_without_allow_private_addresses() {
    let [(private, public), _] = key_pairs().await;
    let peer = start_peer(&public).await;
    let fetch = fetcher(true, false);
    let port = peer.addr.port();
    for target in [
        format!("http://127.0.0.1:{port}/doc"),
        format!("http://localhost:{port}/doc"),
        format!("http://[::1]:{port}/doc"),
        format!("http://[::ffff:127.0.0.1]:{port}/doc"),
    ] {
        let refused = reason(fetch.get_json(&target, ACCEPT_ACTIVITY, None).await);
        assert!(refused.contains("loopback"), "{target}: {refused}");
    }
    let signer = Signer::new(KEY_ID, &private).expect("signer");
    let inbox = url::Url::parse(&peer.url("/inbox")).expect("url");
    let refused = reason(fetch.post_activity(&inbox, ACTIVITY, &signer).await);
    assert!(refused.contains("loopback"), "{refused}");
    assert_eq!(peer.hits(), 0, "a refused address was requested");
}

// bovine (PyPI), a third-party ActivityPub library, checks our signatures and signs for ours.

const BOVINE_INSTALL: &str = "python3 -m pip install -r tests/python/requirements.txt";

/// Runs `python3 tests/python/bovine_signatures.py args…` with `input` on standard input.
async fn bovine(args: &[&str], input: String) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .arg("tests/python/bovine_signatures.py")
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 could not be started ({e}); install Python 3"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("python3 output")
    })
    .await
    .expect("python3 thread")
}

fn show(output: &std::process::Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Fails (never skips) when bovine is missing, saying how to install it.
async fn require_bovine() {
    let output = tokio::task::spawn_blocking(|| {
        std::process::Command::new("python3")
            .args(["-c", "import bovine"])
            .output()
    })
    .await
    .expect("python3 thread")
    .unwrap_or_else(|e| panic!("python3 could not be started ({e}); install Python 3"));
    assert!(
        output.status.success(),
        "bovine is not installed for python3; run `{BOVINE_INSTALL}` (scripts/test does)\n{}",
        show(&output)
    );
}

/// A request we signed, as the JSON `bovine_signatures.py verify` reads.
fn for_bovine(method: &str, url: &str, headers: &HeaderMap, body: &str, public: &str) -> String {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().expect("text header"))))
        .collect();
    json!({
        "method": method,
        "url": url,
        "headers": headers,
        "body": body,
        "public_pem": public,
        "owner": OWNER,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bovine_verifies_our_signed_post_and_get() {
    require_bovine().await;
    let [(private, public), _] = key_pairs().await;
    let signer = Signer::new(KEY_ID, &private).expect("signer");
    let body = std::str::from_utf8(ACTIVITY).expect("utf-8");

    let inbox = "https://peer.example/users/bob/inbox";
    let headers = signer
        .sign_post(&url::Url::parse(inbox).expect("url"), ACTIVITY)
        .expect("sign");
    let output = bovine(
        &["verify"],
        for_bovine("POST", inbox, &headers, body, &public),
    )
    .await;
    assert!(
        output.status.success(),
        "bovine refused our POST\n{}",
        show(&output)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), OWNER);

    let actor = "https://peer.example/users/bob";
    let headers = signer
        .sign_get(&url::Url::parse(actor).expect("url"))
        .expect("sign");
    let output = bovine(&["verify"], for_bovine("GET", actor, &headers, "", &public)).await;
    assert!(
        output.status.success(),
        "bovine refused our GET\n{}",
        show(&output)
    );

    // Control: bovine does refuse a POST whose body changed after signing.
    let headers = signer
        .sign_post(&url::Url::parse(inbox).expect("url"), ACTIVITY)
        .expect("sign");
    let forged = body.replace("Follow", "Block");
    let output = bovine(
        &["verify"],
        for_bovine("POST", inbox, &headers, &forged, &public),
    )
    .await;
    assert!(
        !output.status.success(),
        "bovine accepted a forged body\n{}",
        show(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bovine_signed_requests_verify_with_ours() {
    require_bovine().await;
    let [(private, public), _] = key_pairs().await;
    let peer = start_peer(&public).await;
    let base = format!("http://{}", peer.addr);
    let output = bovine(&["send", &base, KEY_ID], private).await;
    assert!(
        output.status.success(),
        "the bovine client failed\n{}",
        show(&output)
    );
    let answers: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&output)));
    // bovine's POST: `Digest: sha-256=…` in lowercase, content-type signed too.
    assert_eq!(answers["post"][0], 202, "{answers}");
    let post: serde_json::Value =
        serde_json::from_str(answers["post"][1].as_str().expect("body")).expect("json");
    assert_eq!(post["signedBy"], OWNER);
    // bovine's GET signs `accept` as well.
    assert_eq!(answers["get"][0], 200, "{answers}");
    let get: serde_json::Value =
        serde_json::from_str(answers["get"][1].as_str().expect("body")).expect("json");
    assert_eq!(get["signedBy"], OWNER);
}
