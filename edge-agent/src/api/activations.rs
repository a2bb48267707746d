//! `/namespaces/{ns}/activations`: list with filters, get one, its logs and its result.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, QueryMap};
use super::AppState;
use crate::entity::activation::valid_activation_id;
use crate::entity::Activation;
use crate::store::ActivationFilter;

/// Routes of the activations collection.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/activations", get(list))
        .route("/api/v1/namespaces/{ns}/activations/{id}", get(get_one))
        .route("/api/v1/namespaces/{ns}/activations/{id}/logs", get(logs))
        .route("/api/v1/namespaces/{ns}/activations/{id}/result", get(result))
}

async fn list(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path(ns): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let ns = c.own(&ns)?;
    let docs = q.flag("docs", false)?;
    let count = q.flag("count", false)?;
    if docs && count {
        return Err(ApiError::bad("The parameter 'docs' is not permitted with 'count'."));
    }
    let (skip, limit) = q.paging("activations")?;
    let name = q.0.get("name").filter(|n| !n.is_empty()).cloned();
    if let Some(n) = &name {
        for seg in n.split('/') {
            super::entities::segment(seg)?;
        }
    }
    let filter = ActivationFilter { name, since: q.number("since")?, upto: q.number("upto")?, skip, limit };
    s.activations.flush().await?;
    let store = s.store.clone();
    let (rows, total) = tokio::task::spawn_blocking(move || store.list_activations(&ns, &filter))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    if count {
        return Ok(Json(json!({"activations": total})));
    }
    let rows: Vec<Value> = rows.iter().map(|a| if docs { a.to_full_json() } else { a.to_summary_json() }).collect();
    Ok(Json(Value::Array(rows)))
}

fn load(s: &AppState, c: &Caller, ns: &str, id: &str) -> ApiResult<Activation> {
    let ns = c.own(ns)?;
    if !valid_activation_id(id) {
        return Err(ApiError::bad(format!(
            "The activation id '{id}' is not valid: it must be 32 hexadecimal characters."
        )));
    }
    let id = id.to_ascii_lowercase();
    let found = match s.activations.uncommitted(&id) {
        Some(a) => Some(a),
        None => s.store.get_activation(&id)?,
    };
    match found {
        Some(a) if a.namespace == ns => Ok(a),
        _ => Err(ApiError::NotFound),
    }
}

async fn get_one(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(load(&s, &c, &ns, &id)?.to_full_json()))
}

async fn logs(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"logs": load(&s, &c, &ns, &id)?.logs})))
}

async fn result(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut v = load(&s, &c, &ns, &id)?.response.to_json();
    if let Some(o) = v.as_object_mut() {
        o.remove("statusCode");
    }
    Ok(Json(v))
}
