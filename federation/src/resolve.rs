//! Finding remote accounts: WebFinger for `user@domain`, then the actor document, checked and
//! recorded in the log (`RemoteAccountFetched`, or `RemoteAccountRefreshed` when it changed).
//!
//! Fetching and recording are separate steps so the inbox can fetch a signer's actor, verify the
//! signature with its key, and record the actor only when the signature holds: an unverifiable
//! request appends nothing.

use cqrs_es::AggregateError;
use peerpx_aggregates::{RemoteAccountCommand, RemoteAccountError, RemoteProfile};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde_json::Value;
use url::Url;

use crate::fetch::FetchError;
use crate::ld::actor_url;
use crate::signatures::{Signer, ACCEPT_ACTIVITY};
use crate::{Error, Federation, Result};
use peerpx_projections::new_id;

/// Longest id, URI or key id kept (the log and MySQL indexes take 255 characters).
const MAX_ID_LEN: usize = 255;
const MAX_USERNAME_LEN: usize = 100;
const ACTOR_TYPES: &[&str] = &["Person", "Service", "Application", "Group", "Organization"];

/// Why a remote account could not be found; the message says what went wrong where.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{url}: {source}")]
    Fetch { url: String, source: FetchError },
    #[error("{0}")]
    Invalid(String),
}

impl ResolveError {
    fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid(reason.into())
    }
}

/// What the resolving functions return: a read-model failure is an `Error`, a remote one a
/// `ResolveError` the caller turns into "not found" or a 401 reason.
pub type Resolved<T> = Result<Result<T, ResolveError>, Error>;

/// The key a local account signs its requests with (`{actor}#main-key`).
pub fn signer_for(state: &Federation, account: &AccountRow) -> Result<Signer> {
    let Some(private) = &account.private_key_pem else {
        return Err(Error::internal(format!(
            "account {} has no actor key",
            account.username
        )));
    };
    let key_id = format!("{}#main-key", actor_url(&state.config, &account.username));
    Signer::new(key_id, private).map_err(Error::internal)
}

/// `host[:port]` of a URL, as a WebFinger domain is written.
pub fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// `user@domain` to its account: known ones from the read model, others through WebFinger and
/// their actor document (signed with `signer`).
pub async fn resolve_acct(
    state: &Federation,
    user: &str,
    domain: &str,
    signer: Option<&Signer>,
) -> Resolved<AccountRow> {
    if let Some(refused) = crate::domain_blocks::refuse_resolving(state, domain).await? {
        return Ok(Err(ResolveError::Invalid(refused)));
    }
    if let Some(known) = accounts::by_acct(&state.db, user, domain).await? {
        return Ok(Ok(known));
    }
    let actor = match webfinger(state, user, domain).await {
        Ok(actor) => actor,
        Err(e) => return Ok(Err(e)),
    };
    let profile = match fetch_actor(state, &actor, signer).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    if !profile.domain.eq_ignore_ascii_case(domain) {
        return Ok(Err(ResolveError::invalid(format!(
            "the actor of {user}@{domain} is on another domain ({})",
            profile.domain
        ))));
    }
    record(state, profile).await.map(Ok)
}

/// The account of an actor URI: from the read model unless `refresh`, else fetched and recorded.
pub async fn resolve_uri(
    state: &Federation,
    uri: &str,
    signer: Option<&Signer>,
    refresh: bool,
) -> Resolved<AccountRow> {
    if let Some(refused) = crate::domain_blocks::refuse_resolving(state, uri).await? {
        return Ok(Err(ResolveError::Invalid(refused)));
    }
    if !refresh {
        if let Some(known) = accounts::by_uri(&state.db, uri).await? {
            return Ok(Ok(known));
        }
    }
    match fetch_actor(state, uri, signer).await {
        Ok(profile) => record(state, profile).await.map(Ok),
        Err(e) => Ok(Err(e)),
    }
}

/// The actor URL WebFinger gives for `acct:user@domain` (its `self` link).
async fn webfinger(state: &Federation, user: &str, domain: &str) -> Result<String, ResolveError> {
    if user.is_empty() || domain.is_empty() || domain.contains(['/', '@', '?', '#']) {
        return Err(ResolveError::invalid(format!(
            "{user}@{domain} is not an account address"
        )));
    }
    let mut url = Url::parse(&format!(
        "{}://{domain}/.well-known/webfinger",
        state.config.protocol
    ))
    .map_err(|e| ResolveError::invalid(format!("{domain}: {e}")))?;
    url.query_pairs_mut()
        .append_pair("resource", &format!("acct:{user}@{domain}"));
    let fetched = crate::domain_blocks::get_discovery(
        state,
        url.as_str(),
        "application/jrd+json, application/json",
    )
    .await
    .map_err(|source| ResolveError::Fetch {
        url: url.to_string(),
        source,
    })?;
    self_link(&fetched.json).ok_or_else(|| {
        ResolveError::invalid(format!(
            "the WebFinger answer for {user}@{domain} has no ActivityPub self link"
        ))
    })
}

