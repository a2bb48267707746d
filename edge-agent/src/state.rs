//! The agent's shared state: store, identities, runtime pool, throttles, metrics and the task tracker.

use std::sync::{Arc, OnceLock};

use fogwhisk_runtime::Pool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::identity::Identities;
use crate::metrics::Metrics;
use crate::store::{ActivationWriter, Store};
use crate::throttle::Throttles;

/// Everything a request handler or background task needs.
pub struct AppState {
    /// Validated settings.
    pub settings: Settings,
    /// The URL actions and wskprops see.
    pub api_host: String,
    /// Entities and activations.
    pub store: Store,
    /// Group-committing activation writer.
    pub activations: ActivationWriter,
    /// Namespaces and keys.
    pub identities: Identities,
    /// Runtime processes.
    pub pool: Arc<Pool>,
    /// Per-namespace throttles.
    pub throttles: Throttles,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Activations running in the background and invoke/fire requests being served (drained on shutdown).
    pub tasks: TaskTracker,
    /// Cancelled when the agent begins to stop: from then on new invokes and fires get 503 (`api::drain`).
    pub stop: CancellationToken,
    /// Site data: telemetry readings, reported days and the outbox to the hub.
    pub site: fogwhisk_site::SiteStore,
    /// MQTT and alarm feeds (set once they are started, right after the state exists).
    pub feeds: OnceLock<fogwhisk_feeds::Feeds>,
}
