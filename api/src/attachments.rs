//! Photo uploads: `POST /api/v{1,2}/media`, and `GET`/`PUT`/`DELETE /api/v1/media/{id}` for the
//! uploader's photos not yet attached to a post; Mastodon's MediaAttachment entity.
//!
//! An upload is streamed to a scratch directory under `data_dir/tmp` chunk by chunk and refused
//! (413) as soon as it passes `max_upload_bytes`; alt text and focus are checked before any
//! processing; the photo pipeline then runs on a blocking thread while holding one of the
//! `media_slots`; only a photo that went through it whole is imported into the block store, and
//! `MediaUploaded` is appended only once its blocks are durable. A refused upload leaves no event,
//! no block and no scratch file behind.
//!
//! Mastodon's rules for the other routes: only the uploader sees or changes a photo, and only
//! while it belongs to no post (others, and attached photos, get 404, as Mastodon's
//! `current_account.media_attachments.where(status_id: nil)`); deleting an attached photo is a
//! 422 (Mastodon 4.4). Alt text of attached photos changes with the post (`PUT /api/v1/statuses`).

use std::path::{Path, PathBuf};

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::media::{
    check_description, Exif, Focus, Location, StoredFile, Upload, DESCRIPTION_MAX,
};
use peerpx_aggregates::status::RemoteMedia;
use peerpx_aggregates::{MediaCommand, MediaError};
use peerpx_projections::log::metadata;
use peerpx_projections::media::{self, MediaRow};
use peerpx_projections::now_millis;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use peerpx_media::{self as pipeline, ExifSummary, Limits, Options, Processed, Rendition};

use crate::auth::{new_id, Authed};
use crate::error::{ApiError, ApiResult};
use crate::params::{lenient, Params};
use crate::{ApiConfig, AppState};
use peerpx_storage::gc;

pub fn routes() -> Router<AppState> {
    // The router's body limit is sized for forms and profile images; an upload counts its own
    // bytes against `max_upload_bytes` as they arrive (see `receive`).
    let uploads = Router::new()
        .route("/api/v1/media", post(upload))
        .route("/api/v2/media", post(upload))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/api/v1/media/{id}", get(show).put(update).delete(destroy))
        .merge(uploads)
}

// ---------------------------------------------------------------------------------------------
// The MediaAttachment entity

fn dimensions(f: &StoredFile) -> Value {
    let aspect = if f.height == 0 {
        0.0
    } else {
        f64::from(f.width) / f64::from(f.height)
    };
    json!({
        "width": f.width,
        "height": f.height,
        "size": format!("{}x{}", f.width, f.height),
        "aspect": aspect,
    })
}

/// A photo as Mastodon's MediaAttachment. `url` is the large rendition (at most 2048 px),
/// `preview_url` the small one (640 px), both served by this node's IPFS gateway;
/// `meta.original` is the size of the photo as uploaded (upright). Extensions (documented in
/// `docs/api-extensions.md`): `meta.exif`, and `peerpx` with the CIDs of the three files and,
/// when `show_original`, the original's URL.
pub fn media_attachment(config: &ApiConfig, m: &MediaRow, show_original: bool) -> Value {
    let base = config.base_url();
    let url = |f: &StoredFile| format!("{base}/ipfs/{}", f.cid);
    let mut meta = json!({
        "original": dimensions(&m.original),
        "small": dimensions(&m.small),
        "exif": serde_json::to_value(&m.exif).unwrap_or_else(|_| json!({})),
    });
    if let Some(focus) = m.focus {
        meta["focus"] = json!({ "x": focus.x, "y": focus.y });
    }
    let mut peerpx = json!({
        "cid": {
            "original": m.original.cid,
            "small": m.small.cid,
            "large": m.large.cid,
        },
    });
    if show_original {
        peerpx["original_url"] = json!(url(&m.original));
    }
    json!({
        "id": m.id.to_string(),
        "type": "image",
        "url": url(&m.large),
        "preview_url": url(&m.small),
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": m.description,
        "blurhash": m.blurhash,
        "peerpx": peerpx,
    })
}

