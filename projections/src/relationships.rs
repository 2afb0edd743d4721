//! Read model: the social graph. Who follows whom, pending follow requests, blocks and mutes, one
//! row per ordered pair in `follows`, `follow_requests`, `blocks` and `mutes`.
//!
//! Every row keeps `position`, the log position of the event that created it: Mastodon clients
//! page follower, request, block and mute lists by it. A mute whose notification flag changes
//! keeps its row (and position), as Mastodon updates the existing mute.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use peerpx_aggregates::RelationshipEvent;
use sqlx::Row;

use crate::db::TextRow;
use crate::page::Page;
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

/// When a row was created: the log position of its event and the event's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    pub position: i64,
    pub at: i64,
}

/// Everything the read model stores about one ordered pair (`account_id` → `target_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairRows {
    pub follow: Option<Since>,
    pub request: Option<Since>,
    pub block: Option<Since>,
    /// The mute and whether it also hides notifications.
    pub mute: Option<(Since, bool)>,
}

/// The read model as a pure fold: a pair's rows after one more of its events.
pub fn fold(mut rows: PairRows, position: i64, event: &RelationshipEvent) -> PairRows {
    use RelationshipEvent as E;
    let since = |at: &i64| Since { position, at: *at };
    match event {
        E::FollowRequested { at, .. } => {
            rows.request = rows.request.or(Some(since(at)));
        }
        E::Followed { at, .. } => {
            rows.request = None;
            rows.follow = rows.follow.or(Some(since(at)));
        }
        E::FollowRequestRejected { .. } | E::FollowRequestWithdrawn { .. } => rows.request = None,
        E::Unfollowed { .. } => {
            rows.follow = None;
            rows.request = None;
        }
        E::Blocked { at, .. } => rows.block = rows.block.or(Some(since(at))),
        E::Unblocked { .. } => rows.block = None,
        E::Muted {
            notifications, at, ..
        } => {
            let created = rows.mute.map_or(since(at), |(s, _)| s);
            rows.mute = Some((created, *notifications));
        }
        E::Unmuted { .. } => rows.mute = None,
    }
    rows
}

/// The four tables, in the order `PairRows` lists them.
const TABLES: [&str; 4] = ["follows", "follow_requests", "blocks", "mutes"];
/// Pairs per `WHERE (…) OR (…)` and rows per multi-row INSERT: well under every bind limit.
const PAIRS_PER_QUERY: usize = 200;
const ROWS_PER_INSERT: usize = 50;

type Key = (String, String);

/// One table's row of a pair: (created, notifications for mutes).
fn edge(rows: &PairRows, table: usize) -> Option<(Since, bool)> {
    match table {
        0 => rows.follow.map(|s| (s, false)),
        1 => rows.request.map(|s| (s, false)),
        2 => rows.block.map(|s| (s, false)),
        _ => rows.mute,
    }
}

fn set_edge(rows: &mut PairRows, table: usize, since: Since, notifications: bool) {
    match table {
        0 => rows.follow = Some(since),
        1 => rows.request = Some(since),
        2 => rows.block = Some(since),
        _ => rows.mute = Some((since, notifications)),
    }
}

fn pair_condition(n: usize) -> String {
    vec!["(account_id = ? AND target_id = ?)"; n].join(" OR ")
}

async fn load(tx: &mut Tx<'_>, keys: &[Key]) -> Result<HashMap<Key, PairRows>> {
    let mut out: HashMap<Key, PairRows> = HashMap::new();
    for (table_index, table) in TABLES.iter().enumerate() {
        let extra = if table_index == 3 {
            ", notifications"
        } else {
            ""
        };
        for chunk in keys.chunks(PAIRS_PER_QUERY) {
            let sql = format!(
                "SELECT account_id, target_id, position, created_at{extra} FROM {table} WHERE {}",
                pair_condition(chunk.len())
            );
            let sql = tx.sql(&sql).into_owned();
            let mut query = sqlx::query(&sql);
            for (a, t) in chunk {
                query = query.bind(a.clone()).bind(t.clone());
            }
            for row in query.fetch_all(&mut *tx.conn).await? {
                let key = (row.text("account_id")?, row.text("target_id")?);
                let since = Since {
                    position: row.try_get("position")?,
                    at: row.try_get("created_at")?,
                };
                let notifications =
                    table_index == 3 && row.try_get::<i64, _>("notifications")? != 0;
                set_edge(
                    out.entry(key).or_default(),
                    table_index,
                    since,
                    notifications,
                );
            }
        }
    }
    Ok(out)
}

