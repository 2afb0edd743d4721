//! `GET /api/v2/search`: accounts, hashtags and statuses, as Mastodon answers them.
//!
//! - Accounts: local ones by name prefix, remote ones by their `user@domain` or actor URL
//!   (fetched when `resolve=true`).
//! - Hashtags (anyone): the tags starting with the query (without its `#`) that statuses the
//!   viewer may see carry, most used first.
//! - Statuses (signed-in users only, as in Mastodon; visitors get an empty list): those the viewer
//!   may see whose caption, content warning, title or photo descriptions contain every word of the
//!   query, newest first (`peerpx_projections::search`).
//! - An `http(s)` URL is an object, not words: a known account or status (a remote one by its
//!   ActivityPub id, one of ours by its id or page), or with `resolve=true` the document fetched
//!   signed: an actor is recorded as a remote account, a note (after its author) as a remote
//!   status exactly as the inbox records a `Create` ([`interpret::keep_fetched_note`]). Anything else, a
//!   failed fetch or a suspended domain gives empty lists, not an error.
//!
//! `limit` applies to each list; `offset` pages hashtags and statuses (accounts only come on the
//! first page).

use axum::extract::State;
use axum::Json;
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::search::{self as read, TagCount};
use peerpx_projections::statuses::{self, StatusRow};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::auth::MaybeAuthed;
use crate::entities;
use crate::params::{lenient, Params};
use crate::{ApiError, ApiResult, AppState};
use peerpx_federation::fetch::Fetched;
use peerpx_federation::interpret;
use peerpx_federation::notes::NOTE_TYPES;
use peerpx_federation::resolve::{self, authority, signer_for};
use peerpx_federation::signatures::{Signer, ACCEPT_ACTIVITY};

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 40;
/// Deeper pages are refused work: each one scans every match before it.
const MAX_OFFSET: i64 = 10_000;

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    resolve: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    offset: Option<i64>,
}

/// `user@domain` (with or without a leading `@`), split.
pub fn split_acct(q: &str) -> Option<(&str, &str)> {
    let q = q.trim().trim_start_matches('@');
    let (user, domain) = q.split_once('@')?;
    let valid = |s: &str| !s.is_empty() && !s.contains(['@', '/', ' ']);
    (valid(user) && valid(domain)).then_some((user, domain))
}

fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// What the query asks for, and of whom.
struct Wanted {
    accounts: bool,
    hashtags: bool,
    /// Only for a signed-in viewer.
    statuses: bool,
}

pub async fn search(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    params: Params,
) -> ApiResult<Json<Value>> {
    let q: SearchQuery = params.parse()?;
    let resolve = q.resolve.unwrap_or(false);
    let me = match &auth.0 {
        Some(a) => {
            a.require(&["read:search", "read"])?;
            Some(a.user(&state).await?)
        }
        None if resolve => {
            return Err(ApiError::Unauthorized(
                "Search queries that resolve remote resources require a user token".into(),
            ))
        }
        None => None,
    };
    let viewer = me.as_ref().map(|m| m.id.as_str());
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = q.offset.unwrap_or(0).clamp(0, MAX_OFFSET);
    let kind = q.kind.as_deref();
    let wanted = Wanted {
        accounts: kind.is_none_or(|k| k == "accounts"),
        hashtags: kind.is_none_or(|k| k == "hashtags"),
        statuses: kind.is_none_or(|k| k == "statuses") && viewer.is_some(),
    };
    let signer = me
        .as_ref()
        .and_then(|m| signer_for(&state.federation, m).ok());
    let text = q.q.trim();
    let mut found: Vec<AccountRow> = Vec::new();
    let mut posts: Vec<StatusRow> = Vec::new();
    let mut tags: Vec<TagCount> = Vec::new();
    if text.is_empty() {
        // Nothing to look for.
    } else if is_url(text) {
        if offset == 0 {
            match by_url(&state, text, resolve, signer.as_ref(), &wanted).await? {
                Found::Account(a) if wanted.accounts => found.push(*a),
                Found::Status(s) if wanted.statuses => {
                    // Known or just recorded, it is shown only to who may see it.
                    if let Some(s) = statuses::visible_by_id(&state.db, viewer, s.id).await? {
                        posts.push(s);
                    }
                }
                _ => {}
            }
        }
    } else {
        if wanted.accounts && offset == 0 {
            found = accounts_for(&state, text, resolve, signer.as_ref(), limit).await?;
        }
        if wanted.hashtags {
            tags = read::hashtags(&state.db, viewer, text, limit, offset).await?;
        }
        if wanted.statuses {
            let words = read::words(text);
            posts = read::statuses(&state.db, viewer, &words, limit, offset).await?;
        }
    }
    found.truncate(usize::try_from(limit).unwrap_or(20));
    let rendered: Vec<Value> = found
        .iter()
        .map(|a| entities::account(&state.config, a))
        .collect();
    let statuses = crate::status_views::render(&state, viewer, &posts).await?;
    let base = state.config.base_url();
    let hashtags: Vec<Value> = tags
        .iter()
        .map(|t| tag_json(&base, t, viewer.is_some()))
        .collect();
    Ok(Json(json!({
        "accounts": rendered,
        "statuses": statuses,
        "hashtags": hashtags,
    })))
}

