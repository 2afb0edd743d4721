//! IPFS storage: CIDs identical to an independent implementation (the JavaScript UnixFS
//! importer, with `ipfs add --cid-version=1` parameters), and the `/ipfs/{cid}` gateway over
//! real HTTP.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use peerpx_storage::{self as ipfs, unixfs::Discard, Cid, CHUNK_SIZE};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::harness::{data_file, Engine, TestNode};

const C: usize = CHUNK_SIZE;

/// Deterministic bytes (xorshift), different for each seed, written in pieces so large files
/// never sit in memory.
fn write_pseudo_random(path: &Path, len: usize, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut left = len;
    let mut piece = vec![0u8; 1 << 16];
    while left > 0 {
        let n = left.min(piece.len());
        for b in &mut piece[..n] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        file.write_all(&piece[..n]).expect("write");
        left -= n;
    }
    file.flush().expect("flush");
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bytes");
    write_pseudo_random(&path, len, seed);
    std::fs::read(path).expect("read")
}

/// tests/js, where the reference importer must be installed: a missing one fails the test
/// rather than skipping it, or the comparison would silently stop being made.
fn reference_importer() -> PathBuf {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        js.join("node_modules/ipfs-unixfs-importer").is_dir(),
        "the reference IPFS importer is not installed: run `npm ci --prefix tests/js` \
         (scripts/test does it before the tests)"
    );
    js
}

/// `<path> <cid>` lines from tests/js/cids.mjs.
fn reference_cids(js: &Path, paths: &[PathBuf]) -> HashMap<PathBuf, String> {
    let out = Command::new("node")
        .arg(js.join("cids.mjs"))
        .args(paths)
        .output()
        .expect("run `node` (Node.js is needed for the reference importer)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cids.mjs failed: {stderr}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let (path, cid) = line.rsplit_once(' ').expect("`<path> <cid>`");
            (PathBuf::from(path), cid.to_string())
        })
        .collect()
}

#[test]
fn cids_are_the_same_as_the_reference_importers() {
    let js = reference_importer();
    let dir = tempfile::tempdir().expect("temp dir");
    // Around the chunk size, several chunks, and more than 174 chunks (a second tree level).
    let sizes = [0, 1, C - 1, C, C + 1, 5 * C + 7, 175 * C + 1];
    let mut files = Vec::new();
    for (seed, size) in sizes.into_iter().enumerate() {
        let path = dir.path().join(format!("random-{size}.bin"));
        write_pseudo_random(&path, size, seed as u64);
        files.push(path);
    }
    files.push(data_file("astronaut-exif-gps.jpg"));
    files.push(data_file("coffee-alpha.png"));

    let reference = reference_cids(&js, &files);
    for path in &files {
        let file = std::fs::File::open(path).expect("open");
        let ours = ipfs::import_reader(BufReader::new(file), Discard).expect("import");
        let size = std::fs::metadata(path).expect("metadata").len();
        assert_eq!(ours.size, size);
        let theirs = reference.get(path).map(String::as_str);
        assert_eq!(Some(ours.root.to_string().as_str()), theirs, "{path:?}");
        eprintln!("{size:>10} bytes  {}  matches the reference", ours.root);
    }
}

async fn node_with(bytes: &[u8]) -> (TestNode, Cid) {
    let node = TestNode::start(Engine::Sqlite).await.expect("sqlite node");
    let imported = node.node().state.ipfs.import(bytes).await.expect("import");
    assert_eq!(imported.size, bytes.len() as u64);
    (node, imported.root)
}

