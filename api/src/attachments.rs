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

use std::path::Path;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::media::{
    check_description, Exif, Focus, Location, StoredFile, Upload, DESCRIPTION_MAX,
};
use peerpx_aggregates::{MediaCommand, MediaError};
use peerpx_projections::log::metadata;
use peerpx_projections::media::{self, MediaRow};
use peerpx_projections::now_millis;
use serde::Deserialize;
use serde_json::{json, Value};

use peerpx_media::{self as pipeline, ExifSummary, Limits, Options, Processed, Rendition};

use crate::auth::{new_id, Authed};
use crate::error::{ApiError, ApiResult};
use crate::media_entities::media_attachment;
use crate::params::{lenient, Params};
use crate::upload_stream::{receive, Received, Scratch};
use crate::AppState;
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
}