/// Rewrites, table by table, the rows of the pairs whose row in that table changed.
async fn store(
    tx: &mut Tx<'_>,
    before: &HashMap<Key, PairRows>,
    after: &BTreeMap<Key, PairRows>,
) -> Result<()> {
    for (table_index, table) in TABLES.iter().enumerate() {
        let changed: Vec<&Key> = after
            .iter()
            .filter(|(k, rows)| {
                let old = before.get(*k).copied().unwrap_or_default();
                edge(&old, table_index) != edge(rows, table_index)
            })
            .map(|(k, _)| k)
            .collect();
        for chunk in changed.chunks(PAIRS_PER_QUERY) {
            let sql = format!("DELETE FROM {table} WHERE {}", pair_condition(chunk.len()));
            let sql = tx.sql(&sql).into_owned();
            let mut query = sqlx::query(&sql);
            for (a, t) in chunk {
                query = query.bind(a.clone()).bind(t.clone());
            }
            query.execute(&mut *tx.conn).await?;
        }
        let inserts: Vec<(&Key, Since, bool)> = changed
            .iter()
            .filter_map(|k| {
                let rows = after.get(*k)?;
                edge(rows, table_index).map(|(s, n)| (*k, s, n))
            })
            .collect();
        let mute = table_index == 3;
        for chunk in inserts.chunks(ROWS_PER_INSERT) {
            let one = if mute {
                "(?, ?, ?, ?, ?)"
            } else {
                "(?, ?, ?, ?)"
            };
            let values = vec![one; chunk.len()].join(", ");
            let columns = if mute {
                "account_id, target_id, notifications, position, created_at"
            } else {
                "account_id, target_id, position, created_at"
            };
            let sql = format!("INSERT INTO {table} ({columns}) VALUES {values}");
            let sql = tx.sql(&sql).into_owned();
            let mut query = sqlx::query(&sql);
            for ((a, t), since, notifications) in chunk {
                query = query.bind(a.clone()).bind(t.clone());
                if mute {
                    query = query.bind(i64::from(*notifications));
                }
                query = query.bind(since.position).bind(since.at);
            }
            query.execute(&mut *tx.conn).await?;
        }
    }
    Ok(())
}

/// What a viewer and another account are to each other (Mastodon's Relationship entity, less
/// what peerpx does not have yet: notes, endorsements, domain blocks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelationshipRow {
    /// The other account.
    pub id: String,
    pub following: bool,
    pub followed_by: bool,
    pub requested: bool,
    pub requested_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
}

async fn exists(db: &Db, sql: &str, binds: &[&str]) -> Result<bool> {
    let sql = db.sql(sql);
    let mut query = sqlx::query(&sql);
    for b in binds {
        query = query.bind(b.to_string());
    }
    Ok(query.fetch_optional(&db.pool).await?.is_some())
}

/// Does `account_id` follow `target_id` (an accepted follow, not a request)?
pub async fn is_following(db: &Db, account_id: &str, target_id: &str) -> Result<bool> {
    exists(
        db,
        "SELECT 1 FROM follows WHERE account_id = ? AND target_id = ?",
        &[account_id, target_id],
    )
    .await
}

/// Does any account of this node follow `target_id`?
pub async fn has_local_follower(db: &Db, target_id: &str) -> Result<bool> {
    exists(
        db,
        "SELECT 1 FROM follows f JOIN accounts a ON a.id = f.account_id \
         WHERE f.target_id = ? AND a.domain IS NULL",
        &[target_id],
    )
    .await
}

