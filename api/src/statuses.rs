//! Statuses (photo posts and comments) as Mastodon's API has them: posting, showing, editing,
//! deleting, a thread's context, edit history and source, plus the documented photo extensions
//! (`title`, `licence`, `allow_download`). Favourites, timelines and notifications have their
//! own modules; rendering is `status_views`.
//!
//! Visibility is enforced by the read model's queries (`peerpx_projections::statuses::visible`):
//! a status the viewer may not see is answered with 404, never 403, wherever it is asked for.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::status::{
    self, extract_mentions, extract_tags, Content, MediaText, Mention, Post, ReplyTo,
    DEFAULT_LICENCE, LICENCES,
};
use peerpx_aggregates::{MediaCommand, MediaError, StatusCommand, StatusError, Visibility};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::log::metadata;
use peerpx_projections::now_millis;
use peerpx_projections::statuses::{self as read, StatusRow};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{new_id, Authed, MaybeAuthed};
use crate::captions::text_html;
use crate::entities::{self, iso};
use crate::params::{lenient, Params};
use crate::status_views::{licence_json, render, render_one, status_id, viewer_of, visible_status};
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/statuses", post(create))
        .route("/api/v1/statuses/{id}", get(show).put(edit).delete(delete))
        .route("/api/v1/statuses/{id}/context", get(context))
        .route("/api/v1/statuses/{id}/history", get(history))
        .route("/api/v1/statuses/{id}/source", get(source))
}

fn status_error(e: AggregateError<StatusError>) -> ApiError {
    match e {
        AggregateError::UserError(e) => match e {
            StatusError::NotFound => ApiError::NotFound,
            StatusError::Empty => ApiError::field("text", "ERR_BLANK", "can't be blank"),
            StatusError::TooLong { field, max } => ApiError::field(
                field,
                "ERR_TOO_LONG",
                &format!("is too long (maximum is {max} characters)"),
            ),
            other => ApiError::Unprocessable(format!("Validation failed: {other}")),
        },
        AggregateError::AggregateConflict => {
            ApiError::Unprocessable("This status was changed at the same time; try again".into())
        }
        other => ApiError::internal(other),
    }
}

fn media_error(e: AggregateError<MediaError>) -> ApiError {
    match e {
        AggregateError::UserError(MediaError::NotFound) => ApiError::Unprocessable(
            "Validation failed: media_ids contains an id that is not one of your uploads".into(),
        ),
        AggregateError::UserError(e) => ApiError::Unprocessable(format!("Validation failed: {e}")),
        AggregateError::AggregateConflict => {
            ApiError::Unprocessable("This media was used at the same time; try again".into())
        }
        other => ApiError::internal(other),
    }
}

#[derive(Debug, Deserialize, Default)]
struct MediaAttribute {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    description: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct StatusParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string_or_list")]
    media_ids: Option<Vec<String>>,
    /// `media_attributes[][id]`, `[description]` (edits); a list or a Rails index map.
    #[serde(default)]
    media_attributes: Option<Value>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    sensitive: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    visibility: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    in_reply_to_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    language: Option<String>,
    // Photo extensions.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    title: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    licence: Option<String>,
    /// Also accepted with the American spelling.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    license: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    allow_download: Option<bool>,
}

impl StatusParams {
    fn media_attributes(&self) -> ApiResult<Vec<MediaAttribute>> {
        let items: Vec<Value> = match &self.media_attributes {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Object(map)) => map.values().cloned().collect(),
            Some(other) => {
                return Err(ApiError::Unprocessable(format!(
                    "media_attributes must be a list, not {other}"
                )))
            }
        };
        items
            .into_iter()
            .map(|v| {
                serde_json::from_value(v)
                    .map_err(|e| ApiError::Unprocessable(format!("Invalid media_attributes: {e}")))
            })
            .collect()
    }

    fn licence(&self) -> ApiResult<Option<String>> {
        match self.licence.as_ref().or(self.license.as_ref()) {
            None => Ok(None),
            Some(l) if l.trim().is_empty() => Ok(None),
            Some(l) => {
                let l = l.trim().to_lowercase();
                if status::valid_licence(&l) {
                    Ok(Some(l))
                } else {
                    let known: Vec<&str> = LICENCES.iter().map(|(id, _, _)| *id).collect();
                    Err(ApiError::field(
                        "licence",
                        "ERR_INCLUSION",
                        &format!("is not one of {}", known.join(", ")),
                    ))
                }
            }
        }
    }
}

