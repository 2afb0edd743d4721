//! Read model: uploaded photos (their files in the block store, EXIF, alt text, focal point) and
//! the status each one belongs to, in display order.
//!
//! A media row appears with `MediaUploaded` and goes with `MediaDeleted`, or with the status it
//! is attached to (`StatusDeleted`: the photos go with the post). `MediaAttached` and
//! `StatusPosted` set its status (the post also gives its position among the post's photos);
//! `MediaDescribed` and `StatusEdited` change its alt text. `peerpx gc` keeps exactly the blocks
//! the rows here reach ([`live_cids`]).

use std::collections::{BTreeSet, HashMap};

use peerpx_aggregates::media::{Exif, Focus, StoredFile, Upload};
use peerpx_aggregates::status::Content;
use peerpx_aggregates::{MediaEvent, StatusEvent};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{sql_for, Backend, TextRow};
use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct MediaRow {
    pub id: i64,
    pub account_id: String,
    /// The status it is attached to, once attached.
    pub status_id: Option<i64>,
    /// Its position among the status's photos, once the status is posted.
    pub ordinal: Option<i64>,
    pub original: StoredFile,
    pub small: StoredFile,
    pub large: StoredFile,
    pub blurhash: String,
    pub exif: Exif,
    pub description: Option<String>,
    pub focus: Option<Focus>,
    pub created_at: i64,
}

const FILES: [&str; 3] = ["original", "small", "large"];

const COLUMNS: &str = "id, account_id, status_id, ordinal, \
    original_cid, original_type, original_bytes, original_width, original_height, \
    small_cid, small_type, small_bytes, small_width, small_height, \
    large_cid, large_type, large_bytes, large_width, large_height, \
    blurhash, exif, description, focus, created_at";
const COLUMN_COUNT: usize = 24;

fn stored_file(row: &AnyRow, prefix: &str) -> Result<StoredFile> {
    let int = |name: &str| row.try_get::<i64, _>(format!("{prefix}_{name}").as_str());
    Ok(StoredFile {
        cid: row.text(&format!("{prefix}_cid"))?,
        content_type: row.text(&format!("{prefix}_type"))?,
        bytes: u64::try_from(int("bytes")?).unwrap_or_default(),
        width: u32::try_from(int("width")?).unwrap_or_default(),
        height: u32::try_from(int("height")?).unwrap_or_default(),
    })
}

fn from_row(row: &AnyRow) -> Result<MediaRow> {
    let exif: String = row.text("exif")?;
    let focus: Option<String> = row.opt_text("focus")?;
    Ok(MediaRow {
        id: row.try_get("id")?,
        account_id: row.text("account_id")?,
        status_id: row.try_get("status_id")?,
        ordinal: row.try_get("ordinal")?,
        original: stored_file(row, FILES[0])?,
        small: stored_file(row, FILES[1])?,
        large: stored_file(row, FILES[2])?,
        blurhash: row.text("blurhash")?,
        exif: serde_json::from_str(&exif).unwrap_or_default(),
        description: row.opt_text("description")?,
        focus: focus.and_then(|f| serde_json::from_str(&f).ok()),
        created_at: row.try_get("created_at")?,
    })
}

/// Keys per `IN (…)` list and rows per multi-row INSERT: well under every engine's bind limit.
const KEYS_PER_QUERY: usize = 500;
const ROWS_PER_INSERT: usize = 40;

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Rows whose `column` is one of `keys`.
async fn select_in(
    conn: &mut AnyConnection,
    backend: Backend,
    column: &str,
    keys: &[i64],
    order: &str,
) -> Result<Vec<MediaRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM media WHERE {column} IN ({}){order}",
        placeholders(keys.len())
    );
    let sql = sql_for(backend, &sql);
    let mut query = sqlx::query(&sql);
    for k in keys {
        query = query.bind(*k);
    }
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<MediaRow>> {
    let mut conn = db.pool.acquire().await?;
    let rows = select_in(&mut conn, db.backend, "id", &[id], "").await?;
    Ok(rows.into_iter().next())
}