/// Mastodon's Tag entity. No usage history is kept (`history` is empty), and tags cannot be
/// followed here (`following`, given to signed-in viewers, is false).
fn tag_json(base: &str, tag: &TagCount, signed_in: bool) -> Value {
    let mut v = json!({
        "name": tag.name,
        "url": format!("{base}/tags/{}", tag.name),
        "history": [],
    });
    if signed_in {
        v["following"] = json!(false);
    }
    v
}

/// Accounts for a query that is not a URL: the one a `user@domain` names exactly, then local
/// and known ones by name prefix.
async fn accounts_for(
    state: &AppState,
    text: &str,
    resolve: bool,
    signer: Option<&Signer>,
    limit: i64,
) -> ApiResult<Vec<AccountRow>> {
    let mut found: Vec<AccountRow> = Vec::new();
    if let Some(a) = exact(state, text, resolve, signer).await? {
        found.push(a);
    }
    let prefix = match split_acct(text) {
        Some((user, domain)) if domain.eq_ignore_ascii_case(&state.config.domain) => user,
        _ => text.trim_start_matches('@'),
    };
    if !prefix.is_empty() {
        for a in accounts::search(&state.db, prefix, limit).await? {
            if !found.iter().any(|f| f.id == a.id) {
                found.push(a);
            }
        }
    }
    Ok(found)
}

/// The one account a remote `user@domain` (fetched when `resolve`) or a local one names.
async fn exact(
    state: &AppState,
    text: &str,
    resolve: bool,
    signer: Option<&Signer>,
) -> ApiResult<Option<AccountRow>> {
    let Some((user, domain)) = split_acct(text) else {
        return Ok(None);
    };
    if domain.eq_ignore_ascii_case(&state.config.domain) {
        return Ok(accounts::by_username(&state.db, user)
            .await?
            .filter(|a| a.state == "active"));
    }
    if !resolve {
        return Ok(accounts::by_acct(&state.db, user, domain).await?);
    }
    match resolve::resolve_acct(&state.federation, user, domain, signer).await? {
        Ok(a) => Ok(Some(a)),
        Err(e) => {
            // Mastodon answers a failed resolution with empty results, not an error.
            tracing::info!(query = %text, error = %e, "search could not resolve");
            Ok(None)
        }
    }
}

/// What an object URL names.
enum Found {
    Account(Box<AccountRow>),
    Status(Box<StatusRow>),
    Nothing,
}

/// `host[:port]` of a URL.
fn host_of(url: &str) -> Option<String> {
    Url::parse(url).ok().as_ref().and_then(authority)
}

/// The id of one of our statuses from its page, `{base}/@{username}/{id}` (its ActivityPub id
/// is [`statuses::by_uri`]'s to read).
pub fn local_page_id(base: &str, url: &str) -> Option<(String, i64)> {
    let rest = url.strip_prefix(base)?.strip_prefix("/@")?;
    let (username, id) = rest.split_once('/')?;
    let id = id.trim_end_matches('/').parse().ok()?;
    (!username.is_empty() && !username.contains('@')).then(|| (username.to_string(), id))
}