/// A photo of a remote status as a Mastodon MediaAttachment: its files stay on its node, so
/// `url`, `preview_url` and `remote_url` are all the remote file.
pub fn remote_attachment(status_id: i64, index: usize, m: &RemoteMedia) -> Value {
    let size = match (m.width, m.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => {
            json!({ "width": w, "height": h, "size": format!("{w}x{h}"), "aspect": w as f64 / h as f64 })
        }
        _ => json!({}),
    };
    let mut meta = json!({ "original": size, "small": size });
    if let Some((x, y)) = m.focus {
        meta["focus"] = json!({ "x": x, "y": y });
    }
    if let Some(exif) = &m.exif {
        meta["exif"] = exif.clone();
    }
    let kind = match m.media_type.as_deref() {
        Some(t) if t.starts_with("video/") => "video",
        Some(t) if t.starts_with("image/") || t.is_empty() => "image",
        None => "image",
        Some(_) => "unknown",
    };
    let mut v = json!({
        "id": format!("{status_id}{index:02}"),
        "type": kind,
        "url": m.url,
        "preview_url": m.url,
        "remote_url": m.url,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": m.description,
        "blurhash": m.blurhash,
    });
    if let Some(cid) = &m.cid {
        v["peerpx"] = json!({ "cid": cid });
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Errors and parameters

/// Maps a domain error to the HTTP error Mastodon would give.
fn media_error(e: AggregateError<MediaError>) -> ApiError {
    match e {
        // Mastodon finds media only among the user's unattached ones.
        AggregateError::UserError(MediaError::NotFound | MediaError::AlreadyAttached) => {
            ApiError::NotFound
        }
        AggregateError::UserError(MediaError::DescriptionTooLong) => ApiError::field(
            "description",
            "ERR_TOO_LONG",
            &format!("is too long (maximum is {DESCRIPTION_MAX} characters)"),
        ),
        AggregateError::UserError(MediaError::InvalidFocus) => invalid_focus(),
        other => ApiError::internal(other),
    }
}

fn invalid_focus() -> ApiError {
    ApiError::field(
        "focus",
        "ERR_INVALID",
        "must be two numbers between -1.0 and 1.0, written \"x,y\"",
    )
}

/// Mastodon's `focus` parameter, `"x,y"`; an empty one is no focus.
fn parse_focus(text: &str) -> ApiResult<Option<Focus>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (x, y) = text.split_once(',').ok_or_else(invalid_focus)?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(invalid_focus)
    };
    let focus = Focus {
        x: number(x)?,
        y: number(y)?,
    };
    if !focus.valid() {
        return Err(invalid_focus());
    }
    Ok(Some(focus))
}

/// An empty alt text is none.
fn description(text: String) -> Option<String> {
    (!text.trim().is_empty()).then_some(text)
}

fn check(description: Option<&str>, focus: Option<&Focus>) -> ApiResult<()> {
    check_description(description, focus).map_err(|e| media_error(AggregateError::UserError(e)))
}

/// The photo `id` when it is `user_id`'s and attached to no post; 404 otherwise.
async fn unattached(state: &AppState, user_id: &str, id: &str) -> ApiResult<MediaRow> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    media::by_id(&state.db, id)
        .await?
        .filter(|m| m.account_id == user_id && m.status_id.is_none())
        .ok_or(ApiError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Receiving an upload

/// All the parts of an upload but the file, together (alt text is at most 1500 characters).
const OTHER_PARTS_MAX: usize = 256 * 1024;
/// How much more of a refused body is read (and thrown away) so that the client, still
/// sending, reads the 413 instead of a reset connection.
const DRAIN_MAX: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// A directory under `data_dir/tmp` for one upload: the streamed file and the pipeline's
/// output. Removed when dropped, however the upload ended.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn create(data_dir: &Path) -> ApiResult<Self> {
        let dir = data_dir
            .join("tmp")
            .join(format!("upload-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
        Ok(Self { dir })
    }

    fn input(&self) -> PathBuf {
        self.dir.join("upload")
    }

    fn output(&self) -> PathBuf {
        self.dir.join("out")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove upload scratch");
        }
    }
}

/// The upload's parameters; the file itself is at `Scratch::input` when `file` is true.
#[derive(Default)]
struct Received {
    file: bool,
    description: Option<String>,
    focus: Option<String>,
    keep_location: Option<String>,
}

/// `n` bytes in words: megabytes when it is a whole number of them (as `--max-upload-mb` sets it).
fn size_text(n: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if n >= MB && n.is_multiple_of(MB) {
        format!("{} MB", n / MB)
    } else {
        format!("{n} bytes")
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "File is too large: at most {} can be uploaded",
        size_text(max)
    ))
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::BadRequest(format!("Malformed multipart body: {}", e.body_text()))
}

