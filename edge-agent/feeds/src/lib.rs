//! Feed providers built into the Fogwhisk edge agent: the MQTT feed (`/whisk.system/mqtt/mqtt_feed`)
//! and the alarms package (`/whisk.system/alarms/alarm|once|interval`).
//!
//! # Layout
//! - [`Feeds`] (this file): start, lifecycle entry points, stats, shutdown.
//! - `request`: lifecycle events and parameter access; `error`: typed errors; `sink`: the
//!   [`TriggerSink`] the agent implements; `stats`: counters.
//! - `store`: the feeds' own redb file (`<data>/feeds.redb`).
//! - `inbox` (writer) and `worker`: the durable inbox. Every event (MQTT message, connection
//!   status, alarm fire) is committed there (fsync) before the broker gets its acknowledgement;
//!   one worker fires inbox events in order through the sink and deletes them after the sink
//!   returned `Ok`. Delivery is at least once: a crash between a fire and its deletion fires that
//!   event again with the same `msg_id`, so consumers can deduplicate. (Direct mode, an option,
//!   fires small batches through the sink before acknowledging, without the inbox.)
//! - `mqtt`: topic filters, broker URLs, one connection task per broker, the feed lifecycle.
//! - `alarms`: parameters, next-fire computation across daylight-saving changes, the scheduler.

mod alarms;
mod clock;
mod error;
mod inbox;
mod mqtt;
mod request;
mod sink;
mod stats;
mod store;
mod worker;

use std::{path::Path, sync::Arc, time::Duration};

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use alarms::{next_fire_after, AlarmKind, Schedule};
/// Re-exported so the agent can implement [`TriggerSink`] with `#[fogwhisk_feeds::async_trait]`.
pub use async_trait::async_trait;
pub use clock::{Clock, SystemClock};
pub use error::{FeedError, FireError};
pub use mqtt::topic::TopicFilter;
pub use request::{FeedRequest, Lifecycle};
pub use sink::{Retire, TriggerSink};
pub use stats::FeedStats;

use stats::Stats;
use store::Store;

/// Tunables of the feeds; [`Default`] suits production.
#[derive(Clone)]
pub struct FeedsOptions {
    /// The time source of the alarm scheduler.
    pub clock: Arc<dyn Clock>,
    /// Longest wait between two reconnection attempts to a broker (the wait doubles from 100 ms).
    pub reconnect_max: Duration,
    /// MQTT keep-alive interval.
    pub keep_alive: Duration,
    /// Largest MQTT packet accepted from a broker (bigger ones break the connection).
    pub max_packet_bytes: usize,
    /// Message bodies above this size are fired truncated, with an `error` field.
    pub max_body_bytes: usize,
    /// When the inbox holds this many events, the feed stops acknowledging new messages (QoS 1
    /// messages then wait on the broker; QoS 0 messages are dropped and counted).
    pub max_inbox: u64,
    /// Direct mode: while the inbox is empty, a small batch of incoming MQTT events is fired
    /// through the sink at once and acknowledged to the broker after the sink recorded it, without
    /// the inbox's own fsync (about one disk sync less latency per message). Events the sink does
    /// not take go to the inbox as usual. Off by default: every event then passes the inbox.
    pub direct_fire: bool,
}

impl Default for FeedsOptions {
    fn default() -> Self {
        FeedsOptions {
            clock: Arc::new(SystemClock),
            reconnect_max: Duration::from_secs(10),
            keep_alive: Duration::from_secs(15),
            max_packet_bytes: 4 * 1024 * 1024,
            max_body_bytes: 256 * 1024,
            max_inbox: 1_000_000,
            direct_fire: false,
        }
    }
}

impl std::fmt::Debug for FeedsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedsOptions")
            .field("reconnect_max", &self.reconnect_max)
            .field("keep_alive", &self.keep_alive)
            .field("max_packet_bytes", &self.max_packet_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_inbox", &self.max_inbox)
            .field("direct_fire", &self.direct_fire)
            .finish_non_exhaustive()
    }
}

