//! What the node says about itself: Mastodon's instance v1/v2 and NodeInfo 2.1.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use peerpx_aggregates::RegistrationsMode;
use peerpx_projections::{accounts, instance};
use serde_json::{json, Value};

use crate::entities;
use crate::error::ApiResult;
use crate::AppState;

pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Clients read a Mastodon version to decide which features to use.
pub fn version() -> String {
    format!("4.3.0 (compatible; peerpx {SOFTWARE_VERSION})")
}

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];

fn configuration(state: &AppState) -> Value {
    use peerpx_aggregates::status::{LICENCES, TEXT_MAX};
    let licences: Vec<Value> = LICENCES
        .iter()
        .map(|(id, name, url)| json!({ "id": id, "name": name, "url": url }))
        .collect();
    json!({
        "urls": { "streaming": null },
        "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
        "statuses": {
            "max_characters": TEXT_MAX,
            "max_media_attachments": state.config.max_media_per_status,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": IMAGE_TYPES,
            "image_size_limit": state.config.max_upload_bytes,
            "image_matrix_limit": state.config.max_upload_pixels,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
            "description_limit": peerpx_aggregates::media::DESCRIPTION_MAX,
        },
        "polls": { "max_options": 0, "max_characters_per_option": 0, "min_expiration": 0, "max_expiration": 0 },
        "translation": { "enabled": false },
        "peerpx": {
            "profile_image_size_limit": state.config.max_profile_image_bytes,
            "licences": licences,
        },
    })
}

async fn contact(state: &AppState, username: Option<&str>) -> ApiResult<Value> {
    let Some(username) = username else {
        return Ok(Value::Null);
    };
    Ok(accounts::by_username(&state.db, username)
        .await?
        .filter(|a| a.state == "active")
        .map_or(Value::Null, |a| entities::account(&state.config, &a)))
}

fn title(s: &instance::InstanceRow, domain: &str) -> String {
    s.settings
        .title
        .clone()
        .unwrap_or_else(|| domain.to_string())
}

const DEFAULT_DESCRIPTION: &str = "A peerpx node: photo sharing on the fediverse.";

/// `GET /api/v1/instance`
pub async fn v1(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let s = instance::get(&state.db).await?;
    let users = accounts::count_active(&state.db).await?;
    let description = s
        .settings
        .description
        .clone()
        .unwrap_or_else(|| DEFAULT_DESCRIPTION.into());
    Ok(Json(json!({
        "uri": state.config.domain,
        "title": title(&s, &state.config.domain),
        "short_description": description,
        "description": description,
        "email": s.settings.contact_email.clone().unwrap_or_default(),
        "version": version(),
        "urls": { "streaming_api": null },
        "stats": { "user_count": users, "status_count": 0, "domain_count": 0 },
        "thumbnail": null,
        "languages": ["en", "fr"],
        "registrations": s.mode != RegistrationsMode::Closed,
        "approval_required": s.mode == RegistrationsMode::Approval,
        "invites_enabled": false,
        "configuration": configuration(&state),
        "contact_account": contact(&state, s.settings.contact_username.as_deref()).await?,
        "rules": [],
    })))
}

/// `GET /api/v2/instance`
pub async fn v2(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let s = instance::get(&state.db).await?;
    let users = accounts::count_active(&state.db).await?;
    let message = match s.mode {
        RegistrationsMode::Open => Value::Null,
        RegistrationsMode::Approval => {
            json!("New accounts are reviewed by a moderator before they can log in.")
        }
        RegistrationsMode::Closed => json!("Registrations are closed on this server."),
    };
    Ok(Json(json!({
        "domain": state.config.domain,
        "title": title(&s, &state.config.domain),
        "version": version(),
        "source_url": "https://github.com/peerpx/peerpx",
        "description": s.settings.description.clone().unwrap_or_else(|| DEFAULT_DESCRIPTION.into()),
        "usage": { "users": { "active_month": users } },
        "thumbnail": { "url": format!("{}/avatars/original/missing.png", state.config.base_url()) },
        "icon": [],
        "languages": ["en", "fr"],
        "configuration": configuration(&state),
        "registrations": {
            "enabled": s.mode != RegistrationsMode::Closed,
            "approval_required": s.mode == RegistrationsMode::Approval,
            "message": message,
            "url": null,
            // peerpx extension: the mode by name.
            "mode": s.mode.as_str(),
        },
        "api_versions": { "mastodon": 2 },
        "contact": {
            "email": s.settings.contact_email.clone().unwrap_or_default(),
            "account": contact(&state, s.settings.contact_username.as_deref()).await?,
        },
        "rules": [],
    })))
}

/// `GET /.well-known/nodeinfo`
pub async fn nodeinfo_links(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": format!("{}/nodeinfo/2.1", state.config.base_url()),
        }]
    }))
}

/// `GET /nodeinfo/2.1`
pub async fn nodeinfo(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let s = instance::get(&state.db).await?;
    let users = accounts::count_active(&state.db).await?;
    let body = json!({
        "version": "2.1",
        "software": {
            "name": "peerpx",
            "version": SOFTWARE_VERSION,
            "repository": "https://github.com/peerpx/peerpx",
            "homepage": "https://github.com/peerpx/peerpx",
        },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": s.mode != RegistrationsMode::Closed,
        "usage": { "users": { "total": users, "activeMonth": users, "activeHalfyear": users }, "localPosts": 0 },
        "metadata": {
            "nodeName": title(&s, &state.config.domain),
            "nodeDescription": s.settings.description.clone().unwrap_or_else(|| DEFAULT_DESCRIPTION.into()),
        },
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        )],
        Json(body),
    ))
}
