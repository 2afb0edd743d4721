//! `GET`/`HEAD /ipfs/{cid}`: an IPFS gateway for this node's blocks.
//!
//! By default the file itself (path gateway), with ranges, for browsers and apps. With
//! `?format=raw` / `Accept: application/vnd.ipld.raw` one block, and with `?format=car` /
//! `Accept: application/vnd.ipld.car` a CAR of the DAG (trustless gateway): what IPFS clients
//! such as `@helia/verified-fetch` ask for, since they can verify it. Content is immutable, so
//! every answer may be cached forever.

use std::collections::HashMap;
use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;

use crate::car::{CarOptions, CarStream};
use crate::cid::Cid;
use crate::store::BlockStore;

const IMMUTABLE: &str = "public, max-age=29030400, immutable";
const RAW_TYPE: &str = "application/vnd.ipld.raw";
const CAR_TYPE: &str = "application/vnd.ipld.car";

/// The response a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    File,
    Raw,
    Car(CarOptions),
}

impl Format {
    /// Each representation has its own tag, so a cached raw block never answers a file request.
    fn etag(self, cid: &Cid) -> String {
        match self {
            Self::File => format!("\"{cid}\""),
            Self::Raw => format!("\"{cid}.raw\""),
            Self::Car(o) => {
                let dups = if o.dups { "y" } else { "n" };
                let scope = if o.root_only { "block" } else { "all" };
                format!("\"{cid}.car.dfs.{dups}.{scope}\"")
            }
        }
    }
}

/// Why the gateway did not answer with content. The body is JSON in the Mastodon shape the
/// rest of the node answers with (`{"error": "…"}`); a server-side cause is logged here, once,
/// inside the request's span, and the client gets a generic message.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Record not found")]
    NotFound,
    #[error("internal error: {0}")]
    Internal(String),
}

impl GatewayError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NotFound => "not_found",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(%cause, "IPFS gateway request failed");
                "An internal error occurred; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        (
            self.status(),
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    }
}

type GatewayResult<T> = Result<T, GatewayError>;

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(message.into())
}

/// `GET` and `HEAD /ipfs/{cid}`, for any router state the block store can be taken from.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    BlockStore: FromRef<S>,
{
    Router::new().route("/ipfs/{cid}", get(serve).head(serve))
}

/// `?format=` wins over `Accept`, as the spec says; browsers' `Accept` gets the file.
fn negotiate(query: &HashMap<String, String>, headers: &HeaderMap) -> GatewayResult<Format> {
    let accepted = || {
        let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
        accept.split(',').find_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            match parts.next()? {
                RAW_TYPE => Some(("raw", Vec::new())),
                CAR_TYPE => Some(("car", parts.filter_map(|p| p.split_once('=')).collect())),
                _ => None,
            }
        })
    };
    let (format, params) = match query.get("format").map(String::as_str) {
        Some(format) => (format, Vec::new()),
        None => accepted().unwrap_or(("", Vec::new())),
    };
    match format {
        "" => Ok(Format::File),
        "raw" => Ok(Format::Raw),
        "car" => car_options(query, &params).map(Format::Car),
        other => Err(bad(format!(
            "unsupported format `{other}`: this gateway serves `raw` and `car`"
        ))),
    }
}

/// CAR parameters from the query (`car-version`, `car-order`, `car-dups`, `dag-scope`), else
/// from the `Accept` media type's parameters.
fn car_options(
    query: &HashMap<String, String>,
    params: &[(&str, &str)],
) -> GatewayResult<CarOptions> {
    let param = |name: &str| {
        query
            .get(&format!("car-{name}"))
            .map(|v| v.as_str())
            .or_else(|| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    };
    if !matches!(param("version"), None | Some("1")) {
        return Err(bad("only CAR version 1 is served"));
    }
    if !matches!(param("order"), None | Some("dfs" | "unk")) {
        return Err(bad("only CAR order `dfs` is served"));
    }
    let dups = match param("dups") {
        None | Some("n") => false,
        Some("y") => true,
        Some(other) => return Err(bad(format!("CAR dups must be `y` or `n`, not `{other}`"))),
    };
    let root_only = match query.get("dag-scope").map(String::as_str) {
        None | Some("all" | "entity") => false,
        Some("block") => true,
        Some(other) => return Err(bad(format!("unsupported dag-scope `{other}`"))),
    };
    Ok(CarOptions { dups, root_only })
}

/// Runs blocking store work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> GatewayResult<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidInput => Err(bad(format!(
            "{e}: ask for the block or the DAG with ?format=raw or ?format=car"
        ))),
        Ok(Err(e)) => Err(GatewayError::internal(e)),
        Err(e) => Err(GatewayError::internal(e)),
    }
}

