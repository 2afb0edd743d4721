//! Statuses (photo posts and comments), favourites, bookmarks, timelines and notifications, as
//! Mastodon's API has them, plus the documented photo extensions (`title`, `licence`,
//! `allow_download`).
//!
//! Visibility is enforced by the read model's queries (`peerpx_projections::statuses::visible`):
//! a status the viewer may not see is answered with 404, never 403, wherever it is asked for.

use std::collections::HashMap;

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::AggregateError;
use peerpx_aggregates::engagement::Target;
use peerpx_aggregates::status::{
    self, extract_mentions, extract_tags, Content, MediaText, Mention, Post, ReplyTo,
    DEFAULT_LICENCE, LICENCES,
};
use peerpx_aggregates::{
    EngagementCommand, MediaCommand, MediaError, StatusCommand, StatusError, Visibility,
};
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::log::metadata;
use peerpx_projections::notifications::{self, NotificationRow};
use peerpx_projections::statuses::{self as read, StatusRow};
use peerpx_projections::{engagements, now_millis};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{new_id, Authed, MaybeAuthed};
use crate::entities::{self, escape_html, iso};
use crate::paging::{self, PageQuery};
use crate::params::{lenient, Params};
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/statuses", post(create))
        .route("/api/v1/statuses/{id}", get(show).put(edit).delete(delete))
        .route("/api/v1/statuses/{id}/context", get(context))
        .route("/api/v1/statuses/{id}/history", get(history))
        .route("/api/v1/statuses/{id}/source", get(source))
        .route("/api/v1/statuses/{id}/favourite", post(favourite))
        .route("/api/v1/statuses/{id}/unfavourite", post(unfavourite))
        .route("/api/v1/statuses/{id}/bookmark", post(bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", post(unbookmark))
        .route("/api/v1/statuses/{id}/favourited_by", get(favourited_by))
        .route("/api/v1/timelines/home", get(home))
        .route("/api/v1/timelines/public", get(public))
        .route("/api/v1/timelines/tag/{tag}", get(tag))
        .route("/api/v1/accounts/{id}/statuses", get(account_statuses))
        .route("/api/v1/favourites", get(favourites))
        .route("/api/v1/bookmarks", get(bookmarks))
        .route("/api/v1/notifications", get(list_notifications))
        .route("/api/v1/notifications/{id}", get(show_notification))
}

// ---------------------------------------------------------------------------------------------
// Rendering

pub(crate) fn status_id(text: &str) -> ApiResult<i64> {
    text.parse().map_err(|_| ApiError::NotFound)
}

fn licence_json(id: &str) -> Value {
    let (id, name, url) = LICENCES
        .iter()
        .find(|(l, _, _)| *l == id)
        .copied()
        .unwrap_or(LICENCES[0]);
    json!({ "id": id, "name": name, "url": url })
}

/// Accounts by id, loaded once each.
pub(crate) async fn load_accounts(
    state: &AppState,
    mut ids: Vec<String>,
) -> ApiResult<HashMap<String, AccountRow>> {
    ids.sort_unstable();
    ids.dedup();
    Ok(accounts::by_ids(&state.db, &ids)
        .await?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect())
}

/// Renders statuses as Mastodon Status entities for `viewer`, in the given order. A reblog is
/// rendered as Mastodon does: its own id, account and time, no content, and the original in
/// `reblog`; a reblog whose original the viewer may not see is left out.
pub async fn render(
    state: &AppState,
    viewer: Option<&str>,
    rows: &[StatusRow],
) -> ApiResult<Vec<Value>> {
    let original_ids: Vec<i64> = rows.iter().filter_map(|s| s.reblog_of_id).collect();
    let originals: HashMap<i64, Value> = if original_ids.is_empty() {
        HashMap::new()
    } else {
        let found = read::visible_by_ids(&state.db, viewer, &original_ids).await?;
        let found: Vec<StatusRow> = found
            .into_iter()
            .filter(|o| o.reblog_of_id.is_none())
            .collect();
        let ids: Vec<i64> = found.iter().map(|o| o.id).collect();
        ids.into_iter()
            .zip(render_statuses(state, viewer, &found).await?)
            .collect()
    };
    let mut out = Vec::with_capacity(rows.len());
    for (row, mut v) in rows.iter().zip(render_statuses(state, viewer, rows).await?) {
        if v.is_null() {
            continue;
        }
        if let Some(of) = row.reblog_of_id {
            let Some(original) = originals.get(&of) else {
                continue;
            };
            v["reblog"] = original.clone();
        }
        out.push(v);
    }
    Ok(out)
}

/// Renders statuses without their reblogged originals, one entity per row (a row whose author
/// is missing is rendered with an empty account, so the result zips with `rows`).
async fn render_statuses(
    state: &AppState,
    viewer: Option<&str>,
    rows: &[StatusRow],
) -> ApiResult<Vec<Value>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let people = load_accounts(state, rows.iter().map(|s| s.account_id.clone()).collect()).await?;
    let media = peerpx_projections::media::for_statuses(&state.db, &ids).await?;
    let counts = read::counts(&state.db, &ids).await?;
    let reblogs_counts = peerpx_projections::reblogs::counts(&state.db, &ids).await?;
    let (favourited, bookmarked, reblogged) = match viewer {
        Some(v) => {
            let (f, b) = read::viewer_flags(&state.db, v, &ids).await?;
            (
                f,
                b,
                peerpx_projections::reblogs::reblogged(&state.db, v, &ids).await?,
            )
        }
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let config = &state.config;
    let base = config.base_url();
    let mut out = Vec::with_capacity(rows.len());
    for s in rows {
        let Some(author) = people.get(&s.account_id) else {
            out.push(Value::Null);
            continue;
        };
        let show_original = s.allow_download || viewer == Some(s.account_id.as_str());
        let mut attachments: Vec<Value> = media
            .get(&s.id)
            .map(|list| {
                list.iter()
                    .map(|m| crate::attachments::media_attachment(config, m, show_original))
                    .collect()
            })
            .unwrap_or_default();
        attachments.extend(
            s.remote_media
                .iter()
                .enumerate()
                .map(|(i, m)| crate::attachments::remote_attachment(s.id, i, m)),
        );
        let (replies, favourites) = counts.get(&s.id).copied().unwrap_or((0, 0));
        let mentions: Vec<Value> = s
            .mentions
            .iter()
            .map(|m| {
                json!({
                    "id": m.account_id,
                    "username": m.username,
                    "acct": m.username,
                    "url": format!("{base}/@{}", m.username),
                })
            })
            .collect();
        let tags: Vec<Value> = s
            .tags
            .iter()
            .map(|t| json!({ "name": t, "url": format!("{base}/tags/{t}") }))
            .collect();
        let mut v = json!({
            "id": s.id.to_string(),
            "created_at": iso(s.created_at),
            "in_reply_to_id": s.in_reply_to_id.map(|i| i.to_string()),
            "in_reply_to_account_id": s.in_reply_to_account_id,
            "sensitive": s.sensitive,
            "spoiler_text": s.spoiler_text,
            "visibility": s.visibility,
            "language": s.language,
            "uri": s.uri.clone().unwrap_or_else(|| format!("{base}/users/{}/statuses/{}", author.username, s.id)),
            "url": match &s.uri {
                Some(uri) => s.url.clone().unwrap_or_else(|| uri.clone()),
                None => format!("{base}/@{}/{}", author.username, s.id),
            },
            "replies_count": replies,
            "reblogs_count": reblogs_counts.get(&s.id).copied().unwrap_or(0),
            "favourites_count": favourites,
            "edited_at": s.edited_at.map(iso),
            "content": s.content,
            "reblog": null,
            "application": null,
            "account": entities::account(config, author),
            "media_attachments": attachments,
            "mentions": mentions,
            "tags": tags,
            "emojis": [],
            "card": null,
            "poll": null,
            "filtered": [],
            "peerpx": {
                "title": s.title,
                "licence": licence_json(&s.licence),
                "allow_download": s.allow_download,
            },
        });
        if let Some(viewer) = viewer {
            v["favourited"] = json!(favourited.contains(&s.id));
            v["bookmarked"] = json!(bookmarked.contains(&s.id));
            v["reblogged"] = json!(reblogged.contains(&s.id));
            v["muted"] = json!(false);
            v["pinned"] = json!(false);
            if viewer != s.account_id {
                if let Some(pinned) = v.as_object_mut() {
                    pinned.remove("pinned");
                }
            }
        }
        out.push(v);
    }
    Ok(out)
}

pub(crate) async fn render_one(
    state: &AppState,
    viewer: Option<&str>,
    row: &StatusRow,
) -> ApiResult<Value> {
    render(state, viewer, std::slice::from_ref(row))
        .await?
        .pop()
        .filter(|v| !v.is_null())
        .ok_or(ApiError::NotFound)
}

/// The caption as HTML: paragraphs, line breaks, links for URLs, hashtags and known mentions.
pub fn text_html(base: &str, text: &str, mentions: &[Mention]) -> String {
    let paragraphs: Vec<String> = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(|l| linkify(base, l, mentions)).collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect();
    paragraphs.concat()
}

fn linkify(base: &str, line: &str, mentions: &[Mention]) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let boundary = !previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '/');
        if boundary && (rest.starts_with("https://") || rest.starts_with("http://")) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ')', '!', '?', ';', ':']);
            let url_end = url.len();
            out.push_str(&format!(
                "<a href=\"{0}\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">{0}</a>",
                escape_html(url)
            ));
            previous = url.chars().last();
            rest = &rest[url_end..];
            continue;
        }
        if boundary && (c == '#' || c == '@') {
            let word: String = rest[1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                if c == '#' && word.chars().any(|c| !c.is_numeric()) {
                    let tag = word.to_lowercase();
                    out.push_str(&format!(
                        "<a href=\"{base}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                        escape_html(&tag),
                        escape_html(&word)
                    ));
                    rest = &rest[1 + word.len()..];
                    previous = word.chars().last();
                    continue;
                }
                if c == '@' {
                    let after = &rest[1 + word.len()..];
                    let domain = after.strip_prefix('@').map(|d| {
                        let end = d
                            .find(|c: char| {
                                !(c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
                            })
                            .unwrap_or(d.len());
                        d[..end].trim_end_matches(['.', ':'])
                    });
                    // A local account by its name (a trailing @this.domain is swallowed too),
                    // a remote one by `name@domain`.
                    let found = mentions.iter().find(|m| match m.username.split_once('@') {
                        None => m.username.eq_ignore_ascii_case(&word),
                        Some((user, host)) => {
                            user.eq_ignore_ascii_case(&word)
                                && domain.is_some_and(|d| d.eq_ignore_ascii_case(host))
                        }
                    });
                    if let Some(m) = found {
                        let mut consumed = 1 + word.len();
                        if let Some(d) = domain {
                            consumed += 1 + d.len();
                        }
                        out.push_str(&format!(
                            "<span class=\"h-card\"><a href=\"{base}/@{0}\" class=\"u-url mention\">@<span>{1}</span></a></span>",
                            escape_html(&m.username),
                            escape_html(&word)
                        ));
                        previous = Some('x');
                        rest = &rest[consumed..];
                        continue;
                    }
                }
            }
        }
        out.push_str(&escape_html(&c.to_string()));
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Posting, editing, deleting

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

/// The viewer's id when a token is given (a token without a user is anonymous).
pub(crate) fn viewer_of(auth: &MaybeAuthed) -> Option<String> {
    auth.0.as_ref().and_then(|a| a.token.account_id.clone())
}

pub(crate) async fn visible_status(
    state: &AppState,
    viewer: Option<&str>,
    id: &str,
) -> ApiResult<StatusRow> {
    read::visible_by_id(&state.db, viewer, status_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)
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
                    Some(crate::attachments::media_attachment(
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

// ---------------------------------------------------------------------------------------------
// Favourites and bookmarks

async fn engage(
    state: &AppState,
    auth: &Authed,
    id: &str,
    scope: &str,
    command: impl Fn(Target) -> EngagementCommand,
) -> ApiResult<Json<Value>> {
    auth.require(&[scope])?;
    let me = auth.user(state).await?;
    let row = visible_status(state, Some(&me.id), id).await?;
    let target = Target {
        account_id: me.id.clone(),
        status_id: row.id.to_string(),
        status_account_id: row.account_id.clone(),
    };
    // A favourite of a remote status is a Like for its node: the outbox worker sends it.
    crate::reblogs::run(
        state,
        &me.id,
        &target.status_id,
        command(target.clone()),
        "api",
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(render_one(state, Some(&me.id), &row).await?))
}

async fn favourite(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:favourites", |target| {
        EngagementCommand::Favourite {
            target,
            at: now_millis(),
        }
    })
    .await
}

async fn unfavourite(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:favourites", |_| {
        EngagementCommand::Unfavourite { at: now_millis() }
    })
    .await
}

