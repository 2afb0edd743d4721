//! Domain blocks: what an admin decided about another server, keyed by its lower-cased domain.
//!
//! The aggregate id is the block's domain in its normal form ([`normalize_domain`]): one history
//! per domain, so blocking a domain twice is refused here and unblocking then blocking again is a
//! new block with a new id (the id the admin API shows, made by the caller like every id).
//! Updates and unblocks name the block's id, so a request about a block that was lifted and
//! made again in between does not touch the new one.
//!
//! A block covers its domain and every subdomain ([`covers`]). A domain may carry a port
//! (`127.0.0.1:8080`): such a block covers only URLs naming that port, so that nodes on one
//! address (tests on 127.0.0.1) can be told apart; a block without a port covers every port.
//! The pure text rules (the normal form, what a block covers, which of two blocks is stricter)
//! live here so that the API and the federation layer apply the same ones.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

/// Longest domain kept, port included (MySQL indexes 255 characters).
pub const DOMAIN_MAX: usize = 255;
/// Longest private or public comment.
pub const COMMENT_MAX: usize = 1000;

/// What a block does, as Mastodon names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Kept as a note (with `reject_media` / `reject_reports`); federation goes on.
    Noop,
    /// Limit: accepted, kept out of public view.
    Silence,
    /// Nothing is accepted from the domain and nothing goes to it; follows end.
    #[default]
    Suspend,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Noop => "noop",
            Self::Silence => "silence",
            Self::Suspend => "suspend",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = DomainBlockError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "noop" => Ok(Self::Noop),
            "silence" => Ok(Self::Silence),
            "suspend" => Ok(Self::Suspend),
            other => Err(DomainBlockError::UnknownSeverity(other.to_string())),
        }
    }
}

/// Everything about a block but its domain, id and dates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockSettings {
    pub severity: Severity,
    pub reject_media: bool,
    pub reject_reports: bool,
    /// For the node's moderators only.
    pub private_comment: Option<String>,
    /// Shown with the node's public list of blocked domains.
    pub public_comment: Option<String>,
    /// Show the domain partly hidden in public lists.
    pub obfuscate: bool,
}

impl BlockSettings {
    /// Mastodon's `DomainBlock#stricter_than?`: does this block do more than `other`?
    pub fn stricter_than(&self, other: &BlockSettings) -> bool {
        if self.severity == Severity::Suspend {
            return true;
        }
        if other.severity == Severity::Suspend {
            return false;
        }
        if other.severity == Severity::Silence && self.severity == Severity::Noop {
            return false;
        }
        (self.reject_media || !other.reject_media) && (self.reject_reports || !other.reject_reports)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DomainBlockCommand {
    /// `domain` must be in its normal form and is the aggregate id.
    Block {
        id: String,
        domain: String,
        settings: BlockSettings,
        at: Millis,
    },
    /// Replaces the settings of block `id`.
    Update {
        id: String,
        settings: BlockSettings,
        at: Millis,
    },
    /// Lifts block `id`.
    Unblock { id: String, at: Millis },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainBlockEvent {
    DomainBlocked {
        id: String,
        domain: String,
        #[serde(flatten)]
        settings: BlockSettings,
        at: Millis,
    },
    DomainBlockUpdated {
        id: String,
        domain: String,
        #[serde(flatten)]
        settings: BlockSettings,
        at: Millis,
    },
    DomainUnblocked {
        id: String,
        domain: String,
        at: Millis,
    },
}

impl DomainEvent for DomainBlockEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DomainBlocked { .. } => "DomainBlocked",
            Self::DomainBlockUpdated { .. } => "DomainBlockUpdated",
            Self::DomainUnblocked { .. } => "DomainUnblocked",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainBlockError {
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
    #[error("unknown severity {0:?}: use silence, suspend or noop")]
    UnknownSeverity(String),
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    /// The domain is already blocked (by block `id`).
    #[error("this domain is already blocked")]
    AlreadyBlocked { id: String },
    #[error("no such domain block")]
    NotBlocked,
}

impl DomainBlockError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidDomain(_) => "invalid_domain",
            Self::UnknownSeverity(_) => "unknown_severity",
            Self::TooLong { .. } => "too_long",
            Self::AlreadyBlocked { .. } => "already_blocked",
            Self::NotBlocked => "not_blocked",
        }
    }
}

