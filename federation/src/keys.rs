//! Actor keys: one RSA-2048 key pair per local account, for HTTP signatures.
//!
//! The pair is generated once, at registration (or, for accounts older than keys, when the node
//! starts) and kept in the event log (`Registration::key`, `AccountEvent::KeyGenerated`), so it
//! is stable across restarts and replays: peers cache it. Private keys are PKCS#8 PEM, public
//! keys SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form ActivityPub's `publicKeyPem` carries.

use cqrs_es::AggregateError;
use peerpx_aggregates::account::ActorKey;
use peerpx_aggregates::{AccountCommand, AccountError};
use peerpx_projections::log::metadata;
use peerpx_projections::{accounts, now_millis, Commands, Db};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::RsaPrivateKey;

use crate::{Error, Result};

/// Key size, as Mastodon and every peer we know use.
pub const BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
#[error("cannot generate an actor key: {0}")]
pub struct KeyError(String);

/// A fresh key pair. Takes about a tenth of a second of CPU: async code calls
/// [`generate_blocking`].
pub fn generate() -> Result<ActorKey, KeyError> {
    let private =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, BITS).map_err(|e| KeyError(e.to_string()))?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError(e.to_string()))?
        .to_string();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError(e.to_string()))?;
    Ok(ActorKey {
        public_pem,
        private_pem,
    })
}

/// [`generate`] on a blocking thread, off the async workers.
pub async fn generate_blocking() -> Result<ActorKey> {
    tokio::task::spawn_blocking(generate)
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

/// Gives every account registered before actor keys existed its key pair (`KeyGenerated`), one
/// after the other on a blocking thread. Returns how many got one and the last log position
/// (0: none). An account another process gave a key meanwhile is skipped.
pub async fn generate_missing(db: &Db, commands: &Commands) -> Result<(usize, i64)> {
    let mut generated = 0;
    let mut position = 0;
    for username in accounts::without_key(db).await? {
        let key = generate_blocking().await?;
        let command = AccountCommand::GenerateKey {
            key,
            at: now_millis(),
        };
        match commands
            .account(&username, command, metadata(None, "node"))
            .await
        {
            Ok(p) => {
                generated += 1;
                position = position.max(p);
            }
            Err(AggregateError::UserError(AccountError::KeyExists)) => {}
            Err(e) => return Err(Error::internal(format!("key for {username}: {e}"))),
        }
    }
    Ok((generated, position))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{SigningKey, VerifyingKey};
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::sha2::Sha256;
    use rsa::signature::{SignatureEncoding, Signer, Verifier};
    use rsa::RsaPublicKey;

    #[test]
    fn a_generated_pair_signs_and_verifies_through_its_pem_forms() {
        let key = generate().expect("key");
        assert!(key.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(key.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let private = RsaPrivateKey::from_pkcs8_pem(&key.private_pem).expect("pkcs8");
        let public = RsaPublicKey::from_public_key_pem(&key.public_pem).expect("spki");
        assert_eq!(rsa::traits::PublicKeyParts::size(&public) * 8, BITS);
        let signature = SigningKey::<Sha256>::new(private).sign(b"(request-target): get /");
        let verifier = VerifyingKey::<Sha256>::new(public);
        let signature =
            rsa::pkcs1v15::Signature::try_from(signature.to_bytes().as_ref()).expect("signature");
        assert!(verifier
            .verify(b"(request-target): get /", &signature)
            .is_ok());
        assert!(verifier
            .verify(b"(request-target): get /x", &signature)
            .is_err());
        assert_ne!(generate().expect("key").public_pem, key.public_pem);
    }
}
