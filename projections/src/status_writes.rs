//! The statuses projection: statuses with their tags, mentions and versions, reblogs, the
//! counters kept on them (replies, reblogs; each account's statuses in `status_accounts`) and
//! the home feeds (`home.rs`). One projection, so the feeds and counters read the statuses at
//! their own log position (decision 0008).

use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::status::{Content, Post};
use peerpx_aggregates::{EngagementEvent, StatusEvent};
use sqlx::Row;

use crate::db::TextRow;
use crate::home::{self, Fanout};
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::statuses::{media_count, remote_media_json};
use crate::{status_accounts, Error, Result};

fn id_of(position: i64, id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::BadEvent {
        position,
        reason: format!("status id {id:?} is not a number"),
    })
}

/// What the counters and feeds need of a row about to change or go.
struct Existing {
    id: i64,
    account_id: String,
    visibility: String,
    created_at: i64,
    in_reply_to_id: Option<i64>,
    reblog_of_id: Option<i64>,
}

async fn existing(tx: &mut Tx<'_>, condition: &str, id: i64) -> Result<Vec<Existing>> {
    let sql = format!(
        "SELECT id, account_id, visibility, created_at, in_reply_to_id, reblog_of_id \
         FROM statuses WHERE {condition} ORDER BY id"
    );
    let sql = tx.sql(&sql).into_owned();
    sqlx::query(&sql)
        .bind(id)
        .fetch_all(&mut *tx.conn)
        .await?
        .iter()
        .map(|r| {
            Ok(Existing {
                id: r.try_get("id")?,
                account_id: r.text("account_id")?,
                visibility: r.text("visibility")?,
                created_at: r.try_get("created_at")?,
                in_reply_to_id: r.try_get("in_reply_to_id")?,
                reblog_of_id: r.try_get("reblog_of_id")?,
            })
        })
        .collect()
}

