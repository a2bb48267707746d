//! `/namespaces` and `/namespaces/{ns}/limits`: the caller's namespace and its limits.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiResult;
use super::extract::Caller;
use super::AppState;

/// Routes of the namespaces collection.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/namespaces", get(list)).route("/api/v1/namespaces/{ns}/limits", get(limits))
}

async fn list(c: Caller) -> Json<Value> {
    Json(json!([c.namespace]))
}

async fn limits(State(s): State<Arc<AppState>>, c: Caller, Path(ns): Path<String>) -> ApiResult<Json<Value>> {
    c.own(&ns)?;
    let l = &s.settings.limits;
    // As OpenWhisk's Limits API: memory and logs in MB, timeouts in ms, the parameter size as a ByteSize string;
    // maxPayloadSize and sequenceMaxLength are this agent's own additions.
    Ok(Json(json!({
        "invocationsPerMinute": l.invocations_per_minute,
        "concurrentInvocations": l.concurrent_invocations,
        "firesPerMinute": l.fires_per_minute,
        "maxActionMemory": 512,
        "minActionMemory": 128,
        "maxActionLogs": 10,
        "minActionLogs": 0,
        "maxActionTimeout": 300_000,
        "minActionTimeout": 100,
        "maxActionConcurrency": l.max_action_concurrency,
        "minActionConcurrency": 1,
        "maxParameterSize": format!("{} MB", super::entities::MAX_PARAMETERS_BYTES / (1024 * 1024)),
        "maxActionInstances": l.concurrent_invocations,
        "maxPayloadSize": l.max_payload_bytes,
        "sequenceMaxLength": l.sequence_max_length,
    })))
}
