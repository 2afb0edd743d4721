//! HTTP Signatures (draft-cavage-http-signatures, as Mastodon speaks it) for ActivityPub.
//!
//! Outgoing requests are signed with `rsa-sha256`: POSTs over `(request-target) host date digest`
//! (with `Digest: SHA-256=…` of the body), GETs over `(request-target) host date`. Incoming requests
//! are checked the way Mastodon checks draft-cavage signatures (`SignedRequest` in its source), so
//! that what Mastodon accepts we accept (SHA-512 digests too) and our 401 reasons read alike: `hs2019` is taken as RSA-SHA256, the algorithm and header list have Mastodon's defaults,
//! the date window is Mastodon's (see [`CLOCK_SKEW_MARGIN`]), and a signature whose
//! `(request-target)` left out the query string still verifies (older Mastodons sign that way).
//! RFC 9421 signatures (`Signature-Input`) are refused with a 401 that says so: Fedify then retries
//! with draft-cavage. (bovine's verifier leaves the query out of `(request-target)` while we,
//! like Mastodon, sign it: a signed GET of a URL with a query does not verify at bovine.)
//!
//! The RSA work and the PEM keys are `sigh`'s (OpenSSL). `sigh` itself signs only a fixed header
//! list (`(request-target) host date digest content-type`, unusable for a GET), maps `hs2019` to
//! Ed25519, and checks neither the date, the digest nor which headers are covered; so the Signature
//! header, the signing string and those checks are written here and `sigh` is used for
//! [`sigh::alg::RsaSha256`]'s sign and verify on the string.
//!
//! Cost: RSA-2048 signs about 2.3 k times a second per core on this project's machines (an idle
//! core reaches ~5 k/s in `openssl speed rsa2048`; verification ~80 k/s), so callers sign once
//! per activity per host, never once per recipient.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderValue, Method};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256, Sha512};
use sigh::alg::{Algorithm as _, RsaSha256};
use sigh::{Key as _, PrivateKey, PublicKey};
use url::Url;

/// The media type of activities we send.
pub const ACTIVITY_JSON: &str = "application/activity+json";
/// What we ask for when fetching an ActivityPub document.
pub const ACCEPT_ACTIVITY: &str =
    "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// How far ahead of our clock a signature may be dated, and how long past its expiry it is still
/// taken (Mastodon's `CLOCK_SKEW_MARGIN`).
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(60 * 60);
/// How long a signature without an `expires` parameter is valid after its date (Mastodon: 5
/// minutes). With the skew margin, a `Date`-signed request is accepted up to 65 minutes old.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(5 * 60);
/// The longest validity an `expires` parameter can claim (Mastodon's `EXPIRATION_WINDOW_LIMIT`).
pub const EXPIRATION_WINDOW_LIMIT: Duration = Duration::from_secs(12 * 60 * 60);

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    #[error("cannot sign a request to {url}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("signing failed: {0}")]
    Crypto(String),
}

/// A private key and the `keyId` that names its public half (`https://host/users/ana#main-key`).
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    key: PrivateKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads a PEM private key (PKCS#8 or PKCS#1).
    pub fn new(key_id: impl Into<String>, private_key_pem: &str) -> Result<Self, SignError> {
        let key = PrivateKey::from_pem(private_key_pem.as_bytes())
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        if key.0.rsa().is_err() {
            return Err(SignError::InvalidKey("not an RSA key".into()));
        }
        Ok(Self {
            key_id: key_id.into(),
            key,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Headers for POSTing `body` to `url`: Host, Date, Digest, Content-Type and Signature.
    pub fn sign_post(&self, url: &Url, body: &[u8]) -> Result<HeaderMap, SignError> {
        self.sign_post_at(url, body, SystemTime::now())
    }

    /// [`Signer::sign_post`] with the given clock reading.
    pub fn sign_post_at(
        &self,
        url: &Url,
        body: &[u8],
        now: SystemTime,
    ) -> Result<HeaderMap, SignError> {
        let mut headers = base_headers(url, now)?;
        headers.insert("digest", header_value(&digest_header(body))?);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ACTIVITY_JSON),
        );
        self.sign(&Method::POST, url, headers, &["host", "date", "digest"])
    }

    /// Headers for GETting `url`: Host, Date, Accept and Signature (authorized fetch).
    pub fn sign_get(&self, url: &Url) -> Result<HeaderMap, SignError> {
        self.sign_get_at(url, SystemTime::now())
    }

    /// [`Signer::sign_get`] with the given clock reading.
    pub fn sign_get_at(&self, url: &Url, now: SystemTime) -> Result<HeaderMap, SignError> {
        let mut headers = base_headers(url, now)?;
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_ACTIVITY));
        self.sign(&Method::GET, url, headers, &["host", "date"])
    }

    fn sign(
        &self,
        method: &Method,
        url: &Url,
        mut headers: HeaderMap,
        covered: &[&str],
    ) -> Result<HeaderMap, SignError> {
        let mut lines = vec![format!(
            "(request-target): {} {}",
            method.as_str().to_ascii_lowercase(),
            request_target(url)
        )];
        for name in covered {
            let value = headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            lines.push(format!("{name}: {value}"));
        }
        let signature = RsaSha256
            .sign(&self.key, lines.join("\n").as_bytes())
            .map_err(|e| SignError::Crypto(e.to_string()))?;
        let value = format!(
            "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"(request-target) {}\",signature=\"{}\"",
            self.key_id,
            covered.join(" "),
            BASE64.encode(signature)
        );
        headers.insert("signature", header_value(&value)?);
        Ok(headers)
    }
}

