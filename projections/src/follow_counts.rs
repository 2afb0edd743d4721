//! Part of the relationships read model: followers, following and pending follow requests per
//! account (`follow_counts`), kept as the `follows` and `follow_requests` rows they count change,
//! in the same transaction. One row per account with any; a row whose counts all reach zero goes,
//! so a replay gives the same rows as the history that led to them.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use crate::db::{placeholders, TextRow};
use crate::projector::Tx;
use crate::relationships::PairRows;
use crate::Result;

const KEYS_PER_QUERY: usize = 500;
const ROWS_PER_INSERT: usize = 100;

/// (followers, following, follow requests) of one account.
pub type Counts = [i64; 3];

/// How the counts move when pairs change from `before` to `after` (keyed follower, followee).
pub fn deltas(
    before: &HashMap<(String, String), PairRows>,
    after: &BTreeMap<(String, String), PairRows>,
) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for ((account, target), rows) in after {
        let old = before
            .get(&(account.clone(), target.clone()))
            .copied()
            .unwrap_or_default();
        let step = |was: bool, is: bool| i64::from(is) - i64::from(was);
        let follow = step(old.follow.is_some(), rows.follow.is_some());
        if follow != 0 {
            out.entry(target.clone()).or_default()[0] += follow;
            out.entry(account.clone()).or_default()[1] += follow;
        }
        let request = step(old.request.is_some(), rows.request.is_some());
        if request != 0 {
            out.entry(target.clone()).or_default()[2] += request;
        }
    }
    out.retain(|_, d| *d != [0, 0, 0]);
    out
}

/// Adds `deltas` to the stored counts.
pub async fn apply(tx: &mut Tx<'_>, deltas: &BTreeMap<String, Counts>) -> Result<()> {
    let keys: Vec<&String> = deltas.keys().collect();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "SELECT account_id, followers_count, following_count, follow_requests_count \
             FROM follow_counts WHERE account_id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for k in chunk {
            query = query.bind((*k).clone());
        }
        for row in query.fetch_all(&mut *tx.conn).await? {
            counts.insert(
                row.text("account_id")?,
                [
                    row.try_get("followers_count")?,
                    row.try_get("following_count")?,
                    row.try_get("follow_requests_count")?,
                ],
            );
        }
        let sql = format!(
            "DELETE FROM follow_counts WHERE account_id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for k in chunk {
            query = query.bind((*k).clone());
        }
        query.execute(&mut *tx.conn).await?;
    }
    let rows: Vec<(&String, Counts)> = deltas
        .iter()
        .map(|(k, d)| {
            let c = counts.get(k).copied().unwrap_or_default();
            (k, [c[0] + d[0], c[1] + d[1], c[2] + d[2]])
        })
        .filter(|(_, c)| *c != [0, 0, 0])
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO follow_counts (account_id, followers_count, following_count, \
             follow_requests_count) VALUES {values}"
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for (k, c) in chunk {
            query = query.bind((*k).clone()).bind(c[0]).bind(c[1]).bind(c[2]);
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relationships::Since;

    fn key(a: &str, t: &str) -> (String, String) {
        (a.to_string(), t.to_string())
    }

    #[test]
    fn a_request_turned_follow_moves_one_count_of_each_kind() {
        let since = Since { position: 1, at: 1 };
        let before = HashMap::from([(
            key("a", "t"),
            PairRows {
                request: Some(since),
                ..PairRows::default()
            },
        )]);
        let after = BTreeMap::from([
            (
                key("a", "t"),
                PairRows {
                    follow: Some(since),
                    ..PairRows::default()
                },
            ),
            (
                key("b", "t"),
                PairRows {
                    block: Some(since),
                    ..PairRows::default()
                },
            ),
        ]);
        assert_eq!(
            deltas(&before, &after),
            BTreeMap::from([("a".to_string(), [0, 1, 0]), ("t".to_string(), [1, 0, -1])])
        );
    }
}