async fn bookmark(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:bookmarks", |target| {
        EngagementCommand::Bookmark {
            target,
            at: now_millis(),
        }
    })
    .await
}

async fn unbookmark(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engage(&state, &auth, &id, "write:bookmarks", |_| {
        EngagementCommand::Unbookmark { at: now_millis() }
    })
    .await
}

/// `GET /api/v1/statuses/:id/favourited_by`
async fn favourited_by(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let row = visible_status(&state, viewer.as_deref(), &id).await?;
    let page = params.parse::<PageQuery>()?.page(40, 80)?;
    let likes = engagements::favourited_by(&state.db, row.id, page).await?;
    accounts_page(&state, &uri, &likes).await
}

/// A page of the active accounts among `rows` (`(paging key, account id)`), with its `Link`
/// header: who favourited or reblogged a status.
pub(crate) async fn accounts_page(
    state: &AppState,
    uri: &OriginalUri,
    rows: &[(i64, String)],
) -> ApiResult<Response> {
    let people = load_accounts(state, rows.iter().map(|(_, a)| a.clone()).collect()).await?;
    let mut items = Vec::new();
    let mut keys = Vec::new();
    for (key, account_id) in rows {
        if let Some(a) = people.get(account_id).filter(|a| a.state == "active") {
            items.push(entities::account(&state.config, a));
            keys.push(*key);
        }
    }
    Ok(paging::respond(&state.config.base_url(), uri, items, &keys))
}

