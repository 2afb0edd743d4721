//! Read model: the domains the node blocks, one row per domain (`domain_blocks`), and the
//! queries federation runs on it.
//!
//! A block covers its domain and its subdomains; a block naming a port covers that port only
//! (`peerpx_aggregates::domain_block::covers`). [`rule_for`] finds the most specific block
//! covering a host, as Mastodon's `DomainBlock.rule_for` does: the candidates (the host and its
//! parents, with and without the port) are looked up by primary key in one query, so checking a
//! host costs one indexed read.

use std::collections::BTreeSet;

use peerpx_aggregates::domain_block::{candidates, covers, BlockSettings, Severity};
use peerpx_aggregates::DomainBlockEvent;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{placeholders, TextRow};
use crate::page::Page;
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainBlockRow {
    pub id: i64,
    pub domain: String,
    pub settings: BlockSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

impl DomainBlockRow {
    /// Nothing is taken from the domain and nothing sent to it.
    pub fn suspends(&self) -> bool {
        self.settings.severity == Severity::Suspend
    }
}

const COLUMNS: &str = "domain, id, severity, reject_media, reject_reports, private_comment, \
    public_comment, obfuscate, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<DomainBlockRow> {
    let severity: String = r.text("severity")?;
    Ok(DomainBlockRow {
        id: r.try_get("id")?,
        domain: r.text("domain")?,
        settings: BlockSettings {
            severity: severity.parse().unwrap_or_default(),
            reject_media: r.try_get::<i64, _>("reject_media")? != 0,
            reject_reports: r.try_get::<i64, _>("reject_reports")? != 0,
            private_comment: r.opt_text("private_comment")?,
            public_comment: r.opt_text("public_comment")?,
            obfuscate: r.try_get::<i64, _>("obfuscate")? != 0,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The read model as a pure fold: a domain's row after one more of its events.
pub fn fold(row: Option<DomainBlockRow>, event: &DomainBlockEvent) -> Option<DomainBlockRow> {
    match event {
        DomainBlockEvent::DomainBlocked {
            id,
            domain,
            settings,
            at,
        } => Some(DomainBlockRow {
            // Ids are made by `new_id`, always numeric; anything else cannot be paged and is
            // kept as 0.
            id: id.parse().unwrap_or(0),
            domain: domain.clone(),
            settings: settings.clone(),
            created_at: *at,
            updated_at: *at,
        }),
        DomainBlockEvent::DomainBlockUpdated { settings, at, .. } => row.map(|mut r| {
            r.settings = settings.clone();
            r.updated_at = *at;
            r
        }),
        DomainBlockEvent::DomainUnblocked { .. } => None,
    }
}

/// Blocks, newest first, paged by id.
pub async fn list(db: &Db, page: Page) -> Result<Vec<DomainBlockRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM domain_blocks WHERE 1 = 1{}",
        page.sql("id")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql);
    for b in page.binds() {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let rows = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(page.finish(rows))
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<DomainBlockRow>> {
    let sql = db
        .sql(&format!("SELECT {COLUMNS} FROM domain_blocks WHERE id = ?"))
        .into_owned();
    let row = sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// The block of exactly `domain` (normal form).
pub async fn by_domain(db: &Db, domain: &str) -> Result<Option<DomainBlockRow>> {
    let sql = db
        .sql(&format!(
            "SELECT {COLUMNS} FROM domain_blocks WHERE domain = ?"
        ))
        .into_owned();
    let row = sqlx::query(&sql)
        .bind(domain.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The most specific block covering `authority` (`host[:port]` of a URL), if any.
pub async fn rule_for(db: &Db, authority: &str) -> Result<Option<DomainBlockRow>> {
    let names = candidates(authority);
    if names.is_empty() || authority.is_empty() {
        return Ok(None);
    }
    let sql = db
        .sql(&format!(
            "SELECT {COLUMNS} FROM domain_blocks WHERE domain IN ({})",
            placeholders(names.len())
        ))
        .into_owned();
    let mut query = sqlx::query(&sql);
    for n in &names {
        query = query.bind(n.clone());
    }
    let rows = query.fetch_all(&db.pool).await?;
    let mut found = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    // Candidates come most specific first; keep the first one found.
    found.sort_by_key(|r| names.iter().position(|n| *n == r.domain));
    Ok(found.into_iter().next())
}

/// The block that suspends `authority`, if the most specific block covering it suspends.
pub async fn suspending(db: &Db, authority: &str) -> Result<Option<DomainBlockRow>> {
    Ok(rule_for(db, authority).await?.filter(|r| r.suspends()))
}

/// The follows and follow requests between a local account and an account of a domain `domain`
/// covers, as `(follower, followee, follower is local)`.
pub async fn follows_across(db: &Db, domain: &str) -> Result<Vec<(String, String, bool)>> {
    let rows = sqlx::query("SELECT DISTINCT domain FROM accounts WHERE domain IS NOT NULL")
        .fetch_all(&db.pool)
        .await?;
    let mut domains = BTreeSet::new();
    for r in &rows {
        let d: String = r.text("domain")?;
        if covers(domain, &d) {
            domains.insert(d);
        }
    }
    let mut out = Vec::new();
    let domains: Vec<String> = domains.into_iter().collect();
    for chunk in domains.chunks(100) {
        let list = placeholders(chunk.len());
        for table in ["follows", "follow_requests"] {
            // Remote follower of a local account, then local follower of a remote account.
            for (remote_side, local_side, local_follows) in [
                ("account_id", "target_id", false),
                ("target_id", "account_id", true),
            ] {
                let sql = format!(
                    "SELECT f.account_id, f.target_id FROM {table} f \
                     JOIN accounts r ON r.id = f.{remote_side} \
                     JOIN accounts l ON l.id = f.{local_side} \
                     WHERE l.domain IS NULL AND r.domain IN ({list})"
                );
                let sql = db.sql(&sql);
                let mut query = sqlx::query(&sql);
                for d in chunk {
                    query = query.bind(d.clone());
                }
                for r in query.fetch_all(&db.pool).await? {
                    out.push((r.text("account_id")?, r.text("target_id")?, local_follows));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub struct DomainBlocksProjection;

async fn load(tx: &mut Tx<'_>, domain: &str) -> Result<Option<DomainBlockRow>> {
    let sql = tx
        .sql(&format!(
            "SELECT {COLUMNS} FROM domain_blocks WHERE domain = ?"
        ))
        .into_owned();
    let row = sqlx::query(&sql)
        .bind(domain.to_string())
        .fetch_optional(&mut *tx.conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

async fn store(tx: &mut Tx<'_>, domain: &str, row: Option<DomainBlockRow>) -> Result<()> {
    sqlx::query(&tx.sql("DELETE FROM domain_blocks WHERE domain = ?"))
        .bind(domain.to_string())
        .execute(&mut *tx.conn)
        .await?;
    let Some(r) = row else {
        return Ok(());
    };
    sqlx::query(&tx.sql(&format!(
        "INSERT INTO domain_blocks ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(r.domain)
    .bind(r.id)
    .bind(r.settings.severity.as_str())
    .bind(i64::from(r.settings.reject_media))
    .bind(i64::from(r.settings.reject_reports))
    .bind(r.settings.private_comment)
    .bind(r.settings.public_comment)
    .bind(i64::from(r.settings.obfuscate))
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *tx.conn)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Projection for DomainBlocksProjection {
    fn name(&self) -> &'static str {
        "domain_blocks"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("domain_blocks", "domain")]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let DomainEvent::DomainBlock(event) = &recorded.event else {
            return Ok(());
        };
        let domain = match event {
            DomainBlockEvent::DomainBlocked { domain, .. }
            | DomainBlockEvent::DomainBlockUpdated { domain, .. }
            | DomainBlockEvent::DomainUnblocked { domain, .. } => domain,
        };
        let row = load(tx, domain).await?;
        store(tx, domain, fold(row, event)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked() -> DomainBlockEvent {
        DomainBlockEvent::DomainBlocked {
            id: "42".into(),
            domain: "spam.example".into(),
            settings: BlockSettings::default(),
            at: 1,
        }
    }

    #[test]
    fn a_block_is_a_row_until_it_is_lifted() {
        let row = fold(None, &blocked()).expect("a row");
        assert_eq!((row.id, row.domain.as_str()), (42, "spam.example"));
        assert!(row.suspends());
        let silenced = BlockSettings {
            severity: Severity::Silence,
            ..BlockSettings::default()
        };
        let updated = fold(
            Some(row),
            &DomainBlockEvent::DomainBlockUpdated {
                id: "42".into(),
                domain: "spam.example".into(),
                settings: silenced.clone(),
                at: 5,
            },
        )
        .expect("still a row");
        assert_eq!(
            (updated.created_at, updated.updated_at, &updated.settings),
            (1, 5, &silenced)
        );
        assert!(!updated.suspends());
        let lifted = DomainBlockEvent::DomainUnblocked {
            id: "42".into(),
            domain: "spam.example".into(),
            at: 6,
        };
        assert_eq!(fold(Some(updated), &lifted), None);
    }
}