/// Reads the multipart body: the `file` part to `scratch` chunk by chunk, at most `max` bytes,
/// and the text parameters.
async fn receive(multipart: &mut Multipart, scratch: &Scratch, max: u64) -> ApiResult<Received> {
    let mut received = Received::default();
    // Everything but the file (parameters, parts this route does not use) shares this budget.
    let mut others = OTHER_PARTS_MAX;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let result = match name.as_str() {
            "file" if !received.file => {
                let written = write_file(&mut field, &scratch.input(), max).await;
                received.file = written.is_ok();
                written
            }
            "description" | "focus" | "keep_location" => {
                read_text(&mut field, &mut others).await.map(|text| {
                    let slot = match name.as_str() {
                        "description" => &mut received.description,
                        "focus" => &mut received.focus,
                        _ => &mut received.keep_location,
                    };
                    *slot = Some(text);
                })
            }
            // Anything else (Mastodon's `thumbnail` is for video and audio) is read and dropped.
            _ => read_bytes(&mut field, &mut others).await.map(drop),
        };
        if let Err(e) = result {
            // Read the rest (bounded) so that a client still sending sees the answer.
            let mut drain = Drain::new();
            if drain.field(&mut field).await {
                drop(field);
                drain.rest(multipart).await;
            }
            return Err(e);
        }
    }
    Ok(received)
}

async fn write_file(field: &mut Field<'_>, path: &Path, max: u64) -> ApiResult<()> {
    let file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        written += chunk.len() as u64;
        if written > max {
            return Err(too_large(max));
        }
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    Ok(())
}

/// A part other than the file, in memory, taken from the shared `budget`.
async fn read_bytes(field: &mut Field<'_>, budget: &mut usize) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        *budget = budget.checked_sub(chunk.len()).ok_or_else(|| {
            ApiError::PayloadTooLarge("The upload's other parameters are too large".into())
        })?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_text(field: &mut Field<'_>, budget: &mut usize) -> ApiResult<String> {
    let name = field.name().unwrap_or_default().to_string();
    let bytes = read_bytes(field, budget).await?;
    String::from_utf8(bytes).map_err(|_| ApiError::field(&name, "ERR_INVALID", "is not UTF-8"))
}

/// Reads and discards the rest of a refused body (the field being read, then the others), for
/// a bounded time and size.
struct Drain {
    deadline: tokio::time::Instant,
    seen: u64,
}

impl Drain {
    fn new() -> Self {
        Self {
            deadline: tokio::time::Instant::now() + DRAIN_TIME,
            seen: 0,
        }
    }

