//! Read model: statuses (photo posts and comments) with their tags, mentions and edit history,
//! and the queries behind timelines, threads and visibility.
//!
//! Visibility is decided here, in SQL, for every list and lookup: public and unlisted statuses are
//! visible to everyone; followers-only ones to their author, the author's followers and the people
//! they mention; direct ones to their author and the people they mention. Statuses of accounts
//! that are not active, and statuses between two accounts where one blocks the other, are
//! invisible. A status that is not visible does not exist for the viewer (the API answers 404).

use std::collections::HashMap;

use peerpx_aggregates::status::{Content, Mention, RemoteMedia};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{bind_all, placeholders, Arg, TextRow};
use crate::{Db, Error, Page, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct StatusRow {
    pub id: i64,
    pub account_id: String,
    pub in_reply_to_id: Option<i64>,
    pub in_reply_to_account_id: Option<String>,
    pub visibility: String,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub title: Option<String>,
    pub licence: String,
    pub allow_download: bool,
    pub media_count: i64,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub tags: Vec<String>,
    pub mentions: Vec<Mention>,
    /// The ActivityPub id of a status received from another node (`None` for local ones).
    pub uri: Option<String>,
    /// The page of a remote status on its node.
    pub url: Option<String>,
    /// The photos of a remote status, which stay on its node.
    pub remote_media: Vec<RemoteMedia>,
    /// For a reblog (boost), the status reblogged; a reblog has no text or photos of its own.
    pub reblog_of_id: Option<i64>,
}

/// One version of a status (the first one included).
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub version: i64,
    pub content: Content,
    pub at: i64,
}

const COLUMNS: &str = "s.id, s.account_id, s.in_reply_to_id, s.in_reply_to_account_id, \
    s.visibility, s.text, s.content, s.spoiler_text, s.is_sensitive, s.language, s.title, \
    s.licence, s.allow_download, s.media_count, s.created_at, s.edited_at, s.uri, s.url, \
    s.remote_media, s.reblog_of_id";

fn from_row(row: &AnyRow) -> Result<StatusRow> {
    Ok(StatusRow {
        id: row.try_get("id")?,
        account_id: row.text("account_id")?,
        in_reply_to_id: row.try_get("in_reply_to_id")?,
        in_reply_to_account_id: row.opt_text("in_reply_to_account_id")?,
        visibility: row.text("visibility")?,
        text: row.text("text")?,
        content: row.text("content")?,
        spoiler_text: row.text("spoiler_text")?,
        sensitive: row.try_get::<i64, _>("is_sensitive")? != 0,
        language: row.opt_text("language")?,
        title: row.opt_text("title")?,
        licence: row.text("licence")?,
        allow_download: row.try_get::<i64, _>("allow_download")? != 0,
        media_count: row.try_get("media_count")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        tags: Vec::new(),
        mentions: Vec::new(),
        uri: row.opt_text("uri")?,
        url: row.opt_text("url")?,
        remote_media: match row.opt_text("remote_media")? {
            Some(json) => serde_json::from_str(&json).map_err(|e| Error::BadEvent {
                position: 0,
                reason: format!("remote media of a status: {e}"),
            })?,
            None => Vec::new(),
        },
        reblog_of_id: row.try_get("reblog_of_id")?,
    })
}

pub(crate) fn remote_media_json(c: &Content) -> Option<String> {
    (!c.remote_media.is_empty())
        .then(|| serde_json::to_string(&c.remote_media).unwrap_or_else(|_| "[]".into()))
}

pub(crate) fn media_count(c: &Content) -> i64 {
    i64::try_from(c.media.len() + c.remote_media.len()).unwrap_or(i64::MAX)
}

/// Who is looking: `None` for an anonymous visitor.
pub type Viewer<'a> = Option<&'a str>;

