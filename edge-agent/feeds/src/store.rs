//! The feeds' own durable state (`<data>/feeds.redb`): subscriptions, broker sessions, alarm
//! schedules and the inbox of events waiting to be fired. All calls are blocking: run them on
//! `spawn_blocking`.

use std::path::Path;

use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use crate::{error::FeedError, sink::Retire};

/// MQTT subscriptions by trigger (`/ns/name` → JSON).
pub(crate) const SUBSCRIPTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("mqtt_subscriptions");
/// Per-broker session state by broker key (client id, filters subscribed on the broker).
pub(crate) const BROKERS: TableDefinition<&str, &[u8]> = TableDefinition::new("mqtt_brokers");
/// Last QoS 1 message recorded per (client id, packet id), to drop broker redeliveries.
const DEDUP: TableDefinition<&str, &[u8]> = TableDefinition::new("mqtt_dedup");
/// Alarm schedules by trigger.
pub(crate) const ALARMS: TableDefinition<&str, &[u8]> = TableDefinition::new("alarms");
/// Events waiting to be fired, in arrival order.
const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("inbox");
/// Counters (next inbox sequence number).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Where an inbox event came from, so a vanished trigger is forgotten by the right feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Source {
    Mqtt,
    Alarm,
}

/// One event to fire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InboxEntry {
    pub trigger: String,
    pub payload: Value,
    pub source: Source,
    /// For `alarms/once`: what to do with the trigger once the fire is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire: Option<Retire>,
}

/// A recorded QoS 1 delivery: its content hash and the id its events got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DedupRecord {
    pub hash: u64,
    pub msg_id: String,
}

/// A JSON table of this store.
pub(crate) type JsonTable = TableDefinition<'static, &'static str, &'static [u8]>;

/// Everything one durable commit writes (one fsync for a whole batch of messages).
#[derive(Default, Clone)]
pub(crate) struct Batch {
    pub events: Vec<InboxEntry>,
    pub dedup: Vec<(String, DedupRecord)>,
    pub puts: Vec<(JsonTable, String, Vec<u8>)>,
    /// Broker redeliveries recognised while preparing the batch (for the stats only).
    pub duplicates: u64,
}

pub(crate) struct Store {
    db: Database,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Store, FeedError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| FeedError::Internal(format!("cannot create {}: {e}", data_dir.display())))?;
        let db = Database::create(data_dir.join("feeds.redb"))?;
        let tx = db.begin_write()?;
        {
            tx.open_table(SUBSCRIPTIONS)?;
            tx.open_table(BROKERS)?;
            tx.open_table(DEDUP)?;
            tx.open_table(ALARMS)?;
            tx.open_table(INBOX)?;
            tx.open_table(META)?;
        }
        tx.commit()?;
        Ok(Store { db })
    }

    /// Every record of a JSON table, skipping (and logging) records that no longer parse.
    pub fn load_all<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, T)>, FeedError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(table)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            match serde_json::from_slice(v.value()) {
                Ok(rec) => out.push((k.value().to_string(), rec)),
                Err(e) => {
                    tracing::error!(key = k.value(), error = %e, "unreadable feed record skipped")
                }
            }
        }
        Ok(out)
    }

    pub fn get<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, FeedError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(table)?;
        let v = t.get(key)?;
        Ok(v.and_then(|v| serde_json::from_slice(v.value()).ok()))
    }

    pub fn put<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &T,
    ) -> Result<(), FeedError> {
        let bytes = serde_json::to_vec(value).map_err(|e| FeedError::Internal(e.to_string()))?;
        let tx = self.db.begin_write()?;
        tx.open_table(table)?.insert(key, bytes.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete(&self, table: TableDefinition<&str, &[u8]>, key: &str) -> Result<bool, FeedError> {
        let tx = self.db.begin_write()?;
        let existed = tx.open_table(table)?.remove(key)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    /// The recorded delivery for a broker packet id, if any.
    pub fn dedup(&self, key: &str) -> Result<Option<DedupRecord>, FeedError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DEDUP)?;
        let v = t.get(key)?;
        Ok(v.and_then(|v| serde_json::from_slice(v.value()).ok()))
    }

    /// Writes a batch in one durable (fsynced) commit; returns how many events were appended.
    pub fn commit(&self, batch: Batch) -> Result<u64, FeedError> {
        let n = batch.events.len() as u64;
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        {
            let mut meta = tx.open_table(META)?;
            let mut seq = meta.get("next_seq")?.map(|v| v.value()).unwrap_or(1);
            let mut inbox = tx.open_table(INBOX)?;
            for ev in &batch.events {
                let bytes = serde_json::to_vec(ev).map_err(|e| FeedError::Internal(e.to_string()))?;
                inbox.insert(seq, bytes.as_slice())?;
                seq += 1;
            }
            meta.insert("next_seq", seq)?;
            let mut dedup = tx.open_table(DEDUP)?;
            for (k, rec) in &batch.dedup {
                let bytes = serde_json::to_vec(rec).map_err(|e| FeedError::Internal(e.to_string()))?;
                dedup.insert(k.as_str(), bytes.as_slice())?;
            }
            for (table, k, v) in &batch.puts {
                tx.open_table(*table)?.insert(k.as_str(), v.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// The oldest `limit` inbox events.
    pub fn inbox_head(&self, limit: usize) -> Result<Vec<(u64, InboxEntry)>, FeedError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(INBOX)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for row in t.iter()?.take(limit) {
            let (k, v) = row?;
            match serde_json::from_slice(v.value()) {
                Ok(e) => out.push((k.value(), e)),
                Err(e) => {
                    tracing::error!(seq = k.value(), error = %e, "unreadable inbox entry dropped");
                    out.push((
                        k.value(),
                        InboxEntry { trigger: String::new(), payload: Value::Null, source: Source::Mqtt, retire: None },
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Removes fired inbox events. Not fsynced: a removal lost in a crash only means the event is
    /// fired again (at least once); the next durable commit persists it.
    pub fn inbox_remove(&self, seqs: &[u64]) -> Result<(), FeedError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Eventual);
        {
            let mut t = tx.open_table(INBOX)?;
            for s in seqs {
                t.remove(*s)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn inbox_len(&self) -> Result<u64, FeedError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(INBOX)?.len()?)
    }
}

/// Serializes a record for [`Batch::puts`].
pub(crate) fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, FeedError> {
    serde_json::to_vec(value).map_err(|e| FeedError::Internal(e.to_string()))
}
