//! Search queries over the statuses read model: statuses by the words of their caption, title,
//! content warning and photo descriptions, and hashtags by prefix, both limited to what the
//! viewer may see ([`crate::statuses::visible`]).
//!
//! Our own photos' descriptions are in `media`; those of statuses received from other nodes are
//! only JSON in `statuses.remote_media`, so this module's read model, `search`, keeps them one per
//! row in `remote_media_texts`.
//!
//! One SQL for the three engines: `LOWER(column) LIKE ?` with a pattern lower-cased here and its
//! wildcards escaped with `!` (a backslash would need writing differently in MySQL literals).
//! No index serves a `%word%` pattern: every visible status is scanned, which is fine for a
//! node's own photos; a full-text index is the lasting answer for large nodes. SQLite's `LOWER`
//! only folds ASCII, so there a capital `É` in a caption does not match `é`.

use peerpx_aggregates::status::Content;
use peerpx_aggregates::StatusEvent;
use sqlx::Row;

use crate::db::{bind_all, Arg, TextRow};
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::statuses::{self, StatusRow, Viewer};
use crate::{Db, Error, Result};

/// The escape character of every `LIKE` here.
const ESCAPE: char = '!';
/// Words of a query kept (more are ignored), so one query stays a bounded SQL statement.
pub const MAX_WORDS: usize = 8;

/// `text` as a literal part of a `LIKE ... ESCAPE '!'` pattern: `%`, `_` and `!` match only
/// themselves.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | ESCAPE) {
            out.push(ESCAPE);
        }
        out.push(c);
    }
    out
}

/// The lower-cased words of a query, without duplicates, at most [`MAX_WORDS`].
pub fn words(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in query.split_whitespace() {
        let w = w.to_lowercase();
        if !out.contains(&w) {
            out.push(w);
        }
        if out.len() == MAX_WORDS {
            break;
        }
    }
    out
}

/// Statuses (not reblogs) the viewer may see in which every word appears, in the caption, the
/// content warning, the title or the description of one of its photos; newest first.
pub async fn statuses(
    db: &Db,
    viewer: Viewer<'_>,
    words: &[String],
    limit: i64,
    offset: i64,
) -> Result<Vec<StatusRow>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let mut condition = String::from("s.reblog_of_id IS NULL");
    let mut args: Vec<Arg> = Vec::new();
    for word in words {
        condition.push_str(
            " AND (LOWER(s.text) LIKE ? ESCAPE '!' OR LOWER(s.spoiler_text) LIKE ? ESCAPE '!' \
             OR LOWER(COALESCE(s.title, '')) LIKE ? ESCAPE '!' \
             OR EXISTS (SELECT 1 FROM media m WHERE m.status_id = s.id \
                 AND LOWER(COALESCE(m.description, '')) LIKE ? ESCAPE '!') \
             OR EXISTS (SELECT 1 FROM remote_media_texts r WHERE r.status_id = s.id \
                 AND LOWER(r.description) LIKE ? ESCAPE '!'))",
        );
        let pattern = format!("%{}%", escape_like(word));
        args.extend(std::iter::repeat_n(Arg::Text(pattern), 5));
    }
    let (vis, vis_args) = statuses::visible(viewer);
    args.extend(vis_args);
    args.push(Arg::Int(limit));
    args.push(Arg::Int(offset));
    let sql = format!(
        "SELECT s.id FROM statuses s WHERE {condition} AND {vis} \
         ORDER BY s.created_at DESC, s.id DESC LIMIT ? OFFSET ?"
    );
    let sql = db.sql(&sql);
    let ids = bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    statuses::visible_by_ids(db, viewer, &ids).await
}

/// A hashtag and how many statuses the viewer may see carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    pub name: String,
    pub uses: i64,
}

/// Hashtags starting with `prefix` (lower-cased, without `#`) used by statuses the viewer may
/// see, most used first.
pub async fn hashtags(
    db: &Db,
    viewer: Viewer<'_>,
    prefix: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<TagCount>> {
    let prefix = prefix.trim().trim_start_matches('#').to_lowercase();
    if prefix.is_empty() {
        return Ok(Vec::new());
    }
    // Tags are stored lower-cased: no LOWER needed, and the (tag, status_id) index may serve.
    let mut args: Vec<Arg> = vec![Arg::Text(format!("{}%", escape_like(&prefix)))];
    let (vis, vis_args) = statuses::visible(viewer);
    args.extend(vis_args);
    args.push(Arg::Int(limit));
    args.push(Arg::Int(offset));
    let sql = format!(
        "SELECT t.tag AS tag, COUNT(*) AS n FROM status_tags t \
         JOIN statuses s ON s.id = t.status_id \
         WHERE t.tag LIKE ? ESCAPE '!' AND {vis} \
         GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT ? OFFSET ?"
    );
    let sql = db.sql(&sql);
    bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(TagCount {
                name: r.text("tag")?,
                uses: r.try_get("n")?,
            })
        })
        .collect()
}

