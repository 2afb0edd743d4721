//! Reblogs (boosts): rows of the statuses read model with a `reblog_of_id`, written by the
//! statuses projection from the `Engagement` events `Reblogged` and `Unreblogged`, and removed
//! with the status they reblog. Here are those writes and the queries on them.
//!
//! A reblog has its own id (so timelines page it in its place) and no text, tags, mentions or
//! photos of its own: the API renders it as a Status whose `reblog` is the original.

use std::collections::HashMap;

use peerpx_aggregates::EngagementEvent;
use sqlx::Row;

use crate::db::{bind_all, placeholders, Arg, TextRow};
use crate::projector::Tx;
use crate::statuses::Viewer;
use crate::{Db, Error, Page, Result};

fn id_of(position: i64, id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::BadEvent {
        position,
        reason: format!("status id {id:?} is not a number"),
    })
}

/// The SQL condition (on alias `s`) that a reblog's original is visible too: its author is
/// active and neither blocks nor is blocked by the viewer. (Only public and unlisted statuses
/// are reblogged, so that is all there is to check.) True for statuses that are no reblogs.
pub fn original_visible(viewer: Viewer<'_>) -> (String, Vec<Arg>) {
    let base = "s.reblog_of_id IS NULL OR EXISTS (SELECT 1 FROM statuses o \
        WHERE o.id = s.reblog_of_id AND EXISTS (SELECT 1 FROM accounts oa \
        WHERE oa.id = o.account_id AND oa.state = 'active')";
    match viewer {
        None => (format!("({base}))"), Vec::new()),
        Some(v) => (
            format!(
                "({base} AND NOT EXISTS (SELECT 1 FROM blocks ob WHERE \
                 (ob.account_id = o.account_id AND ob.target_id = ?) \
                 OR (ob.account_id = ? AND ob.target_id = o.account_id))))"
            ),
            vec![v.into(), v.into()],
        ),
    }
}

/// Applies `Reblogged` (a reblog row) and `Unreblogged` (its removal); other engagements are
/// not statuses.
pub async fn apply(tx: &mut Tx<'_>, position: i64, event: &EngagementEvent) -> Result<()> {
    match event {
        EngagementEvent::Reblogged { target, reblog, at } => {
            let id = id_of(position, &reblog.id)?;
            let of = id_of(position, &target.status_id)?;
            sqlx::query(&tx.sql(
                "INSERT INTO statuses (id, account_id, in_reply_to_id, in_reply_to_account_id, \
                 visibility, text, content, spoiler_text, is_sensitive, language, title, licence, \
                 allow_download, media_count, created_at, edited_at, uri, url, remote_media, \
                 reblog_of_id) \
                 VALUES (?, ?, NULL, NULL, ?, '', '', '', 0, NULL, NULL, '', 0, 0, ?, NULL, ?, \
                 NULL, NULL, ?)",
            ))
            .bind(id)
            .bind(target.account_id.clone())
            .bind(reblog.visibility.as_str())
            .bind(*at)
            .bind(reblog.uri.clone())
            .bind(of)
            .execute(&mut *tx.conn)
            .await?;
        }
        EngagementEvent::Unreblogged { reblog, .. } => {
            let id = id_of(position, &reblog.id)?;
            sqlx::query(&tx.sql("DELETE FROM statuses WHERE id = ? AND reblog_of_id IS NOT NULL"))
                .bind(id)
                .execute(&mut *tx.conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Removes the reblogs of status `id` (when it is deleted).
pub async fn remove_all_of(tx: &mut Tx<'_>, id: i64) -> Result<()> {
    sqlx::query(&tx.sql("DELETE FROM statuses WHERE reblog_of_id = ?"))
        .bind(id)
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

/// Per status among `ids`: how many reblogs it has by active accounts (a suspended or deleted
/// booster's reblog is not shown, so it is not counted), as the statuses projection keeps it;
/// statuses without any are left out.
pub async fn counts(db: &Db, ids: &[i64]) -> Result<HashMap<i64, i64>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let args: Vec<Arg> = ids.iter().map(|id| Arg::Int(*id)).collect();
    let sql = format!(
        "SELECT id, reblogs_count AS n FROM statuses WHERE id IN ({}) AND reblogs_count > 0",
        placeholders(ids.len())
    );
    let sql = db.sql(&sql);
    for row in bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?
    {
        out.insert(row.try_get("id")?, row.try_get("n")?);
    }
    Ok(out)
}

/// The statuses among `ids` the viewer reblogged.
pub async fn reblogged(db: &Db, viewer: &str, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args: Vec<Arg> = vec![viewer.into()];
    args.extend(ids.iter().map(|id| Arg::Int(*id)));
    let sql = format!(
        "SELECT reblog_of_id FROM statuses WHERE account_id = ? AND reblog_of_id IN ({})",
        placeholders(ids.len())
    );
    let sql = db.sql(&sql);
    let rows = bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<i64, _>("reblog_of_id"))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The id of `account_id`'s reblog of status `id`, if any.
pub async fn reblog_by(db: &Db, account_id: &str, id: i64) -> Result<Option<i64>> {
    let row = sqlx::query(&db.sql(
        "SELECT id FROM statuses WHERE account_id = ? AND reblog_of_id = ? ORDER BY id LIMIT 1",
    ))
    .bind(account_id.to_string())
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// (reblog id, account id) of who reblogged status `id`, newest first.
pub async fn reblogged_by(db: &Db, id: i64, page: Page) -> Result<Vec<(i64, String)>> {
    let sql = format!(
        "SELECT id, account_id FROM statuses WHERE reblog_of_id = ?{}",
        page.sql("id")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql).bind(id);
    for b in page.binds() {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let rows = rows
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.text("account_id")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(page.finish(rows))
}
