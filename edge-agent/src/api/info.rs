//! Unauthenticated platform information: `GET /`, `GET /api/v1`, and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::AppState;

/// Routes of the platform information.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(root))
        .route("/api/v1", get(api_info))
        .route("/api/v1/", get(api_info))
        .route("/metrics", get(metrics))
}

async fn root(State(s): State<Arc<AppState>>) -> Json<Value> {
    let l = &s.settings.limits;
    Json(json!({
        "description": "OpenWhisk",
        "support": {"github": "https://github.com/apache/openwhisk/issues", "slack": "https://openwhisk-team.slack.com"},
        "api_paths": ["/api/v1"],
        "limits": {
            "actions_per_minute": l.invocations_per_minute,
            "triggers_per_minute": l.fires_per_minute,
            "concurrent_actions": l.concurrent_invocations,
            "sequence_length": l.sequence_max_length,
            "min_action_duration": 100, "max_action_duration": 300_000,
            "min_action_memory": 128u64 * 1024 * 1024, "max_action_memory": 512u64 * 1024 * 1024,
            "min_action_logs": 0, "max_action_logs": 10u64 * 1024 * 1024,
            "default_action_duration": 60_000, "default_action_memory": 256u64 * 1024 * 1024,
            "default_action_logs": 10u64 * 1024 * 1024,
        },
        "runtimes": {
            "nodejs": [{"kind": "nodejs:20", "default": true, "deprecated": false}],
            "python": [{"kind": "python:3.11", "default": true, "deprecated": false}],
        },
        "fogwhisk": {"site": s.settings.site_id, "version": env!("CARGO_PKG_VERSION")},
    }))
}

async fn api_info() -> Json<Value> {
    Json(json!({
        "description": "OpenWhisk API",
        "api_version": "1.0.0",
        "api_version_path": "v1",
        "build": env!("CARGO_PKG_VERSION"),
        "buildno": env!("CARGO_PKG_VERSION"),
        "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
    }))
}

async fn metrics(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        s.metrics.render(&s.pool),
    )
}