/// The `self` link of a JRD with an ActivityPub media type.
pub fn self_link(jrd: &Value) -> Option<String> {
    jrd.get("links")?.as_array()?.iter().find_map(|link| {
        let rel = link.get("rel")?.as_str()?;
        let kind = link.get("type").and_then(Value::as_str).unwrap_or("");
        let activity = kind.starts_with("application/activity+json")
            || kind.starts_with("application/ld+json");
        (rel == "self" && activity)
            .then(|| link.get("href")?.as_str().map(str::to_string))
            .flatten()
    })
}

/// Fetches an actor document (or a key document naming its owner) and checks it; records
/// nothing.
pub async fn fetch_actor(
    state: &Federation,
    uri: &str,
    signer: Option<&Signer>,
) -> Result<RemoteProfile, ResolveError> {
    let get = |url: String| async move {
        crate::domain_blocks::get_json(state, &url, ACCEPT_ACTIVITY, signer)
            .await
            .map_err(|source| ResolveError::Fetch { url, source })
    };
    let mut fetched = get(strip_fragment(uri)).await?;
    // A key published as its own document: its owner is the actor.
    if fetched.json.get("publicKeyPem").is_some() {
        let owner = fetched
            .json
            .get("owner")
            .and_then(Value::as_str)
            .ok_or_else(|| ResolveError::invalid(format!("the key {uri} names no owner")))?
            .to_string();
        fetched = get(owner).await?;
    }
    profile_of(&fetched.json, &fetched.url)
}

fn strip_fragment(uri: &str) -> String {
    uri.split('#').next().unwrap_or(uri).to_string()
}

/// Checks an actor document read from `from` and keeps what we need of it.
pub fn profile_of(doc: &Value, from: &Url) -> Result<RemoteProfile, ResolveError> {
    let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_string);
    let id = text("id").ok_or_else(|| ResolveError::invalid("the actor document has no id"))?;
    let id_url =
        Url::parse(&id).map_err(|e| ResolveError::invalid(format!("actor id {id}: {e}")))?;
    let domain = authority(&id_url)
        .ok_or_else(|| ResolveError::invalid(format!("actor id {id} has no host")))?;
    if authority(from).as_deref() != Some(domain.as_str()) || id_url.scheme() != from.scheme() {
        return Err(ResolveError::invalid(format!(
            "the document read from {from} claims to be {id}, on another origin"
        )));
    }
    let kind = text("type").unwrap_or_default();
    if !ACTOR_TYPES.contains(&kind.as_str()) {
        return Err(ResolveError::invalid(format!(
            "{id} is a {kind:?}, not an actor"
        )));
    }
    let username = text("preferredUsername").unwrap_or_default();
    if username.is_empty()
        || username.len() > MAX_USERNAME_LEN
        || username.contains(['@', '/', '#'])
        || username.chars().any(char::is_whitespace)
    {
        return Err(ResolveError::invalid(format!(
            "{id} has no usable preferredUsername"
        )));
    }
    let inbox = text("inbox")
        .filter(|i| Url::parse(i).is_ok())
        .ok_or_else(|| ResolveError::invalid(format!("{id} has no inbox")))?;
    let key = match doc.get("publicKey") {
        Some(Value::Array(keys)) => keys.first(),
        other => other,
    }
    .ok_or_else(|| ResolveError::invalid(format!("{id} has no publicKey")))?;
    let key_text = |k: &str| key.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(key_id), Some(owner), Some(pem)) =
        (key_text("id"), key_text("owner"), key_text("publicKeyPem"))
    else {
        return Err(ResolveError::invalid(format!(
            "the publicKey of {id} needs an id, an owner and a publicKeyPem"
        )));
    };
    if owner != id {
        return Err(ResolveError::invalid(format!(
            "the publicKey of {id} belongs to {owner}"
        )));
    }
    if id.len() > MAX_ID_LEN || key_id.len() > MAX_ID_LEN || domain.len() > MAX_ID_LEN / 2 {
        return Err(ResolveError::invalid(format!(
            "{id}: ids this long are not kept"
        )));
    }
    let image = |key: &str| match doc.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("url").and_then(Value::as_str).map(str::to_string),
        Some(Value::Array(a)) => a
            .first()
            .and_then(|i| i.get("url"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };
    let url = match doc.get("url") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("href").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    Ok(RemoteProfile {
        username,
        domain,
        display_name: text("name").unwrap_or_default(),
        note_html: text("summary").unwrap_or_default(),
        avatar_url: image("icon"),
        header_url: image("image"),
        url,
        locked: doc
            .get("manuallyApprovesFollowers")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        bot: kind == "Service" || kind == "Application",
        inbox,
        shared_inbox: doc
            .get("endpoints")
            .and_then(|e| e.get("sharedInbox"))
            .and_then(Value::as_str)
            .map(str::to_string),
        followers: text("followers"),
        following: text("following"),
        public_key_id: key_id,
        public_key_pem: pem,
        uri: id,
    })
}

