//! Domain blocks at work: what federation does with a domain the admins suspended.
//!
//! Only `suspend` blocks stop federation (`silence` and `noop` ones are kept and shown, and do
//! nothing here yet). A block covers its domain and its subdomains; a block naming a port
//! (`127.0.0.1:8080`) covers that port only, so one of several nodes on one address can be
//! blocked (`peerpx_aggregates::domain_block::covers`). With a suspending block:
//!
//! - the inboxes refuse an activity whose `keyId` or `actor` is on the domain with 403, before
//!   any key is fetched, and append nothing ([`refuse_blocked_sender`]);
//! - nothing is fetched from the domain: actors, keys, WebFinger, objects ([`get_json`],
//!   [`get_discovery`], [`refuse_resolving`]);
//! - nothing is delivered to it: the delivery worker records each due delivery to a blocked host
//!   as failed with the reason and abandoned at once, without sending it
//!   ([`refuse_delivery`]). Deliveries queued while a block stood stay abandoned when it is
//!   lifted; whatever is queued afterwards goes out as usual;
//! - when the block is made (or an update makes it suspend), the follows and follow requests
//!   between local accounts and the domain's accounts end, as Mastodon ends them
//!   ([`sever_follows`]); nothing is sent to the domain about it. Lifting the block does not
//!   bring them back.
//!
//! Authorized fetch (`authorized_fetch`) refuses signed GETs from the domain with 403.

use axum::http::HeaderMap;
use cqrs_es::AggregateError;
use peerpx_aggregates::OutboundCommand;
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::deliveries::{host_of, DeliveryRow};
use peerpx_projections::domain_blocks::{self, DomainBlockRow};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use serde_json::Value;

use crate::fetch::{FetchError, Fetched};
use crate::instance_actor;
use crate::signatures::Signer;
use crate::{Error, Federation, Result};

/// The suspending block covering the host (and port) of `url`, if any.
pub async fn suspending(state: &Federation, url: &str) -> Result<Option<DomainBlockRow>> {
    let host = host_of(url);
    if host.is_empty() {
        return Ok(None);
    }
    Ok(domain_blocks::suspending(&state.db, &host).await?)
}

/// The reason given when something is refused because of `block`.
pub fn reason(host: &str, block: &DomainBlockRow) -> String {
    if host == block.domain {
        format!("{host} is blocked by this node")
    } else {
        format!(
            "{host} is blocked by this node (domain block on {})",
            block.domain
        )
    }
}

/// The `keyId` of a draft-cavage `Signature` header, when there is one.
pub fn signature_key_id(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get("signature")?.to_str().ok()?;
    raw.trim()
        .trim_start_matches("Signature ")
        .split(',')
        .find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("keyId")
                .then(|| value.trim().trim_matches('"').to_string())
        })
}

/// The inbox's first check: an activity signed by a key on a suspended domain, or naming an
/// actor there, is refused (403 with the reason) before any key is fetched or anything appended.
pub async fn refuse_blocked_sender(
    state: &Federation,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<()> {
    let actor = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v.get("actor")? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id")?.as_str().map(str::to_string),
            _ => None,
        });
    // The key and the actor are on one host as a rule: one look-up then.
    let mut hosts: Vec<String> = signature_key_id(headers)
        .into_iter()
        .chain(actor)
        .map(|url| host_of(&url))
        .filter(|h| !h.is_empty())
        .collect();
    hosts.dedup();
    for host in hosts {
        if let Some(block) = domain_blocks::suspending(&state.db, &host).await? {
            tracing::info!(%host, domain = %block.domain, "inbox refused an activity from a blocked domain");
            return Err(Error::Forbidden(reason(&host, &block)));
        }
    }
    Ok(())
}

/// A remote account on a suspended domain cannot be followed (403 with the reason): nothing
/// would reach it.
pub async fn refuse_account(state: &Federation, account: &AccountRow) -> Result<()> {
    let Some(remote) = &account.remote else {
        return Ok(());
    };
    match suspending(state, &remote.uri).await? {
        Some(block) => Err(Error::Forbidden(reason(&host_of(&remote.uri), &block))),
        None => Ok(()),
    }
}