async fn add_to_count(tx: &mut Tx<'_>, column: &str, id: i64, delta: i64) -> Result<()> {
    let sql = format!("UPDATE statuses SET {column} = {column} + ? WHERE id = ?");
    let sql = tx.sql(&sql).into_owned();
    sqlx::query(&sql)
        .bind(delta)
        .bind(id)
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

async fn is_active(tx: &mut Tx<'_>, account_id: &str) -> Result<bool> {
    Ok(status_accounts::get(tx, account_id)
        .await?
        .is_some_and(|f| f.active))
}

pub struct StatusesProjection;

impl StatusesProjection {
    async fn write_content(
        tx: &mut Tx<'_>,
        id: i64,
        content: &Content,
        version_at: i64,
    ) -> Result<()> {
        for table in ["status_tags", "status_mentions"] {
            sqlx::query(&tx.sql(&format!("DELETE FROM {table} WHERE status_id = ?")))
                .bind(id)
                .execute(&mut *tx.conn)
                .await?;
        }
        for tag in &content.tags {
            sqlx::query(&tx.sql("INSERT INTO status_tags (status_id, tag) VALUES (?, ?)"))
                .bind(id)
                .bind(tag.clone())
                .execute(&mut *tx.conn)
                .await?;
        }
        let mut seen = Vec::new();
        for m in &content.mentions {
            if seen.contains(&&m.account_id) {
                continue;
            }
            seen.push(&m.account_id);
            sqlx::query(&tx.sql(
                "INSERT INTO status_mentions (status_id, account_id, username) VALUES (?, ?, ?)",
            ))
            .bind(id)
            .bind(m.account_id.clone())
            .bind(m.username.clone())
            .execute(&mut *tx.conn)
            .await?;
        }
        let version: i64 =
            sqlx::query(&tx.sql("SELECT COUNT(*) AS n FROM status_edits WHERE status_id = ?"))
                .bind(id)
                .fetch_one(&mut *tx.conn)
                .await?
                .try_get("n")?;
        let json = serde_json::to_string(content).map_err(|e| Error::BadEvent {
            position: 0,
            reason: e.to_string(),
        })?;
        sqlx::query(&tx.sql(
            "INSERT INTO status_edits (status_id, version, content, created_at) \
             VALUES (?, ?, ?, ?)",
        ))
        .bind(id)
        .bind(version)
        .bind(json)
        .bind(version_at)
        .execute(&mut *tx.conn)
        .await?;
        Ok(())
    }

    /// The replies and reblogs a remote status already has when it arrives (a reply can be
    /// fetched before its parent). A local status has none: its id is new.
    async fn counts_before(tx: &mut Tx<'_>, post: &Post, id: i64) -> Result<(i64, i64)> {
        if post.remote.is_none() {
            return Ok((0, 0));
        }
        let sql = tx
            .sql(
                "SELECT (SELECT COUNT(*) FROM statuses WHERE in_reply_to_id = ?) AS replies, \
                 (SELECT COUNT(*) FROM statuses r JOIN status_accounts a \
                 ON a.account_id = r.account_id AND a.is_active = 1 \
                 WHERE r.reblog_of_id = ?) AS reblogs",
            )
            .into_owned();
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(id)
            .fetch_one(&mut *tx.conn)
            .await?;
        Ok((row.try_get("replies")?, row.try_get("reblogs")?))
    }

    async fn posted(tx: &mut Tx<'_>, position: i64, post: &Post) -> Result<()> {
        let id = id_of(position, &post.id)?;
        let c = &post.content;
        let reply_to = match &post.in_reply_to {
            Some(r) => Some(id_of(position, &r.status_id)?),
            None => None,
        };
        let (replies, reblogs) = Self::counts_before(tx, post, id).await?;
        sqlx::query(&tx.sql(
            "INSERT INTO statuses (id, account_id, in_reply_to_id, in_reply_to_account_id, \
             visibility, text, content, spoiler_text, is_sensitive, language, title, licence, \
             allow_download, media_count, created_at, edited_at, uri, url, remote_media, \
             replies_count, reblogs_count) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
        ))
        .bind(id)
        .bind(post.account_id.clone())
        .bind(reply_to)
        .bind(post.in_reply_to.as_ref().map(|r| r.account_id.clone()))
        .bind(post.visibility.as_str())
        .bind(c.text.clone())
        .bind(c.html.clone())
        .bind(c.spoiler_text.clone())
        .bind(i64::from(c.sensitive))
        .bind(c.language.clone())
        .bind(c.title.clone())
        .bind(c.licence.clone())
        .bind(i64::from(c.allow_download))
        .bind(media_count(c))
        .bind(post.at)
        .bind(post.remote.as_ref().map(|r| r.uri.clone()))
        .bind(post.remote.as_ref().and_then(|r| r.url.clone()))
        .bind(remote_media_json(c))
        .bind(replies)
        .bind(reblogs)
        .execute(&mut *tx.conn)
        .await?;
        Self::write_content(tx, id, c, post.at).await?;
        if let Some(parent) = reply_to {
            add_to_count(tx, "replies_count", parent, 1).await?;
        }
        let visibility = post.visibility.as_str();
        status_accounts::status_added(tx, &post.account_id, visibility, post.at).await?;
        let fanout = Fanout {
            status_id: id,
            author: &post.account_id,
            visibility,
            original_author: None,
        };
        home::fan_out(tx, &fanout).await
    }

    async fn edited(tx: &mut Tx<'_>, id: i64, c: &Content, at: i64) -> Result<()> {
        let row = existing(tx, "id = ?", id).await?.pop();
        let direct = row.as_ref().filter(|r| r.visibility == "direct");
        let before = match direct {
            Some(_) => home::mentioned(tx, id).await?,
            None => Default::default(),
        };
        sqlx::query(&tx.sql(
            "UPDATE statuses SET text = ?, content = ?, spoiler_text = ?, \
             is_sensitive = ?, language = ?, title = ?, licence = ?, allow_download = ?, \
             edited_at = ?, media_count = ?, remote_media = ? WHERE id = ?",
        ))
        .bind(c.text.clone())
        .bind(c.html.clone())
        .bind(c.spoiler_text.clone())
        .bind(i64::from(c.sensitive))
        .bind(c.language.clone())
        .bind(c.title.clone())
        .bind(c.licence.clone())
        .bind(i64::from(c.allow_download))
        .bind(at)
        .bind(media_count(c))
        .bind(remote_media_json(c))
        .bind(id)
        .execute(&mut *tx.conn)
        .await?;
        Self::write_content(tx, id, c, at).await?;
        // Only a direct status's mentions say who has it in their home feed.
        if let Some(row) = direct {
            let after = home::mentioned(tx, id).await?;
            let removed: Vec<String> = before.difference(&after).cloned().collect();
            let added: Vec<String> = after.difference(&before).cloned().collect();
            home::mentions_changed(tx, id, &row.account_id, &removed, &added).await?;
        }
        Ok(())
    }

    async fn deleted(tx: &mut Tx<'_>, id: i64) -> Result<()> {
        let row = existing(tx, "id = ?", id).await?.pop();
        // Its reblogs go with it.
        let reblogs = existing(tx, "reblog_of_id = ?", id).await?;
        for gone in row.iter().chain(&reblogs) {
            home::remove(tx, gone.id, &gone.account_id).await?;
        }
        crate::reblogs::remove_all_of(tx, id).await?;
        for table in ["status_tags", "status_mentions", "status_edits"] {
            sqlx::query(&tx.sql(&format!("DELETE FROM {table} WHERE status_id = ?")))
                .bind(id)
                .execute(&mut *tx.conn)
                .await?;
        }
        sqlx::query(&tx.sql("DELETE FROM statuses WHERE id = ?"))
            .bind(id)
            .execute(&mut *tx.conn)
            .await?;
        for gone in row.iter().chain(&reblogs) {
            status_accounts::status_removed(
                tx,
                &gone.account_id,
                &gone.visibility,
                gone.created_at,
            )
            .await?;
        }
        if let Some(parent) = row.and_then(|r| r.in_reply_to_id) {
            add_to_count(tx, "replies_count", parent, -1).await?;
        }
        Ok(())
    }

    async fn reblogged(
        tx: &mut Tx<'_>,
        position: i64,
        event: &EngagementEvent,
        (target, reblog, at): (&Target, &Reblog, i64),
    ) -> Result<()> {
        crate::reblogs::apply(tx, position, event).await?;
        let id = id_of(position, &reblog.id)?;
        let of = id_of(position, &target.status_id)?;
        let booster = target.account_id.as_str();
        if is_active(tx, booster).await? {
            add_to_count(tx, "reblogs_count", of, 1).await?;
        }
        let visibility = reblog.visibility.as_str();
        status_accounts::status_added(tx, booster, visibility, at).await?;
        // A reblog of a status that is gone shows nowhere.
        if let Some(original) = existing(tx, "id = ?", of).await?.pop() {
            let fanout = Fanout {
                status_id: id,
                author: booster,
                visibility,
                original_author: Some(&original.account_id),
            };
            home::fan_out(tx, &fanout).await?;
        }
        Ok(())
    }

    async fn unreblogged(
        tx: &mut Tx<'_>,
        position: i64,
        event: &EngagementEvent,
        reblog: &Reblog,
    ) -> Result<()> {
        let id = id_of(position, &reblog.id)?;
        let row = existing(tx, "id = ? AND reblog_of_id IS NOT NULL", id)
            .await?
            .pop();
        if let Some(r) = &row {
            home::remove(tx, r.id, &r.account_id).await?;
        }
        crate::reblogs::apply(tx, position, event).await?;
        if let Some(r) = row {
            status_accounts::status_removed(tx, &r.account_id, &r.visibility, r.created_at).await?;
            if let Some(of) = r.reblog_of_id {
                if is_active(tx, &r.account_id).await? {
                    add_to_count(tx, "reblogs_count", of, -1).await?;
                }
            }
        }
        Ok(())
    }

    async fn apply_one(tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let position = recorded.position;
        match &recorded.event {
            DomainEvent::Engagement(event) => match event {
                EngagementEvent::Reblogged { target, reblog, at } => {
                    Self::reblogged(tx, position, event, (target, reblog, *at)).await
                }
                EngagementEvent::Unreblogged { reblog, .. } => {
                    Self::unreblogged(tx, position, event, reblog).await
                }
                _ => Ok(()),
            },
            DomainEvent::Relationship(event) => home::relationship(tx, event).await,
            DomainEvent::Status(event) => match event {
                StatusEvent::StatusPosted(post) => Self::posted(tx, position, post).await,
                StatusEvent::StatusEdited { content, at, .. } => {
                    let id = id_of(position, &recorded.aggregate_id)?;
                    Self::edited(tx, id, content, *at).await
                }
                StatusEvent::StatusDeleted { .. } => {
                    let id = id_of(position, &recorded.aggregate_id)?;
                    Self::deleted(tx, id).await
                }
            },
            _ => Ok(()),
        }
    }
}

/// Events this projection applies one at a time (account events go by runs).
fn applies(event: &DomainEvent) -> bool {
    match event {
        DomainEvent::Status(_) | DomainEvent::Relationship(_) => true,
        DomainEvent::Engagement(e) => matches!(
            e,
            EngagementEvent::Reblogged { .. } | EngagementEvent::Unreblogged { .. }
        ),
        _ => false,
    }
}

#[async_trait::async_trait]
impl Projection for StatusesProjection {
    fn name(&self) -> &'static str {
        "statuses"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("statuses", "id"),
            ("status_tags", "status_id, tag"),
            ("status_mentions", "status_id, account_id"),
            ("status_edits", "status_id, version"),
            ("status_accounts", "account_id"),
            ("home_feed", "account_id, status_id"),
            ("home_follows", "target_id, account_id"),
            ("home_blocks", "account_id, target_id"),
            ("home_mutes", "account_id, target_id"),
        ]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        self.apply_batch(tx, std::slice::from_ref(recorded)).await
    }

    /// Events in order; consecutive account events (registrations, state changes) are folded
    /// and written together, which is what a replay mostly meets.
    async fn apply_batch(&self, tx: &mut Tx<'_>, events: &[Recorded]) -> Result<()> {
        let mut run: Vec<&Recorded> = Vec::new();
        for recorded in events {
            if status_accounts::concerns(&recorded.event) {
                run.push(recorded);
            } else if applies(&recorded.event) {
                status_accounts::apply_run(tx, &run).await?;
                run.clear();
                Self::apply_one(tx, recorded).await?;
            }
        }
        status_accounts::apply_run(tx, &run).await
    }
}
