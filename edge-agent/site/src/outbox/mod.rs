//! The durable outbox of aggregate records (a FIFO keyed by a monotonic sequence) and its statistics.
//! Delivery to the hub is in [`delivery`]; the operator's dead-letter client in [`operator`].

pub mod delivery;
pub mod operator;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use fogwhisk_wire::AggregateRecord;
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;

pub use delivery::{spawn_delivery, spawn_delivery_with, DeliveryConfig, HubTarget};

use crate::error::{Result, SiteError};
use crate::store::{meta_get, SiteStore, META, OUTBOX};

/// Dead letters: outbox sequence → (enqueued at, set aside at (epoch ms), record as JSON, the hub's reason).
/// Created on first use, so stores made before it existed open unchanged.
pub(crate) const DEAD_LETTERS: TableDefinition<u64, (i64, i64, &str, &str)> = TableDefinition::new("dead_letters");

/// Counters kept by the delivery task (reset when the process starts).
#[derive(Debug, Default)]
pub(crate) struct DeliveryCounters {
    pub(crate) delivered: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
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
    /// Records the hub refused that were set aside (the dead-letter list, kept across restarts).
    pub dead_letters: u64,
    /// Records set aside since this process started.
    pub dead_lettered: u64,
}

/// A record the hub refused, set aside so the records behind it could be delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// Its outbox sequence number.
    pub seq: u64,
    /// When it was queued, epoch ms.
    pub enqueued_ms: i64,
    /// When it was set aside, epoch ms.
    pub dead_ms: i64,
    /// The hub's reason (status, code and the record's problems).
    pub reason: String,
    /// The record.
    pub record: AggregateRecord,
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

    /// Moves these outbox entries to the dead-letter list with their reasons, in one transaction.
    pub fn outbox_dead_letter(&self, refused: &[(u64, String)]) -> Result<usize> {
        let now = chrono::Utc::now().timestamp_millis();
        let txn = self.db().begin_write()?;
        let mut moved = 0;
        {
            let mut outbox = txn.open_table(OUTBOX)?;
            let mut dead = txn.open_table(DEAD_LETTERS)?;
            for (seq, reason) in refused {
                let Some(v) = outbox.remove(*seq)? else { continue };
                let (enqueued_ms, json) = v.value();
                dead.insert(*seq, (enqueued_ms, now, json, reason.as_str()))?;
                moved += 1;
            }
        }
        txn.commit()?;
        Ok(moved)
    }

    /// The dead-letter list, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let txn = self.db().begin_read()?;
        let table = match txn.open_table(DEAD_LETTERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let seq = k.value();
            let (enqueued_ms, dead_ms, json, reason) = v.value();
            let record = serde_json::from_str(json).map_err(|source| SiteError::CorruptEntry { seq, source })?;
            out.push(DeadLetter { seq, enqueued_ms, dead_ms, reason: reason.to_string(), record });
        }
        Ok(out)
    }

    /// Puts dead letters back at the END of the outbox (new sequence numbers), all of them when
    /// `seqs` is `None`; returns how many. For the operator once the cause is fixed.
    pub fn dead_letters_requeue(&self, seqs: Option<&[u64]>) -> Result<usize> {
        let now = chrono::Utc::now().timestamp_millis();
        let txn = self.db().begin_write()?;
        let mut moved = 0;
        {
            let mut dead = txn.open_table(DEAD_LETTERS)?;
            let chosen: Vec<u64> = match seqs {
                Some(s) => s.to_vec(),
                None => dead.iter()?.map(|e| e.map(|(k, _)| k.value())).collect::<std::result::Result<_, _>>()?,
            };
            let mut meta = txn.open_table(META)?;
            let mut next = meta_get(&meta, "next_seq")?.unwrap_or(1);
            let mut outbox = txn.open_table(OUTBOX)?;
            for seq in chosen {
                let Some(v) = dead.remove(seq)? else { continue };
                let (_, _, json, _) = v.value();
                outbox.insert(next as u64, (now, json))?;
                next += 1;
                moved += 1;
            }
            meta.insert("next_seq", next)?;
        }
        txn.commit()?;
        if moved > 0 {
            self.inner.outbox_notify.notify_one();
        }
        Ok(moved)
    }

    /// Deletes dead letters for good, all of them when `seqs` is `None`; returns how many.
    pub fn dead_letters_drop(&self, seqs: Option<&[u64]>) -> Result<usize> {
        let txn = self.db().begin_write()?;
        let mut dropped = 0;
        {
            let mut dead = txn.open_table(DEAD_LETTERS)?;
            let chosen: Vec<u64> = match seqs {
                Some(s) => s.to_vec(),
                None => dead.iter()?.map(|e| e.map(|(k, _)| k.value())).collect::<std::result::Result<_, _>>()?,
            };
            for seq in chosen {
                if dead.remove(seq)?.is_some() {
                    dropped += 1;
                }
            }
        }
        txn.commit()?;
        Ok(dropped)
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
        let dead_letters = match txn.open_table(DEAD_LETTERS) {
            Ok(t) => t.len()?,
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        let c = &self.inner.counters;
        Ok(OutboxStats {
            dead_letters,
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            depth,
            oldest_age_secs,
            delivered: c.delivered.load(Ordering::Relaxed),
            delivered_batches: c.batches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            last_error: c.last_error.lock().map(|g| g.clone()).unwrap_or(None),
        })
    }
}