/// The inboxes of `target_id`'s followers on other nodes: `(inbox, shared inbox)`.
pub async fn remote_follower_inboxes(
    db: &Db,
    target_id: &str,
) -> Result<Vec<(String, Option<String>)>> {
    let sql = db.sql(
        "SELECT a.inbox_url, a.shared_inbox_url FROM follows f \
         JOIN accounts a ON a.id = f.account_id \
         WHERE f.target_id = ? AND a.domain IS NOT NULL AND a.inbox_url IS NOT NULL \
         ORDER BY f.position",
    );
    let rows = sqlx::query(&sql)
        .bind(target_id.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.text("inbox_url")?, r.opt_text("shared_inbox_url")?)))
        .collect()
}

/// Does `account_id` block `target_id`?
pub async fn is_blocking(db: &Db, account_id: &str, target_id: &str) -> Result<bool> {
    exists(
        db,
        "SELECT 1 FROM blocks WHERE account_id = ? AND target_id = ?",
        &[account_id, target_id],
    )
    .await
}

/// Does either of `a` and `b` block the other?
pub async fn blocked_either_way(db: &Db, a: &str, b: &str) -> Result<bool> {
    exists(
        db,
        "SELECT 1 FROM blocks WHERE (account_id = ? AND target_id = ?) \
         OR (account_id = ? AND target_id = ?)",
        &[a, b, b, a],
    )
    .await
}

/// Targets per relationships query (each is bound seven times).
const TARGETS_PER_QUERY: usize = 300;