/// Refuses `url` when its host is suspended, as the fetcher refuses a private address.
async fn refuse_url(state: &Federation, url: &str) -> Result<(), FetchError> {
    match suspending(state, url).await {
        Ok(None) => Ok(()),
        Ok(Some(block)) => Err(FetchError::Refused {
            reason: format!("{url}: {}", reason(&host_of(url), &block)),
        }),
        Err(e) => Err(FetchError::Refused {
            reason: format!("{url}: cannot read the domain blocks: {e}"),
        }),
    }
}

/// GETs an ActivityPub document, unless its host is suspended: signed with `signer`, or else
/// with the instance actor's key (peers in authorized-fetch mode answer only signed requests).
pub async fn get_json(
    state: &Federation,
    url: &str,
    accept: &str,
    signer: Option<&Signer>,
) -> Result<Fetched, FetchError> {
    refuse_url(state, url).await?;
    let node;
    let signer = match signer {
        Some(s) => Some(s),
        None => match instance_actor::signer(state).await {
            Ok(s) => {
                node = s;
                Some(&node)
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching unsigned: no instance actor key");
                None
            }
        },
    };
    state.fetcher.get_json(url, accept, signer).await
}

/// GETs a discovery document (WebFinger, host-meta), unsigned as peers expect, unless its host
/// is suspended.
pub async fn get_discovery(
    state: &Federation,
    url: &str,
    accept: &str,
) -> Result<Fetched, FetchError> {
    refuse_url(state, url).await?;
    state.fetcher.get_json(url, accept, None).await
}

/// Resolving an account of a suspended domain fails, even one already known: the reason why.
pub async fn refuse_resolving(state: &Federation, domain_or_url: &str) -> Result<Option<String>> {
    let url = if domain_or_url.contains("://") {
        domain_or_url.to_string()
    } else {
        format!("{}://{domain_or_url}/", state.config.protocol)
    };
    Ok(suspending(state, &url)
        .await?
        .map(|block| reason(&host_of(&url), &block)))
}

/// The delivery worker's check before sending `row`: to a suspended host, the delivery is
/// recorded as failed with the reason and abandoned at once (`DeliveryFailed` then
/// `DeliveryAbandoned`), and `true` says it was not sent.
pub async fn refuse_delivery(state: &Federation, row: &DeliveryRow) -> bool {
    let block = match domain_blocks::suspending(&state.db, &row.host).await {
        Ok(Some(block)) => block,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the domain blocks; delivering");
            return false;
        }
    };
    let at = now_millis();
    let error = format!("refused: {}; not sent", reason(&row.host, &block));
    tracing::info!(activity = %row.activity_id, inbox = %row.inbox, domain = %block.domain, "delivery to a blocked domain abandoned");
    let command = OutboundCommand::RecordFailure {
        inbox: row.inbox.clone(),
        attempt: row.attempts + 1,
        error,
        at,
        // Past the give-up time: the aggregate abandons the delivery with the failure.
        retry_at: at + 1,
        give_up_at: at,
    };
    for _ in 0..10 {
        let result = state
            .commands
            .outbound(
                &row.activity_id,
                command.clone(),
                metadata(None, "delivery"),
            )
            .await;
        match result {
            Ok(position) => {
                state.settle(position).await;
                return true;
            }
            Err(AggregateError::AggregateConflict) => continue,
            Err(e) => {
                tracing::error!(activity = %row.activity_id, error = %e, "cannot record a refused delivery");
                return true;
            }
        }
    }
    true
}

/// Ends every follow and follow request between a local account and an account `domain`
/// covers (a suspending block was just made). Returns the last log position (0: none).
pub async fn sever_follows(state: &Federation, admin_id: &str, domain: &str) -> Result<i64> {
    // A local follower stops following; a remote follower is cut off, as a block does.
    let follows = domain_blocks::follows_across(&state.db, domain).await?;
    crate::departed::end_follows(state, &follows, || metadata(Some(admin_id), "domain-block")).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_key_id_is_read_from_the_signature_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(signature_key_id(&headers), None);
        headers.insert(
            "signature",
            HeaderValue::from_static(
                r#"keyId="http://127.0.0.1:9/users/ana#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="abc=""#,
            ),
        );
        assert_eq!(
            signature_key_id(&headers).as_deref(),
            Some("http://127.0.0.1:9/users/ana#main-key")
        );
    }
}
