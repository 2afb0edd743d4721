//! Interoperability with Fedify (`@fedify/fedify` from npm, an ActivityPub implementation nobody
//! on this project wrote), over real HTTP on 127.0.0.1: Fedify finds our user by WebFinger, reads
//! our actor (a `Person` with its RSA key) and a photo post (a `Note` with `Image` attachments)
//! with its own vocabulary, its user follows ours, takes our `Accept` and then the `Create` of a
//! new photo post, both only after verifying our signatures.
//!
//! The Fedify side is tests/fedify/server.mjs, run with the Node 22 the `node` npm package
//! installs there (`npm ci --prefix tests/fedify`, done by scripts/test); it reports what it saw
//! as JSON lines on stdout. It finds our user by the actor URL rather than `acct:`, which Fedify
//! resolves over https only (see shared/INTEROP.md).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::harness::{eventually, expect_json, Engine, TestNode};
use crate::statuses::{follow, post, upload};

/// Fedify looks up, follows and gets answers well within this on an idle machine; a loaded
/// 2-core machine (a parallel build) needs the margin.
const WAIT: Duration = Duration::from_secs(60);
const AP: &str = "application/activity+json";

/// tests/fedify with Fedify and its Node 22 installed: a missing install fails the test rather
/// than skipping it, or the interoperability check would silently stop being made.
fn fedify_dir() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fedify");
    let node = dir.join("node_modules/node/bin/node");
    assert!(
        node.is_file() && dir.join("node_modules/@fedify/fedify").is_dir(),
        "Fedify or its Node 22 runtime is not installed in {}: run \
         `npm ci --prefix tests/fedify --no-audit --no-fund` (scripts/test does it before the \
         tests; it installs @fedify/fedify and the `node` package, which brings Node 22)",
        dir.display()
    );
    (dir, node)
}

/// The running Fedify server and everything it has reported so far.
struct Fedify {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl Fedify {
    fn spawn(actor: &str, note: &str) -> Self {
        let (dir, node) = fedify_dir();
        let mut child = Command::new(&node)
            .current_dir(&dir)
            .arg("server.mjs")
            .args(["--actor", actor, "--note", note, "--lifetime", "300"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", node.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        tokio::spawn(read_lines(stdout, move |line| {
            let v = serde_json::from_str(&line).unwrap_or_else(|_| json!({ "unparsed": line }));
            sink.lock().expect("lines").push(v);
        }));
        let errors = stderr.clone();
        tokio::spawn(read_lines(
            child.stderr.take().expect("stderr"),
            move |line| {
                let mut text = errors.lock().expect("stderr");
                text.push_str(&line);
                text.push('\n');
            },
        ));
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    /// Every line so far, and Fedify's own log, for failure messages.
    fn transcript(&self) -> String {
        let lines = self.lines.lock().expect("lines");
        let mut out: Vec<String> = lines.iter().map(Value::to_string).collect();
        out.push(format!(
            "--- stderr ---\n{}",
            self.stderr.lock().expect("stderr")
        ));
        out.join("\n")
    }

    fn all(&self, event: &str) -> Vec<Value> {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter(|v| v["event"] == event)
            .cloned()
            .collect()
    }