/// How a mention names an account: its username here, `user@domain` for a remote one.
pub fn mention_of(a: AccountRow) -> Mention {
    let username = match &a.remote {
        Some(r) => format!("{}@{}", a.username, r.domain),
        None => a.username,
    };
    Mention {
        account_id: a.id,
        username,
    }
}

/// Finds the accounts a text mentions: local ones, and remote ones already known here
/// (unknown names stay plain text).
async fn mentions_in(state: &AppState, text: &str) -> ApiResult<Vec<Mention>> {
    let mut out: Vec<Mention> = Vec::new();
    for (username, domain) in extract_mentions(text) {
        let found = match domain.as_deref() {
            Some(d) if !d.eq_ignore_ascii_case(&state.config.domain) => {
                accounts::by_acct(&state.db, &username, d).await?
            }
            _ => accounts::by_username(&state.db, &username).await?,
        };
        if let Some(a) = found {
            if a.state == "active" && !out.iter().any(|m| m.account_id == a.id) {
                out.push(mention_of(a));
            }
        }
    }
    Ok(out)
}

/// The author of the status replied to, who always sees a reply (Mastodon's clients put the
/// mention in the text; here it is kept even when they do not).
async fn reply_mention(
    state: &AppState,
    author: Option<&str>,
    me: &str,
) -> ApiResult<Option<Mention>> {
    let Some(author) = author.filter(|a| *a != me) else {
        return Ok(None);
    };
    Ok(accounts::by_id(&state.db, author).await?.map(mention_of))
}

async fn build_content(
    state: &AppState,
    p: &StatusParams,
    media: Vec<MediaText>,
    previous: Option<&StatusRow>,
    reply_to: Option<Mention>,
) -> ApiResult<Content> {
    let text = p.status.clone().unwrap_or_default();
    let mut mentions = mentions_in(state, &text).await?;
    if let Some(m) = reply_to {
        if !mentions.iter().any(|x| x.account_id == m.account_id) {
            mentions.push(m);
        }
    }
    let html = text_html(&state.config.base_url(), &text, &mentions);
    let language = p
        .language
        .clone()
        .filter(|l| !l.trim().is_empty())
        .or_else(|| previous.and_then(|s| s.language.clone()));
    let title = match &p.title {
        Some(t) if t.trim().is_empty() => None,
        Some(t) => Some(t.trim().to_string()),
        None => previous.and_then(|s| s.title.clone()),
    };
    let licence = match p.licence()? {
        Some(l) => l,
        None => previous.map_or_else(|| DEFAULT_LICENCE.to_string(), |s| s.licence.clone()),
    };
    let content = Content {
        tags: extract_tags(&text),
        text,
        html,
        spoiler_text: p.spoiler_text.clone().unwrap_or_default(),
        sensitive: p.sensitive.unwrap_or(false)
            || p.spoiler_text
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty()),
        language,
        mentions,
        media,
        remote_media: Vec::new(),
        title,
        licence,
        allow_download: p
            .allow_download
            .unwrap_or_else(|| previous.is_some_and(|s| s.allow_download)),
    };
    status::check_content(&content).map_err(|e| status_error(AggregateError::UserError(e)))?;
    Ok(content)
}