/// The SQL condition (on alias `s`) for "the viewer may see this status", with its parameters.
pub fn visible(viewer: Viewer<'_>) -> (String, Vec<Arg>) {
    let active =
        "EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id AND a.state = 'active')";
    let (original, original_args) = crate::reblogs::original_visible(viewer);
    let (vis, mut args) = match viewer {
        None => (
            format!("(s.visibility IN ('public', 'unlisted') AND {active})"),
            Vec::new(),
        ),
        Some(v) => (
            format!(
                "({active} AND (s.visibility IN ('public', 'unlisted') OR s.account_id = ? \
                 OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f \
                     WHERE f.account_id = ? AND f.target_id = s.account_id)) \
                 OR EXISTS (SELECT 1 FROM status_mentions m \
                     WHERE m.status_id = s.id AND m.account_id = ?)) \
                 AND NOT EXISTS (SELECT 1 FROM blocks b WHERE \
                     (b.account_id = s.account_id AND b.target_id = ?) \
                     OR (b.account_id = ? AND b.target_id = s.account_id)))"
            ),
            vec![v.into(), v.into(), v.into(), v.into(), v.into()],
        ),
    };
    args.extend(original_args);
    (format!("({vis} AND {original})"), args)
}

/// Hides authors the viewer muted (timelines and notifications, not profiles or threads), and
/// reblogs of their statuses.
fn not_muted(viewer: Viewer<'_>) -> (String, Vec<Arg>) {
    match viewer {
        None => (String::new(), Vec::new()),
        Some(v) => (
            " AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.account_id = ? \
             AND mu.target_id = s.account_id) \
             AND NOT EXISTS (SELECT 1 FROM statuses mo JOIN mutes mr \
             ON mr.target_id = mo.account_id WHERE mo.id = s.reblog_of_id \
             AND mr.account_id = ?)"
                .to_string(),
            vec![v.into(), v.into()],
        ),
    }
}

/// Runs `SELECT … FROM statuses s WHERE <condition> AND visible` with a page, then loads tags and
/// mentions.
async fn select(
    db: &Db,
    viewer: Viewer<'_>,
    condition: &str,
    args: Vec<Arg>,
    page: Option<Page>,
) -> Result<Vec<StatusRow>> {
    select_from(db, viewer, ("statuses s", "s.id"), condition, args, page).await
}

/// [`select`] from `from` (which names the statuses `s`), paged on `key`.
async fn select_from(
    db: &Db,
    viewer: Viewer<'_>,
    (from, key): (&str, &str),
    condition: &str,
    mut args: Vec<Arg>,
    page: Option<Page>,
) -> Result<Vec<StatusRow>> {
    let (vis, vis_args) = visible(viewer);
    args.extend(vis_args);
    let mut sql = format!("SELECT {COLUMNS} FROM {from} WHERE {condition} AND {vis}");
    if let Some(page) = page {
        sql.push_str(&page.sql(key));
        args.extend(page.binds().into_iter().map(Arg::Int));
    } else {
        sql.push_str(" ORDER BY s.id");
    }
    let sql = db.sql(&sql);
    let rows = bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?;
    let mut statuses = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    if let Some(page) = page {
        statuses = page.finish(statuses);
    }
    attach_tags_and_mentions(db, &mut statuses).await?;
    Ok(statuses)
}

async fn attach_tags_and_mentions(db: &Db, statuses: &mut [StatusRow]) -> Result<()> {
    if statuses.is_empty() {
        return Ok(());
    }
    let ids: Vec<Arg> = statuses.iter().map(|s| Arg::Int(s.id)).collect();
    let list = placeholders(ids.len());
    let index: HashMap<i64, usize> = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let sql = format!(
        "SELECT status_id, tag FROM status_tags WHERE status_id IN ({list}) ORDER BY status_id, tag"
    );
    let sql = db.sql(&sql);
    for row in bind_all(sqlx::query(&sql), &ids)
        .fetch_all(&db.pool)
        .await?
    {
        let id: i64 = row.try_get("status_id")?;
        if let Some(&i) = index.get(&id) {
            statuses[i].tags.push(row.text("tag")?);
        }
    }
    let sql = format!(
        "SELECT status_id, account_id, username FROM status_mentions WHERE status_id IN ({list}) \
         ORDER BY status_id, username"
    );
    let sql = db.sql(&sql);
    for row in bind_all(sqlx::query(&sql), &ids)
        .fetch_all(&db.pool)
        .await?
    {
        let id: i64 = row.try_get("status_id")?;
        if let Some(&i) = index.get(&id) {
            statuses[i].mentions.push(Mention {
                account_id: row.text("account_id")?,
                username: row.text("username")?,
            });
        }
    }
    Ok(())
}

