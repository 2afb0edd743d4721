//! Read models: Follow activities by id, the ones received and the ones sent; and the received
//! activities the inbox worker has not interpreted yet (`inbox_queue`).
//!
//! A `Follow` we accept or reject is answered with its own id; an `Accept` may name our `Follow`
//! by id alone. Both need to go from an activity id to who follows whom and back. The rows come
//! from the recorded activities (`ActivityReceived`, `ActivityQueued`), parsed here: reading JSON
//! already in the log is as deterministic as any other fold.

use peerpx_aggregates::{InboundEvent, OutboundEvent};
use serde_json::Value;

use crate::db::TextRow;
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

/// The longest id or URI kept (MySQL indexes VARCHAR(255)); longer ones are not recorded.
const MAX_LEN: usize = 255;

/// `(follower, followee)` of a `Follow` activity's JSON, when it is one we can read.
pub fn follow_pair(raw: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(raw).ok()?;
    if v.get("type")?.as_str()? != "Follow" {
        return None;
    }
    let id_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id")?.as_str().map(str::to_string),
        _ => None,
    };
    let actor = id_of(v.get("actor")?)?;
    let object = id_of(v.get("object")?)?;
    Some((actor, object))
}

/// The newest Follow activity from `follower_uri` to `followee_uri`.
pub async fn follow_activity(
    db: &Db,
    follower_uri: &str,
    followee_uri: &str,
) -> Result<Option<String>> {
    let sql = db.sql(
        "SELECT activity_id FROM remote_follows WHERE follower_uri = ? AND followee_uri = ? \
         ORDER BY position DESC LIMIT 1",
    );
    let row = sqlx::query(&sql)
        .bind(follower_uri.to_string())
        .bind(followee_uri.to_string())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| r.text("activity_id")).transpose()?)
}

/// `(follower, followee)` of the Follow activity `activity_id`.
pub async fn follow_by_id(db: &Db, activity_id: &str) -> Result<Option<(String, String)>> {
    let sql = db.sql("SELECT follower_uri, followee_uri FROM remote_follows WHERE activity_id = ?");
    let row = sqlx::query(&sql)
        .bind(activity_id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    match row {
        Some(r) => Ok(Some((r.text("follower_uri")?, r.text("followee_uri")?))),
        None => Ok(None),
    }
}

/// A received activity the inbox worker has yet to interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub position: i64,
    pub activity_id: String,
    pub actor_uri: String,
    /// The activity as received.
    pub raw: String,
}

/// The oldest received activities not yet interpreted, after log position `after`.
pub async fn pending(db: &Db, after: i64, limit: i64) -> Result<Vec<Pending>> {
    let sql = db.sql(
        "SELECT position, activity_id, actor_uri, raw FROM inbox_queue WHERE position > ? \
         ORDER BY position LIMIT ?",
    );
    let rows = sqlx::query(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Pending {
                position: sqlx::Row::try_get(r, "position")?,
                activity_id: r.text("activity_id")?,
                actor_uri: r.text("actor_uri")?,
                raw: r.text("raw")?,
            })
        })
        .collect()
}

pub struct FederationProjection;

#[async_trait::async_trait]
impl Projection for FederationProjection {
    fn name(&self) -> &'static str {
        "federation"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("remote_follows", "activity_id"),
            ("inbox_queue", "position"),
        ]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        match &recorded.event {
            DomainEvent::Inbound(InboundEvent::ActivityReceived(a)) => {
                sqlx::query(&tx.sql(
                    "INSERT INTO inbox_queue (position, activity_id, actor_uri, raw) \
                     VALUES (?, ?, ?, ?)",
                ))
                .bind(recorded.position)
                .bind(a.activity_id.clone())
                .bind(a.actor_uri.clone())
                .bind(a.raw.clone())
                .execute(&mut *tx.conn)
                .await?;
            }
            DomainEvent::Inbound(InboundEvent::ActivityInterpreted { .. }) => {
                sqlx::query(&tx.sql("DELETE FROM inbox_queue WHERE activity_id = ?"))
                    .bind(recorded.aggregate_id.clone())
                    .execute(&mut *tx.conn)
                    .await?;
            }
            _ => {}
        }
        let (id, raw) = match &recorded.event {
            DomainEvent::Inbound(InboundEvent::ActivityReceived(a)) if a.kind == "Follow" => {
                (&a.activity_id, &a.raw)
            }
            DomainEvent::Outbound(OutboundEvent::ActivityQueued(a)) if a.kind == "Follow" => {
                (&a.activity_id, &a.raw)
            }
            _ => return Ok(()),
        };
        let Some((follower, followee)) = follow_pair(raw) else {
            return Ok(());
        };
        if [id, &follower, &followee].iter().any(|s| s.len() > MAX_LEN) {
            return Ok(());
        }
        sqlx::query(&tx.sql("DELETE FROM remote_follows WHERE activity_id = ?"))
            .bind(id.clone())
            .execute(&mut *tx.conn)
            .await?;
        sqlx::query(&tx.sql(
            "INSERT INTO remote_follows (activity_id, follower_uri, followee_uri, position) \
             VALUES (?, ?, ?, ?)",
        ))
        .bind(id.clone())
        .bind(follower)
        .bind(followee)
        .bind(recorded.position)
        .execute(&mut *tx.conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_names_its_actor_and_object_embedded_or_not() {
        let raw = r#"{"type":"Follow","actor":"https://a/u/ana","object":"https://b/u/ben"}"#;
        assert_eq!(
            follow_pair(raw),
            Some(("https://a/u/ana".into(), "https://b/u/ben".into()))
        );
        let raw = r#"{"type":"Follow","actor":{"id":"https://a/u/ana"},"object":{"id":"x"}}"#;
        assert_eq!(
            follow_pair(raw),
            Some(("https://a/u/ana".into(), "x".into()))
        );
        assert_eq!(
            follow_pair(r#"{"type":"Like","actor":"a","object":"b"}"#),
            None
        );
        assert_eq!(follow_pair("not json"), None);
    }
}