/// The descriptions of a status's remote photos worth a row: (ordinal, text), blank ones left out.
pub fn remote_texts(content: &Content) -> Vec<(i64, String)> {
    content
        .remote_media
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let text = m.description.as_deref()?.trim();
            (!text.is_empty()).then(|| (i64::try_from(i).unwrap_or(i64::MAX), text.to_string()))
        })
        .collect()
}

/// The `search` read model: `remote_media_texts`, from the status events.
pub struct SearchProjection;

impl SearchProjection {
    async fn write(tx: &mut Tx<'_>, id: i64, content: Option<&Content>) -> Result<()> {
        sqlx::query(&tx.sql("DELETE FROM remote_media_texts WHERE status_id = ?"))
            .bind(id)
            .execute(&mut *tx.conn)
            .await?;
        for (ordinal, text) in content.map(remote_texts).unwrap_or_default() {
            sqlx::query(&tx.sql(
                "INSERT INTO remote_media_texts (status_id, ordinal, description) VALUES (?, ?, ?)",
            ))
            .bind(id)
            .bind(ordinal)
            .bind(text)
            .execute(&mut *tx.conn)
            .await?;
        }
        Ok(())
    }
}

fn id_of(position: i64, id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::BadEvent {
        position,
        reason: format!("status id {id:?} is not a number"),
    })
}

#[async_trait::async_trait]
impl Projection for SearchProjection {
    fn name(&self) -> &'static str {
        "search"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("remote_media_texts", "status_id, ordinal")]
    }

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let DomainEvent::Status(event) = &recorded.event else {
            return Ok(());
        };
        let position = recorded.position;
        match event {
            StatusEvent::StatusPosted(post) if !post.content.remote_media.is_empty() => {
                Self::write(tx, id_of(position, &post.id)?, Some(&post.content)).await
            }
            StatusEvent::StatusPosted(_) => Ok(()),
            StatusEvent::StatusEdited { content, .. } => {
                let id = id_of(position, &recorded.aggregate_id)?;
                Self::write(tx, id, Some(content)).await
            }
            StatusEvent::StatusDeleted { .. } => {
                let id = id_of(position, &recorded.aggregate_id)?;
                Self::write(tx, id, None).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerpx_aggregates::status::RemoteMedia;

    fn photo(description: Option<&str>) -> RemoteMedia {
        RemoteMedia {
            url: "https://b.example/p.jpg".into(),
            media_type: Some("image/jpeg".into()),
            description: description.map(str::to_string),
            blurhash: None,
            width: None,
            height: None,
            focus: None,
            cid: None,
            exif: None,
        }
    }

    #[test]
    fn remote_photos_with_a_description_get_a_row_each() {
        let content = Content {
            remote_media: vec![
                photo(Some(" A red bicycle ")),
                photo(None),
                photo(Some("  ")),
                photo(Some("Harbour")),
            ],
            ..Content::default()
        };
        assert_eq!(
            remote_texts(&content),
            vec![(0, "A red bicycle".to_string()), (3, "Harbour".to_string())]
        );
        assert!(remote_texts(&Content::default()).is_empty());
    }

    #[test]
    fn wildcards_and_the_escape_character_match_only_themselves() {
        assert_eq!(escape_like("sunset"), "sunset");
        assert_eq!(escape_like("100%"), "100!%");
        assert_eq!(escape_like("a_b"), "a!_b");
        assert_eq!(escape_like("wow!"), "wow!!");
        assert_eq!(escape_like("!%_"), "!!!%!_");
        assert_eq!(escape_like(r"back\slash"), r"back\slash");
        assert_eq!(escape_like("été"), "été");
    }

    #[test]
    fn queries_become_distinct_lower_case_words() {
        assert_eq!(words("  Red  BIKE red\tbike "), vec!["red", "bike"]);
        assert_eq!(words("Été"), vec!["été"]);
        assert!(words("   ").is_empty());
        let many = (0..20)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(words(&many).len(), MAX_WORDS);
    }
}
