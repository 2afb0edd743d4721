//! Mastodon-style pagination of read-model lists by a numeric, increasing key.
//!
//! `max_id` gives items older than it, `since_id` items newer than it (newest first), `min_id`
//! the items immediately newer than it (so a client can walk forward without gaps). Lists are
//! always returned newest first.

/// One page request; `limit` is already clamped by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Page {
    pub max_id: Option<i64>,
    pub since_id: Option<i64>,
    pub min_id: Option<i64>,
    pub limit: i64,
}

impl Page {
    pub fn first(limit: i64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// SQL to append after a `WHERE …` on `column`: the bounds, the order and the limit. Bind
    /// `binds()` after the query's own parameters, in order.
    pub fn sql(&self, column: &str) -> String {
        let mut sql = String::new();
        if self.max_id.is_some() {
            sql.push_str(&format!(" AND {column} < ?"));
        }
        if self.since_id.is_some() {
            sql.push_str(&format!(" AND {column} > ?"));
        }
        if self.min_id.is_some() {
            sql.push_str(&format!(" AND {column} > ?"));
        }
        let order = if self.ascending() { "ASC" } else { "DESC" };
        sql.push_str(&format!(" ORDER BY {column} {order} LIMIT ?"));
        sql
    }

    /// The parameters `sql` needs, in order (the limit last).
    pub fn binds(&self) -> Vec<i64> {
        [self.max_id, self.since_id, self.min_id]
            .into_iter()
            .flatten()
            .chain([self.limit])
            .collect()
    }

    /// With `min_id` the rows come oldest first; `finish` turns them back.
    pub fn ascending(&self) -> bool {
        self.min_id.is_some()
    }

    /// Puts rows read with `sql` newest first.
    pub fn finish<T>(&self, mut rows: Vec<T>) -> Vec<T> {
        if self.ascending() {
            rows.reverse();
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_come_in_bind_order() {
        let page = Page {
            max_id: Some(10),
            since_id: None,
            min_id: Some(3),
            limit: 20,
        };
        assert_eq!(
            page.sql("s.id"),
            " AND s.id < ? AND s.id > ? ORDER BY s.id ASC LIMIT ?"
        );
        assert_eq!(page.binds(), vec![10, 3, 20]);
        assert_eq!(page.finish(vec![4, 5]), vec![5, 4]);
        assert_eq!(Page::first(5).sql("id"), " ORDER BY id DESC LIMIT ?");
    }
}