/// Signs a POST of `body` to `url` with the PEM key `private_key_pem` named `key_id`.
pub fn sign_post(
    key_id: &str,
    private_key_pem: &str,
    url: &str,
    body: &[u8],
) -> Result<HeaderMap, SignError> {
    Signer::new(key_id, private_key_pem)?.sign_post(&parse_url(url)?, body)
}

/// Signs a GET of `url` with the PEM key `private_key_pem` named `key_id`.
pub fn sign_get(key_id: &str, private_key_pem: &str, url: &str) -> Result<HeaderMap, SignError> {
    Signer::new(key_id, private_key_pem)?.sign_get(&parse_url(url)?)
}

/// `SHA-256=<base64>` of `body`, the `Digest` header's value.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

fn parse_url(url: &str) -> Result<Url, SignError> {
    Url::parse(url).map_err(|_| SignError::InvalidUrl {
        url: url.into(),
        reason: "not an absolute URL",
    })
}

fn header_value(value: &str) -> Result<HeaderValue, SignError> {
    HeaderValue::from_str(value)
        .map_err(|_| SignError::Crypto(format!("not a valid header value: {value}")))
}

/// Host and Date, as the request will carry them.
fn base_headers(url: &Url, now: SystemTime) -> Result<HeaderMap, SignError> {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, header_value(&host_header(url)?)?);
    headers.insert(header::DATE, header_value(&httpdate::fmt_http_date(now))?);
    Ok(headers)
}

/// The `Host` header for `url`: its host, and its port unless it is the scheme's default.
pub fn host_header(url: &Url) -> Result<String, SignError> {
    let host = url.host_str().ok_or_else(|| SignError::InvalidUrl {
        url: url.to_string(),
        reason: "it has no host",
    })?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Path and query of `url` as they go over the wire; the fragment never does.
pub fn request_target(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// A public key found for a `keyId`, and the actor it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as in an actor's `publicKey.publicKeyPem`.
    pub public_key_pem: String,
    /// The actor id the key belongs to (`publicKey.owner`, checked against the actor document).
    pub owner: String,
    /// True when the key came from a cache rather than a fetch just now: only then does a failed
    /// verification ask for it again.
    pub cached: bool,
}

/// Finds the public key for a `keyId`. With `refresh`, it must fetch the key afresh (the cached
/// one failed to verify, perhaps because the actor rotated its key). The error is a reason for
/// the 401 body ("actor https://… answered 410").
pub trait KeyResolver: Sync {
    fn resolve(
        &self,
        key_id: &str,
        refresh: bool,
    ) -> impl Future<Output = Result<ResolvedKey, String>> + Send;
}

impl<F, Fut> KeyResolver for F
where
    F: Fn(String, bool) -> Fut + Sync,
    Fut: Future<Output = Result<ResolvedKey, String>> + Send,
{
    fn resolve(
        &self,
        key_id: &str,
        refresh: bool,
    ) -> impl Future<Output = Result<ResolvedKey, String>> + Send {
        self(key_id.to_string(), refresh)
    }
}

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: String,
    /// The key's owner: the inbox checks it is the activity's actor.
    pub owner: String,
}