/// Appends the profile (a first fetch, a change, or nothing when unchanged) and returns the row.
pub async fn record(state: &Federation, profile: RemoteProfile) -> Result<AccountRow> {
    let uri = profile.uri.clone();
    let mut attempts = 0;
    loop {
        let command = RemoteAccountCommand::Fetch {
            id: new_id(),
            profile: profile.clone(),
            at: now_millis(),
        };
        match state
            .commands
            .remote_account(&uri, command, metadata(None, "federation"))
            .await
        {
            Ok(position) => {
                state.settle(position).await;
                break;
            }
            // Two fetches of one actor at the same moment: the other one recorded it.
            Err(AggregateError::AggregateConflict) if attempts < 3 => attempts += 1,
            // The actor deleted itself: it stays deleted whatever a server says now.
            Err(AggregateError::UserError(RemoteAccountError::Gone)) => {
                return Err(Error::NotFound)
            }
            Err(e) => return Err(Error::internal(format!("recording {uri}: {e}"))),
        }
    }
    accounts::by_uri(&state.db, &uri)
        .await?
        .ok_or_else(|| Error::internal(format!("{uri} was recorded but is not in the read model")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actor() -> Value {
        json!({
            "id": "https://b.example/users/ben",
            "type": "Person",
            "preferredUsername": "ben",
            "name": "Ben",
            "summary": "<p>hi</p>",
            "inbox": "https://b.example/users/ben/inbox",
            "endpoints": {"sharedInbox": "https://b.example/inbox"},
            "manuallyApprovesFollowers": true,
            "icon": {"type": "Image", "url": "https://b.example/a.png"},
            "publicKey": {
                "id": "https://b.example/users/ben#main-key",
                "owner": "https://b.example/users/ben",
                "publicKeyPem": "pem"
            }
        })
    }

    fn from() -> Url {
        Url::parse("https://b.example/users/ben").unwrap()
    }

    #[test]
    fn an_actor_document_gives_its_profile() {
        let p = profile_of(&actor(), &from()).unwrap();
        assert_eq!(p.uri, "https://b.example/users/ben");
        assert_eq!(
            (p.username.as_str(), p.domain.as_str()),
            ("ben", "b.example")
        );
        assert!(p.locked && !p.bot);
        assert_eq!(p.shared_inbox.as_deref(), Some("https://b.example/inbox"));
        assert_eq!(p.avatar_url.as_deref(), Some("https://b.example/a.png"));
        assert_eq!(p.public_key_id, "https://b.example/users/ben#main-key");
        let with_port = Url::parse("http://127.0.0.1:8080/users/ben").unwrap();
        assert_eq!(authority(&with_port).as_deref(), Some("127.0.0.1:8080"));
    }

    #[test]
    fn a_document_from_another_origin_or_with_someone_elses_key_is_refused() {
        let elsewhere = Url::parse("https://evil.example/users/ben").unwrap();
        assert!(profile_of(&actor(), &elsewhere)
            .unwrap_err()
            .to_string()
            .contains("another origin"));
        let mut stolen = actor();
        stolen["publicKey"]["owner"] = json!("https://b.example/users/eve");
        assert!(profile_of(&stolen, &from())
            .unwrap_err()
            .to_string()
            .contains("belongs to"));
        let mut no_inbox = actor();
        no_inbox.as_object_mut().unwrap().remove("inbox");
        assert!(profile_of(&no_inbox, &from()).is_err());
        let mut note = actor();
        note["type"] = json!("Note");
        assert!(profile_of(&note, &from()).is_err());
    }

    #[test]
    fn webfinger_self_links_are_found_by_type() {
        let jrd = json!({"links": [
            {"rel": "http://webfinger.net/rel/profile-page", "href": "https://b.example/@ben"},
            {"rel": "self", "type": "application/activity+json", "href": "https://b.example/users/ben"}
        ]});
        assert_eq!(
            self_link(&jrd).as_deref(),
            Some("https://b.example/users/ben")
        );
        assert_eq!(self_link(&json!({"links": []})), None);
    }
}
