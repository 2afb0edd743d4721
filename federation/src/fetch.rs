//! A safe HTTP client for remote ActivityPub documents and deliveries.
//!
//! Every URL a remote server hands us (an actor, a key, an inbox, a redirect) could point at the
//! node's own network. So: only https (plain http too when the node runs with `--protocol http`),
//! and never an address that is loopback, private (RFC 1918, RFC 4193), link-local, unspecified,
//! multicast, shared (CGNAT, 100.64.0.0/10) or an IPv4-mapped form of one of those, unless the node
//! runs with `--allow-private-addresses` (multi-node tests on 127.0.0.1). The check happens after
//! DNS resolution, in the client's own resolver, so every address a name resolves to is checked
//! and the connection goes to a checked address: a name cannot smuggle a private address in, and
//! IP literals are checked before the request. Redirects are followed by hand, each hop checked
//! (and re-signed) like the first. Documents are read as a stream and cut off at a size limit;
//! every exchange has a connect timeout and a total time limit.
//!
//! Proxies from the environment are ignored on purpose: a proxy would resolve names itself, past
//! the check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use crate::signatures::{SignError, Signer};

/// Limits and permissions of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Plain http allowed (the node runs with `--protocol http`).
    pub allow_http: bool,
    /// Loopback, private and link-local addresses allowed (`--allow-private-addresses`).
    pub allow_private_addresses: bool,
    /// Largest document body read.
    pub max_document_bytes: usize,
    /// Whole exchange, redirects and body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Redirects followed on a GET (deliveries follow none).
    pub max_redirects: usize,
    pub user_agent: String,
    /// Names answered with these addresses without DNS and without the address check, as curl's
    /// `--resolve` (tests use it to put a name on 127.0.0.1 while private addresses stay refused).
    pub pinned_hosts: Vec<(String, SocketAddr)>,
}

impl FetchConfig {
    /// https only, no private addresses, 1 MiB documents, 10 s, 5 redirects.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            allow_http: false,
            allow_private_addresses: false,
            max_document_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_redirects: 5,
            user_agent: user_agent.into(),
            pinned_hosts: Vec::new(),
        }
    }

    /// The node's settings: http when it serves http, private addresses when told so.
    pub fn for_node(config: &crate::FederationConfig) -> Self {
        Self {
            allow_http: config.protocol == "http",
            allow_private_addresses: config.allow_private_addresses,
            ..Self::new(format!(
                "peerpx/{} (+{}/)",
                env!("CARGO_PKG_VERSION"),
                config.base_url()
            ))
        }
    }
}

/// Why a fetch or a delivery did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not attempted: a scheme, an address or a redirect we do not go to.
    #[error("refused: {reason}")]
    Refused { reason: String },
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("no complete answer in time")]
    Timeout,
    /// The server answered with this status (a 3xx too, when not followed).
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("network error: {0}")]
    Network(String),
    #[error("the document is not JSON: {0}")]
    InvalidJson(String),
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl FetchError {
    fn refused(reason: impl Into<String>) -> Self {
        Self::Refused {
            reason: reason.into(),
        }
    }
}

/// A JSON document, and the URL it was finally read from (after redirects): callers check that
/// the document's `id` belongs to that origin.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: Url,
    pub json: serde_json::Value,
}

