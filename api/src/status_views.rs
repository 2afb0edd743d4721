//! Statuses as Mastodon renders them, shared by every endpoint that answers with statuses:
//! entities rendered in batches (one query per kind of data for a whole page), the viewer a
//! token stands for, the visible status an id names (404 for anyone who may not see it, never
//! 403), and pages of accounts or statuses with their `Link` headers.
//!
//! Visibility is enforced by the read model's queries (`peerpx_projections::statuses::visible`).

use std::collections::HashMap;

use axum::extract::OriginalUri;
use axum::response::Response;
use peerpx_aggregates::status::LICENCES;
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::statuses::{self as read, StatusRow};
use serde_json::{json, Value};

use crate::auth::MaybeAuthed;
use crate::entities::{self, iso};
use crate::paging;
use crate::{ApiError, ApiResult, AppState};

pub(crate) fn status_id(text: &str) -> ApiResult<i64> {
    text.parse().map_err(|_| ApiError::NotFound)
}

pub(crate) fn licence_json(id: &str) -> Value {
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
                    .map(|m| crate::media_entities::media_attachment(config, m, show_original))
                    .collect()
            })
            .unwrap_or_default();
        attachments.extend(
            s.remote_media
                .iter()
                .enumerate()
                .map(|(i, m)| crate::media_entities::remote_attachment(s.id, i, m)),
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

pub(crate) async fn statuses_page(
    state: &AppState,
    viewer: Option<&str>,
    uri: &OriginalUri,
    rows: Vec<StatusRow>,
) -> ApiResult<Response> {
    let keys: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let items = render(state, viewer, &rows).await?;
    Ok(paging::respond(&state.config.base_url(), uri, items, &keys))
}