/// A "JPEG" of four and a bit chunks: a real JPEG's magic bytes, then noise.
fn photo() -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0];
    bytes.extend(pseudo_random(4 * C + 1000, 42));
    bytes
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_the_file_with_ranges_and_head() {
    let bytes = photo();
    let (node, root) = node_with(&bytes).await;
    let url = node.url(&format!("/ipfs/{root}"));

    let r = node.http.get(&url).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(text(&h, header::CONTENT_TYPE), "image/jpeg");
    let cache = "public, max-age=29030400, immutable";
    assert_eq!(text(&h, header::CACHE_CONTROL), cache);
    assert_eq!(text(&h, header::ETAG), format!("\"{root}\""));
    assert_eq!(text(&h, header::ACCEPT_RANGES), "bytes");
    assert_eq!(text(&h, header::CONTENT_LENGTH), bytes.len().to_string());
    assert!(r.bytes().await.expect("body") == bytes);

    // A range across a leaf boundary, then a suffix range.
    let r = node
        .http
        .get(&url)
        .header(header::RANGE, format!("bytes={}-{}", C - 10, C + 9));
    let r = r.send().await.expect("range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    let expected = format!("bytes {}-{}/{}", C - 10, C + 9, bytes.len());
    assert_eq!(text(r.headers(), header::CONTENT_RANGE), expected);
    assert_eq!(text(r.headers(), header::CONTENT_LENGTH), "20");
    assert!(r.bytes().await.expect("body") == bytes[C - 10..C + 10]);
    let r = node
        .http
        .get(&url)
        .header(header::RANGE, "bytes=-100")
        .send()
        .await;
    let r = r.expect("suffix range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert!(r.bytes().await.expect("body") == bytes[bytes.len() - 100..]);

    let past_the_end = format!("bytes={}-", bytes.len());
    let r = node
        .http
        .get(&url)
        .header(header::RANGE, past_the_end)
        .send()
        .await;
    let r = r.expect("unsatisfiable range");
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let expected = format!("bytes */{}", bytes.len());
    assert_eq!(text(r.headers(), header::CONTENT_RANGE), expected);

    let r = node.http.head(&url).send().await.expect("head");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        text(r.headers(), header::CONTENT_LENGTH),
        bytes.len().to_string()
    );
    assert_eq!(text(r.headers(), header::CONTENT_TYPE), "image/jpeg");
    assert!(r.bytes().await.expect("body").is_empty());

    // A real photo: its type is recognised too.
    let png = std::fs::read(data_file("coffee-alpha.png")).expect("fixture");
    let cid = node
        .node()
        .state
        .ipfs
        .import(&png[..])
        .await
        .expect("import")
        .root;
    let r = node.get(&format!("/ipfs/{cid}"), None).await;
    assert_eq!(text(r.headers(), header::CONTENT_TYPE), "image/png");
    assert!(r.bytes().await.expect("body") == png);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_verifiable_raw_blocks() {
    let bytes = photo();
    let (node, root) = node_with(&bytes).await;

    let leaf = Cid::of_block(ipfs::cid::RAW, &bytes[..C]);
    let r = node.get(&format!("/ipfs/{leaf}?format=raw"), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        text(r.headers(), header::CONTENT_TYPE),
        "application/vnd.ipld.raw"
    );
    assert!(r.bytes().await.expect("body") == bytes[..C]);

    // The root block, asked for the way IPFS clients ask: with `Accept`.
    let r = node.http.get(node.url(&format!("/ipfs/{root}")));
    let r = r
        .header(header::ACCEPT, "application/vnd.ipld.raw")
        .send()
        .await;
    let r = r.expect("raw root");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        text(r.headers(), header::CONTENT_TYPE),
        "application/vnd.ipld.raw"
    );
    let block = r.bytes().await.expect("body");
    assert_eq!(Sha256::digest(&block).as_slice(), root.digest());
    assert_eq!(block[0], 0x12, "dag-pb links come first");
    node.stop().await;
}

fn varint(bytes: &[u8], at: &mut usize) -> usize {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

struct CarBlock {
    codec: usize,
    digest: Vec<u8>,
    data: Vec<u8>,
}

/// A minimal CARv1 reader: the header's bytes, then the blocks.
fn read_car(car: &[u8]) -> (Vec<u8>, Vec<CarBlock>) {
    let mut at = 0;
    let len = varint(car, &mut at);
    let header = car[at..at + len].to_vec();
    at += len;
    let mut blocks = Vec::new();
    while at < car.len() {
        let len = varint(car, &mut at);
        let end = at + len;
        assert_eq!(varint(car, &mut at), 1, "CIDv1");
        let codec = varint(car, &mut at);
        assert_eq!(varint(car, &mut at), 0x12, "sha2-256");
        assert_eq!(varint(car, &mut at), 32);
        let digest = car[at..at + 32].to_vec();
        let data = car[at + 32..end].to_vec();
        blocks.push(CarBlock {
            codec,
            digest,
            data,
        });
        at = end;
    }
    (header, blocks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_a_car_of_the_whole_dag() {
    let bytes = photo();
    let (node, root) = node_with(&bytes).await;

    let r = node.get(&format!("/ipfs/{root}?format=car"), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = text(r.headers(), header::CONTENT_TYPE).to_string();
    assert!(
        content_type.starts_with("application/vnd.ipld.car; version=1"),
        "{content_type}"
    );
    let car = r.bytes().await.expect("body");
    let (header, blocks) = read_car(&car);

    // dag-cbor {"roots": [tag 42 bytes(0x00 ++ cid)], "version": 1}
    let mut root_field = vec![0xd8, 0x2a, 0x58, 0x25, 0x00];
    root_field.extend(root.to_bytes());
    assert!(header.starts_with(b"\xa2\x65roots\x81"), "{header:x?}");
    assert!(header.windows(root_field.len()).any(|w| w == root_field));
    assert!(header.ends_with(b"\x67version\x01"));

    for block in &blocks {
        let hash = Sha256::digest(&block.data);
        assert_eq!(
            hash.as_slice(),
            &block.digest[..],
            "block hashes to its CID"
        );
    }
    assert_eq!(
        (blocks[0].codec, &blocks[0].digest[..]),
        (0x70, root.digest())
    );
    // Depth-first order: the root, then the leaves in file order.
    let leaves: Vec<u8> = blocks[1..].iter().flat_map(|b| b.data.clone()).collect();
    assert!(blocks[1..].iter().all(|b| b.codec == 0x55));
    assert!(leaves == bytes);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_bad_unknown_and_cached_requests() {
    let (node, root) = node_with(b"hello world\n").await;

    let r = node.get("/ipfs/not-a-cid", None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("json");
    let message = body["error"].as_str().expect("error");
    assert!(message.contains("invalid CID `not-a-cid`"), "{message}");

    let unknown = ipfs::cid_of(b"never stored").expect("cid");
    let r = node.get(&format!("/ipfs/{unknown}"), None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let url = node.url(&format!("/ipfs/{root}"));
    let r = node
        .http
        .get(&url)
        .header(header::IF_NONE_MATCH, format!("\"{root}\""));
    let r = r.send().await.expect("conditional get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(text(r.headers(), header::ETAG), format!("\"{root}\""));

    let r = node
        .get(&format!("/ipfs/{root}?format=dag-json"), None)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The trustless gateway spec's probe: the empty identity CID, as a raw block.
    let r = node.get("/ipfs/bafkqaaa?format=raw", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.expect("body").is_empty());
    node.stop().await;
}