/// The photos of each status, in the order the post shows them. Statuses without photos have
/// no entry.
pub async fn for_statuses(db: &Db, status_ids: &[i64]) -> Result<HashMap<i64, Vec<MediaRow>>> {
    let ids: Vec<i64> = status_ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out: HashMap<i64, Vec<MediaRow>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut conn = db.pool.acquire().await?;
    for chunk in ids.chunks(KEYS_PER_QUERY) {
        let rows = select_in(
            &mut conn,
            db.backend,
            "status_id",
            chunk,
            " ORDER BY status_id, ordinal, id",
        )
        .await?;
        for row in rows {
            if let Some(status_id) = row.status_id {
                out.entry(status_id).or_default().push(row);
            }
        }
    }
    // Engines disagree on where NULL sorts; a photo attached to a status that has not been
    // posted yet has no ordinal and goes last.
    for rows in out.values_mut() {
        rows.sort_by_key(|m| (m.ordinal.unwrap_or(i64::MAX), m.id));
    }
    Ok(out)
}

/// Every CID (original, small and large) a media row refers to: the roots `peerpx gc` keeps.
pub async fn live_cids(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT original_cid, small_cid, large_cid FROM media")
        .fetch_all(&db.pool)
        .await?;
    let mut cids = BTreeSet::new();
    for row in rows {
        for name in FILES {
            cids.insert(row.text(&format!("{name}_cid"))?);
        }
    }
    Ok(cids.into_iter().collect())
}

fn uploaded(id: i64, u: &Upload) -> MediaRow {
    MediaRow {
        id,
        account_id: u.account_id.clone(),
        status_id: None,
        ordinal: None,
        original: u.original.clone(),
        small: u.small.clone(),
        large: u.large.clone(),
        blurhash: u.blurhash.clone(),
        exif: u.exif.clone(),
        description: u.description.clone(),
        focus: u.focus,
        created_at: u.at,
    }
}

/// The read model as a pure fold: a media's row after one more of its own events.
pub fn fold(row: Option<MediaRow>, id: i64, event: &MediaEvent) -> Option<MediaRow> {
    match event {
        MediaEvent::MediaUploaded(u) => Some(uploaded(id, u)),
        MediaEvent::MediaDeleted { .. } => None,
        MediaEvent::MediaDescribed {
            description, focus, ..
        } => row.map(|mut m| {
            m.description.clone_from(description);
            m.focus = *focus;
            m
        }),
        MediaEvent::MediaAttached { status_id, .. } => row.map(|mut m| {
            m.status_id = status_id.parse().ok();
            m
        }),
    }
}

/// The media rows of a batch, by media id (`None`: no row).
type Rows = HashMap<i64, Option<MediaRow>>;

/// What a status event does to the rows of its photos.
pub fn fold_status(rows: &mut Rows, status_id: i64, event: &StatusEvent) {
    match event {
        StatusEvent::StatusPosted(post) => {
            for (i, m) in post.content.media.iter().enumerate() {
                if let Some(Some(row)) = m.media_id.parse().ok().and_then(|id| rows.get_mut(&id)) {
                    row.status_id = Some(status_id);
                    row.ordinal = i64::try_from(i).ok();
                }
            }
        }
        StatusEvent::StatusEdited { content, .. } => {
            for m in &content.media {
                if let Some(Some(row)) = m.media_id.parse().ok().and_then(|id| rows.get_mut(&id)) {
                    row.description.clone_from(&m.description);
                }
            }
        }
        StatusEvent::StatusDeleted { .. } => {
            for row in rows.values_mut() {
                if row.as_ref().is_some_and(|m| m.status_id == Some(status_id)) {
                    *row = None;
                }
            }
        }
    }
}

fn media_ids(content: &Content) -> impl Iterator<Item = i64> + '_ {
    content.media.iter().filter_map(|m| m.media_id.parse().ok())
}

