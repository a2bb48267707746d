//! Prometheus metrics (`/metrics`): ingest counts, rejections by reason, InfluxDB queue depth and lag, chart uploads.

use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// Label: the site.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SiteLabel {
    /// Site id.
    pub site: String,
}

/// Label: why something was rejected.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Stable reason code.
    pub reason: String,
}

/// Label: outcome of an operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `stored`, `conflict`, `rejected`.
    pub outcome: String,
}

/// Label: a supervised long-lived task.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// Task name, e.g. `influx writer`.
    pub task: String,
}

/// Every metric the hub exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Accepted batches per site.
    pub ingest_batches: Family<SiteLabel, Counter>,
    /// Accepted records per site.
    pub ingest_records: Family<SiteLabel, Counter>,
    /// Rejected records (or whole requests when the body is unusable) by reason.
    pub rejected: Family<ReasonLabel, Counter>,
    /// Lines waiting in the InfluxDB queue.
    pub queue_depth: Gauge,
    /// Age in seconds of the oldest queued line.
    pub queue_lag_seconds: Gauge<f64, AtomicU64>,
    /// Lines written to InfluxDB.
    pub influx_written: Counter,
    /// Failed write attempts (retried).
    pub influx_failures: Counter,
    /// Lines InfluxDB refused as invalid (dropped, logged).
    pub influx_dropped: Counter,
    /// Chart uploads by outcome.
    pub chart_uploads: Family<OutcomeLabel, Counter>,
    /// Restarts of supervised tasks after an error or a panic (`fogwhisk_hub_task_restarts_total`).
    pub task_restarts: Family<TaskLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("fogwhisk_hub");
        let m = Metrics {
            ingest_batches: Family::default(),
            ingest_records: Family::default(),
            rejected: Family::default(),
            queue_depth: Gauge::default(),
            queue_lag_seconds: Gauge::default(),
            influx_written: Counter::default(),
            influx_failures: Counter::default(),
            influx_dropped: Counter::default(),
            chart_uploads: Family::default(),
            task_restarts: Family::default(),
            registry: Registry::default(),
        };
        registry.register("ingest_batches", "Accepted aggregate batches", m.ingest_batches.clone());
        registry.register("ingest_records", "Accepted aggregate records", m.ingest_records.clone());
        registry.register("ingest_rejected", "Rejected aggregate records by reason", m.rejected.clone());
        registry.register("influx_queue_depth", "Lines waiting for InfluxDB", m.queue_depth.clone());
        registry.register(
            "influx_queue_lag_seconds",
            "Age of the oldest line waiting for InfluxDB",
            m.queue_lag_seconds.clone(),
        );
        registry.register("influx_written_lines", "Lines written to InfluxDB", m.influx_written.clone());
        registry.register("influx_write_failures", "Failed InfluxDB write attempts", m.influx_failures.clone());
        registry.register("influx_dropped_lines", "Lines InfluxDB refused as invalid", m.influx_dropped.clone());
        registry.register("chart_uploads", "Chart uploads by outcome", m.chart_uploads.clone());
        registry.register(
            "task_restarts",
            "Restarts of a supervised task after it failed (error or panic)",
            m.task_restarts.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// Counts a rejection.
    pub fn reject(&self, reason: &str, n: u64) {
        self.rejected.get_or_create(&ReasonLabel { reason: reason.to_string() }).inc_by(n);
    }

    /// Counts a restart of a supervised task.
    pub fn task_restarted(&self, task: &str) {
        self.task_restarts.get_or_create(&TaskLabel { task: task.to_string() }).inc();
    }

    /// Sets queue depth and lag from the store's queue status.
    pub fn set_queue(&self, depth: u64, oldest_ms: Option<i64>) {
        self.queue_depth.set(depth as i64);
        let lag = oldest_ms.map_or(0.0, |t| ((chrono::Utc::now().timestamp_millis() - t).max(0) as f64) / 1000.0);
        self.queue_lag_seconds.set(lag);
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    // Queue depth and lag as the store has them now, not as the writer last saw them (it may be in a long
    // backoff while InfluxDB is down and records keep arriving).
    let store = state.store.clone();
    if let Ok(Ok((depth, oldest))) = tokio::task::spawn_blocking(move || store.queue_status()).await {
        state.metrics.set_queue(depth, oldest);
    }
    let body = state.metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
}