/// Why a request's signature was not accepted; the message is the 401's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("Request not signed: the Signature header is missing")]
    MissingSignature,
    #[error("RFC 9421 signatures are not supported; use draft-cavage")]
    Rfc9421Unsupported,
    #[error("Error parsing signature parameters: {0}")]
    Malformed(String),
    #[error("Unsupported signature algorithm {0} (only rsa-sha256 and hs2019 are supported)")]
    UnsupportedAlgorithm(String),
    /// A header a signature must cover is not in its `headers` list.
    #[error("the {header} header must be signed{why}")]
    NotSigned {
        header: &'static str,
        why: &'static str,
    },
    /// A header named in the signature's `headers` list is not in the request.
    #[error("signed header {0} is missing from the request")]
    SignedHeaderMissing(String),
    #[error("Invalid Date header: {0}")]
    InvalidDate(String),
    #[error("Signed request date outside acceptable time window")]
    DateOutsideWindow,
    #[error("Digest header missing")]
    DigestMissing,
    #[error("unsupported Digest algorithm (SHA-256 and SHA-512 are supported); offered: {0}")]
    DigestUnsupported(String),
    #[error("Invalid Digest value: the {0} digest does not match the body")]
    DigestMismatch(String),
    #[error("Public key not found for key {key_id}: {reason}")]
    KeyFetch { key_id: String, reason: String },
    #[error("the public key of {0} is not a usable RSA key")]
    InvalidKey(String),
    #[error("Verification failed for {key_id} using rsa-sha256 (RSASSA-PKCS1-v1_5 with SHA-256)")]
    BadSignature { key_id: String },
}

impl VerifyError {
    /// A stable snake_case name for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::Rfc9421Unsupported => "rfc9421_unsupported",
            Self::Malformed(_) => "malformed_signature",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::NotSigned { .. } => "header_not_signed",
            Self::SignedHeaderMissing(_) => "signed_header_missing",
            Self::InvalidDate(_) => "invalid_date",
            Self::DateOutsideWindow => "date_outside_window",
            Self::DigestMissing => "digest_missing",
            Self::DigestUnsupported(_) => "digest_unsupported",
            Self::DigestMismatch(_) => "digest_mismatch",
            Self::KeyFetch { .. } => "key_fetch_failed",
            Self::InvalidKey(_) => "invalid_key",
            Self::BadSignature { .. } => "bad_signature",
        }
    }
}

/// Every refusal is a 401 with its reason: Fedify retries an RFC 9421 refusal with draft-cavage
/// only on 401 (or 500), and peers log the body.
impl From<VerifyError> for crate::Error {
    fn from(e: VerifyError) -> Self {
        crate::Error::Unauthorized(e.to_string())
    }
}

/// Verifies the signature of a request as received: `path_and_query` exactly as in the request
/// line, `body` as received. Asks `keys` for the signer's key, and once more with `refresh` when
/// a cached key does not verify.
pub async fn verify(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    keys: &impl KeyResolver,
) -> Result<Verified, VerifyError> {
    verify_at(
        method,
        path_and_query,
        headers,
        body,
        keys,
        SystemTime::now(),
    )
    .await
}

/// [`verify`] with the given clock reading.
pub async fn verify_at(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    keys: &impl KeyResolver,
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    let checked = check(method, path_and_query, headers, body, now)?;
    let key_id = checked.key_id.clone();
    let fetch_failed = |reason| VerifyError::KeyFetch {
        key_id: key_id.clone(),
        reason,
    };
    let key = keys.resolve(&key_id, false).await.map_err(fetch_failed)?;
    if checked.verifies_with(&key) {
        return Ok(Verified {
            key_id,
            owner: key.owner,
        });
    }
    if !key.cached {
        return Err(if parse_public_key(&key).is_none() {
            VerifyError::InvalidKey(key_id)
        } else {
            VerifyError::BadSignature { key_id }
        });
    }
    let key = keys.resolve(&key_id, true).await.map_err(fetch_failed)?;
    if checked.verifies_with(&key) {
        return Ok(Verified {
            key_id,
            owner: key.owner,
        });
    }
    Err(if parse_public_key(&key).is_none() {
        VerifyError::InvalidKey(key_id)
    } else {
        VerifyError::BadSignature { key_id }
    })
}

