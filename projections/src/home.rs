//! Part of the statuses read model: home feeds, written when a status or reblog is appended
//! (fan-out on write, as Mastodon does) so that a home page is one range of `home_feed`'s primary
//! key instead of a walk back through every status.
//!
//! `home_feed` holds, for each local account, the statuses and reblogs its home timeline shows:
//! its own, and those of the accounts it follows that it may see (direct ones only when they
//! mention it), never across a block or a mute either way, and never a reblog of a status that
//! is gone or whose author is blocked or muted. That is today's `statuses::home_reference`
//! condition, less the one thing the statuses read model cannot know at the right moment without
//! rewriting feeds: whether an author is active. The page query keeps `statuses::visible` and
//! the mute condition as a final filter, which takes care of suspended and deleted authors and
//! costs a few primary-key probes per row read.
//!
//! It is written by the statuses projection, in the same transaction as the statuses it points
//! to, so it reads `statuses` and `status_mentions` at its own log position. The social graph it
//! needs is its own copy (`home_follows` for follows by local accounts, `home_blocks`,
//! `home_mutes`), and `status_accounts` tells which accounts are ours: the relationships and
//! accounts read models follow the log at their own pace (decision 0008).
//!
//! Limits, as Mastodon's: a feed keeps the newest [`KEEP`] entries; it is trimmed back to them
//! whenever an insertion takes `status_accounts.home_rows` (the rows inserted since the last
//! trim plus the rows kept then, an upper bound of the feed's size) past [`TRIM_AT`], so a trim
//! costs two statements per 200 insertions rather than one per insertion. A follow, an unmute or
//! an unblock merges the newest [`MERGE`] statuses concerned. Everything depends only on the
//! events and their order, so a replay rebuilds the same rows.

use std::collections::BTreeSet;

use peerpx_aggregates::RelationshipEvent;
use sqlx::Row;

use crate::db::{bind_all, placeholders, Arg, TextRow};
use crate::projector::Tx;
use crate::status_accounts;
use crate::Result;

/// Entries a feed keeps after a trim (Mastodon's `FeedManager::MAX_ITEMS`).
pub const KEEP: i64 = 800;
/// The bound of `home_rows` past which a feed is trimmed back to [`KEEP`].
pub const TRIM_AT: i64 = 1000;
/// Statuses merged into a feed by a follow, an unmute or an unblock.
pub const MERGE: i64 = 200;
/// Rows per multi-row INSERT and keys per `IN (…)` list.
const CHUNK: usize = 400;

/// SQL that `owner` (a column or `?`) neither mutes, blocks nor is blocked by `other` (a column
/// or `?`), with the parameters it takes (the `?`s of `owner`, `other` in order each time).
fn clear(owner: &str, other: &str, args: &[Arg]) -> (String, Vec<Arg>) {
    let sql = format!(
        "NOT EXISTS (SELECT 1 FROM home_mutes m WHERE m.account_id = {owner} \
         AND m.target_id = {other}) \
         AND NOT EXISTS (SELECT 1 FROM home_blocks b WHERE b.account_id = {owner} \
         AND b.target_id = {other}) \
         AND NOT EXISTS (SELECT 1 FROM home_blocks b WHERE b.account_id = {other} \
         AND b.target_id = {owner})"
    );
    (sql, [args, args, args].concat())
}

/// A status or reblog on its way into feeds.
pub struct Fanout<'a> {
    pub status_id: i64,
    pub author: &'a str,
    pub visibility: &'a str,
    /// For a reblog, the author of the status reblogged.
    pub original_author: Option<&'a str>,
}

