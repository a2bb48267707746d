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
    if let Some(f) = s.feeds.get() {
        let st = f.stats();
        for (k, v) in [
            ("feeds_mqtt_brokers", st.mqtt_brokers),
            ("feeds_mqtt_connected", st.mqtt_connected),
            ("feeds_mqtt_subscriptions", st.mqtt_subscriptions),
            ("feeds_mqtt_messages", st.mqtt_messages),
            ("feeds_mqtt_duplicates", st.mqtt_duplicates),
            ("feeds_mqtt_dropped", st.mqtt_dropped),
            ("feeds_bad_messages", st.bad_messages),
            ("feeds_fires_ok", st.fires_ok),
            ("feeds_fires_failed", st.fires_failed),
            ("feeds_inbox_depth", st.inbox_depth),
            ("feeds_alarms_scheduled", st.alarms_scheduled),
            ("feeds_alarm_fires", st.alarm_fires),
        ] {
            s.metrics.set_site(k, v as f64);
        }
    }
    let site = s.site.clone();
    if let Ok(Ok(o)) = tokio::task::spawn_blocking(move || site.outbox_stats()).await {
        s.metrics.set_site("outbox_depth", o.depth as f64);
        s.metrics.set_site("outbox_oldest_age_seconds", o.oldest_age_secs);
        s.metrics.set_site("outbox_delivered_records", o.delivered as f64);
        s.metrics.set_site("outbox_delivered_batches", o.delivered_batches as f64);
        s.metrics.set_site("outbox_failures", o.failures as f64);
        s.metrics.set_site("outbox_dead_letters", o.dead_letters as f64);
        s.metrics.set_site("outbox_dead_lettered", o.dead_lettered as f64);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.render(&s.pool))
}
