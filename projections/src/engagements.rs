//! Read model: favourites and bookmarks, each row keyed by the log position of the event that
//! made it (the id Mastodon clients page favourites and bookmarks by).

use peerpx_aggregates::{EngagementEvent, StatusEvent};
use sqlx::Row;

use crate::db::TextRow;
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Error, Page, Result};

fn status_id(position: i64, id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::BadEvent {
        position,
        reason: format!("status id {id:?} is not a number"),
    })
}

/// (position, status id) of the viewer's favourites or bookmarks (`table`), newest first.
async fn listed(db: &Db, table: &str, account_id: &str, page: Page) -> Result<Vec<(i64, i64)>> {
    let sql = format!(
        "SELECT position, status_id FROM {table} WHERE account_id = ?{}",
        page.sql("position")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql).bind(account_id.to_string());
    for b in page.binds() {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let rows = rows
        .iter()
        .map(|r| Ok((r.try_get("position")?, r.try_get("status_id")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(page.finish(rows))
}

pub async fn favourites(db: &Db, account_id: &str, page: Page) -> Result<Vec<(i64, i64)>> {
    listed(db, "favourites", account_id, page).await
}

pub async fn bookmarks(db: &Db, account_id: &str, page: Page) -> Result<Vec<(i64, i64)>> {
    listed(db, "bookmarks", account_id, page).await
}

/// (position, account id) of who favourited a status, newest first.
pub async fn favourited_by(db: &Db, status_id: i64, page: Page) -> Result<Vec<(i64, String)>> {
    let sql = format!(
        "SELECT position, account_id FROM favourites WHERE status_id = ?{}",
        page.sql("position")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql).bind(status_id);
    for b in page.binds() {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let rows = rows
        .iter()
        .map(|r| Ok((r.try_get("position")?, r.text("account_id")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(page.finish(rows))
}

/// Moves the favourites count of a status (`favourite_counts`: one row per status with any,
/// kept with the `favourites` rows it counts).
async fn count_favourite(tx: &mut Tx<'_>, status_id: i64, delta: i64) -> Result<()> {
    let current: Option<i64> =
        sqlx::query(&tx.sql("SELECT favourites_count FROM favourite_counts WHERE status_id = ?"))
            .bind(status_id)
            .fetch_optional(&mut *tx.conn)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    let n = current.unwrap_or(0) + delta;
    if current.is_some() {
        let sql = if n == 0 {
            "DELETE FROM favourite_counts WHERE status_id = ?"
        } else {
            "UPDATE favourite_counts SET favourites_count = favourites_count + ? WHERE status_id = ?"
        };
        let sql = tx.sql(sql).into_owned();
        let mut query = sqlx::query(&sql);
        if n != 0 {
            query = query.bind(delta);
        }
        query.bind(status_id).execute(&mut *tx.conn).await?;
    } else if n != 0 {
        sqlx::query(
            &tx.sql("INSERT INTO favourite_counts (status_id, favourites_count) VALUES (?, ?)"),
        )
        .bind(status_id)
        .bind(n)
        .execute(&mut *tx.conn)
        .await?;
    }
    Ok(())
}

pub struct EngagementsProjection;

#[async_trait::async_trait]
impl Projection for EngagementsProjection {
    fn name(&self) -> &'static str {
        "engagements"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("favourites", "account_id, status_id"),
            ("bookmarks", "account_id, status_id"),
            ("favourite_counts", "status_id"),
        ]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let position = recorded.position;
        match &recorded.event {
            DomainEvent::Engagement(event) => {
                use EngagementEvent as E;
                let (target, at) = match event {
                    E::Favourited { target, at }
                    | E::Unfavourited { target, at }
                    | E::Bookmarked { target, at }
                    | E::Unbookmarked { target, at } => (target, *at),
                    // Reblogs are statuses: the statuses read model keeps them.
                    E::Reblogged { .. } | E::Unreblogged { .. } => return Ok(()),
                };
                let id = status_id(position, &target.status_id)?;
                match event {
                    E::Favourited { .. } => {
                        sqlx::query(&tx.sql(
                            "INSERT INTO favourites (account_id, status_id, status_account_id, \
                             position, created_at) VALUES (?, ?, ?, ?, ?)",
                        ))
                        .bind(target.account_id.clone())
                        .bind(id)
                        .bind(target.status_account_id.clone())
                        .bind(position)
                        .bind(at)
                        .execute(&mut *tx.conn)
                        .await?;
                        count_favourite(tx, id, 1).await?;
                    }
                    E::Bookmarked { .. } => {
                        sqlx::query(&tx.sql(
                            "INSERT INTO bookmarks (account_id, status_id, position, created_at) \
                             VALUES (?, ?, ?, ?)",
                        ))
                        .bind(target.account_id.clone())
                        .bind(id)
                        .bind(position)
                        .bind(at)
                        .execute(&mut *tx.conn)
                        .await?;
                    }
                    E::Reblogged { .. } | E::Unreblogged { .. } => {}
                    E::Unfavourited { .. } | E::Unbookmarked { .. } => {
                        let table = if matches!(event, E::Unfavourited { .. }) {
                            "favourites"
                        } else {
                            "bookmarks"
                        };
                        let gone = sqlx::query(&tx.sql(&format!(
                            "DELETE FROM {table} WHERE account_id = ? AND status_id = ?"
                        )))
                        .bind(target.account_id.clone())
                        .bind(id)
                        .execute(&mut *tx.conn)
                        .await?
                        .rows_affected();
                        if table == "favourites" && gone > 0 {
                            count_favourite(tx, id, -1).await?;
                        }
                    }
                }
            }
            DomainEvent::Status(StatusEvent::StatusDeleted { .. }) => {
                let id = status_id(position, &recorded.aggregate_id)?;
                for table in ["favourites", "bookmarks", "favourite_counts"] {
                    sqlx::query(&tx.sql(&format!("DELETE FROM {table} WHERE status_id = ?")))
                        .bind(id)
                        .execute(&mut *tx.conn)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
