//! Local accounts as federation serves them: only active accounts are actors, a deleted one is
//! gone for good. Shared by the actor documents, the pages for people, the collections and the
//! inbox, so none of them depends on another for it.

use peerpx_projections::accounts::{self, AccountRow};

use crate::{Error, Federation, Result};

/// The active local account `username` (any case); 410 for a deleted one (other servers then
/// know to drop it), 404 otherwise.
pub async fn active_account(state: &Federation, username: &str) -> Result<AccountRow> {
    match accounts::by_username(&state.db, username).await? {
        Some(a) if a.state == "active" => Ok(a),
        Some(a) if a.state == "deleted" => Err(Error::Gone(format!(
            "The account {} was deleted",
            a.username
        ))),
        _ => Err(Error::NotFound),
    }
}

/// Rows the rendering tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use peerpx_aggregates::account::{ImageRef, ProfileField};
    use peerpx_projections::accounts::{AccountRow, AccountStats};

    pub(crate) fn ana() -> AccountRow {
        AccountRow {
            id: "100".into(),
            username: "Ana".into(),
            email: "ana@example.org".into(),
            password_hash: "h".into(),
            display_name: "Ana <Lens>".into(),
            note: "Street\n\nphotos & more".into(),
            avatar: Some(ImageRef {
                hash: "abc".into(),
                content_type: "image/png".into(),
            }),
            header: None,
            locked: true,
            bot: false,
            discoverable: true,
            fields: vec![ProfileField {
                name: "Site".into(),
                value: "<b>x</b>".into(),
            }],
            role: "user".into(),
            state: "active".into(),
            locale: "en".into(),
            reason: None,
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_000,
            public_key_pem: Some("-----BEGIN PUBLIC KEY-----\n…".into()),
            private_key_pem: Some("secret".into()),
            stats: AccountStats::default(),
            remote: None,
        }
    }
}