/// Puts a new status or reblog into the feeds that show it: its author's, when local, and its
/// author's local followers' (only those it mentions, for a direct status).
pub async fn fan_out(tx: &mut Tx<'_>, f: &Fanout<'_>) -> Result<()> {
    let author: Arg = f.author.into();
    let mut args: Vec<Arg> = vec![author.clone()];
    let (c, a) = clear("f.account_id", "?", std::slice::from_ref(&author));
    let mut sql = format!(
        "SELECT f.account_id AS owner, a.home_rows AS home_rows FROM home_follows f \
         JOIN status_accounts a ON a.account_id = f.account_id WHERE f.target_id = ? AND {c}"
    );
    args.extend(a);
    if let Some(original) = f.original_author {
        let (c, a) = clear("f.account_id", "?", &[original.into()]);
        sql.push_str(&format!(" AND {c}"));
        args.extend(a);
    }
    if f.visibility == "direct" {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM status_mentions sm WHERE sm.status_id = ? \
             AND sm.account_id = f.account_id)",
        );
        args.push(f.status_id.into());
    }
    sql.push_str(
        " UNION ALL SELECT a.account_id AS owner, a.home_rows AS home_rows FROM status_accounts a \
         WHERE a.account_id = ? AND a.is_local = 1",
    );
    args.push(author);
    if let Some(original) = f.original_author {
        let (c, a) = clear("a.account_id", "?", &[original.into()]);
        sql.push_str(&format!(" AND {c}"));
        args.extend(a);
    }
    let owners = owners(tx, &sql, &args).await?;
    add(tx, f.status_id, &owners).await
}

/// Runs a query of `(owner, home_rows)`.
async fn owners(tx: &mut Tx<'_>, sql: &str, args: &[Arg]) -> Result<Vec<(String, i64)>> {
    let sql = tx.sql(sql).into_owned();
    let rows = bind_all(sqlx::query(&sql), args)
        .fetch_all(&mut *tx.conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.text("owner")?, r.try_get("home_rows")?)))
        .collect()
}

/// Inserts one status into the feeds of `owners` (each given with its `home_rows`).
async fn add(tx: &mut Tx<'_>, status_id: i64, owners: &[(String, i64)]) -> Result<()> {
    for chunk in owners.chunks(CHUNK) {
        let values = vec!["(?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO home_feed (account_id, status_id) VALUES {values}");
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for (owner, _) in chunk {
            query = query.bind(owner.clone()).bind(status_id);
        }
        query.execute(&mut *tx.conn).await?;
        let sql = format!(
            "UPDATE status_accounts SET home_rows = home_rows + 1 WHERE account_id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for (owner, _) in chunk {
            query = query.bind(owner.clone());
        }
        query.execute(&mut *tx.conn).await?;
    }
    for (owner, rows) in owners {
        if rows + 1 > TRIM_AT {
            trim(tx, owner).await?;
        }
    }
    Ok(())
}

/// Inserts statuses into one feed whose `home_rows` is `rows`.
async fn add_many(tx: &mut Tx<'_>, owner: &str, rows: i64, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(CHUNK) {
        let values = vec!["(?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO home_feed (account_id, status_id) VALUES {values}");
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(owner.to_string()).bind(*id);
        }
        query.execute(&mut *tx.conn).await?;
    }
    let added = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let sql = tx
        .sql("UPDATE status_accounts SET home_rows = home_rows + ? WHERE account_id = ?")
        .into_owned();
    sqlx::query(&sql)
        .bind(added)
        .bind(owner.to_string())
        .execute(&mut *tx.conn)
        .await?;
    if rows.saturating_add(added) > TRIM_AT {
        trim(tx, owner).await?;
    }
    Ok(())
}

