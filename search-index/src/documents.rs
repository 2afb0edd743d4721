//! Sources to tantivy documents: the one place that decides what each field holds.

use chrono::{DateTime as ChronoDateTime, Datelike, NaiveDate, NaiveDateTime};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tantivy::schema::Value;
use tantivy::{DateTime, TantivyDocument};

use crate::schema::{Fields, KIND_ACCOUNT, KIND_MEDIA, KIND_STATUS};
use crate::sources::{AccountSource, MediaSource, StatusSource};
use crate::{Error, Result};

pub fn status_key(id: &str) -> String {
    format!("s:{id}")
}

pub fn media_key(id: &str) -> String {
    format!("m:{id}")
}

/// Ids are decimal snowflakes; anything else (never written by this node) sorts as 0.
pub fn numeric_id(id: &str) -> u64 {
    id.parse().unwrap_or(0)
}

/// A day as `before:` and `after:` compare it: days from the Common Era's first day.
pub fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// A camera's `YYYY-MM-DDTHH:MM:SS` (or just its date), read as UTC: cameras record no zone, so
/// the wall-clock time is kept as it was shown.
fn taken(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .or_else(|| {
            let date = text.get(..10)?;
            NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })
}

fn encode<T: Serialize>(source: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(source).map_err(|e| Error::BadSource(e.to_string()))
}

/// The source stored in a document.
pub fn read_source<T: DeserializeOwned>(fields: &Fields, doc: &TantivyDocument) -> Result<T> {
    let bytes = doc
        .get_first(fields.source)
        .and_then(|v| v.as_bytes())
        .ok_or_else(|| Error::BadSource("a document has no source".into()))?;
    serde_json::from_slice(bytes).map_err(|e| Error::BadSource(e.to_string()))
}

fn base(fields: &Fields, kind: &str, key: &str, source: Vec<u8>) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.kind, kind);
    doc.add_text(fields.key, key);
    doc.add_bytes(fields.source, &source);
    doc
}

/// A status's document, with its author's name, handle and state when the author is known.
pub fn status_doc(
    f: &Fields,
    s: &StatusSource,
    author: Option<&AccountSource>,
) -> Result<TantivyDocument> {
    let mut doc = base(f, KIND_STATUS, &status_key(&s.id), encode(s)?);
    doc.add_u64(f.id, numeric_id(&s.id));
    doc.add_text(f.id_text, &s.id);
    // A status whose author the index never saw stays listed: SQL visibility still applies.
    let listed = author.is_none_or(|a| a.active);
    doc.add_u64(f.listed, u64::from(listed));
    doc.add_text(f.author_id, &s.account_id);
    if let Some(a) = author {
        doc.add_text(f.author_name, format!("{} {}", a.display_name, a.username));
        doc.add_text(f.author_handle, a.handle());
    }
    doc.add_text(f.caption, &s.text);
    doc.add_text(f.spoiler, &s.spoiler);
    if let Some(t) = &s.title {
        doc.add_text(f.title, t);
    }
    for tag in &s.tags {
        doc.add_text(f.tag, tag);
    }
    doc.add_text(f.licence, &s.licence);
    doc.add_text(f.visibility, &s.visibility);
    doc.add_text(
        f.language,
        s.language.as_deref().unwrap_or("").to_lowercase(),
    );
    doc.add_text(f.host, s.host.as_deref().unwrap_or(""));
    doc.add_u64(f.has_media, u64::from(!s.photos.is_empty()));
    doc.add_u64(f.reply, u64::from(s.reply));
    let posted = ChronoDateTime::from_timestamp_millis(s.at).unwrap_or_default();
    doc.add_date(
        f.posted_at,
        DateTime::from_timestamp_secs(posted.timestamp()),
    );
    let mut day = None;
    for p in &s.photos {
        if let Some(m) = &p.media_id {
            doc.add_text(f.media_id, m);
        }
        if let Some(d) = &p.description {
            doc.add_text(f.alt, d);
        }
        let e = &p.exif;
        if let Some(c) = &e.camera {
            doc.add_text(f.camera, c);
            doc.add_text(f.camera_facet, c);
        }
        if let Some(l) = &e.lens {
            doc.add_text(f.lens, l);
            doc.add_text(f.lens_facet, l);
        }
        if let Some(v) = e.focal_length {
            doc.add_f64(f.focal_length, v);
        }
        if let Some(v) = e.f_number {
            doc.add_f64(f.f_number, v);
        }
        if let Some(v) = e.iso {
            doc.add_u64(f.iso, v);
        }
        if let Some(t) = e.taken_at.as_deref().and_then(taken) {
            doc.add_date(
                f.taken_at,
                DateTime::from_timestamp_secs(t.and_utc().timestamp()),
            );
            day = day.or(Some(day_number(t.date())));
        }
    }
    doc.add_i64(
        f.day,
        day.unwrap_or_else(|| day_number(posted.date_naive())),
    );
    Ok(doc)
}

pub fn account_doc(f: &Fields, a: &AccountSource) -> Result<TantivyDocument> {
    let mut doc = base(f, KIND_ACCOUNT, &a.key, encode(a)?);
    doc.add_u64(f.id, numeric_id(&a.id));
    doc.add_text(f.id_text, &a.id);
    doc.add_u64(f.listed, u64::from(a.active));
    doc.add_u64(f.local, u64::from(a.domain.is_none()));
    doc.add_text(f.username, &a.username);
    doc.add_text(f.acct, a.handle());
    doc.add_text(f.display_name, &a.display_name);
    doc.add_text(f.bio, &a.bio);
    doc.add_text(f.host, a.domain.as_deref().unwrap_or(""));
    Ok(doc)
}

pub fn media_doc(f: &Fields, m: &MediaSource) -> Result<TantivyDocument> {
    Ok(base(f, KIND_MEDIA, &media_key(&m.id), encode(m)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{Photo, PhotoExif};

    #[test]
    fn the_day_is_the_photo_taken_day_before_the_posted_day() {
        let f = crate::schema::schema().1;
        let mut s = StatusSource {
            id: "1".into(),
            at: 1_717_200_000_000, // 2024-06-01
            ..StatusSource::default()
        };
        let day_of = |s: &StatusSource| {
            let doc = status_doc(&f, s, None).ok()?;
            doc.get_first(f.day).and_then(|v| v.as_i64())
        };
        let june = NaiveDate::from_ymd_opt(2024, 6, 1).map(day_number);
        assert_eq!(day_of(&s), june);
        s.photos.push(Photo {
            exif: PhotoExif {
                taken_at: Some("2023-12-24T18:30:00".into()),
                ..PhotoExif::default()
            },
            ..Photo::default()
        });
        let christmas_eve = NaiveDate::from_ymd_opt(2023, 12, 24).map(day_number);
        assert_eq!(day_of(&s), christmas_eve);
    }
}