/// The viewer's relationship with each of `targets`, in their order (duplicates kept).
pub async fn relationships(
    db: &Db,
    viewer: &str,
    targets: &[String],
) -> Result<Vec<RelationshipRow>> {
    let unique: Vec<&String> = targets
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut found: HashMap<String, RelationshipRow> = HashMap::new();
    for chunk in unique.chunks(TARGETS_PER_QUERY) {
        let list = vec!["?"; chunk.len()].join(", ");
        // (kind, the viewer's column, the other's column, table, value column): one UNION so a
        // page of accounts costs one round trip.
        let parts = [
            (
                "following",
                "account_id",
                "target_id",
                "follows",
                "position",
            ),
            (
                "followed_by",
                "target_id",
                "account_id",
                "follows",
                "position",
            ),
            (
                "requested",
                "account_id",
                "target_id",
                "follow_requests",
                "position",
            ),
            (
                "requested_by",
                "target_id",
                "account_id",
                "follow_requests",
                "position",
            ),
            ("blocking", "account_id", "target_id", "blocks", "position"),
            (
                "blocked_by",
                "target_id",
                "account_id",
                "blocks",
                "position",
            ),
            (
                "muting",
                "account_id",
                "target_id",
                "mutes",
                "notifications",
            ),
        ];
        let sql = parts
            .iter()
            .map(|(kind, mine, other, table, value)| {
                format!(
                    "SELECT '{kind}' AS kind, {other} AS other, {value} AS n FROM {table} \
                     WHERE {mine} = ? AND {other} IN ({list})"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = db.sql(&sql);
        let mut query = sqlx::query(&sql);
        for _ in parts {
            query = query.bind(viewer.to_string());
            for t in chunk {
                query = query.bind((*t).clone());
            }
        }
        for row in query.fetch_all(&db.pool).await? {
            let other = row.text("other")?;
            let n: i64 = row.try_get("n")?;
            let r = found
                .entry(other.clone())
                .or_insert_with(|| RelationshipRow {
                    id: other,
                    ..RelationshipRow::default()
                });
            match row.text("kind")?.as_str() {
                "following" => r.following = true,
                "followed_by" => r.followed_by = true,
                "requested" => r.requested = true,
                "requested_by" => r.requested_by = true,
                "blocking" => r.blocking = true,
                "blocked_by" => r.blocked_by = true,
                _ => {
                    r.muting = true;
                    r.muting_notifications = n != 0;
                }
            }
        }
    }
    Ok(targets
        .iter()
        .map(|t| {
            found.get(t).cloned().unwrap_or_else(|| RelationshipRow {
                id: t.clone(),
                ..RelationshipRow::default()
            })
        })
        .collect())
}

/// A page of `(position, account id)` from one side of a table, newest first, listing only
/// active accounts.
async fn edges(
    db: &Db,
    table: &str,
    by: &str,
    show: &str,
    id: &str,
    page: Page,
) -> Result<Vec<(i64, String)>> {
    let sql = format!(
        "SELECT r.position AS position, r.{show} AS other FROM {table} r \
         JOIN accounts a ON a.id = r.{show} WHERE r.{by} = ? AND a.state = 'active'{}",
        page.sql("r.position")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql).bind(id.to_string());
    for b in page.binds() {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let rows = rows
        .iter()
        .map(|row| Ok((row.try_get::<i64, _>("position")?, row.text("other")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(page.finish(rows))
}

/// Who follows `target`, by follow position.
pub async fn followers(db: &Db, target: &str, page: Page) -> Result<Vec<(i64, String)>> {
    edges(db, "follows", "target_id", "account_id", target, page).await
}

/// Whom `account` follows, by follow position.
pub async fn following(db: &Db, account: &str, page: Page) -> Result<Vec<(i64, String)>> {
    edges(db, "follows", "account_id", "target_id", account, page).await
}

/// Who asks to follow `target`, by request position.
pub async fn follow_requests(db: &Db, target: &str, page: Page) -> Result<Vec<(i64, String)>> {
    edges(
        db,
        "follow_requests",
        "target_id",
        "account_id",
        target,
        page,
    )
    .await
}

/// Whom `account` blocks, by block position.
pub async fn blocks(db: &Db, account: &str, page: Page) -> Result<Vec<(i64, String)>> {
    edges(db, "blocks", "account_id", "target_id", account, page).await
}

/// Whom `account` mutes, by mute position.
pub async fn mutes(db: &Db, account: &str, page: Page) -> Result<Vec<(i64, String)>> {
    edges(db, "mutes", "account_id", "target_id", account, page).await
}

/// Everyone `account` mutes, with whether the mute also hides their notifications.
pub async fn muted_ids(db: &Db, account: &str) -> Result<Vec<(String, bool)>> {
    let rows =
        sqlx::query(&db.sql(
            "SELECT target_id, notifications FROM mutes WHERE account_id = ? ORDER BY target_id",
        ))
        .bind(account.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.text("target_id")?,
                row.try_get::<i64, _>("notifications")? != 0,
            ))
        })
        .collect()
}

/// Accounts whose content `viewer` should not see in lists: those it blocks, those blocking it
/// and those it mutes (Mastodon's `excluded_from_timeline_account_ids`).
pub async fn excluded_ids(db: &Db, viewer: &str) -> Result<BTreeSet<String>> {
    let rows = sqlx::query(&db.sql(
        "SELECT target_id AS other FROM blocks WHERE account_id = ? \
         UNION SELECT account_id AS other FROM blocks WHERE target_id = ? \
         UNION SELECT target_id AS other FROM mutes WHERE account_id = ?",
    ))
    .bind(viewer.to_string())
    .bind(viewer.to_string())
    .bind(viewer.to_string())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|row| Ok(row.text("other")?)).collect()
}

pub struct RelationshipsProjection;

#[async_trait::async_trait]
impl Projection for RelationshipsProjection {
    fn name(&self) -> &'static str {
        "relationships"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("follows", "account_id, target_id"),
            ("follow_requests", "account_id, target_id"),
            ("blocks", "account_id, target_id"),
            ("mutes", "account_id, target_id"),
            ("follow_counts", "account_id"),
        ]
    }

    async fn apply(&self, tx: &mut Tx<'_>, event: &Recorded) -> Result<()> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Loads the rows of the pairs the batch touches, folds their events in memory and writes
    /// back only what changed.
    async fn apply_batch(&self, tx: &mut Tx<'_>, events: &[Recorded]) -> Result<()> {
        let mine: Vec<(i64, &RelationshipEvent)> = events
            .iter()
            .filter_map(|r| match &r.event {
                DomainEvent::Relationship(e) => Some((r.position, e)),
                _ => None,
            })
            .collect();
        if mine.is_empty() {
            return Ok(());
        }
        let keys: Vec<Key> = mine
            .iter()
            .map(|(_, e)| (e.pair().account_id.clone(), e.pair().target_id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let before = load(tx, &keys).await?;
        let mut after: BTreeMap<Key, PairRows> = keys
            .iter()
            .map(|k| (k.clone(), before.get(k).copied().unwrap_or_default()))
            .collect();
        for (position, event) in mine {
            let pair = event.pair();
            let key = (pair.account_id.clone(), pair.target_id.clone());
            let rows = after.entry(key).or_default();
            *rows = fold(*rows, position, event);
        }
        store(tx, &before, &after).await?;
        crate::follow_counts::apply(tx, &crate::follow_counts::deltas(&before, &after)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerpx_aggregates::relationship::Pair;
    use RelationshipEvent as E;

    fn pair() -> Pair {
        Pair {
            account_id: "1".into(),
            target_id: "2".into(),
        }
    }

    fn fold_all(events: &[(i64, E)]) -> PairRows {
        events
            .iter()
            .fold(PairRows::default(), |rows, (p, e)| fold(rows, *p, e))
    }

    #[test]
    fn an_authorized_request_becomes_a_follow_from_the_authorization() {
        let rows = fold_all(&[
            (
                3,
                E::FollowRequested {
                    pair: pair(),
                    at: 30,
                },
            ),
            (
                7,
                E::Followed {
                    pair: pair(),
                    at: 70,
                },
            ),
        ]);
        assert_eq!(
            rows,
            PairRows {
                follow: Some(Since {
                    position: 7,
                    at: 70
                }),
                ..PairRows::default()
            }
        );
    }

    #[test]
    fn rejected_and_withdrawn_requests_and_unfollows_leave_nothing() {
        for end in [
            E::FollowRequestRejected {
                pair: pair(),
                at: 2,
            },
            E::FollowRequestWithdrawn {
                pair: pair(),
                at: 2,
            },
        ] {
            let rows = fold_all(&[
                (
                    1,
                    E::FollowRequested {
                        pair: pair(),
                        at: 1,
                    },
                ),
                (2, end),
            ]);
            assert_eq!(rows, PairRows::default());
        }
        let rows = fold_all(&[
            (
                1,
                E::Followed {
                    pair: pair(),
                    at: 1,
                },
            ),
            (
                2,
                E::Unfollowed {
                    pair: pair(),
                    at: 2,
                },
            ),
        ]);
        assert_eq!(rows, PairRows::default());
    }

    #[test]
    fn blocks_come_and_go_and_keep_their_first_position() {
        let rows = fold_all(&[
            (
                4,
                E::Blocked {
                    pair: pair(),
                    at: 40,
                },
            ),
            (
                5,
                E::Blocked {
                    pair: pair(),
                    at: 50,
                },
            ),
        ]);
        assert_eq!(
            rows.block,
            Some(Since {
                position: 4,
                at: 40
            })
        );
        let rows = fold(
            rows,
            6,
            &E::Unblocked {
                pair: pair(),
                at: 60,
            },
        );
        assert_eq!(rows, PairRows::default());
    }

    #[test]
    fn a_changed_mute_keeps_its_row_and_takes_the_new_notification_flag() {
        let rows = fold_all(&[
            (
                2,
                E::Muted {
                    pair: pair(),
                    notifications: true,
                    at: 20,
                },
            ),
            (
                9,
                E::Muted {
                    pair: pair(),
                    notifications: false,
                    at: 90,
                },
            ),
        ]);
        assert_eq!(
            rows.mute,
            Some((
                Since {
                    position: 2,
                    at: 20
                },
                false
            ))
        );
        let rows = fold(
            rows,
            10,
            &E::Unmuted {
                pair: pair(),
                at: 100,
            },
        );
        assert_eq!(rows.mute, None);
    }
}
