//! The instance actor: the node itself as an ActivityPub `Application` at `{base}/actor`, whose
//! key signs the fetches no local account makes (key fetches for the shared inbox and for
//! authorized fetch, fetches on the node's behalf).
//!
//! Authorized fetch needs it to terminate: when node A asks node B for a document, signed by
//! one of A's keys, B fetches that key's actor from A to verify, signing that fetch with its own
//! instance key; A then fetches B's instance actor to verify *that*, and B serves it to anyone,
//! unsigned, as Mastodon serves its `/actor`. Without an exception somewhere, two nodes in
//! authorized-fetch mode would ask each other for keys for ever.
//!
//! The key pair is generated once, when the node first starts, and kept in the log
//! (`InstanceActorKeyGenerated` on the `Instance` aggregate), like the accounts' keys: peers cache
//! it, so it must survive restarts and replays.

use axum::extract::State;
use axum::response::Response;
use cqrs_es::AggregateError;
use peerpx_aggregates::{InstanceCommand, InstanceError};
use peerpx_projections::log::metadata;
use peerpx_projections::{instance, now_millis, Commands, Db};
use serde_json::{json, Value};

use crate::keys;
use crate::ld;
use crate::signatures::Signer;
use crate::{Error, Federation, FederationConfig, Result};
use peerpx_aggregates::text::iso;

/// `{base}/actor`
pub fn actor_url(config: &FederationConfig) -> String {
    format!("{}/actor", config.base_url())
}

/// `{base}/actor#main-key`
pub fn key_id(config: &FederationConfig) -> String {
    format!("{}#main-key", actor_url(config))
}

/// Gives the instance actor its key pair unless it has one; returns the log position of the new
/// key (0: it had one already, or another process made it meanwhile).
pub async fn ensure_key(db: &Db, commands: &Commands) -> Result<i64> {
    if instance::actor_key(db).await?.is_some() {
        return Ok(0);
    }
    let key = keys::generate_blocking().await?;
    let command = InstanceCommand::GenerateActorKey {
        key,
        at: now_millis(),
    };
    match commands.instance(command, metadata(None, "node")).await {
        Ok(position) => Ok(position),
        Err(AggregateError::UserError(InstanceError::KeyExists)) => Ok(0),
        Err(e) => Err(Error::internal(format!("instance actor key: {e}"))),
    }
}

/// The key the node signs its own requests with.
pub async fn signer(state: &Federation) -> Result<Signer> {
    let (_, private) = instance::actor_key(&state.db)
        .await?
        .ok_or_else(|| Error::internal("the instance actor has no key yet"))?;
    Signer::new(key_id(&state.config), &private).map_err(Error::internal)
}

/// The instance actor's document (without `@context`).
pub fn document(config: &FederationConfig, public_key_pem: &str) -> Value {
    let id = actor_url(config);
    json!({
        "id": id,
        "type": "Application",
        // Mastodon names its instance actor after the domain; peers expect nothing else of it.
        "preferredUsername": config.domain,
        "name": config.domain,
        "summary": "",
        "url": config.base_url(),
        "inbox": format!("{}/inbox", config.base_url()),
        "endpoints": { "sharedInbox": format!("{}/inbox", config.base_url()) },
        "manuallyApprovesFollowers": true,
        "discoverable": false,
        "indexable": false,
        "published": iso(0),
        "publicKey": {
            "id": key_id(config),
            "owner": id,
            "publicKeyPem": public_key_pem,
        },
    })
}

/// `GET /actor`: served to everyone, signed or not, even in authorized-fetch mode.
pub async fn actor(State(state): State<Federation>) -> Result<Response> {
    let (public, _) = instance::actor_key(&state.db)
        .await?
        .ok_or(Error::NotFound)?;
    let document = ld::with_context(&state.config, document(&state.config, &public));
    Ok(ld::activity_response(document))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ld::test_config;
    use crate::resolve::profile_of;

    #[test]
    fn the_instance_actor_reads_as_an_actor_with_its_key() {
        let config = test_config();
        let doc = document(&config, "pem");
        let from = url::Url::parse(&actor_url(&config)).expect("url");
        let profile = profile_of(&doc, &from).expect("an actor");
        assert_eq!(profile.uri, actor_url(&config));
        assert_eq!(profile.public_key_id, key_id(&config));
        assert!(profile.bot, "an Application is a bot");
        assert_eq!(profile.username, config.domain);
    }
}