/// A status the viewer may see.
pub async fn visible_by_id(db: &Db, viewer: Viewer<'_>, id: i64) -> Result<Option<StatusRow>> {
    Ok(select(db, viewer, "s.id = ?", vec![id.into()], None)
        .await?
        .pop())
}

/// The status whose ActivityPub id is `uri`, local or remote, whoever may see it.
pub async fn by_uri(db: &Db, config_base: &str, uri: &str) -> Result<Option<StatusRow>> {
    // Our own statuses' URIs are `{base}/users/{name}/statuses/{id}`.
    if let Some(rest) = uri.strip_prefix(&format!("{config_base}/users/")) {
        if let Some((_, id)) = rest.split_once("/statuses/") {
            return match id.parse::<i64>() {
                Ok(id) => by_id(db, id).await.map(|s| s.filter(|s| s.uri.is_none())),
                Err(_) => Ok(None),
            };
        }
        return Ok(None);
    }
    let sql = format!("SELECT {COLUMNS} FROM statuses s WHERE s.uri = ?");
    let sql = db.sql(&sql);
    let row = sqlx::query(&sql)
        .bind(uri.to_string())
        .fetch_optional(&db.pool)
        .await?;
    match row {
        Some(r) => {
            let mut rows = vec![from_row(&r)?];
            attach_tags_and_mentions(db, &mut rows).await?;
            Ok(rows.pop())
        }
        None => Ok(None),
    }
}

/// A status whatever its visibility (for its author's edits and deletes).
pub async fn by_id(db: &Db, id: i64) -> Result<Option<StatusRow>> {
    let sql = format!("SELECT {COLUMNS} FROM statuses s WHERE s.id = ?");
    let sql = db.sql(&sql);
    let row = sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?;
    let Some(row) = row else { return Ok(None) };
    let mut statuses = vec![from_row(&row)?];
    attach_tags_and_mentions(db, &mut statuses).await?;
    Ok(statuses.pop())
}