/// Cuts a feed back to its newest [`KEEP`] entries and records its exact size.
async fn trim(tx: &mut Tx<'_>, owner: &str) -> Result<()> {
    let sql = tx
        .sql(
            "SELECT status_id FROM home_feed WHERE account_id = ? \
             ORDER BY status_id DESC LIMIT 1 OFFSET ?",
        )
        .into_owned();
    let last_kept: Option<i64> = sqlx::query(&sql)
        .bind(owner.to_string())
        .bind(KEEP - 1)
        .fetch_optional(&mut *tx.conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let rows = match last_kept {
        Some(last) => {
            let sql = tx
                .sql("DELETE FROM home_feed WHERE account_id = ? AND status_id < ?")
                .into_owned();
            sqlx::query(&sql)
                .bind(owner.to_string())
                .bind(last)
                .execute(&mut *tx.conn)
                .await?;
            KEEP
        }
        None => {
            let sql = tx
                .sql("SELECT COUNT(*) FROM home_feed WHERE account_id = ?")
                .into_owned();
            sqlx::query(&sql)
                .bind(owner.to_string())
                .fetch_one(&mut *tx.conn)
                .await?
                .try_get(0)?
        }
    };
    let sql = tx
        .sql("UPDATE status_accounts SET home_rows = ? WHERE account_id = ?")
        .into_owned();
    sqlx::query(&sql)
        .bind(rows)
        .bind(owner.to_string())
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

/// Takes a status or reblog of `author` out of every feed. Only its author and the author's
/// followers can hold it (an unfollow takes the author's entries out), so those are the keys
/// deleted, and `home_feed` needs no index on `status_id`.
pub async fn remove(tx: &mut Tx<'_>, status_id: i64, author: &str) -> Result<()> {
    let sql = tx
        .sql("SELECT account_id FROM home_follows WHERE target_id = ?")
        .into_owned();
    let mut holders: Vec<String> = vec![author.to_string()];
    for r in sqlx::query(&sql)
        .bind(author.to_string())
        .fetch_all(&mut *tx.conn)
        .await?
    {
        holders.push(r.text("account_id")?);
    }
    for chunk in holders.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM home_feed WHERE status_id = ? AND account_id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql).bind(status_id);
        for h in chunk {
            query = query.bind(h.clone());
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

/// A direct status's mentions changed in an edit: the author's followers it no longer mentions
/// lose it, those it now mentions get it.
pub async fn mentions_changed(
    tx: &mut Tx<'_>,
    status_id: i64,
    author: &str,
    removed: &[String],
    added: &[String],
) -> Result<()> {
    let removed: Vec<&String> = removed.iter().filter(|r| *r != author).collect();
    for chunk in removed.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM home_feed WHERE status_id = ? AND account_id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql).bind(status_id);
        for r in chunk {
            query = query.bind((*r).clone());
        }
        query.execute(&mut *tx.conn).await?;
    }
    for chunk in added.chunks(CHUNK) {
        let (c, a) = clear("f.account_id", "?", &[author.into()]);
        let sql = format!(
            "SELECT f.account_id AS owner, a.home_rows AS home_rows FROM home_follows f \
             JOIN status_accounts a ON a.account_id = f.account_id WHERE f.target_id = ? \
             AND f.account_id IN ({}) AND {c} AND NOT EXISTS (SELECT 1 FROM home_feed h \
             WHERE h.account_id = f.account_id AND h.status_id = ?)",
            placeholders(chunk.len())
        );
        let mut args: Vec<Arg> = vec![author.into()];
        args.extend(chunk.iter().map(|m| Arg::from(m.as_str())));
        args.extend(a);
        args.push(status_id.into());
        let owners = owners(tx, &sql, &args).await?;
        add(tx, status_id, &owners).await?;
    }
    Ok(())
}

/// SQL (on `statuses s` and the reblogged `statuses o`) that the viewer's home feed shows the
/// status and does not have it yet: the projection's form of `statuses::home_reference`.
fn shows(viewer: &str) -> (String, Vec<Arg>) {
    let v: Arg = viewer.into();
    let (own, own_args) = clear("?", "s.account_id", std::slice::from_ref(&v));
    let (original, original_args) = clear("?", "o.account_id", std::slice::from_ref(&v));
    let sql = format!(
        "(s.account_id = ? OR EXISTS (SELECT 1 FROM home_follows f \
         WHERE f.target_id = s.account_id AND f.account_id = ?)) \
         AND (s.visibility <> 'direct' OR s.account_id = ? OR EXISTS (SELECT 1 \
         FROM status_mentions sm WHERE sm.status_id = s.id AND sm.account_id = ?)) \
         AND {own} \
         AND (s.reblog_of_id IS NULL OR (o.id IS NOT NULL AND {original})) \
         AND NOT EXISTS (SELECT 1 FROM home_feed h WHERE h.account_id = ? AND h.status_id = s.id)"
    );
    let mut args = vec![v.clone(), v.clone(), v.clone(), v.clone()];
    args.extend(own_args);
    args.extend(original_args);
    args.push(v);
    (sql, args)
}

/// Merges into `owner`'s feed the newest [`MERGE`] statuses of `from` (a `FROM … WHERE`
/// naming `s` and `o`, with its parameters) that the feed shows and lacks.
async fn merge(tx: &mut Tx<'_>, owner: &str, from: &str, mut args: Vec<Arg>) -> Result<()> {
    let Some(facts) = status_accounts::get(tx, owner).await? else {
        return Ok(());
    };
    if !facts.local {
        return Ok(());
    }
    let (shows, shows_args) = shows(owner);
    args.extend(shows_args);
    args.push(MERGE.into());
    let sql = format!("SELECT s.id AS id FROM {from} AND {shows} ORDER BY s.id DESC LIMIT ?");
    let sql = tx.sql(&sql).into_owned();
    let ids: Vec<i64> = bind_all(sqlx::query(&sql), &args)
        .fetch_all(&mut *tx.conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    add_many(tx, owner, facts.home_rows, &ids).await
}

/// `other`'s own statuses and reblogs, into `owner`'s feed.
async fn merge_statuses_of(tx: &mut Tx<'_>, owner: &str, other: &str) -> Result<()> {
    let from = "statuses s LEFT JOIN statuses o ON o.id = s.reblog_of_id WHERE s.account_id = ?";
    merge(tx, owner, from, vec![other.into()]).await
}

/// Reblogs of `other`'s statuses (by `owner` or whom it follows), into `owner`'s feed.
async fn merge_reblogs_of(tx: &mut Tx<'_>, owner: &str, other: &str) -> Result<()> {
    let from = "statuses s JOIN statuses o ON o.id = s.reblog_of_id WHERE o.account_id = ?";
    merge(tx, owner, from, vec![other.into()]).await
}

/// Takes out of `owner`'s feed the statuses and reblogs of `other`, and with `originals` the
/// reblogs of `other`'s statuses too.
async fn remove_from(tx: &mut Tx<'_>, owner: &str, other: &str, originals: bool) -> Result<()> {
    let sql = if originals {
        "DELETE FROM home_feed WHERE account_id = ? AND EXISTS (SELECT 1 FROM statuses s \
         LEFT JOIN statuses o ON o.id = s.reblog_of_id WHERE s.id = home_feed.status_id \
         AND (s.account_id = ? OR o.account_id = ?))"
    } else {
        "DELETE FROM home_feed WHERE account_id = ? AND EXISTS (SELECT 1 FROM statuses s \
         WHERE s.id = home_feed.status_id AND s.account_id = ?)"
    };
    let sql = tx.sql(sql).into_owned();
    let mut query = sqlx::query(&sql)
        .bind(owner.to_string())
        .bind(other.to_string());
    if originals {
        query = query.bind(other.to_string());
    }
    query.execute(&mut *tx.conn).await?;
    Ok(())
}

/// Whether the pair is a row of `table` (`home_follows` is keyed target first).
async fn has(tx: &mut Tx<'_>, table: &str, account: &str, target: &str) -> Result<bool> {
    let sql = format!("SELECT 1 FROM {table} WHERE account_id = ? AND target_id = ?");
    let sql = tx.sql(&sql).into_owned();
    Ok(sqlx::query(&sql)
        .bind(account.to_string())
        .bind(target.to_string())
        .fetch_optional(&mut *tx.conn)
        .await?
        .is_some())
}

async fn write_pair(tx: &mut Tx<'_>, sql: &str, account: &str, target: &str) -> Result<()> {
    let sql = tx.sql(sql).into_owned();
    sqlx::query(&sql)
        .bind(account.to_string())
        .bind(target.to_string())
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

async fn is_local(tx: &mut Tx<'_>, account: &str) -> Result<bool> {
    Ok(status_accounts::get(tx, account)
        .await?
        .is_some_and(|f| f.local))
}

/// The feeds after a follow, unfollow, block, unblock, mute or unmute.
pub async fn relationship(tx: &mut Tx<'_>, event: &RelationshipEvent) -> Result<()> {
    use RelationshipEvent as E;
    let pair = event.pair();
    let (account, target) = (pair.account_id.as_str(), pair.target_id.as_str());
    match event {
        E::Followed { .. } => {
            if is_local(tx, account).await? && !has(tx, "home_follows", account, target).await? {
                let sql = "INSERT INTO home_follows (account_id, target_id) VALUES (?, ?)";
                write_pair(tx, sql, account, target).await?;
                merge_statuses_of(tx, account, target).await?;
            }
        }
        E::Unfollowed { .. } => {
            if has(tx, "home_follows", account, target).await? {
                let sql = "DELETE FROM home_follows WHERE account_id = ? AND target_id = ?";
                write_pair(tx, sql, account, target).await?;
                remove_from(tx, account, target, false).await?;
            }
        }
        E::Blocked { .. } => {
            if !has(tx, "home_blocks", account, target).await? {
                let sql = "INSERT INTO home_blocks (account_id, target_id) VALUES (?, ?)";
                write_pair(tx, sql, account, target).await?;
                remove_from(tx, account, target, true).await?;
                remove_from(tx, target, account, true).await?;
            }
        }
        E::Unblocked { .. } => {
            if has(tx, "home_blocks", account, target).await? {
                let sql = "DELETE FROM home_blocks WHERE account_id = ? AND target_id = ?";
                write_pair(tx, sql, account, target).await?;
                if !has(tx, "home_blocks", target, account).await? {
                    remerge(tx, account, target).await?;
                    remerge(tx, target, account).await?;
                }
            }
        }
        E::Muted { .. } => {
            // A second `Muted` only changes the notification flag.
            if !has(tx, "home_mutes", account, target).await? {
                let sql = "INSERT INTO home_mutes (account_id, target_id) VALUES (?, ?)";
                write_pair(tx, sql, account, target).await?;
                remove_from(tx, account, target, true).await?;
            }
        }
        E::Unmuted { .. } => {
            if has(tx, "home_mutes", account, target).await? {
                let sql = "DELETE FROM home_mutes WHERE account_id = ? AND target_id = ?";
                write_pair(tx, sql, account, target).await?;
                remerge(tx, account, target).await?;
            }
        }
        E::FollowRequested { .. }
        | E::FollowRequestRejected { .. }
        | E::FollowRequestWithdrawn { .. } => {}
    }
    Ok(())
}

/// What `owner`'s feed shows again of `other` once a mute or block between them is gone.
async fn remerge(tx: &mut Tx<'_>, owner: &str, other: &str) -> Result<()> {
    if has(tx, "home_follows", owner, other).await? {
        merge_statuses_of(tx, owner, other).await?;
    }
    merge_reblogs_of(tx, owner, other).await
}

/// The accounts status `status_id` mentions (to diff an edit).
pub async fn mentioned(tx: &mut Tx<'_>, status_id: i64) -> Result<BTreeSet<String>> {
    let sql = tx
        .sql("SELECT account_id FROM status_mentions WHERE status_id = ?")
        .into_owned();
    sqlx::query(&sql)
        .bind(status_id)
        .fetch_all(&mut *tx.conn)
        .await?
        .iter()
        .map(|r| Ok(r.text("account_id")?))
        .collect()
}

#[cfg(test)]
#[path = "home_tests.rs"]
mod tests;
