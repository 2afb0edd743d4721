//! Read model: notifications (follow, follow_request, favourite, reblog, mention).
//!
//! A notification's id is derived from the position of the event that caused it
//! (`position * 1000 + n` for the n-th person one event notifies), so ids grow with the log and
//! replay gives the same ids. Replies notify the author of the status replied to as a mention,
//! like Mastodon (whose clients add the mention to the text).

use peerpx_aggregates::{EngagementEvent, RelationshipEvent, StatusEvent};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{bind_all, placeholders, Arg, TextRow};
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Error, Page, Result};

pub const TYPES: &[&str] = &["mention", "favourite", "reblog", "follow", "follow_request"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub account_id: String,
    pub kind: String,
    pub from_account_id: String,
    pub status_id: Option<i64>,
    pub created_at: i64,
}

fn from_row(row: &AnyRow) -> Result<NotificationRow> {
    Ok(NotificationRow {
        id: row.try_get("id")?,
        account_id: row.text("account_id")?,
        kind: row.text("type")?,
        from_account_id: row.text("from_account_id")?,
        status_id: row.try_get("status_id")?,
        created_at: row.try_get("created_at")?,
    })
}

/// What to list: `types` (all when empty) minus `exclude_types`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub types: Vec<String>,
    pub exclude_types: Vec<String>,
    pub account_id: Option<String>,
}

/// The viewer's notifications, newest first, without those from accounts they muted (with
/// notifications) or that block them or they block.
pub async fn list(
    db: &Db,
    viewer: &str,
    filter: &Filter,
    page: Page,
) -> Result<Vec<NotificationRow>> {
    let mut sql = "SELECT n.id, n.account_id, n.type, n.from_account_id, n.status_id, n.created_at \
        FROM notifications n WHERE n.account_id = ? \
        AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.account_id = n.account_id \
            AND mu.target_id = n.from_account_id AND mu.notifications = 1) \
        AND NOT EXISTS (SELECT 1 FROM blocks b WHERE \
            (b.account_id = n.account_id AND b.target_id = n.from_account_id) \
            OR (b.account_id = n.from_account_id AND b.target_id = n.account_id)) \
        AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.from_account_id AND a.state = 'active')"
        .to_string();
    let mut args: Vec<Arg> = vec![viewer.into()];
    if !filter.types.is_empty() {
        sql.push_str(&format!(
            " AND n.type IN ({})",
            placeholders(filter.types.len())
        ));
        args.extend(filter.types.iter().map(|t| Arg::from(t.as_str())));
    }
    if !filter.exclude_types.is_empty() {
        sql.push_str(&format!(
            " AND n.type NOT IN ({})",
            placeholders(filter.exclude_types.len())
        ));
        args.extend(filter.exclude_types.iter().map(|t| Arg::from(t.as_str())));
    }
    if let Some(from) = &filter.account_id {
        sql.push_str(" AND n.from_account_id = ?");
        args.push(from.as_str().into());
    }
    sql.push_str(&page.sql("n.id"));
    args.extend(page.binds().into_iter().map(Arg::Int));
    let sql = db.sql(&sql);
    let rows = bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?;
    let rows = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(page.finish(rows))
}