/// The events of a batch this read model follows, with the ids they concern.
enum Mine<'a> {
    Media(i64, &'a MediaEvent),
    Status(i64, &'a StatusEvent),
}

fn mine(events: &[Recorded]) -> Vec<Mine<'_>> {
    events
        .iter()
        .filter_map(|r| {
            // Ids are numeric snowflakes; anything else was never written by this node.
            let id = r.aggregate_id.parse().ok();
            match &r.event {
                DomainEvent::Media(e) => Some(Mine::Media(id?, e)),
                DomainEvent::Status(e) => Some(Mine::Status(id?, e)),
                _ => None,
            }
        })
        .collect()
}

async fn load(tx: &mut Tx<'_>, ids: &[i64], status_ids: &[i64]) -> Result<Rows> {
    let mut rows: Rows = ids.iter().map(|id| (*id, None)).collect();
    for (column, keys) in [("id", ids), ("status_id", status_ids)] {
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            for row in select_in(tx.conn, tx.backend, column, chunk, "").await? {
                rows.insert(row.id, Some(row));
            }
        }
    }
    Ok(rows)
}

async fn store(tx: &mut Tx<'_>, rows: &Rows) -> Result<()> {
    let ids: Vec<i64> = rows.keys().copied().collect();
    for chunk in ids.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "DELETE FROM media WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *tx.conn).await?;
    }
    let live: Vec<&MediaRow> = rows.values().flatten().collect();
    for chunk in live.chunks(ROWS_PER_INSERT) {
        let values = vec![format!("({})", placeholders(COLUMN_COUNT)); chunk.len()].join(", ");
        let sql = format!("INSERT INTO media ({COLUMNS}) VALUES {values}");
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for m in chunk {
            query = query
                .bind(m.id)
                .bind(m.account_id.clone())
                .bind(m.status_id)
                .bind(m.ordinal);
            for f in [&m.original, &m.small, &m.large] {
                query = query
                    .bind(f.cid.clone())
                    .bind(f.content_type.clone())
                    .bind(i64::try_from(f.bytes).unwrap_or(i64::MAX))
                    .bind(i64::from(f.width))
                    .bind(i64::from(f.height));
            }
            let exif = serde_json::to_string(&m.exif).unwrap_or_else(|_| "{}".into());
            let focus = m.focus.and_then(|f| serde_json::to_string(&f).ok());
            query = query
                .bind(m.blurhash.clone())
                .bind(exif)
                .bind(m.description.clone())
                .bind(focus)
                .bind(m.created_at);
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

pub struct MediaProjection;

#[async_trait::async_trait]
impl Projection for MediaProjection {
    fn name(&self) -> &'static str {
        "media"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("media", "id")]
    }

    async fn apply(&self, tx: &mut Tx<'_>, event: &Recorded) -> Result<()> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Loads the rows the batch touches (by media id, and by status for deleted statuses),
    /// folds the events in memory and writes the rows back.
    async fn apply_batch(&self, tx: &mut Tx<'_>, events: &[Recorded]) -> Result<()> {
        let mine = mine(events);
        if mine.is_empty() {
            return Ok(());
        }
        let mut ids = BTreeSet::new();
        let mut deleted_statuses = BTreeSet::new();
        for m in &mine {
            match m {
                Mine::Media(id, _) => {
                    ids.insert(*id);
                }
                Mine::Status(status_id, e) => match e {
                    StatusEvent::StatusPosted(p) => ids.extend(media_ids(&p.content)),
                    StatusEvent::StatusEdited { content, .. } => ids.extend(media_ids(content)),
                    StatusEvent::StatusDeleted { .. } => {
                        deleted_statuses.insert(*status_id);
                    }
                },
            }
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let deleted_statuses: Vec<i64> = deleted_statuses.into_iter().collect();
        let mut rows = load(tx, &ids, &deleted_statuses).await?;
        for m in mine {
            match m {
                Mine::Media(id, event) => {
                    let current = rows.get_mut(&id).and_then(Option::take);
                    rows.insert(id, fold(current, id, event));
                }
                Mine::Status(status_id, event) => fold_status(&mut rows, status_id, event),
            }
        }
        store(tx, &rows).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use peerpx_aggregates::media::Location;
    use peerpx_aggregates::status::{MediaText, Post, Visibility};

    fn file(cid: &str) -> StoredFile {
        StoredFile {
            cid: cid.into(),
            content_type: "image/jpeg".into(),
            bytes: 10,
            width: 4,
            height: 3,
        }
    }

    fn upload(id: &str) -> MediaEvent {
        MediaEvent::MediaUploaded(Box::new(Upload {
            id: id.into(),
            account_id: "1".into(),
            original: file(&format!("o{id}")),
            small: file(&format!("s{id}")),
            large: file(&format!("l{id}")),
            blurhash: "L00000fQfQfQfQfQfQfQfQfQfQfQ".into(),
            exif: Exif {
                camera_make: Some("Canon".into()),
                location: Some(Location {
                    latitude: 48.85,
                    longitude: 2.29,
                }),
                ..Exif::default()
            },
            description: Some("a cat".into()),
            focus: None,
            at: 5,
        }))
    }

    fn media(ids: &[&str]) -> Vec<MediaText> {
        ids.iter()
            .map(|id| MediaText {
                media_id: (*id).into(),
                description: Some(format!("photo {id}")),
            })
            .collect()
    }

    fn post(ids: &[&str]) -> StatusEvent {
        StatusEvent::StatusPosted(Post {
            id: "90".into(),
            account_id: "1".into(),
            visibility: Visibility::Public,
            in_reply_to: None,
            content: Content {
                media: media(ids),
                ..Content::default()
            },
            at: 6,
            remote: None,
        })
    }

    fn folded(events: &[MediaEvent]) -> Option<MediaRow> {
        events.iter().fold(None, |row, e| fold(row, 7, e))
    }

    #[test]
    fn an_upload_becomes_a_row_that_describe_and_delete_change() {
        let row = folded(&[upload("7")]).unwrap();
        assert_eq!(row.id, 7);
        assert_eq!(row.original.cid, "o7");
        assert_eq!(row.exif.camera_make.as_deref(), Some("Canon"));
        assert_eq!((row.status_id, row.created_at), (None, 5));
        let described = folded(&[
            upload("7"),
            MediaEvent::MediaDescribed {
                description: None,
                focus: Some(Focus { x: 0.5, y: -0.25 }),
                at: 6,
            },
        ])
        .unwrap();
        assert_eq!(described.description, None);
        assert_eq!(described.focus, Some(Focus { x: 0.5, y: -0.25 }));
        assert_eq!(
            folded(&[upload("7"), MediaEvent::MediaDeleted { at: 6 }]),
            None
        );
        // Events about a media the read model never saw change nothing.
        assert_eq!(folded(&[MediaEvent::MediaDeleted { at: 6 }]), None);
    }

    #[test]
    fn a_post_orders_its_photos_an_edit_redescribes_them_and_a_delete_takes_them() {
        let mut rows: Rows = [7, 8, 9]
            .into_iter()
            .map(|id| {
                (
                    id,
                    folded(&[upload(&id.to_string())]).map(|m| MediaRow { id, ..m }),
                )
            })
            .collect();
        fold_status(&mut rows, 90, &post(&["8", "7"]));
        let at = |rows: &Rows, id: i64| rows[&id].clone().unwrap();
        assert_eq!(
            (at(&rows, 8).status_id, at(&rows, 8).ordinal),
            (Some(90), Some(0))
        );
        assert_eq!(
            (at(&rows, 7).status_id, at(&rows, 7).ordinal),
            (Some(90), Some(1))
        );
        assert_eq!(at(&rows, 9).status_id, None);
        let mut content = Content {
            media: media(&["8", "7"]),
            ..Content::default()
        };
        content.media[1].description = None;
        fold_status(
            &mut rows,
            90,
            &StatusEvent::StatusEdited {
                account_id: "1".into(),
                content,
                at: 7,
            },
        );
        assert_eq!(at(&rows, 8).description.as_deref(), Some("photo 8"));
        assert_eq!(at(&rows, 7).description, None);
        fold_status(
            &mut rows,
            90,
            &StatusEvent::StatusDeleted {
                account_id: "1".into(),
                at: 8,
            },
        );
        assert_eq!(rows[&7], None);
        assert_eq!(rows[&8], None);
        assert!(rows[&9].is_some(), "a photo of no post stays");
    }
}
