//! Admin views of federation (extensions under `/api/peerpx/v1/admin/federation/`, staff only):
//! the delivery queue. The queue itself is `peerpx_federation::queue`; this is its window.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::Authed;
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/peerpx/v1/admin/federation/deliveries",
        get(admin_deliveries),
    )
}

/// `GET /api/peerpx/v1/admin/federation/deliveries` (extension, `admin:read`, staff): the queue
/// depth by state and the hosts whose last deliveries failed.
pub async fn admin_deliveries(
    State(state): State<AppState>,
    auth: Authed,
) -> ApiResult<Json<Value>> {
    auth.require(&["admin:read"])?;
    let me = auth.user(&state).await?;
    if !me.is_staff() {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    let mut queue = json!({"pending": 0, "failed": 0, "delivered": 0, "abandoned": 0});
    for (s, n) in peerpx_projections::deliveries::counts(&state.db).await? {
        queue[s] = json!(n);
    }
    let iso = |m: Option<i64>| m.map(entities::iso);
    let hosts: Vec<Value> = peerpx_projections::deliveries::failing_hosts(&state.db, 100)
        .await?
        .into_iter()
        .map(|h| {
            json!({
                "host": h.host,
                "available": h.available,
                "consecutive_failures": h.consecutive_failures,
                "last_error": h.last_error,
                "last_failure_at": iso(h.last_failure_at),
                "last_success_at": iso(h.last_success_at),
                "next_attempt_at": iso(h.next_attempt_at),
            })
        })
        .collect();
    Ok(Json(json!({ "queue": queue, "failing_hosts": hosts })))
}