pub async fn by_id(db: &Db, viewer: &str, id: i64) -> Result<Option<NotificationRow>> {
    let row = sqlx::query(&db.sql(
        "SELECT id, account_id, type, from_account_id, status_id, created_at \
         FROM notifications WHERE id = ? AND account_id = ?",
    ))
    .bind(id)
    .bind(viewer.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub struct NotificationsProjection;

async fn insert(tx: &mut Tx<'_>, n: NotificationRow) -> Result<()> {
    sqlx::query(&tx.sql(
        "INSERT INTO notifications (id, account_id, type, from_account_id, status_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    ))
    .bind(n.id)
    .bind(n.account_id)
    .bind(n.kind)
    .bind(n.from_account_id)
    .bind(n.status_id)
    .bind(n.created_at)
    .execute(&mut *tx.conn)
    .await?;
    Ok(())
}

/// Removes `kind` notifications for `account_id` from `from` (about `status_id` when given);
/// returns how many there were.
async fn remove(
    tx: &mut Tx<'_>,
    account_id: &str,
    kind: &str,
    from: &str,
    status_id: Option<i64>,
) -> Result<u64> {
    let mut sql =
        "DELETE FROM notifications WHERE account_id = ? AND type = ? AND from_account_id = ?"
            .to_string();
    let mut args: Vec<Arg> = vec![account_id.into(), kind.into(), from.into()];
    if let Some(id) = status_id {
        sql.push_str(" AND status_id = ?");
        args.push(id.into());
    }
    let sql = tx.sql(&sql).into_owned();
    let done = bind_all(sqlx::query(&sql), &args)
        .execute(&mut *tx.conn)
        .await?;
    Ok(done.rows_affected())
}

fn status_id(position: i64, id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::BadEvent {
        position,
        reason: format!("status id {id:?} is not a number"),
    })
}

#[async_trait::async_trait]
impl Projection for NotificationsProjection {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("notifications", "id")]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let position = recorded.position;
        let base = position.saturating_mul(1000);
        let note = |n: i64, account: &str, kind: &str, from: &str, status: Option<i64>, at| {
            NotificationRow {
                id: base + n,
                account_id: account.to_string(),
                kind: kind.to_string(),
                from_account_id: from.to_string(),
                status_id: status,
                created_at: at,
            }
        };
        match &recorded.event {
            DomainEvent::Relationship(event) => {
                use RelationshipEvent as E;
                match event {
                    E::FollowRequested { pair, at } => {
                        let n = note(
                            0,
                            &pair.target_id,
                            "follow_request",
                            &pair.account_id,
                            None,
                            *at,
                        );
                        insert(tx, n).await?;
                    }
                    E::Followed { pair, at } => {
                        // An approved request already told the target; its notice goes away.
                        let was_requested = remove(
                            tx,
                            &pair.target_id,
                            "follow_request",
                            &pair.account_id,
                            None,
                        )
                        .await?;
                        if was_requested == 0 {
                            let n = note(0, &pair.target_id, "follow", &pair.account_id, None, *at);
                            insert(tx, n).await?;
                        }
                    }
                    E::FollowRequestRejected { pair, .. }
                    | E::FollowRequestWithdrawn { pair, .. } => {
                        remove(
                            tx,
                            &pair.target_id,
                            "follow_request",
                            &pair.account_id,
                            None,
                        )
                        .await?;
                    }
                    _ => {}
                }
            }
            DomainEvent::Engagement(EngagementEvent::Favourited { target, at })
                if target.account_id != target.status_account_id =>
            {
                let id = status_id(position, &target.status_id)?;
                let n = note(
                    0,
                    &target.status_account_id,
                    "favourite",
                    &target.account_id,
                    Some(id),
                    *at,
                );
                insert(tx, n).await?;
            }
            DomainEvent::Engagement(EngagementEvent::Unfavourited { target, .. }) => {
                let id = status_id(position, &target.status_id)?;
                remove(
                    tx,
                    &target.status_account_id,
                    "favourite",
                    &target.account_id,
                    Some(id),
                )
                .await?;
            }
            // A reblog notifies the original's author about the original, as in Mastodon.
            DomainEvent::Engagement(EngagementEvent::Reblogged { target, at, .. })
                if target.account_id != target.status_account_id =>
            {
                let id = status_id(position, &target.status_id)?;
                let n = note(
                    0,
                    &target.status_account_id,
                    "reblog",
                    &target.account_id,
                    Some(id),
                    *at,
                );
                insert(tx, n).await?;
            }
            DomainEvent::Engagement(EngagementEvent::Unreblogged { target, .. }) => {
                let id = status_id(position, &target.status_id)?;
                remove(
                    tx,
                    &target.status_account_id,
                    "reblog",
                    &target.account_id,
                    Some(id),
                )
                .await?;
            }
            DomainEvent::Status(StatusEvent::StatusPosted(post)) => {
                let id = status_id(position, &post.id)?;
                let mut notified: Vec<&str> = vec![post.account_id.as_str()];
                let replied_to = post.in_reply_to.as_ref().map(|r| r.account_id.as_str());
                let people = replied_to
                    .into_iter()
                    .chain(post.content.mentions.iter().map(|m| m.account_id.as_str()));
                let mut n = 0;
                for person in people {
                    if notified.contains(&person) || n >= 1000 {
                        continue;
                    }
                    notified.push(person);
                    insert(
                        tx,
                        note(n, person, "mention", &post.account_id, Some(id), post.at),
                    )
                    .await?;
                    n += 1;
                }
            }
            DomainEvent::Status(StatusEvent::StatusDeleted { .. }) => {
                let id = status_id(position, &recorded.aggregate_id)?;
                sqlx::query(&tx.sql("DELETE FROM notifications WHERE status_id = ?"))
                    .bind(id)
                    .execute(&mut *tx.conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