/// A host and its optional port, split from `host[:port]` (`[v6]:port` for IPv6).
fn split_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The normal form of a domain to block: trimmed, lower-case, without a final dot, an optional
/// `:port` (1 to 65535). Internationalised names come in their ASCII (punycode) form: the caller
/// converts them. IPv4 and bracketed IPv6 literals are taken too.
pub fn normalize_domain(input: &str) -> Result<String, DomainBlockError> {
    let invalid = || DomainBlockError::InvalidDomain(input.trim().to_string());
    let text = input.trim().to_ascii_lowercase();
    if text.is_empty() || text.len() > DOMAIN_MAX || !text.is_ascii() {
        return Err(invalid());
    }
    let (host, port) = split_port(&text);
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0)
            && !port.starts_with('0');
        if !ok {
            return Err(invalid());
        }
    }
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        host.parse::<std::net::Ipv4Addr>().is_ok()
            || (host.len() <= 253 && host.split('.').all(valid_label))
    };
    if !host_ok {
        return Err(invalid());
    }
    Ok(match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// The blocks that would cover `authority` (`host[:port]`, lower-case), most specific first:
/// the host and each parent domain, each with the port (when there is one) and without. An
/// IP address has no parents.
pub fn candidates(authority: &str) -> Vec<String> {
    let authority = authority.to_ascii_lowercase();
    let (host, port) = split_port(&authority);
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut hosts = vec![host.to_string()];
    if !is_ip_literal(host) {
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            if parent.is_empty() {
                break;
            }
            hosts.push(parent.to_string());
            rest = parent;
        }
    }
    let mut out = Vec::with_capacity(hosts.len() * 2);
    for h in hosts {
        if let Some(port) = port {
            out.push(format!("{h}:{port}"));
        }
        out.push(h);
    }
    out
}

/// Does a block of `domain` (normal form) cover `authority` (`host[:port]`)?
pub fn covers(domain: &str, authority: &str) -> bool {
    candidates(authority).iter().any(|c| c == domain)
}

/// A block's state: the current block, if any.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DomainBlock {
    pub id: Option<String>,
    pub domain: Option<String>,
    pub settings: Option<BlockSettings>,
}

fn check_settings(settings: &BlockSettings) -> Result<(), DomainBlockError> {
    for (field, value) in [
        ("private_comment", &settings.private_comment),
        ("public_comment", &settings.public_comment),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > COMMENT_MAX)
        {
            return Err(DomainBlockError::TooLong {
                field,
                max: COMMENT_MAX,
            });
        }
    }
    Ok(())
}

impl DomainBlock {
    /// The current block's domain, when it is block `id`.
    fn current(&self, id: &str) -> Result<String, DomainBlockError> {
        match (&self.id, &self.domain) {
            (Some(current), Some(domain)) if current == id => Ok(domain.clone()),
            _ => Err(DomainBlockError::NotBlocked),
        }
    }
}