// ---------------------------------------------------------------------------------------------
// Timelines

#[derive(Debug, Deserialize, Default)]
struct TimelineQuery {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    local: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    remote: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    only_media: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    exclude_replies: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    exclude_reblogs: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pinned: Option<bool>,
}

impl TimelineQuery {
    /// Mastodon's `local` and `remote`: asking for both gives nothing, as there.
    fn public_filter(&self) -> read::PublicFilter {
        read::PublicFilter {
            only_media: self.only_media.unwrap_or(false),
            local: self.local == Some(true),
            remote: self.remote == Some(true),
        }
    }
}

async fn statuses_page(
    state: &AppState,
    viewer: Option<&str>,
    uri: &OriginalUri,
    rows: Vec<StatusRow>,
) -> ApiResult<Response> {
    let keys: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let items = render(state, viewer, &rows).await?;
    Ok(paging::respond(&state.config.base_url(), uri, items, &keys))
}

/// `GET /api/v1/timelines/home`
async fn home(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:statuses"])?;
    let me = auth.user(&state).await?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let rows = read::home(&state.db, &me.id, page).await?;
    statuses_page(&state, Some(&me.id), &uri, rows).await
}

/// `GET /api/v1/timelines/public` (every status here is local until federation lands; `remote`
/// therefore gives an empty list).
async fn public(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let q: TimelineQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let rows = read::public(&state.db, viewer.as_deref(), None, q.public_filter(), page).await?;
    statuses_page(&state, viewer.as_deref(), &uri, rows).await
}