/// What every part of the feeds shares.
pub(crate) struct Shared {
    pub store: Arc<Store>,
    pub sink: Arc<dyn TriggerSink>,
    pub stats: Stats,
    /// Wakes the inbox worker when events were committed.
    pub inbox_ready: Notify,
    /// Cancelled on shutdown (a child of the agent's stop token).
    pub cancel: CancellationToken,
    /// Every task the feeds spawn, so shutdown can wait for all of them.
    pub tracker: TaskTracker,
    pub options: FeedsOptions,
}

impl Shared {
    /// Runs a blocking store call off the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, FeedError> + Send + 'static,
    ) -> Result<T, FeedError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| FeedError::Internal(format!("store task failed: {e}")))?
    }
}

/// The running feeds of one agent.
pub struct Feeds {
    shared: Arc<Shared>,
    mqtt: Arc<mqtt::MqttFeed>,
    alarms: Arc<alarms::AlarmFeed>,
}

impl Feeds {
    /// Opens `<data_dir>/feeds.redb`, restores every persisted subscription and schedule, replays
    /// the inbox and starts firing through `sink`. Everything stops when `stop` is cancelled or
    /// [`Feeds::shutdown`] is called.
    pub async fn start(
        data_dir: &Path,
        sink: Arc<dyn TriggerSink>,
        stop: CancellationToken,
    ) -> Result<Self, FeedError> {
        Self::start_with(data_dir, sink, stop, FeedsOptions::default()).await
    }

    /// [`Feeds::start`] with explicit options.
    pub async fn start_with(
        data_dir: &Path,
        sink: Arc<dyn TriggerSink>,
        stop: CancellationToken,
        options: FeedsOptions,
    ) -> Result<Self, FeedError> {
        let dir = data_dir.to_path_buf();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await
            .map_err(|e| FeedError::Internal(format!("store task failed: {e}")))??;
        let store = Arc::new(store);
        let shared = Arc::new(Shared {
            store,
            sink,
            stats: Stats::default(),
            inbox_ready: Notify::new(),
            cancel: stop.child_token(),
            tracker: TaskTracker::new(),
            options,
        });
        let depth = shared.blocking(|s| s.inbox_len()).await?;
        Stats::add(&shared.stats.inbox_depth, depth);
        let writer = inbox::spawn_writer(shared.clone());
        let mqtt = Arc::new(mqtt::MqttFeed::new(shared.clone(), writer));
        let alarms = Arc::new(alarms::AlarmFeed::new(shared.clone()));
        mqtt.restore().await?;
        alarms.restore().await?;
        worker::spawn_worker(shared.clone(), mqtt.clone(), alarms.clone());
        Ok(Feeds { shared, mqtt, alarms })
    }

    /// Runs the `mqtt_feed` action: returns its result, or the error for `{error}`.
    pub async fn mqtt(&self, req: FeedRequest) -> Result<Value, FeedError> {
        self.mqtt.handle(req).await
    }

    /// Runs `alarms/alarm`, `alarms/once` or `alarms/interval`.
    pub async fn alarm(&self, kind: AlarmKind, req: FeedRequest) -> Result<Value, FeedError> {
        self.alarms.handle(kind, req).await
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FeedStats {
        let s = &self.shared.stats;
        let (brokers, subscriptions) = self.mqtt.counts();
        FeedStats {
            mqtt_brokers: brokers,
            mqtt_connected: Stats::get(&s.mqtt_connected),
            mqtt_subscriptions: subscriptions,
            mqtt_messages: Stats::get(&s.mqtt_messages),
            mqtt_duplicates: Stats::get(&s.mqtt_duplicates),
            mqtt_dropped: Stats::get(&s.mqtt_dropped),
            bad_messages: Stats::get(&s.bad_messages),
            fires_ok: Stats::get(&s.fires_ok),
            fires_failed: Stats::get(&s.fires_failed),
            inbox_depth: Stats::get(&s.inbox_depth),
            alarms_scheduled: self.alarms.count(),
            alarm_fires: Stats::get(&s.alarm_fires),
        }
    }

    /// Stops every task (connections, writer, worker, scheduler) and waits for them to finish.
    /// Events not yet acknowledged stay on the broker; events in the inbox are fired after the
    /// next start.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}

impl Drop for Feeds {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

/// Milliseconds since the epoch of the clock's now.
pub(crate) fn now_ms(clock: &dyn Clock) -> i64 {
    clock.now().timestamp_millis()
}

/// ISO-8601 text of an epoch-ms instant.
pub(crate) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