/// The client. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!config.allow_http)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .dns_resolver(Arc::new(CheckedResolver {
                allow_private: config.allow_private_addresses,
            }));
        for (name, addr) in &config.pinned_hosts {
            builder = builder.resolve(name, *addr);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Network(error_chain(&e)))?;
        Ok(Self {
            client,
            config: Arc::new(config),
        })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// What can be said of `url` before resolving it: its scheme, and its host if that is an IP
    /// address or a `localhost` name.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => {}
            "http" if self.config.allow_http => {}
            "http" => {
                return Err(FetchError::refused(format!(
                    "{url}: plain http is not allowed (the node does not run with --protocol http)"
                )))
            }
            other => {
                return Err(FetchError::refused(format!(
                    "{url}: {other} is not http(s)"
                )))
            }
        }
        let pinned = |name: &str| {
            self.config
                .pinned_hosts
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let reason = match url.host() {
            None => Some("it has no host"),
            Some(_) if self.config.allow_private_addresses => None,
            Some(url::Host::Ipv4(ip)) => forbidden_reason(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => forbidden_reason(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) if pinned(name) => None,
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name == "localhost" || name.ends_with(".localhost")).then_some("loopback")
            }
        };
        match reason {
            Some(reason) => Err(FetchError::refused(format!(
                "{url}: {reason} addresses are not allowed (the node does not run with --allow-private-addresses)"
            ))),
            None => Ok(()),
        }
    }

    /// GETs a JSON document (`accept` is the Accept header), signed when `signer` is given
    /// (authorized fetch), following at most `max_redirects` redirects.
    pub async fn get_json(
        &self,
        url: &str,
        accept: &str,
        signer: Option<&Signer>,
    ) -> Result<Fetched, FetchError> {
        let url = Url::parse(url).map_err(|e| FetchError::refused(format!("{url}: {e}")))?;
        let exchange = async {
            let mut url = url;
            let mut hops = 0;
            loop {
                self.check_url(&url)?;
                let mut headers = match signer {
                    Some(signer) => signer.sign_get(&url)?,
                    None => HeaderMap::new(),
                };
                let accept = HeaderValue::from_str(accept).map_err(|_| {
                    FetchError::refused(format!("{accept:?} is not a valid Accept header"))
                })?;
                headers.insert(header::ACCEPT, accept);
                let response = self
                    .client
                    .get(url.clone())
                    .headers(headers)
                    .send()
                    .await
                    .map_err(map_error)?;
                let status = response.status();
                if status.is_redirection() {
                    let Some(next) = location(&url, &response) else {
                        return Err(FetchError::Status(status.as_u16()));
                    };
                    hops += 1;
                    if hops > self.config.max_redirects {
                        return Err(FetchError::refused(format!(
                            "{url}: more than {} redirects",
                            self.config.max_redirects
                        )));
                    }
                    url = next;
                    continue;
                }
                if !status.is_success() {
                    return Err(FetchError::Status(status.as_u16()));
                }
                let body = read_capped(response, self.config.max_document_bytes).await?;
                let json = serde_json::from_slice(&body)
                    .map_err(|e| FetchError::InvalidJson(e.to_string()))?;
                return Ok(Fetched { url, json });
            }
        };
        tokio::time::timeout(self.config.timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    /// POSTs an activity to an inbox, signed. Redirects are not followed (a 3xx is an error):
    /// a redirected POST would lose its body or its signature's target. Returns the 2xx status.
    pub async fn post_activity(
        &self,
        url: &Url,
        body: &[u8],
        signer: &Signer,
    ) -> Result<u16, FetchError> {
        self.check_url(url)?;
        let headers = signer.sign_post(url, body)?;
        let exchange = async {
            let response = self
                .client
                .post(url.clone())
                .headers(headers)
                .body(body.to_vec())
                .send()
                .await
                .map_err(map_error)?;
            let status = response.status();
            // Read (a little of) the answer so the connection can be reused.
            let _ = read_capped(response, 64 * 1024).await;
            if status.is_success() {
                Ok(status.as_u16())
            } else {
                Err(FetchError::Status(status.as_u16()))
            }
        };
        tokio::time::timeout(self.config.timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

fn location(base: &Url, response: &reqwest::Response) -> Option<Url> {
    let value = response.headers().get(header::LOCATION)?.to_str().ok()?;
    base.join(value).ok()
}

/// The body, refused as soon as it is known to exceed `limit` (declared or streamed).
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, FetchError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(FetchError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(map_error)? {
        if body.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn map_error(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return FetchError::refused(refusal.0.clone());
        }
        source = err.source();
    }
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Network(error_chain(&e))
    }
}

/// An error and its causes on one line ("error sending request: …: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refusal(String);

/// System DNS, then every address checked: one forbidden address refuses the name.
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                for addr in &addrs {
                    if let Some(reason) = forbidden_reason(addr.ip()) {
                        return Err(Refusal(format!(
                            "{host} resolves to {}, a {reason} address (the node does not run with --allow-private-addresses)",
                            addr.ip()
                        ))
                        .into());
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why `ip` is not a public unicast address we may connect to, if it is not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => v4_reason(ip),
        IpAddr::V6(ip) => v6_reason(ip),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_unspecified() {
        "unspecified"
    } else if a == 0 {
        "\"this network\" (0.0.0.0/8)"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private (RFC 1918)"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (b & 0xc0) == 64 {
        "shared (CGNAT, RFC 6598)"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() || a >= 240 {
        "reserved"
    } else {
        return None;
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_reason(Ipv4Addr::from(u128::from(ip) as u32));
    }
    Some(if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if segments[..6] == [0; 6] {
        // The deprecated IPv4-compatible form ::a.b.c.d.
        return v4_reason(Ipv4Addr::from(u128::from(ip) as u32)).or(Some("IPv4-compatible"));
    } else if segments[0] & 0xfe00 == 0xfc00 {
        "unique local (RFC 4193)"
    } else if segments[0] & 0xffc0 == 0xfe80 {
        "link-local"
    } else if segments[0] & 0xffc0 == 0xfec0 {
        "site-local"
    } else if ip.is_multicast() {
        "multicast"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signatures::ACCEPT_ACTIVITY;
    use std::str::FromStr;

    fn reason(ip: &str) -> Option<&'static str> {
        forbidden_reason(IpAddr::from_str(ip).unwrap_or_else(|e| panic!("{ip}: {e}")))
    }

    #[test]
    fn every_forbidden_ipv4_range_is_named() {
        for (ip, expected) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "\"this network\" (0.0.0.0/8)"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private (RFC 1918)"),
            ("172.16.0.1", "private (RFC 1918)"),
            ("172.31.255.255", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT, RFC 6598)"),
            ("100.127.255.255", "shared (CGNAT, RFC 6598)"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "reserved"),
            ("240.0.0.1", "reserved"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_addresses_and_range_edges_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "192.169.0.1",
            "11.0.0.1",
            "126.255.255.255",
            "223.255.255.255",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_forbidden_ipv6_range_is_named() {
        for (ip, expected) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "unique local (RFC 4193)"),
            ("fd12:3456:789a::1", "unique local (RFC 4193)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            // IPv4-mapped, NAT64 and IPv4-compatible forms of forbidden IPv4 addresses.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private (RFC 1918)"),
            ("::ffff:192.168.0.1", "private (RFC 1918)"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:100.64.0.1", "shared (CGNAT, RFC 6598)"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("::ffff:224.0.0.1", "multicast"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a00:1", "private (RFC 1918)"),
            ("::127.0.0.1", "loopback"),
            ("::8.8.8.8", "IPv4-compatible"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_allowed() {
        for ip in [
            "2001:4860:4860::8888",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "fbff::1",
            "fe00::1",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    fn fetcher(allow_http: bool, allow_private: bool) -> Fetcher {
        Fetcher::new(FetchConfig {
            allow_http,
            allow_private_addresses: allow_private,
            ..FetchConfig::new("peerpx-test")
        })
        .unwrap()
    }

    fn refused(result: Result<(), FetchError>) -> String {
        match result {
            Err(FetchError::Refused { reason }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_addresses() {
        let url = |s: &str| Url::parse(s).unwrap();
        let strict = fetcher(false, false);
        assert!(strict
            .check_url(&url("https://peer.example/users/a"))
            .is_ok());
        assert!(strict.check_url(&url("https://1.1.1.1/")).is_ok());
        assert!(refused(strict.check_url(&url("http://peer.example/"))).contains("plain http"));
        assert!(refused(strict.check_url(&url("ftp://peer.example/"))).contains("not http(s)"));
        assert!(refused(strict.check_url(&url("https://127.0.0.1/"))).contains("loopback"));
        assert!(refused(strict.check_url(&url("https://[::1]:8443/"))).contains("loopback"));
        assert!(refused(strict.check_url(&url("https://[::ffff:10.0.0.1]/"))).contains("RFC 1918"));
        assert!(refused(strict.check_url(&url("https://localhost/"))).contains("loopback"));
        assert!(refused(strict.check_url(&url("https://LocalHost./"))).contains("loopback"));
        assert!(refused(strict.check_url(&url("https://a.localhost/"))).contains("loopback"));
        let open = fetcher(true, true);
        assert!(open.check_url(&url("http://127.0.0.1:8080/")).is_ok());
        assert!(open.check_url(&url("http://localhost:8080/")).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let resolver = CheckedResolver {
            allow_private: false,
        };
        let err = match resolver.resolve(Name::from_str("localhost").unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refusal = err.downcast_ref::<Refusal>().expect("a refusal");
        assert!(refusal.0.contains("loopback"), "{refusal}");
        let allowed = CheckedResolver {
            allow_private: true,
        };
        let addrs: Vec<_> = allowed
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    #[tokio::test]
    async fn a_refused_url_is_never_requested() {
        let strict = fetcher(false, false);
        let err = strict
            .get_json("http://127.0.0.1:9/actor", ACCEPT_ACTIVITY, None)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{err:?}");
        let err = fetcher(true, false)
            .get_json("http://127.0.0.1:9/actor", ACCEPT_ACTIVITY, None)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{err:?}");
        let err = strict
            .get_json("not a url", ACCEPT_ACTIVITY, None)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{err:?}");
    }
}