/// `POST /api/v1/statuses`
async fn create(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:statuses"])?;
    let me = auth.user(&state).await?;
    let p: StatusParams = params.parse()?;
    let visibility: Visibility = match p.visibility.as_deref().map(str::trim) {
        None | Some("") => Visibility::Public,
        Some(v) => v.parse().map_err(|()| {
            ApiError::field(
                "visibility",
                "ERR_INCLUSION",
                "is not one of public, unlisted, private, direct",
            )
        })?,
    };
    let in_reply_to = match p.in_reply_to_id.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(id) => {
            let parent = read::visible_by_id(&state.db, Some(&me.id), status_id(id)?)
                .await?
                .ok_or(ApiError::NotFound)?;
            Some(ReplyTo {
                status_id: parent.id.to_string(),
                account_id: parent.account_id,
            })
        }
    };
    let media_ids = p.media_ids.clone().unwrap_or_default();
    let media_ids: Vec<String> = media_ids
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if media_ids.len() > state.config.max_media_per_status {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: at most {} photos can be attached to a post",
            state.config.max_media_per_status
        )));
    }
    // Check every photo before attaching any, so a bad id attaches nothing.
    let mut media = Vec::with_capacity(media_ids.len());
    for id in &media_ids {
        let row = match id.parse::<i64>() {
            Ok(n) => peerpx_projections::media::by_id(&state.db, n).await?,
            Err(_) => None,
        };
        let Some(row) = row.filter(|m| m.account_id == me.id) else {
            return Err(ApiError::Unprocessable(format!(
                "Validation failed: media {id} is not one of your uploads"
            )));
        };
        if row.status_id.is_some() {
            return Err(ApiError::Unprocessable(format!(
                "Validation failed: media {id} is already attached to a post"
            )));
        }
        media.push(MediaText {
            media_id: id.clone(),
            description: row.description.clone(),
        });
    }
    let reply_to = reply_mention(
        &state,
        in_reply_to.as_ref().map(|r| r.account_id.as_str()),
        &me.id,
    )
    .await?;
    let content = build_content(&state, &p, media, None, reply_to).await?;
    let id = new_id();
    let at = now_millis();
    let meta = || metadata(Some(&me.id), "api");
    for m in &content.media {
        state
            .commands
            .media(
                &m.media_id,
                MediaCommand::Attach {
                    account_id: me.id.clone(),
                    status_id: id.clone(),
                    at,
                },
                meta(),
            )
            .await
            .map_err(media_error)?;
    }
    let post = Post {
        id: id.clone(),
        account_id: me.id.clone(),
        visibility,
        in_reply_to,
        content,
        at,
        remote: None,
    };
    let position = state
        .commands
        .status(&id, StatusCommand::Post(post), meta())
        .await
        .map_err(status_error)?;
    state.settle(position).await;
    let row = read::by_id(&state.db, status_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::internal("a posted status is missing from the read model"))?;
    // The outbox worker sends it to other nodes, from the log.
    Ok(Json(render_one(&state, Some(&me.id), &row).await?))
}

/// `GET /api/v1/statuses/:id`
async fn show(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let viewer = viewer_of(&auth);
    let row = visible_status(&state, viewer.as_deref(), &id).await?;
    Ok(Json(render_one(&state, viewer.as_deref(), &row).await?))
}