/// The statuses among `ids` the viewer may see, in the order of `ids`.
pub async fn visible_by_ids(db: &Db, viewer: Viewer<'_>, ids: &[i64]) -> Result<Vec<StatusRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let condition = format!("s.id IN ({})", placeholders(ids.len()));
    let args = ids.iter().map(|id| Arg::Int(*id)).collect();
    let found = select(db, viewer, &condition, args, None).await?;
    let mut by_id: HashMap<i64, StatusRow> = found.into_iter().map(|s| (s.id, s)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The viewer's home timeline: their own statuses and those of the accounts they follow, as
/// the home feed read model (`home.rs`) holds them. A page is a range of `home_feed`'s primary
/// key, then the statuses of that range by primary key, with visibility and mutes checked again
/// (a suspended author's statuses stay in the feed and are left out here). Two keyed reads
/// rather than one join: on PostgreSQL the join was planned from `statuses` (85 ms instead of a
/// fraction of one on the bench's data). When the check leaves the page short, the next range
/// is read; a feed holds at most 1 000 rows, so that ends.
pub async fn home(db: &Db, viewer: &str, page: Page) -> Result<Vec<StatusRow>> {
    let want = usize::try_from(page.limit).unwrap_or(0);
    let chunk = page.limit.max(1) * 2;
    let (muted, muted_args) = not_muted(Some(viewer));
    let mut range = Page {
        limit: chunk,
        ..page
    };
    let mut out = Vec::with_capacity(want);
    while out.len() < want {
        let sql = format!(
            "SELECT status_id FROM home_feed WHERE account_id = ?{}",
            range.sql("status_id")
        );
        let sql = db.sql(&sql);
        let mut query = sqlx::query(&sql).bind(viewer.to_string());
        for b in range.binds() {
            query = query.bind(b);
        }
        let ids: Vec<i64> = query
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        let Some(&last) = ids.last() else { break };
        let condition = format!("s.id IN ({}){muted}", placeholders(ids.len()));
        let mut args: Vec<Arg> = ids.iter().map(|id| Arg::Int(*id)).collect();
        args.extend(muted_args.iter().cloned());
        let found = select(db, Some(viewer), &condition, args, None).await?;
        let mut by_id: HashMap<i64, StatusRow> = found.into_iter().map(|s| (s.id, s)).collect();
        out.extend(
            ids.iter()
                .filter_map(|id| by_id.remove(id))
                .take(want - out.len()),
        );
        if i64::try_from(ids.len()).unwrap_or(0) < chunk {
            break;
        }
        if range.ascending() {
            range.min_id = Some(last);
        } else {
            range.max_id = Some(last);
        }
    }
    Ok(page.finish(out))
}

/// The home timeline as it was answered before the home feed read model: every status of the
/// viewer or of an account they follow that they may see, newest first. Not used by the API;
/// kept as the reference the tests compare `home` with (and the benches measure against). It
/// walks statuses newest first, so it scans far when the followed accounts post rarely.
pub async fn home_reference(db: &Db, viewer: &str, page: Page) -> Result<Vec<StatusRow>> {
    let (muted, muted_args) = not_muted(Some(viewer));
    let condition = format!(
        "(s.account_id = ? OR EXISTS (SELECT 1 FROM follows fo \
         WHERE fo.account_id = ? AND fo.target_id = s.account_id)){muted}"
    );
    let mut args: Vec<Arg> = vec![viewer.into(), viewer.into()];
    args.extend(muted_args);
    select(db, Some(viewer), &condition, args, Some(page)).await
}

/// The ids in the viewer's home feed rows, newest first, without the final visibility check:
/// what the projection wrote (tests compare it with `home_reference`).
pub async fn home_feed_ids(db: &Db, viewer: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        &db.sql("SELECT status_id FROM home_feed WHERE account_id = ? ORDER BY status_id DESC"),
    )
    .bind(viewer.to_string())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PublicFilter {
    pub only_media: bool,
    /// Only statuses of this node's accounts.
    pub local: bool,
    /// Only statuses received from other nodes.
    pub remote: bool,
}

/// Public statuses (not replies to others, like Mastodon's public timelines), optionally with a tag.
pub async fn public(
    db: &Db,
    viewer: Viewer<'_>,
    tag: Option<&str>,
    filter: PublicFilter,
    page: Page,
) -> Result<Vec<StatusRow>> {
    let mut condition = "s.visibility = 'public' AND s.reblog_of_id IS NULL \
        AND (s.in_reply_to_account_id IS NULL OR s.in_reply_to_account_id = s.account_id)"
        .to_string();
    let mut args: Vec<Arg> = Vec::new();
    if filter.only_media {
        condition.push_str(" AND s.media_count > 0");
    }
    if filter.local {
        condition.push_str(" AND s.uri IS NULL");
    }
    if filter.remote {
        condition.push_str(" AND s.uri IS NOT NULL");
    }
    if let Some(tag) = tag {
        condition.push_str(
            " AND EXISTS (SELECT 1 FROM status_tags t WHERE t.status_id = s.id AND t.tag = ?)",
        );
        args.push(tag.to_lowercase().into());
    }
    let (muted, muted_args) = not_muted(viewer);
    condition.push_str(&muted);
    args.extend(muted_args);
    select(db, viewer, &condition, args, Some(page)).await
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AccountFilter {
    pub only_media: bool,
    pub exclude_replies: bool,
    /// Leave out the account's reblogs (Mastodon's `exclude_reblogs`).
    pub exclude_reblogs: bool,
}

/// An account's statuses as the viewer may see them (its profile).
pub async fn of_account(
    db: &Db,
    viewer: Viewer<'_>,
    account_id: &str,
    filter: AccountFilter,
    page: Page,
) -> Result<Vec<StatusRow>> {
    let mut condition = "s.account_id = ?".to_string();
    if filter.only_media {
        condition.push_str(" AND s.media_count > 0");
    }
    if filter.exclude_reblogs {
        condition.push_str(" AND s.reblog_of_id IS NULL");
    }
    if filter.exclude_replies {
        condition.push_str(
            " AND (s.in_reply_to_account_id IS NULL OR s.in_reply_to_account_id = s.account_id)",
        );
    }
    select(db, viewer, &condition, vec![account_id.into()], Some(page)).await
}

/// The thread around a status: its ancestors (oldest first) and its descendants (depth first, in
/// reply order), both limited to what the viewer may see.
pub async fn context(
    db: &Db,
    viewer: Viewer<'_>,
    status: &StatusRow,
) -> Result<(Vec<StatusRow>, Vec<StatusRow>)> {
    let mut ancestors = Vec::new();
    let mut parent = status.in_reply_to_id;
    while let Some(id) = parent {
        if ancestors.len() >= 40 {
            break;
        }
        match visible_by_id(db, viewer, id).await? {
            Some(s) => {
                parent = s.in_reply_to_id;
                ancestors.push(s);
            }
            None => break,
        }
    }
    ancestors.reverse();

    // Breadth-first collection of every reply, then a depth-first order for display.
    let mut children: HashMap<i64, Vec<StatusRow>> = HashMap::new();
    let mut frontier = vec![status.id];
    let mut total = 0;
    while !frontier.is_empty() && total < 4000 {
        let condition = format!("s.in_reply_to_id IN ({})", placeholders(frontier.len()));
        let args = frontier.iter().map(|id| Arg::Int(*id)).collect();
        let replies = select(db, viewer, &condition, args, None).await?;
        total += replies.len();
        frontier = replies.iter().map(|r| r.id).collect();
        for reply in replies {
            if let Some(parent) = reply.in_reply_to_id {
                children.entry(parent).or_default().push(reply);
            }
        }
    }
    let mut descendants = Vec::new();
    let mut stack: Vec<StatusRow> = children.remove(&status.id).unwrap_or_default();
    stack.reverse();
    while let Some(s) = stack.pop() {
        let mut kids = children.remove(&s.id).unwrap_or_default();
        kids.reverse();
        descendants.push(s);
        stack.extend(kids);
    }
    Ok((ancestors, descendants))
}

/// Every version of a status, oldest first.
pub async fn history(db: &Db, id: i64) -> Result<Vec<Version>> {
    let rows = sqlx::query(&db.sql(
        "SELECT version, content, created_at FROM status_edits WHERE status_id = ? \
         ORDER BY version",
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let content: String = row.text("content")?;
            Ok(Version {
                version: row.try_get("version")?,
                content: serde_json::from_str(&content).map_err(|e| Error::BadEvent {
                    position: 0,
                    reason: format!("status {id} version: {e}"),
                })?,
                at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Per status: (replies, favourites) counts, as the statuses and engagements read models keep
/// them (every reply; every favourite).
pub async fn counts(db: &Db, ids: &[i64]) -> Result<HashMap<i64, (i64, i64)>> {
    let mut out: HashMap<i64, (i64, i64)> = ids.iter().map(|id| (*id, (0, 0))).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let list = placeholders(ids.len());
    let args: Vec<Arg> = ids.iter().map(|id| Arg::Int(*id)).collect();
    let sql = format!("SELECT id, replies_count AS n FROM statuses WHERE id IN ({list})");
    let sql = db.sql(&sql);
    for row in bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?
    {
        let id: i64 = row.try_get("id")?;
        out.entry(id).or_default().0 = row.try_get("n")?;
    }
    let sql = format!(
        "SELECT status_id AS id, favourites_count AS n FROM favourite_counts \
         WHERE status_id IN ({list})"
    );
    let sql = db.sql(&sql);
    for row in bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?
    {
        let id: i64 = row.try_get("id")?;
        out.entry(id).or_default().1 = row.try_get("n")?;
    }
    Ok(out)
}

/// The statuses among `ids` the viewer favourited and bookmarked.
pub async fn viewer_flags(db: &Db, viewer: &str, ids: &[i64]) -> Result<(Vec<i64>, Vec<i64>)> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let list = placeholders(ids.len());
    let mut args: Vec<Arg> = vec![viewer.into()];
    args.extend(ids.iter().map(|id| Arg::Int(*id)));
    let mut flags = Vec::new();
    for table in ["favourites", "bookmarks"] {
        let sql =
            format!("SELECT status_id FROM {table} WHERE account_id = ? AND status_id IN ({list})");
        let sql = db.sql(&sql);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&db.pool)
            .await?;
        flags.push(
            rows.iter()
                .map(|r| r.try_get::<i64, _>("status_id"))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let bookmarked = flags.pop().unwrap_or_default();
    let favourited = flags.pop().unwrap_or_default();
    Ok((favourited, bookmarked))
}

pub use crate::status_writes::StatusesProjection;