    /// `true` when the field was read to its end within the bounds.
    async fn field(&mut self, field: &mut Field<'_>) -> bool {
        loop {
            match tokio::time::timeout_at(self.deadline, field.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    self.seen += chunk.len() as u64;
                    if self.seen > DRAIN_MAX {
                        return false;
                    }
                }
                Ok(Ok(None)) => return true,
                _ => return false,
            }
        }
    }

    async fn rest(&mut self, multipart: &mut Multipart) {
        while let Ok(Ok(Some(mut next))) =
            tokio::time::timeout_at(self.deadline, multipart.next_field()).await
        {
            if !self.field(&mut next).await {
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processing and storing

fn exif(summary: &ExifSummary) -> Exif {
    Exif {
        camera_make: summary.camera_make.clone(),
        camera_model: summary.camera_model.clone(),
        lens_model: summary.lens_model.clone(),
        exposure_time: summary.exposure_time.clone(),
        f_number: summary.f_number,
        iso: summary.iso,
        focal_length_mm: summary.focal_length_mm,
        taken_at: summary.taken_at.clone(),
        location: summary.location.map(|l| Location {
            latitude: l.latitude,
            longitude: l.longitude,
        }),
    }
}

/// The three files of a processed photo, imported into the block store. Blocking.
fn import(store: &peerpx_storage::BlockStore, p: &Processed) -> std::io::Result<[StoredFile; 3]> {
    let file = |path: &Path, content_type: &str, width: u32, height: u32| {
        let imported = store.import_path(path)?;
        Ok::<_, std::io::Error>(StoredFile {
            cid: imported.root.to_string(),
            content_type: content_type.to_string(),
            bytes: imported.size,
            width,
            height,
        })
    };
    let rendition = |r: &Rendition| file(&r.path, &r.content_type, r.width, r.height);
    let o = &p.original;
    Ok([
        file(&o.path, &o.content_type, o.width, o.height)?,
        rendition(&p.small)?,
        rendition(&p.large)?,
    ])
}

/// What an upload asked for, checked.
struct Asked {
    description: Option<String>,
    focus: Option<Focus>,
    keep_location: bool,
}

/// Checks the parameters of an upload; those the body did not carry may come in the query
/// string.
fn asked(mut received: Received, query: Vec<(String, String)>) -> ApiResult<Asked> {
    for (key, value) in query {
        let slot = match key.as_str() {
            "description" => &mut received.description,
            "focus" => &mut received.focus,
            "keep_location" => &mut received.keep_location,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let description = received.description.and_then(description);
    let focus = match &received.focus {
        Some(text) => parse_focus(text)?,
        None => None,
    };
    check(description.as_deref(), focus.as_ref())?;
    let keep_location = match received.keep_location.as_deref() {
        None => false,
        Some(text) => lenient_bool(text).ok_or_else(|| {
            ApiError::field("keep_location", "ERR_INVALID", "must be true or false")
        })?,
    };
    Ok(Asked {
        description,
        focus,
        keep_location,
    })
}

/// Runs the pipeline on the received file, in one of the `media_slots`, off the async workers.
async fn process(state: &AppState, scratch: &Scratch, keep_location: bool) -> ApiResult<Processed> {
    let config = &state.config;
    let options = Options {
        limits: Limits {
            max_bytes: config.max_upload_bytes,
            max_pixels: config.max_upload_pixels,
        },
        keep_location,
    };
    let _permit = state
        .media_slots
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let (input, output) = (scratch.input(), scratch.output());
    tokio::task::spawn_blocking(move || pipeline::process(&input, &options, &output))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// `POST /api/v1/media` and `POST /api/v2/media` (multipart: `file`, `description`, `focus`,
/// and the extension `keep_location`). Both answer 200 with the processed photo: processing is
/// done before the answer, so there is never a 202.
async fn upload(
    State(state): State<AppState>,
    auth: Authed,
    Query(query): Query<Vec<(String, String)>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:media"])?;
    let user = auth.user(&state).await?;
    let config = &state.config;
    let no_file = || ApiError::field("file", "ERR_BLANK", "can't be blank");
    let mut multipart = multipart.map_err(|_| no_file())?;
    let scratch = Scratch::create(&config.data_dir)?;
    let received = receive(&mut multipart, &scratch, config.max_upload_bytes).await?;
    drop(multipart);
    if !received.file {
        return Err(no_file());
    }
    let asked = asked(received, query)?;
    let processed = process(&state, &scratch, asked.keep_location).await?;

    // From the first block written until the event is in the log, `peerpx gc` waits.
    let lock = gc::lock_shared_async(gc::blocks_dir(&config.data_dir))
        .await
        .map_err(ApiError::internal)?;
    let store = state.ipfs.clone();
    let p = processed.clone();
    let [original, small, large] = tokio::task::spawn_blocking(move || import(&store, &p))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let id = new_id();
    let upload = Upload {
        id: id.clone(),
        account_id: user.id.clone(),
        original,
        small,
        large,
        blurhash: processed.blurhash,
        exif: exif(&processed.exif),
        description: asked.description,
        focus: asked.focus,
        at: now_millis(),
    };
    let command = MediaCommand::Upload(Box::new(upload));
    let position = state
        .commands
        .media(&id, command, metadata(Some(&user.id), "api"))
        .await
        .map_err(media_error)?;
    drop(lock);
    drop(scratch);
    state.settle(position).await;
    let row = unattached(&state, &user.id, &id).await?;
    Ok(Json(media_attachment(config, &row, true)))
}

fn lenient_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Some(true),
        "false" | "0" | "off" | "no" | "" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// One photo

/// `GET /api/v1/media/{id}`. Mastodon asks for `write:media`; a `read` token may look too.
async fn show(
    State(state): State<AppState>,
    auth: Authed,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:media", "read:statuses"])?;
    let user = auth.user(&state).await?;
    let row = unattached(&state, &user.id, &id).await?;
    Ok(Json(media_attachment(&state.config, &row, true)))
}

#[derive(Deserialize)]
struct UpdateParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    focus: Option<String>,
}

/// `PUT /api/v1/media/{id}`: alt text and focus; a parameter left out keeps its value, an empty
/// one clears it.
async fn update(
    State(state): State<AppState>,
    auth: Authed,
    UrlPath(id): UrlPath<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:media"])?;
    let user = auth.user(&state).await?;
    let row = unattached(&state, &user.id, &id).await?;
    let p: UpdateParams = params.parse()?;
    let description = match p.description {
        Some(text) => description(text),
        None => row.description.clone(),
    };
    let focus = match p.focus {
        Some(text) => parse_focus(&text)?,
        None => row.focus,
    };
    check(description.as_deref(), focus.as_ref())?;
    let command = MediaCommand::Describe {
        account_id: user.id.clone(),
        description,
        focus,
        at: now_millis(),
    };
    let position = state
        .commands
        .media(&id, command, metadata(Some(&user.id), "api"))
        .await
        .map_err(media_error)?;
    state.settle(position).await;
    let row = unattached(&state, &user.id, &id).await?;
    Ok(Json(media_attachment(&state.config, &row, true)))
}

/// `DELETE /api/v1/media/{id}` (Mastodon 4.4): the uploader's unattached photo; an attached one
/// is a 422. Its blocks go at the next `peerpx gc`.
async fn destroy(
    State(state): State<AppState>,
    auth: Authed,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:media"])?;
    let user = auth.user(&state).await?;
    let number: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let row = media::by_id(&state.db, number)
        .await?
        .filter(|m| m.account_id == user.id)
        .ok_or(ApiError::NotFound)?;
    if row.status_id.is_some() {
        return Err(ApiError::Unprocessable(
            "Media attachment is currently used by a status".into(),
        ));
    }
    let command = MediaCommand::Delete {
        account_id: user.id.clone(),
        at: now_millis(),
    };
    let position = state
        .commands
        .media(&id, command, metadata(Some(&user.id), "api"))
        .await
        .map_err(media_error)?;
    state.settle(position).await;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn focus_is_two_numbers_in_range() {
        assert_eq!(
            parse_focus(" 0.5, -0.25 ").unwrap(),
            Some(Focus { x: 0.5, y: -0.25 })
        );
        assert_eq!(parse_focus("").unwrap(), None);
        for bad in ["0.5", "a,b", "1.5,0", "0,-1.01", "NaN,0", "inf,0"] {
            assert!(parse_focus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_are_said_in_the_unit_of_the_setting() {
        assert_eq!(size_text(40 * 1024 * 1024), "40 MB");
        assert_eq!(size_text(200_000), "200000 bytes");
        assert_eq!(
            too_large(40 * 1024 * 1024).to_string(),
            "File is too large: at most 40 MB can be uploaded"
        );
    }

    #[test]
    fn the_entity_has_mastodon_fields_and_says_where_the_files_are() {
        let file = |cid: &str, w, h| StoredFile {
            cid: cid.into(),
            content_type: "image/jpeg".into(),
            bytes: 100,
            width: w,
            height: h,
        };
        let row = MediaRow {
            id: 42,
            account_id: "1".into(),
            status_id: None,
            ordinal: None,
            original: file("bafyo", 451, 300),
            small: file("bafys", 451, 300),
            large: file("bafyl", 451, 300),
            blurhash: "LKO2?U%2Tw=w]~RBVZRi};RPxuwH".into(),
            exif: Exif {
                camera_make: Some("FUJIFILM".into()),
                iso: Some(400),
                ..Exif::default()
            },
            description: Some("a cat".into()),
            focus: Some(Focus { x: 0.5, y: -0.5 }),
            created_at: 1,
        };
        let config = ApiConfig {
            domain: "px.example".into(),
            protocol: "https".into(),
            data_dir: PathBuf::from("/nonexistent"),
            token_lifetime: None,
            login_failures_per_account: 1,
            login_attempts_per_ip: 1,
            login_window: std::time::Duration::from_secs(1),
            max_profile_image_bytes: 1,
            max_upload_bytes: 1,
            max_upload_pixels: 1,
            media_workers: 1,
            max_media_per_status: 4,
        };
        let v = media_attachment(&config, &row, false);
        assert_eq!(v["id"], "42");
        assert_eq!(v["type"], "image");
        assert_eq!(v["url"], "https://px.example/ipfs/bafyl");
        assert_eq!(v["preview_url"], "https://px.example/ipfs/bafys");
        assert_eq!(v["remote_url"], Value::Null);
        assert_eq!(v["meta"]["original"]["size"], "451x300");
        assert!((v["meta"]["original"]["aspect"].as_f64().unwrap() - 451.0 / 300.0).abs() < 1e-9);
        assert_eq!(v["meta"]["focus"], json!({ "x": 0.5, "y": -0.5 }));
        assert_eq!(
            v["meta"]["exif"],
            json!({ "camera_make": "FUJIFILM", "iso": 400 })
        );
        assert_eq!(v["peerpx"]["cid"]["original"], "bafyo");
        assert!(v["peerpx"].get("original_url").is_none());
        let v = media_attachment(&config, &row, true);
        assert_eq!(v["peerpx"]["original_url"], "https://px.example/ipfs/bafyo");
    }
}