/// The account or status `url` names: known ones from the read models; with `resolve`, others
/// fetched (signed with `signer`) and recorded when they are wanted.
async fn by_url(
    state: &AppState,
    url: &str,
    resolve: bool,
    signer: Option<&Signer>,
    wanted: &Wanted,
) -> ApiResult<Found> {
    if peerpx_federation::domain_blocks::suspending(&state.federation, url)
        .await?
        .is_some()
    {
        return Ok(Found::Nothing);
    }
    if let Some(a) = accounts::by_uri(&state.db, url).await? {
        return Ok(Found::Account(Box::new(a)));
    }
    let base = state.config.base_url();
    if let Some((username, id)) = local_page_id(&base, url) {
        let Some(s) = statuses::by_id(&state.db, id).await? else {
            return Ok(Found::Nothing);
        };
        let author = accounts::by_id(&state.db, &s.account_id).await?;
        let same = author.is_some_and(|a| a.username.eq_ignore_ascii_case(&username));
        return Ok(if same && s.uri.is_none() {
            Found::Status(Box::new(s))
        } else {
            Found::Nothing
        });
    }
    if let Some(s) = statuses::by_uri(&state.db, &base, url).await? {
        return Ok(Found::Status(Box::new(s)));
    }
    // Nothing of ours is fetched: what is not in the read models does not exist.
    if !resolve || host_of(url).is_none() || host_of(url) == host_of(&base) {
        return Ok(Found::Nothing);
    }
    let fetched = match peerpx_federation::domain_blocks::get_json(
        &state.federation,
        url,
        ACCEPT_ACTIVITY,
        signer,
    )
    .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::info!(%url, error = %e, "search could not fetch an object");
            return Ok(Found::Nothing);
        }
    };
    let kind = fetched
        .json
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if NOTE_TYPES.contains(&kind) {
        if !wanted.statuses {
            return Ok(Found::Nothing);
        }
        return Ok(match note(state, fetched, signer).await? {
            Some(s) => Found::Status(Box::new(s)),
            None => Found::Nothing,
        });
    }
    if !wanted.accounts {
        return Ok(Found::Nothing);
    }
    // An actor, or a key naming its owner: read the way the inbox reads signers.
    let outcome = if fetched.json.get("publicKeyPem").is_some() {
        resolve::resolve_uri(&state.federation, url, signer, false).await?
    } else {
        match resolve::profile_of(&fetched.json, &fetched.url) {
            Ok(profile) => Ok(resolve::record(&state.federation, profile).await?),
            Err(e) => Err(e),
        }
    };
    match outcome {
        Ok(a) => Ok(Found::Account(Box::new(a))),
        Err(e) => {
            tracing::info!(%url, error = %e, "search could not resolve");
            Ok(Found::Nothing)
        }
    }
}

/// A fetched note as a status: the one already here with its id, or a new remote status by its
/// author (resolved first), recorded as the inbox records a `Create`.
async fn note(
    state: &AppState,
    fetched: Fetched,
    signer: Option<&Signer>,
) -> ApiResult<Option<StatusRow>> {
    let json = fetched.json;
    let claimed = json.get("id").and_then(Value::as_str).unwrap_or("");
    // Only the host an id names vouches for its document (as the inbox checks fetched notes).
    if host_of(claimed).is_none() || host_of(claimed) != authority(&fetched.url) {
        tracing::info!(id = %claimed, from = %fetched.url, "a note served by another host");
        return Ok(None);
    }
    match interpret::keep_fetched_note(&state.federation, &json, signer, false).await? {
        Ok(status) => Ok(Some(status)),
        Err(why) => {
            tracing::info!(id = %claimed, %why, "search did not keep a note");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_with_or_without_the_leading_at() {
        assert_eq!(split_acct("@ben@b.example"), Some(("ben", "b.example")));
        assert_eq!(
            split_acct("ben@127.0.0.1:8080"),
            Some(("ben", "127.0.0.1:8080"))
        );
        assert_eq!(split_acct("ben"), None);
        assert_eq!(split_acct("@ben@"), None);
        assert_eq!(split_acct("a@b@c"), None);
    }

    #[test]
    fn our_status_pages_give_their_author_and_id() {
        let base = "https://photos.example";
        assert_eq!(
            local_page_id(base, "https://photos.example/@ana/123"),
            Some(("ana".to_string(), 123))
        );
        assert_eq!(local_page_id(base, "https://photos.example/@ana"), None);
        assert_eq!(local_page_id(base, "https://photos.example/@ana/x"), None);
        assert_eq!(
            local_page_id(base, "https://photos.example/@ana@b.example/1"),
            None
        );
        assert_eq!(local_page_id(base, "https://other.example/@ana/123"), None);
        assert_eq!(
            local_page_id(base, "https://photos.example.evil/@ana/1"),
            None
        );
    }
}
