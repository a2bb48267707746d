//! Prometheus metrics of the agent: invocations by outcome, cold/warm starts, latency, pool, throttles, task restarts.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use fogwhisk_runtime::Pool;

/// Label of an invocation's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `success`, `application_error`, `developer_error`, `whisk_error`.
    pub status: String,
}

/// Label of a throttle.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ThrottleLabel {
    /// `invocations_per_minute`, `concurrent_invocations`, `fires_per_minute`.
    pub limit: String,
}

/// All metrics; cheap to share.
pub struct Metrics {
    registry: Registry,
    /// Activations by outcome.
    pub invocations: Family<StatusLabel, Counter>,
    /// Trigger fires.
    pub fires: Counter,
    /// Requests refused by a throttle.
    pub throttled: Family<ThrottleLabel, Counter>,
    /// Activation duration in seconds (wait + init + run).
    pub latency: Histogram,
    cold: Gauge,
    warm: Gauge,
    pool_live: Gauge,
    pool_busy: Gauge,
    pool_prewarmed: Gauge,
    pool_memory: Gauge,
    site: Family<SiteLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Restarts of supervised background tasks after a failure.
    pub task_restarts: Family<TaskLabel, Counter>,
}

/// Label of a supervised background task.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// The task's name, e.g. `purge`.
    pub task: String,
}

/// Label of a site gauge (feeds and outbox figures).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SiteLabel {
    /// What is measured, e.g. `outbox_depth`, `mqtt_messages`.
    pub figure: String,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("fogwhisk_edge");
        let invocations = Family::<StatusLabel, Counter>::default();
        registry.register("activations", "Activations by outcome", invocations.clone());
        let fires = Counter::default();
        registry.register("trigger_fires", "Trigger fires accepted", fires.clone());
        let throttled = Family::<ThrottleLabel, Counter>::default();
        registry.register("throttled_requests", "Requests refused by a throttle", throttled.clone());
        let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 18));
        registry.register("activation_duration_seconds", "Activation latency", latency.clone());
        let g = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let cold = g(&mut registry, "cold_starts", "Cold starts since start-up");
        let warm = g(&mut registry, "warm_starts", "Warm starts since start-up");
        let pool_live = g(&mut registry, "pool_processes", "Live runtime processes");
        let pool_busy = g(&mut registry, "pool_busy_processes", "Runtime processes running an activation");
        let pool_prewarmed = g(&mut registry, "pool_prewarmed_processes", "Prewarmed runtime processes");
        let pool_memory = g(&mut registry, "pool_memory_mb", "Memory reserved by runtime processes, MB");
        let site = Family::<SiteLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "site",
            "Site pipeline figures: MQTT feed and alarms (feeds_*), outbox to the hub (outbox_*)",
            site.clone(),
        );
        let task_restarts = Family::<TaskLabel, Counter>::default();
        registry.register(
            "task_restarts",
            "Restarts of supervised background tasks after a failure",
            task_restarts.clone(),
        );
        Arc::new(Self {
            registry,
            invocations,
            fires,
            throttled,
            latency,
            cold,
            warm,
            pool_live,
            pool_busy,
            pool_prewarmed,
            pool_memory,
            site,
            task_restarts,
        })
    }

    /// Counts a refused request.
    pub fn throttle(&self, limit: &str) {
        self.throttled.get_or_create(&ThrottleLabel { limit: limit.into() }).inc();
    }

    /// Counts a restart of the supervised task `task`.
    pub fn task_restarted(&self, task: &str) {
        self.task_restarts.get_or_create(&TaskLabel { task: task.into() }).inc();
    }

    /// Sets one site figure.
    pub fn set_site(&self, figure: &str, value: f64) {
        self.site.get_or_create(&SiteLabel { figure: figure.into() }).set(value);
    }

    /// Renders the text exposition, refreshing pool gauges first.
    pub fn render(&self, pool: &Pool) -> String {
        let s = pool.stats();
        self.cold.set(s.cold_starts as i64);
        self.warm.set(s.warm_starts as i64);
        self.pool_live.set(s.live as i64);
        self.pool_busy.set(s.busy as i64);
        self.pool_prewarmed.set(s.prewarmed as i64);
        self.pool_memory.set(s.memory_used_mb as i64);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