/// `PUT /api/v1/statuses/:id`: a new version of the caption, alt texts and photo extensions.
async fn edit(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:statuses"])?;
    let me = auth.user(&state).await?;
    let row = read::by_id(&state.db, status_id(&id)?)
        .await?
        .filter(|s| s.account_id == me.id)
        .ok_or(ApiError::NotFound)?;
    let p: StatusParams = params.parse()?;
    let current = peerpx_projections::media::for_statuses(&state.db, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    if let Some(ids) = &p.media_ids {
        let same = ids.len() == current.len()
            && ids
                .iter()
                .zip(&current)
                .all(|(a, m)| a.trim() == m.id.to_string());
        if !same {
            return Err(ApiError::Unprocessable(
                "Validation failed: the photos of a post cannot be replaced, only their descriptions"
                    .into(),
            ));
        }
    }
    let attributes = p.media_attributes()?;
    let media: Vec<MediaText> = current
        .iter()
        .map(|m| {
            let description = attributes
                .iter()
                .find(|a| a.id.as_deref() == Some(m.id.to_string().as_str()))
                .map_or_else(|| m.description.clone(), |a| a.description.clone());
            MediaText {
                media_id: m.id.to_string(),
                description: description.filter(|d| !d.trim().is_empty()),
            }
        })
        .collect();
    let mut p = p;
    if p.status.is_none() {
        p.status = Some(row.text.clone());
    }
    if p.spoiler_text.is_none() {
        p.spoiler_text = Some(row.spoiler_text.clone());
    }
    if p.sensitive.is_none() {
        p.sensitive = Some(row.sensitive);
    }
    let reply_to = reply_mention(&state, row.in_reply_to_account_id.as_deref(), &me.id).await?;
    let content = build_content(&state, &p, media, Some(&row), reply_to).await?;
    let position = state
        .commands
        .status(
            &id,
            StatusCommand::Edit {
                account_id: me.id.clone(),
                content,
                at: now_millis(),
            },
            metadata(Some(&me.id), "api"),
        )
        .await
        .map_err(status_error)?;
    state.settle(position).await;
    let row = read::by_id(&state.db, row.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(render_one(&state, Some(&me.id), &row).await?))
}

/// `DELETE /api/v1/statuses/:id`: answers with the deleted status and its `text` (for redrafts).
async fn delete(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["write:statuses"])?;
    let me = auth.user(&state).await?;
    let row = read::visible_by_id(&state.db, Some(&me.id), status_id(&id)?)
        .await?
        .filter(|s| s.account_id == me.id || me.is_staff())
        .ok_or(ApiError::NotFound)?;
    if row.reblog_of_id.is_some() {
        // Deleting a reblog undoes it, as in Mastodon.
        return crate::reblogs::delete_reblog(&state, &me, &row)
            .await
            .map(Json);
    }
    let mut rendered = render_one(&state, Some(&me.id), &row).await?;
    rendered["text"] = json!(row.text);
    let position = state
        .commands
        .status(
            &id,
            StatusCommand::Delete {
                account_id: me.id.clone(),
                as_moderator: me.is_staff(),
                at: now_millis(),
            },
            metadata(Some(&me.id), "api"),
        )
        .await
        .map_err(status_error)?;
    state.settle(position).await;
    Ok(Json(rendered))
}

/// `GET /api/v1/statuses/:id/context`: comments are the descendants.
async fn context(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let viewer = viewer_of(&auth);
    let row = visible_status(&state, viewer.as_deref(), &id).await?;
    let (ancestors, descendants) = read::context(&state.db, viewer.as_deref(), &row).await?;
    Ok(Json(json!({
        "ancestors": render(&state, viewer.as_deref(), &ancestors).await?,
        "descendants": render(&state, viewer.as_deref(), &descendants).await?,
    })))
}

/// `GET /api/v1/statuses/:id/history`: every version, oldest first.
async fn history(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let viewer = viewer_of(&auth);
    let row = visible_status(&state, viewer.as_deref(), &id).await?;
    let author = accounts::by_id(&state.db, &row.account_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let media = peerpx_projections::media::for_statuses(&state.db, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    let show_original = row.allow_download || viewer.as_deref() == Some(row.account_id.as_str());
    let versions = read::history(&state.db, row.id).await?;
    let out: Vec<Value> = versions
        .iter()
        .map(|v| {
            let attachments: Vec<Value> = v
                .content
                .media
                .iter()
                .filter_map(|t| {
                    let m = media.iter().find(|m| m.id.to_string() == t.media_id)?;
                    let mut m = m.clone();
                    m.description = t.description.clone();
                    Some(crate::media_entities::media_attachment(
                        &state.config,
                        &m,
                        show_original,
                    ))
                })
                .collect();
            json!({
                "content": v.content.html,
                "spoiler_text": v.content.spoiler_text,
                "sensitive": v.content.sensitive,
                "created_at": iso(v.at),
                "account": entities::account(&state.config, &author),
                "poll": null,
                "media_attachments": attachments,
                "emojis": [],
                "peerpx": {
                    "title": v.content.title,
                    "licence": licence_json(&v.content.licence),
                    "allow_download": v.content.allow_download,
                },
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `GET /api/v1/statuses/:id/source`
async fn source(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["read:statuses"])?;
    let me = auth.user(&state).await?;
    let row = read::by_id(&state.db, status_id(&id)?)
        .await?
        .filter(|s| s.account_id == me.id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!({
        "id": row.id.to_string(),
        "text": row.text,
        "spoiler_text": row.spoiler_text,
    })))
}