/// A request that passed every check but the signature itself.
struct Checked {
    key_id: String,
    signature: Vec<u8>,
    /// The signing string, and the one without the query string in `(request-target)`.
    candidates: Vec<String>,
}

impl Checked {
    fn verifies_with(&self, key: &ResolvedKey) -> bool {
        let Some(public) = parse_public_key(key) else {
            return false;
        };
        self.candidates.iter().any(|text| {
            RsaSha256
                .verify(&public, text.as_bytes(), &self.signature)
                .unwrap_or(false)
        })
    }
}

fn parse_public_key(key: &ResolvedKey) -> Option<PublicKey> {
    PublicKey::from_pem(key.public_key_pem.as_bytes())
        .ok()
        .filter(|k| k.0.rsa().is_ok())
}

/// Everything that needs no key: the header's form, the algorithm, which headers are covered,
/// the date window and the body's digest.
fn check(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Checked, VerifyError> {
    if headers.contains_key("signature-input") {
        return Err(VerifyError::Rfc9421Unsupported);
    }
    let raw = headers
        .get("signature")
        .ok_or(VerifyError::MissingSignature)?
        .to_str()
        .map_err(|_| VerifyError::Malformed("the Signature header is not text".into()))?;
    let params = parse_params(raw).map_err(VerifyError::Malformed)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let key_id = param("keyId").filter(|v| !v.is_empty());
    let signature = param("signature").filter(|v| !v.is_empty());
    let (Some(key_id), Some(signature)) = (key_id, signature) else {
        return Err(VerifyError::Malformed(
            "keyId and signature are required".into(),
        ));
    };
    let algorithm = param("algorithm").unwrap_or("hs2019").to_ascii_lowercase();
    if algorithm != "rsa-sha256" && algorithm != "hs2019" {
        return Err(VerifyError::UnsupportedAlgorithm(algorithm));
    }
    let hs2019 = algorithm == "hs2019";
    let default_headers = if hs2019 { "(created)" } else { "date" };
    let covered: Vec<String> = param("headers")
        .unwrap_or(default_headers)
        .to_ascii_lowercase()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let covers = |name: &str| covered.iter().any(|c| c == name);
    check_strength(method, body, &covers)?;

    check_window(hs2019, &param, headers, now)?;
    if covers("digest") || !body.is_empty() {
        check_digest(headers, body)?;
    }

    let mut lines = Vec::with_capacity(covered.len());
    for name in &covered {
        lines.push(match name.as_str() {
            "(request-target)" => String::new(), // filled per candidate below
            "(created)" | "(expires)" => {
                let field = &name[1..name.len() - 1];
                if !hs2019 {
                    return Err(VerifyError::Malformed(format!(
                        "pseudo-header {name} is only valid with hs2019"
                    )));
                }
                let value = param(field).ok_or_else(|| {
                    VerifyError::Malformed(format!("{name} is signed but its parameter is missing"))
                })?;
                format!("{name}: {value}")
            }
            _ => format!("{name}: {}", header_text(headers, name)?),
        });
    }

    let signature = BASE64
        .decode(signature.split_whitespace().collect::<String>())
        .map_err(|_| VerifyError::Malformed("the signature is not base64".into()))?;
    let method = method.as_str().to_ascii_lowercase();
    let mut targets = vec![path_and_query.to_string()];
    if let Some((path, _)) = path_and_query.split_once('?') {
        targets.push(path.to_string());
    }
    let candidates = targets
        .iter()
        .map(|target| {
            covered
                .iter()
                .zip(&lines)
                .map(|(name, line)| match name.as_str() {
                    "(request-target)" => format!("(request-target): {method} {target}"),
                    _ => line.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    Ok(Checked {
        key_id: key_id.to_string(),
        signature,
        candidates,
    })
}

/// Mastodon's minimum coverage, plus: a body is always covered by a signed digest.
fn check_strength(
    method: &Method,
    body: &[u8],
    covers: &impl Fn(&str) -> bool,
) -> Result<(), VerifyError> {
    let not_signed = |header, why| Err(VerifyError::NotSigned { header, why });
    if !covers("date") && !covers("(created)") {
        return not_signed("date", " (or the (created) pseudo-header)");
    }
    if !covers("(request-target)") && !covers("digest") {
        return not_signed("(request-target)", " (or the digest header)");
    }
    if method == Method::GET && !covers("host") {
        return not_signed("host", " on a GET");
    }
    if (method == Method::POST || !body.is_empty()) && !covers("digest") {
        return not_signed("digest", " on a request with a body");
    }
    Ok(())
}

/// A signed header's value; repeated headers join with ", " as the draft says.
fn header_text(headers: &HeaderMap, name: &str) -> Result<String, VerifyError> {
    let values = headers
        .get_all(name)
        .iter()
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| VerifyError::Malformed(format!("the {name} header is not text")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err(VerifyError::SignedHeaderMissing(name.to_string()));
    }
    Ok(values.join(", "))
}

/// Mastodon's window: dated at most [`CLOCK_SKEW_MARGIN`] ahead, and not expired by more than
/// the margin, where the expiry is `expires` (hs2019) or the date plus [`DEFAULT_VALIDITY`],
/// never later than the date plus [`EXPIRATION_WINDOW_LIMIT`].
fn check_window<'a>(
    hs2019: bool,
    param: &impl Fn(&str) -> Option<&'a str>,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<(), VerifyError> {
    let epoch = |field: &str| -> Result<Option<SystemTime>, VerifyError> {
        match param(field) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(|secs| Some(UNIX_EPOCH + Duration::from_secs(secs)))
                .map_err(|_| VerifyError::InvalidDate(format!("{field}={v} is not a timestamp"))),
        }
    };
    let created = match (hs2019, epoch("created")?) {
        (true, Some(created)) => Some(created),
        _ => match headers.get(header::DATE) {
            None => None,
            Some(date) => {
                let text = date.to_str().unwrap_or_default();
                Some(
                    httpdate::parse_http_date(text)
                        .map_err(|_| VerifyError::InvalidDate(format!("{text:?}")))?,
                )
            }
        },
    };
    let mut expires = epoch("expires")?;
    if let Some(created) = created {
        if created > now + CLOCK_SKEW_MARGIN {
            return Err(VerifyError::DateOutsideWindow);
        }
        let limit = created + EXPIRATION_WINDOW_LIMIT;
        expires = Some(expires.unwrap_or(created + DEFAULT_VALIDITY).min(limit));
    }
    match expires {
        Some(expires) if now > expires + CLOCK_SKEW_MARGIN => Err(VerifyError::DateOutsideWindow),
        _ => Ok(()),
    }
}

/// The `Digest` header must name SHA-256 or SHA-512 (in any case: bovine sends `sha-256`), and
/// every such digest it gives must match the body.
fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let raw = header_text(headers, "digest").map_err(|e| match e {
        VerifyError::SignedHeaderMissing(_) => VerifyError::DigestMissing,
        other => other,
    })?;
    let mut offered = Vec::new();
    let mut checked = false;
    for item in raw.split(',') {
        let (algorithm, value) = item.split_once('=').unwrap_or((item, ""));
        let algorithm = algorithm.trim().to_ascii_lowercase();
        let expected = match algorithm.as_str() {
            "sha-256" => BASE64.encode(Sha256::digest(body)),
            "sha-512" => BASE64.encode(Sha512::digest(body)),
            _ => {
                offered.push(algorithm);
                continue;
            }
        };
        if value.trim() != expected {
            return Err(VerifyError::DigestMismatch(algorithm.to_ascii_uppercase()));
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(VerifyError::DigestUnsupported(offered.join(", ")))
    }
}

/// `key="value", key=token, …` as Mastodon's parser reads it (also tolerating the stray
/// `Signature ` prefix old node-http-signature versions send).
fn parse_params(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut rest = raw.trim();
    rest = rest.strip_prefix("Signature ").unwrap_or(rest);
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        let key_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        if key_len == 0 {
            return Err(format!("expected a parameter name at {rest:?}"));
        }
        let key = &rest[..key_len];
        rest = rest[key_len..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("expected = after {key}"))?
            .trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => return Err(format!("unterminated value for {key}")),
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated value for {key}")),
                }
            };
            rest = &quoted[end + 1..];
            value
        } else {
            let len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
            if len == 0 {
                return Err(format!("expected a value for {key}"));
            }
            let value = rest[..len].to_string();
            rest = &rest[len..];
            value
        };
        params.push((key.to_string(), value));
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(params);
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("expected , after {key}"))?;
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+.^_`|~-".contains(c)
}

#[cfg(test)]
#[path = "signatures_tests.rs"]
mod tests;
