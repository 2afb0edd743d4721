//! Read model: the node's registration mode and settings.

use crate::db::TextRow;
use peerpx_aggregates::instance::InstanceSettings;
use peerpx_aggregates::{InstanceEvent, RegistrationsMode};

use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub mode: RegistrationsMode,
    pub settings: InstanceSettings,
}

pub async fn get(db: &Db) -> Result<InstanceRow> {
    let row = sqlx::query(
        "SELECT registrations_mode, title, description, contact_email, contact_username \
         FROM instance_settings WHERE id = 1",
    )
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(InstanceRow {
            mode: RegistrationsMode::default(),
            settings: Default::default(),
        });
    };
    let mode: String = row.text("registrations_mode")?;
    Ok(InstanceRow {
        mode: mode.parse().unwrap_or_default(),
        settings: InstanceSettings {
            title: row.opt_text("title")?,
            description: row.opt_text("description")?,
            contact_email: row.opt_text("contact_email")?,
            contact_username: row.opt_text("contact_username")?,
        },
    })
}

/// The instance actor's key pair (public SPKI PEM, private PKCS#8 PEM), once generated.
pub async fn actor_key(db: &Db) -> Result<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT actor_public_key_pem, actor_private_key_pem FROM instance_settings WHERE id = 1",
    )
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(row
        .opt_text("actor_public_key_pem")?
        .zip(row.opt_text("actor_private_key_pem")?))
}

pub struct InstanceProjection;

#[async_trait::async_trait]
impl Projection for InstanceProjection {
    fn name(&self) -> &'static str {
        "instance"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("instance_settings", "id")]
    }

    async fn reset(&self, tx: &mut Tx<'_>) -> Result<()> {
        sqlx::query("DELETE FROM instance_settings")
            .execute(&mut *tx.conn)
            .await?;
        sqlx::query(
            &tx.sql("INSERT INTO instance_settings (id, registrations_mode) VALUES (1, ?)"),
        )
        .bind(RegistrationsMode::default().as_str())
        .execute(&mut *tx.conn)
        .await?;
        Ok(())
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let DomainEvent::Instance(event) = &recorded.event else {
            return Ok(());
        };
        match event {
            InstanceEvent::RegistrationsModeChanged { mode, .. } => {
                sqlx::query(
                    &tx.sql("UPDATE instance_settings SET registrations_mode = ? WHERE id = 1"),
                )
                .bind(mode.as_str())
                .execute(&mut *tx.conn)
                .await?;
            }
            InstanceEvent::InstanceSettingsUpdated { settings: s, .. } => {
                sqlx::query(&tx.sql(
                    "UPDATE instance_settings SET title = ?, description = ?, contact_email = ?, \
                     contact_username = ? WHERE id = 1",
                ))
                .bind(s.title.clone())
                .bind(s.description.clone())
                .bind(s.contact_email.clone())
                .bind(s.contact_username.clone())
                .execute(&mut *tx.conn)
                .await?;
            }
            InstanceEvent::InstanceActorKeyGenerated { key, .. } => {
                sqlx::query(&tx.sql(
                    "UPDATE instance_settings SET actor_public_key_pem = ?, \
                     actor_private_key_pem = ? WHERE id = 1",
                ))
                .bind(key.public_pem.clone())
                .bind(key.private_pem.clone())
                .execute(&mut *tx.conn)
                .await?;
            }
        }
        Ok(())
    }
}
