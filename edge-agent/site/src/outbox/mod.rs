//! The durable outbox of aggregate records (a FIFO keyed by a monotonic sequence) and its statistics.
//! Delivery to the hub is in [`delivery`].

pub mod delivery;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use fogwhisk_wire::AggregateRecord;
use redb::{ReadableTable, ReadableTableMetadata};
use serde::Serialize;

pub use delivery::{spawn_delivery, spawn_delivery_with, DeliveryConfig, HubTarget};

use crate::error::{Result, SiteError};
use crate::store::{SiteStore, OUTBOX};

/// Counters kept by the delivery task (reset when the process starts).
#[derive(Debug, Default)]
pub(crate) struct DeliveryCounters {
    pub(crate) delivered: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

/// State of the outbox, for `/metrics` and status pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxStats {
    /// Records waiting for delivery.
    pub depth: u64,
    /// Age in seconds of the oldest waiting record (0 when empty).
    pub oldest_age_secs: f64,
    /// Records the hub acknowledged since this process started.
    pub delivered: u64,
    /// Batches the hub acknowledged since this process started.
    pub delivered_batches: u64,
    /// Failed delivery attempts since this process started.
    pub failures: u64,
    /// The last delivery error, if any (never contains credentials).
    pub last_error: Option<String>,
}

/// One queued record.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Sequence number (monotonic, never reused).
    pub seq: u64,
    /// When it was queued, epoch ms.
    pub enqueued_ms: i64,
    /// The record.
    pub record: AggregateRecord,
}

impl SiteStore {
    /// The oldest `limit` entries, oldest first.
    pub fn outbox_peek(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for entry in table.iter()?.take(limit) {
            let (k, v) = entry?;
            let (enqueued_ms, json) = v.value();
            let seq = k.value();
            let record = serde_json::from_str(json).map_err(|source| SiteError::CorruptEntry { seq, source })?;
            out.push(OutboxEntry { seq, enqueued_ms, record });
        }
        Ok(out)
    }

    /// Deletes exactly these entries (after the hub acknowledged them).
    pub fn outbox_remove(&self, seqs: &[u64]) -> Result<()> {
        let txn = self.db().begin_write()?;
        {
            let mut table = txn.open_table(OUTBOX)?;
            for s in seqs {
                table.remove(*s)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Depth, age of the oldest record, and the delivery counters.
    pub fn outbox_stats(&self) -> Result<OutboxStats> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(OUTBOX)?;
        let depth = table.len()?;
        let now = chrono::Utc::now().timestamp_millis();
        let oldest_age_secs = match table.first()? {
            Some((_, v)) => (now - v.value().0).max(0) as f64 / 1000.0,
            None => 0.0,
        };
        let c = &self.inner.counters;
        Ok(OutboxStats {
            depth,
            oldest_age_secs,
            delivered: c.delivered.load(Ordering::Relaxed),
            delivered_batches: c.batches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            last_error: c.last_error.lock().map(|g| g.clone()).unwrap_or(None),
        })
    }
}
