//! Notifications, as Mastodon's API has them (follow, follow request, favourite, reblog,
//! mention): listed with `types[]` and `exclude_types[]`, or one by id.

use std::collections::HashMap;

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use peerpx_projections::notifications::{self, NotificationRow};
use peerpx_projections::statuses as read;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Authed;
use crate::entities::{self, iso};
use crate::paging::{self, PageQuery};
use crate::params::{lenient, Params};
use crate::status_views::{load_accounts, render, status_id};
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notifications", get(list_notifications))
        .route("/api/v1/notifications/{id}", get(show_notification))
}

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
