//! Counters of the feeds, read by the agent's `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the feeds' counters and gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedStats {
    /// Brokers with a connection task (one per broker URL and credentials).
    pub mqtt_brokers: u64,
    /// Brokers currently connected.
    pub mqtt_connected: u64,
    /// MQTT subscriptions (triggers using the MQTT feed), paused ones included.
    pub mqtt_subscriptions: u64,
    /// MQTT messages received from brokers.
    pub mqtt_messages: u64,
    /// Duplicates of already recorded QoS 1 messages redelivered by a broker, acknowledged and dropped.
    pub mqtt_duplicates: u64,
    /// QoS 0 messages dropped because the inbox was full.
    pub mqtt_dropped: u64,
    /// Messages that were not UTF-8 or too large (fired with an `error` field).
    pub bad_messages: u64,
    /// Trigger fires the sink recorded.
    pub fires_ok: u64,
    /// Fire attempts that failed (retried or dropped).
    pub fires_failed: u64,
    /// Events waiting in the durable inbox.
    pub inbox_depth: u64,
    /// Alarm schedules (alarm, once, interval), inactive ones included.
    pub alarms_scheduled: u64,
    /// Alarm fires put in the inbox.
    pub alarm_fires: u64,
}

/// The live counters behind [`FeedStats`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub mqtt_connected: AtomicU64,
    pub mqtt_messages: AtomicU64,
    pub mqtt_duplicates: AtomicU64,
    pub mqtt_dropped: AtomicU64,
    pub bad_messages: AtomicU64,
    pub fires_ok: AtomicU64,
    pub fires_failed: AtomicU64,
    pub inbox_depth: AtomicU64,
    pub alarm_fires: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        // Saturating: a gauge must never wrap below zero.
        let _ = counter.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)));
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}