impl Aggregate for DomainBlock {
    const TYPE: &'static str = "domain_block";
    type Command = DomainBlockCommand;
    type Event = DomainBlockEvent;
    type Error = DomainBlockError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            DomainBlockCommand::Block {
                id,
                domain,
                settings,
                at,
            } => {
                if normalize_domain(&domain).as_deref() != Ok(domain.as_str()) {
                    return Err(DomainBlockError::InvalidDomain(domain));
                }
                if let Some(current) = &self.id {
                    return Err(DomainBlockError::AlreadyBlocked {
                        id: current.clone(),
                    });
                }
                check_settings(&settings)?;
                DomainBlockEvent::DomainBlocked {
                    id,
                    domain,
                    settings,
                    at,
                }
            }
            DomainBlockCommand::Update { id, settings, at } => {
                let domain = self.current(&id)?;
                check_settings(&settings)?;
                if self.settings.as_ref() == Some(&settings) {
                    return Ok(());
                }
                DomainBlockEvent::DomainBlockUpdated {
                    id,
                    domain,
                    settings,
                    at,
                }
            }
            DomainBlockCommand::Unblock { id, at } => {
                let domain = self.current(&id)?;
                DomainBlockEvent::DomainUnblocked { id, domain, at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            DomainBlockEvent::DomainBlocked {
                id,
                domain,
                settings,
                ..
            } => {
                self.id = Some(id);
                self.domain = Some(domain);
                self.settings = Some(settings);
            }
            DomainBlockEvent::DomainBlockUpdated { settings, .. } => self.settings = Some(settings),
            DomainBlockEvent::DomainUnblocked { .. } => {
                self.id = None;
                self.settings = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn domain_block() -> TestFramework<DomainBlock> {
        TestFramework::with(())
    }

    fn suspend() -> BlockSettings {
        BlockSettings::default()
    }

    fn silence() -> BlockSettings {
        BlockSettings {
            severity: Severity::Silence,
            public_comment: Some("spam".into()),
            ..BlockSettings::default()
        }
    }

    fn block(id: &str) -> DomainBlockCommand {
        DomainBlockCommand::Block {
            id: id.into(),
            domain: "spam.example".into(),
            settings: suspend(),
            at: 1,
        }
    }

    fn blocked(id: &str) -> DomainBlockEvent {
        DomainBlockEvent::DomainBlocked {
            id: id.into(),
            domain: "spam.example".into(),
            settings: suspend(),
            at: 1,
        }
    }

    fn unblocked(id: &str) -> DomainBlockEvent {
        DomainBlockEvent::DomainUnblocked {
            id: id.into(),
            domain: "spam.example".into(),
            at: 2,
        }
    }

    #[test]
    fn a_domain_is_blocked_once() {
        domain_block()
            .given_no_previous_events()
            .when(block("1"))
            .then_expect_events(vec![blocked("1")]);
        domain_block()
            .given(vec![blocked("1")])
            .when(block("2"))
            .then_expect_error(DomainBlockError::AlreadyBlocked { id: "1".into() });
    }

    #[test]
    fn a_lifted_block_can_be_made_again_under_a_new_id() {
        domain_block()
            .given(vec![blocked("1"), unblocked("1")])
            .when(block("2"))
            .then_expect_events(vec![blocked("2")]);
    }

    #[test]
    fn a_domain_not_in_its_normal_form_is_refused() {
        domain_block()
            .given_no_previous_events()
            .when(DomainBlockCommand::Block {
                id: "1".into(),
                domain: "Spam.Example".into(),
                settings: suspend(),
                at: 1,
            })
            .then_expect_error(DomainBlockError::InvalidDomain("Spam.Example".into()));
    }

    #[test]
    fn an_update_replaces_the_settings_and_the_same_settings_change_nothing() {
        domain_block()
            .given(vec![blocked("1")])
            .when(DomainBlockCommand::Update {
                id: "1".into(),
                settings: silence(),
                at: 3,
            })
            .then_expect_events(vec![DomainBlockEvent::DomainBlockUpdated {
                id: "1".into(),
                domain: "spam.example".into(),
                settings: silence(),
                at: 3,
            }]);
        domain_block()
            .given(vec![blocked("1")])
            .when(DomainBlockCommand::Update {
                id: "1".into(),
                settings: suspend(),
                at: 3,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn updates_and_unblocks_name_the_current_block() {
        domain_block()
            .given(vec![blocked("1"), unblocked("1"), blocked("2")])
            .when(DomainBlockCommand::Unblock {
                id: "1".into(),
                at: 4,
            })
            .then_expect_error(DomainBlockError::NotBlocked);
        domain_block()
            .given_no_previous_events()
            .when(DomainBlockCommand::Update {
                id: "1".into(),
                settings: silence(),
                at: 4,
            })
            .then_expect_error(DomainBlockError::NotBlocked);
        domain_block()
            .given(vec![blocked("1")])
            .when(DomainBlockCommand::Unblock {
                id: "1".into(),
                at: 2,
            })
            .then_expect_events(vec![unblocked("1")]);
    }

    #[test]
    fn overlong_comments_are_refused() {
        let settings = BlockSettings {
            private_comment: Some("x".repeat(COMMENT_MAX + 1)),
            ..BlockSettings::default()
        };
        domain_block()
            .given_no_previous_events()
            .when(DomainBlockCommand::Block {
                id: "1".into(),
                domain: "spam.example".into(),
                settings,
                at: 1,
            })
            .then_expect_error(DomainBlockError::TooLong {
                field: "private_comment",
                max: COMMENT_MAX,
            });
    }

    #[test]
    fn domains_are_normalised_or_refused() {
        let ok = |s: &str| normalize_domain(s).expect(s);
        assert_eq!(ok(" Spam.Example. "), "spam.example");
        assert_eq!(ok("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(ok("[::1]:8080"), "[::1]:8080");
        assert_eq!(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
        for bad in [
            "",
            "a b.example",
            "-x.example",
            "x..example",
            "https://x.example",
            "x.example/path",
            "x.example:0",
            "x.example:99999",
            "x.example:",
            "user@x.example",
            "bücher.example",
            "[::1",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(normalize_domain(&format!("{}.example", "a".repeat(64))).is_err());
    }

    #[test]
    fn a_block_covers_subdomains_and_a_port_narrows_it_to_that_port() {
        assert!(covers("spam.example", "spam.example"));
        assert!(covers("spam.example", "a.b.spam.example"));
        assert!(covers("spam.example", "spam.example:8443"));
        assert!(!covers("spam.example", "notspam.example"));
        assert!(!covers("spam.example", "example"));
        assert!(covers("127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(!covers("127.0.0.1:8080", "127.0.0.1:8081"));
        assert!(covers("127.0.0.1", "127.0.0.1:8081"));
        assert!(!covers("0.0.1", "127.0.0.1"), "addresses have no parents");
        assert!(covers("spam.example:8443", "a.spam.example:8443"));
        assert_eq!(
            candidates("a.spam.example:1"),
            vec![
                "a.spam.example:1",
                "a.spam.example",
                "spam.example:1",
                "spam.example",
                "example:1",
                "example"
            ]
        );
    }

    #[test]
    fn stricter_follows_mastodon() {
        let s = |severity, reject_media| BlockSettings {
            severity,
            reject_media,
            ..BlockSettings::default()
        };
        assert!(s(Severity::Suspend, false).stricter_than(&s(Severity::Suspend, true)));
        assert!(!s(Severity::Silence, true).stricter_than(&s(Severity::Suspend, false)));
        assert!(!s(Severity::Noop, false).stricter_than(&s(Severity::Silence, false)));
        assert!(s(Severity::Silence, true).stricter_than(&s(Severity::Silence, false)));
        assert!(!s(Severity::Silence, false).stricter_than(&s(Severity::Noop, true)));
        assert_eq!("noop".parse(), Ok(Severity::Noop));
        assert!("ban".parse::<Severity>().is_err());
    }

    #[test]
    fn events_keep_a_flat_payload() {
        let v = serde_json::to_value(blocked("1")).expect("json");
        let body = &v["DomainBlocked"];
        assert_eq!(body["domain"], "spam.example");
        assert_eq!(body["severity"], "suspend");
        assert_eq!(body["reject_media"], false);
        let back: DomainBlockEvent = serde_json::from_value(v).expect("back");
        assert_eq!(back, blocked("1"));
    }
}