/// `GET /api/v1/timelines/tag/:hashtag`
async fn tag(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(tag): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let q: TimelineQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let tag = tag.trim_start_matches('#').to_lowercase();
    let rows = read::public(
        &state.db,
        viewer.as_deref(),
        Some(&tag),
        q.public_filter(),
        page,
    )
    .await?;
    statuses_page(&state, viewer.as_deref(), &uri, rows).await
}

/// `GET /api/v1/accounts/:id/statuses`
async fn account_statuses(
    State(state): State<AppState>,
    auth: MaybeAuthed,
    Path(id): Path<String>,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    let viewer = viewer_of(&auth);
    let account = accounts::by_id(&state.db, &id)
        .await?
        .filter(|a| a.state == "active")
        .ok_or(ApiError::NotFound)?;
    let q: TimelineQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    // Pinning is not offered yet, so the pinned list is empty.
    let rows = if q.pinned == Some(true) {
        Vec::new()
    } else {
        let filter = read::AccountFilter {
            only_media: q.only_media.unwrap_or(false),
            exclude_replies: q.exclude_replies.unwrap_or(false),
            exclude_reblogs: q.exclude_reblogs.unwrap_or(false),
        };
        read::of_account(&state.db, viewer.as_deref(), &account.id, filter, page).await?
    };
    statuses_page(&state, viewer.as_deref(), &uri, rows).await
}

/// Lists of statuses paged by the favourite's or bookmark's own id.
async fn engaged_page(
    state: &AppState,
    me: &str,
    uri: &OriginalUri,
    entries: Vec<(i64, i64)>,
) -> ApiResult<Response> {
    let ids: Vec<i64> = entries.iter().map(|(_, s)| *s).collect();
    let rows = read::visible_by_ids(&state.db, Some(me), &ids).await?;
    let items = render(state, Some(me), &rows).await?;
    let keys: Vec<i64> = entries.iter().map(|(p, _)| *p).collect();
    Ok(paging::respond(&state.config.base_url(), uri, items, &keys))
}