/// A body fed by a blocking iterator (a DAG walk), a few pieces ahead of the client. The walk
/// stops when the client goes away; a failure mid-way aborts the response, so a client never
/// takes a truncated file for a whole one.
fn stream<I>(pieces: I) -> Body
where
    I: Iterator<Item = io::Result<Vec<u8>>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        for piece in pieces {
            if let Err(e) = &piece {
                tracing::error!(error = %e, "IPFS gateway stream failed");
            }
            if tx.blocking_send(piece.map(Bytes::from)).is_err() {
                break;
            }
        }
    });
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    }))
}

fn set(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// Headers every answer about `cid` carries. `nosniff` because these are other people's
/// uploads served from this node's origin: a browser must not guess HTML out of them.
fn respond(status: StatusCode, body: Body, cid: &Cid, etag: &str) -> Response {
    let mut response = (status, body).into_response();
    set(&mut response, header::CACHE_CONTROL, IMMUTABLE);
    set(&mut response, header::ETAG, etag);
    set(&mut response, header::VARY, "Accept");
    set(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut response, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    set(
        &mut response,
        HeaderName::from_static("x-ipfs-path"),
        &format!("/ipfs/{cid}"),
    );
    response
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// `GET /ipfs/{cid}` and `HEAD /ipfs/{cid}`.
async fn serve(
    State(store): State<BlockStore>,
    method: Method,
    UrlPath(text): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GatewayResult<Response> {
    let cid = Cid::parse(&text).map_err(|e| bad(format!("invalid CID `{text}`: {e}")))?;
    let format = negotiate(&query, &headers)?;
    let (s, c) = (store.clone(), cid.clone());
    if !blocking(move || Ok(s.has(&c))).await? {
        return Err(GatewayError::NotFound);
    }
    let etag = format.etag(&cid);
    if matches_etag(&headers, &etag) {
        return Ok(respond(
            StatusCode::NOT_MODIFIED,
            Body::empty(),
            &cid,
            &etag,
        ));
    }
    let head = method == Method::HEAD;
    match format {
        Format::Raw => raw(store, cid, &etag, head).await,
        Format::Car(options) => Ok(car(store, cid, &etag, options, head)),
        Format::File => file(store, cid, &etag, &headers, head).await,
    }
}

fn attachment(response: &mut Response, cid: &Cid, ext: &str) {
    let value = format!("attachment; filename=\"{cid}.{ext}\"");
    set(response, header::CONTENT_DISPOSITION, &value);
}

async fn raw(store: BlockStore, cid: Cid, etag: &str, head: bool) -> GatewayResult<Response> {
    let c = cid.clone();
    let block = blocking(move || store.require(&c)).await?;
    let len = block.len();
    let body = if head {
        Body::empty()
    } else {
        Body::from(block)
    };
    let mut response = respond(StatusCode::OK, body, &cid, etag);
    set(&mut response, header::CONTENT_TYPE, RAW_TYPE);
    set(&mut response, header::CONTENT_LENGTH, &len.to_string());
    attachment(&mut response, &cid, "bin");
    Ok(response)
}

fn car(store: BlockStore, cid: Cid, etag: &str, options: CarOptions, head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        stream(CarStream::new(store, cid.clone(), options))
    };
    let mut response = respond(StatusCode::OK, body, &cid, etag);
    let dups = if options.dups { "y" } else { "n" };
    let content_type = format!("{CAR_TYPE}; version=1; order=dfs; dups={dups}");
    set(&mut response, header::CONTENT_TYPE, &content_type);
    attachment(&mut response, &cid, "car");
    response
}

/// What the first bytes of a file say it is; photos are all this node serves in practice.
fn sniff(first: &[u8]) -> &'static str {
    match first {
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', ..] => "image/png",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => "image/gif",
        _ => "application/octet-stream",
    }
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range; anything else (several ranges, bad syntax) is ignored, which RFC 9110
/// allows: the client gets the whole file.
fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |n: &str| n.parse::<u64>().ok();
    let (start, end) = match (parse(first), parse(last)) {
        (Some(a), Some(b)) if a <= b => (a, b.saturating_add(1).min(size)),
        (Some(a), None) if last.is_empty() => (a, size),
        (None, Some(n)) if first.is_empty() => (size.saturating_sub(n), size),
        _ => return Wanted::Whole,
    };
    if start >= end {
        Wanted::Unsatisfiable
    } else {
        Wanted::Part(start, end)
    }
}

async fn file(
    store: BlockStore,
    cid: Cid,
    etag: &str,
    headers: &HeaderMap,
    head: bool,
) -> GatewayResult<Response> {
    let (s, c) = (store.clone(), cid.clone());
    let (size, content_type) = blocking(move || {
        let size = s.file_size(&c)?;
        let first = s
            .read_file(&c, 0..16)
            .collect::<io::Result<Vec<_>>>()?
            .concat();
        Ok((size, sniff(&first)))
    })
    .await?;
    let if_range = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok());
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = if if_range.is_some_and(|tag| tag != etag) {
        None
    } else {
        range
    };
    let (status, start, end) = match wanted(range, size) {
        Wanted::Whole => (StatusCode::OK, 0, size),
        Wanted::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end),
        Wanted::Unsatisfiable => {
            let mut response =
                respond(StatusCode::RANGE_NOT_SATISFIABLE, Body::empty(), &cid, etag);
            set(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            return Ok(response);
        }
    };
    let body = if head {
        Body::empty()
    } else {
        stream(store.read_file(&cid, start..end))
    };
    let mut response = respond(status, body, &cid, etag);
    set(&mut response, header::CONTENT_TYPE, content_type);
    set(
        &mut response,
        header::CONTENT_LENGTH,
        &(end - start).to_string(),
    );
    set(&mut response, header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{size}", end - 1);
        set(&mut response, header::CONTENT_RANGE, &value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        let r = |s: &str| wanted(Some(s), 100);
        assert_eq!(r("bytes=0-9"), Wanted::Part(0, 10));
        assert_eq!(r("bytes=90-"), Wanted::Part(90, 100));
        assert_eq!(r("bytes=-10"), Wanted::Part(90, 100));
        assert_eq!(r("bytes=-1000"), Wanted::Part(0, 100));
        assert_eq!(r("bytes=95-1000"), Wanted::Part(95, 100));
        assert_eq!(r("bytes=100-"), Wanted::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Wanted::Unsatisfiable);
        assert_eq!(r("bytes=5-2"), Wanted::Whole);
        assert_eq!(r("bytes=0-1,5-6"), Wanted::Whole);
        assert_eq!(r("items=0-1"), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);
    }

    #[test]
    fn format_wins_over_accept_and_car_parameters_are_honoured() {
        let query = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            headers
        };
        let car = |dups, root_only| Format::Car(CarOptions { dups, root_only });
        let browser = accept("text/html,application/xhtml+xml,*/*;q=0.8");
        let ipld_car = accept("application/vnd.ipld.car; version=1; order=dfs; dups=y");
        let ok = |q: &[(&str, &str)], h: &HeaderMap| negotiate(&query(q), h).ok();
        assert_eq!(ok(&[], &browser), Some(Format::File));
        assert_eq!(ok(&[], &ipld_car), Some(car(true, false)));
        assert_eq!(ok(&[("format", "raw")], &ipld_car), Some(Format::Raw));
        let scoped = [("format", "car"), ("dag-scope", "block")];
        assert_eq!(ok(&scoped, &browser), Some(car(false, true)));
        assert_eq!(
            ok(&[("format", "car"), ("car-version", "2")], &browser),
            None
        );
        assert_eq!(ok(&[], &accept("application/vnd.ipld.car;version=2")), None);
    }

    #[test]
    fn photos_are_recognised_by_their_first_bytes() {
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(sniff(b"<html>"), "application/octet-stream");
    }
}