    /// The first `event` line for which `matches` holds, waiting for it up to [`WAIT`].
    async fn expect(&mut self, event: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(v) = self.all(event).into_iter().find(|v| matches(v)) {
                return v;
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                // Let the readers catch the last lines before showing them.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "Fedify never reported a matching {event:?} (exited: {exited:?}); its \
                     report:\n{}",
                    self.transcript()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Closes Fedify's standard input, on which it exits.
    async fn stop(mut self) {
        drop(self.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

async fn read_lines(from: impl AsyncRead + Unpin, mut each: impl FnMut(String)) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        each(line);
    }
}

/// An ActivityPub document of ours, as any peer gets it.
async fn ap(node: &TestNode, url: &str) -> Value {
    let r = node
        .http
        .get(url)
        .header(ACCEPT, AP)
        .send()
        .await
        .expect("request");
    expect_json(r, StatusCode::OK).await
}

/// The base64 body of a PEM block (what Fedify reports as its key's SPKI).
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// What Fedify parsed of a Note must be what we served: id, author, caption and each photo with
/// its alt text, type and size.
fn assert_note_parsed(parsed: &Value, served: &Value) {
    assert_eq!(parsed["isNote"], true, "{parsed}");
    assert_eq!(parsed["id"], served["id"]);
    assert_eq!(parsed["attributedTo"], served["attributedTo"]);
    assert_eq!(parsed["content"], served["content"]);
    assert_eq!(parsed["url"], served["url"]);
    assert_eq!(parsed["to"], served["to"]);
    assert_eq!(parsed["cc"], served["cc"]);
    let served_photos = served["attachment"].as_array().expect("attachments");
    let parsed_photos = parsed["attachments"].as_array().expect("attachments");
    assert!(!served_photos.is_empty());
    assert_eq!(parsed_photos.len(), served_photos.len(), "{parsed}");
    for (p, s) in parsed_photos.iter().zip(served_photos) {
        assert_eq!(p["isImage"], true, "{p}");
        assert_eq!(p["mediaType"], s["mediaType"]);
        assert_eq!(p["url"], s["url"]);
        assert_eq!(p["name"], s["name"]);
        assert_eq!(p["width"], s["width"]);
        assert_eq!(p["height"], s["height"]);
    }
}

/// The peerpx node with ana on it, the Fedify server, and what both sides are called.
struct Scene {
    node: TestNode,
    fedify: Fedify,
    ana_id: String,
    ana: String,
    /// `{base}/users/ana`, and the actor document we serve there.
    actor_url: String,
    our_actor: Value,
    /// Fedify's user who follows ana, and the one peerpx follows.
    fedify_actor: String,
    fern_actor: String,
    /// `fedi@127.0.0.1:PORT`
    fedify_acct: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_finds_follows_and_receives_a_verified_photo_post() {
    let started = std::time::Instant::now();
    // Fail before anything starts when Fedify is not installed.
    fedify_dir();
    let mut s = fedify_looks_up_ana_and_her_photo_post().await;
    fedify_follows_ana_and_takes_her_accept(&mut s).await;
    a_new_photo_post_reaches_fedify_verified(&mut s).await;
    a_peerpx_user_finds_and_follows_a_fedify_user(&mut s).await;

    // Nothing refused, nothing failed on Fedify's side.
    let Scene { node, fedify, .. } = s;
    assert_eq!(fedify.all("unverified"), Vec::<Value>::new());
    assert_eq!(
        fedify.all("error"),
        Vec::<Value>::new(),
        "{}",
        fedify.transcript()
    );
    eprintln!(
        "Fedify's report:\n{}\nfedify interop took {:.1}s",
        fedify.transcript(),
        started.elapsed().as_secs_f64()
    );
    fedify.stop().await;
    node.stop().await;
}

/// ana posts a photo; Fedify finds her by WebFinger and reads her actor and the post.
async fn fedify_looks_up_ana_and_her_photo_post() -> Scene {
    let node = TestNode::start_federated(Engine::Sqlite)
        .await
        .expect("SQLite needs no server");
    let (ana_id, ana) = node.user("ana").await;
    let profile = reqwest::multipart::Form::new().text("display_name", "Ana Lens");
    expect_json(node.patch_profile(&ana, profile).await, StatusCode::OK).await;
    let photo = upload(
        &node,
        &ana,
        "rocket.jpg",
        &[("description", "A rocket on its pad")],
    )
    .await;
    let first = post(
        &node,
        &ana,
        json!({"status": "Launch day #space", "media_ids": [photo["id"]]}),
    )
    .await;
    let actor_url = node.url("/users/ana");
    let note_url = str_of(&first, "uri").to_string();
    let our_actor = ap(&node, &actor_url).await;
    let our_note = ap(&node, &note_url).await;

    let mut fedify = Fedify::spawn(&actor_url, &note_url);
    let listening = fedify.expect("listening", |_| true).await;
    let fedify_actor = str_of(&listening, "actor").to_string();
    let fern_actor = str_of(&listening, "followed").to_string();
    let fedify_url = url::Url::parse(&fedify_actor).expect("url");
    let fedify_acct = format!(
        "fedi@{}:{}",
        fedify_url.host_str().expect("host"),
        fedify_url.port().expect("port")
    );

    // WebFinger, by the actor URL: the acct: handle and the actor link.
    let finger = fedify.expect("webfinger", |_| true).await;
    assert_eq!(
        finger["subject"],
        format!("acct:ana@{}", node.domain),
        "{}",
        fedify.transcript()
    );
    assert_eq!(finger["self"], actor_url);
    assert_eq!(finger["profile"], node.url("/@ana"));

    // The actor: a Person with its name, inbox and our RSA-2048 key.
    let actor = fedify.expect("actor", |_| true).await;
    assert_eq!(actor["isPerson"], true, "{actor}");
    assert_eq!(actor["id"], actor_url);
    assert_eq!(actor["preferredUsername"], "ana");
    assert_eq!(actor["name"], "Ana Lens");
    assert_eq!(actor["inbox"], format!("{actor_url}/inbox"));
    assert_eq!(actor["sharedInbox"], node.url("/inbox"));
    assert_eq!(actor["followers"], format!("{actor_url}/followers"));
    assert_eq!(actor["outbox"], format!("{actor_url}/outbox"));
    let key = &actor["publicKey"];
    assert_eq!(key["id"], our_actor["publicKey"]["id"], "{actor}");
    assert_eq!(key["owner"], actor_url);
    assert_eq!(key["algorithm"], "RSASSA-PKCS1-v1_5");
    assert_eq!(key["modulusLength"], 2048);
    let served_pem = str_of(&our_actor["publicKey"], "publicKeyPem");
    assert_eq!(
        BASE64.decode(str_of(key, "spki")).expect("base64"),
        BASE64.decode(pem_body(served_pem)).expect("base64"),
        "Fedify read the key we serve"
    );

    // The photo post: a Note with an Image attachment, its alt text and size.
    let note = fedify.expect("note", |_| true).await;
    assert_note_parsed(&note, &our_note);
    assert_eq!(note["attachments"][0]["name"], "A rocket on its pad");

    Scene {
        node,
        fedify,
        ana_id,
        ana,
        actor_url,
        our_actor,
        fedify_actor,
        fern_actor,
        fedify_acct,
    }
}

/// Whether a `verified` line is an inbox POST signed with ana's key that Fedify verified.
fn verified_as_ana(s: &Scene, v: &Value) -> bool {
    v["verified"] == true && v["keyId"] == s.our_actor["publicKey"]["id"]
}

/// Fedify's user follows ana: our node records the follow and answers Accept, which Fedify
/// verifies (draft-cavage, ana's key) before its listener sees it.
async fn fedify_follows_ana_and_takes_her_accept(s: &mut Scene) {
    let actor_url = s.actor_url.clone();
    let follow_sent = s.fedify.expect("follow_sent", |_| true).await;
    let follow_id = str_of(&follow_sent, "id").to_string();
    // Fedify knocks with an RFC 9421 signature first; we answer 401 (never 500), on which it
    // signs again with draft-cavage, which we take.
    let inbox = format!("{actor_url}/inbox");
    let posts: Vec<(Value, Value)> = s
        .fedify
        .all("sent")
        .into_iter()
        .filter(|v| v["method"] == "POST" && v["url"] == inbox.as_str())
        .map(|v| (v["signature"].clone(), v["status"].clone()))
        .collect();
    assert_eq!(
        posts,
        vec![
            (json!("rfc9421"), json!(401)),
            (json!("draft-cavage"), json!(202))
        ],
        "{}",
        s.fedify.transcript()
    );
    let accept = s
        .fedify
        .expect("accept", |v| v["object"] == follow_id.as_str())
        .await;
    assert_eq!(accept["actor"], actor_url, "{accept}");
    assert_eq!(accept["objectActor"], s.fedify_actor);
    assert_eq!(accept["objectObject"], actor_url);
    let key_id = s.our_actor["publicKey"]["id"].clone();
    let checked = s
        .fedify
        .expect("verified", |v| {
            v["verified"] == true && v["keyId"] == key_id
        })
        .await;
    assert_eq!(checked["owner"], actor_url);
    assert_eq!(checked["spec"], "draft-cavage");

    let followers_path = format!("/api/v1/accounts/{}/followers", s.ana_id);
    let (node, ana) = (&s.node, &s.ana);
    let followers = eventually(WAIT, "the Fedify user among ana's followers", || async {
        let list = expect_json(node.get(&followers_path, Some(ana)).await, StatusCode::OK).await;
        let list = list.as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(followers.len(), 1, "{followers:?}");
    assert_eq!(followers[0]["acct"], s.fedify_acct);
    assert_eq!(followers[0]["uri"], s.fedify_actor);
    assert_eq!(followers[0]["display_name"], "Fedify tester");
}

/// ana posts a new photo: it reaches the Fedify user as a Create of the Note, verified.
async fn a_new_photo_post_reaches_fedify_verified(s: &mut Scene) {
    let photo = upload(
        &s.node,
        &s.ana,
        "chelsea-orientation-6.jpg",
        &[("description", "A cat, upright")],
    )
    .await;
    let second = post(
        &s.node,
        &s.ana,
        json!({"status": "New photo for my followers", "media_ids": [photo["id"]]}),
    )
    .await;
    let second_uri = str_of(&second, "uri").to_string();
    let create = s
        .fedify
        .expect("create", |v| v["object"]["id"] == second_uri.as_str())
        .await;
    assert_eq!(create["actor"], s.actor_url, "{create}");
    let served = ap(&s.node, &second_uri).await;
    assert_note_parsed(&create["object"], &served);
    assert_eq!(create["object"]["attachments"][0]["name"], "A cat, upright");
    let checks = s.fedify.all("verified");
    assert!(
        checks.iter().filter(|v| verified_as_ana(s, v)).count() >= 2,
        "the Create's signature verified too: {checks:?}"
    );
}

/// The other way round: a peerpx user finds a Fedify user by WebFinger (acct: over http, as
/// our node speaks it in tests) and follows her; Fedify verifies our Follow and answers
/// Accept, which our node verifies and takes.
async fn a_peerpx_user_finds_and_follows_a_fedify_user(s: &mut Scene) {
    let (_, ben) = s.node.user("ben").await;
    let fern_acct = s.fedify_acct.replacen("fedi@", "fern@", 1);
    let search = format!("/api/v2/search?q=@{fern_acct}&resolve=true&type=accounts");
    let found = expect_json(s.node.get(&search, Some(&ben)).await, StatusCode::OK).await;
    let fern = &found["accounts"][0];
    assert_eq!(
        fern["acct"],
        fern_acct,
        "{found}\n{}",
        s.fedify.transcript()
    );
    assert_eq!(fern["uri"], s.fern_actor);
    assert_eq!(fern["display_name"], "Fern on Fedify");
    let fern_id = str_of(fern, "id").to_string();
    follow(&s.node, &ben, &fern_id).await;
    let ben_actor = s.node.url("/users/ben");
    let fern_actor = s.fern_actor.clone();
    s.fedify
        .expect("follow", |v| {
            v["actor"] == ben_actor.as_str() && v["object"] == fern_actor.as_str()
        })
        .await;
    s.fedify
        .expect("accept_sent", |v| v["to"] == ben_actor.as_str())
        .await;
    let relationship = format!("/api/v1/accounts/relationships?id[]={fern_id}");
    let node = &s.node;
    eventually(WAIT, "ben to follow fern once Fedify accepted", || async {
        let r = expect_json(node.get(&relationship, Some(&ben)).await, StatusCode::OK).await;
        (r[0]["following"] == true).then_some(())
    })
    .await;
}