/// `GET /api/v1/favourites`
async fn favourites(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:favourites"])?;
    let me = auth.user(&state).await?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let entries = engagements::favourites(&state.db, &me.id, page).await?;
    engaged_page(&state, &me.id, &uri, entries).await
}

/// `GET /api/v1/bookmarks`
async fn bookmarks(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:bookmarks"])?;
    let me = auth.user(&state).await?;
    let page = params.parse::<PageQuery>()?.page(20, 40)?;
    let entries = engagements::bookmarks(&state.db, &me.id, page).await?;
    engaged_page(&state, &me.id, &uri, entries).await
}

// ---------------------------------------------------------------------------------------------
// Notifications

#[derive(Debug, Deserialize, Default)]
struct NotificationQuery {
    #[serde(default, deserialize_with = "lenient::opt_string_or_list")]
    types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::opt_string_or_list")]
    exclude_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    account_id: Option<String>,
}

async fn render_notifications(
    state: &AppState,
    me: &str,
    rows: &[NotificationRow],
) -> ApiResult<Vec<Value>> {
    let people = load_accounts(
        state,
        rows.iter().map(|n| n.from_account_id.clone()).collect(),
    )
    .await?;
    let status_ids: Vec<i64> = rows.iter().filter_map(|n| n.status_id).collect();
    let statuses = read::visible_by_ids(&state.db, Some(me), &status_ids).await?;
    let rendered = render(state, Some(me), &statuses).await?;
    let by_id: HashMap<String, Value> = rendered
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), v))
        .collect();
    let mut out = Vec::new();
    for n in rows {
        let Some(from) = people.get(&n.from_account_id) else {
            continue;
        };
        let status = match n.status_id {
            Some(id) => match by_id.get(&id.to_string()) {
                Some(s) => s.clone(),
                // The status is gone or no longer visible: so is its notification.
                None => continue,
            },
            None => Value::Null,
        };
        out.push(json!({
            "id": n.id.to_string(),
            "type": n.kind,
            "created_at": iso(n.created_at),
            "group_key": format!("ungrouped-{}", n.id),
            "account": entities::account(&state.config, from),
            "status": status,
        }));
    }
    Ok(out)
}

/// `GET /api/v1/notifications`
async fn list_notifications(
    State(state): State<AppState>,
    auth: Authed,
    uri: OriginalUri,
    params: Params,
) -> ApiResult<Response> {
    auth.require(&["read:notifications"])?;
    let me = auth.user(&state).await?;
    let q: NotificationQuery = params.parse()?;
    let page = params.parse::<PageQuery>()?.page(40, 80)?;
    let filter = notifications::Filter {
        types: q.types.unwrap_or_default(),
        exclude_types: q.exclude_types.unwrap_or_default(),
        account_id: q.account_id,
    };
    let rows = notifications::list(&state.db, &me.id, &filter, page).await?;
    let keys: Vec<i64> = rows.iter().map(|n| n.id).collect();
    let items = render_notifications(&state, &me.id, &rows).await?;
    Ok(paging::respond(
        &state.config.base_url(),
        &uri,
        items,
        &keys,
    ))
}

/// `GET /api/v1/notifications/:id`
async fn show_notification(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(&["read:notifications"])?;
    let me = auth.user(&state).await?;
    let row = notifications::by_id(&state.db, &me.id, status_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    render_notifications(&state, &me.id, &[row])
        .await?
        .pop()
        .map(Json)
        .ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_become_safe_html_with_links() {
        let mentions = vec![Mention {
            account_id: "1".into(),
            username: "ana".into(),
        }];
        let html = text_html(
            "https://px.example",
            "Dawn at #Paris with @ana <3\nhttps://example.org/a?b=1.\n\nsecond @nobody",
            &mentions,
        );
        assert_eq!(
            html,
            "<p>Dawn at <a href=\"https://px.example/tags/paris\" class=\"mention hashtag\" \
             rel=\"tag\">#<span>Paris</span></a> with <span class=\"h-card\"><a \
             href=\"https://px.example/@ana\" class=\"u-url mention\">@<span>ana</span></a>\
             </span> &lt;3<br /><a href=\"https://example.org/a?b=1\" rel=\"nofollow noopener \
             noreferrer\" target=\"_blank\">https://example.org/a?b=1</a>.</p><p>second \
             @nobody</p>"
        );
    }
}
