//! Telemetry readings: validated, idempotent batch writes and retention. Statistics are in [`stats`].

pub mod days;
pub mod stats;
pub(crate) mod writer;

use std::collections::{BTreeSet, HashMap};

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

pub use stats::DayStat;

use crate::error::{ReadingField, Result, SiteError};
use crate::keys;
use crate::store::{check_ns, SiteStore, ACTIVITY, META, READINGS, REPORTED, SERIES};

/// Adds validated readings to an open write transaction (see [`SiteStore::write`]).
pub(crate) fn write_in(txn: &redb::WriteTransaction, ns: &str, readings: &[Reading]) -> Result<WriteSummary> {
    let mut summary = WriteSummary::default();
    let mut table = txn.open_table(READINGS)?;
    let mut series_seen: HashMap<(u32, &str), Vec<u8>> = HashMap::new();
    let mut buckets: HashMap<i64, u64> = HashMap::new();
    for (index, r) in readings.iter().enumerate() {
        let series = series_seen
            .entry((r.datacenter_id, r.metric.as_str()))
            .or_insert_with(|| keys::series_prefix(ns, r.datacenter_id, &r.metric));
        let key = keys::reading_key(series, r.ts, &r.device);
        if table.get(key.as_slice())?.is_some() {
            summary.duplicates += 1;
            summary.duplicate_indexes.push(index);
            continue;
        }
        table.insert(key.as_slice(), r.value)?;
        summary.written += 1;
        *buckets.entry(keys::bucket_of(r.ts)).or_default() += 1;
    }
    let mut series_table = txn.open_table(SERIES)?;
    for prefix in series_seen.values() {
        series_table.insert(prefix.as_slice(), ())?;
    }
    let mut activity = txn.open_table(ACTIVITY)?;
    for (bucket, n) in buckets {
        let key = keys::bucket_key(ns, bucket);
        let old = activity.get(key.as_slice())?.map_or(0, |v| v.value());
        activity.insert(key.as_slice(), old + n)?;
    }
    Ok(summary)
}

/// Readings after year 9999 are refused (chrono's range, and surely a unit mistake).
pub const MAX_TS_MS: i64 = 253_402_300_799_999;

/// One measurement of one metric by one device (also the JSON shape of the telemetry API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Datacenter of the device (the sensor's `datacenter_id`).
    pub datacenter_id: u32,
    /// Device fingerprint.
    pub device: String,
    /// Metric name, e.g. `temperature`.
    pub metric: String,
    /// Measured value; must be finite.
    pub value: f64,
    /// Time of the measurement, epoch milliseconds.
    pub ts: i64,
}

/// Outcome of a batch write.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteSummary {
    /// Readings stored by this write.
    pub written: usize,
    /// Readings already stored under the same (namespace, datacenter, device, metric, ts): not counted twice.
    pub duplicates: usize,
    /// Positions (in the request) of the duplicate readings, so a caller that combined the readings of
    /// several messages can tell each its own outcome.
    pub duplicate_indexes: Vec<usize>,
}

fn invalid(index: usize, field: ReadingField, reason: impl Into<String>) -> SiteError {
    SiteError::InvalidReading { index, field, reason: reason.into() }
}

fn check_name(index: usize, field: ReadingField, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(invalid(index, field, "must not be empty"));
    }
    if s.len() > keys::MAX_NAME {
        return Err(invalid(index, field, format!("is {} bytes long, at most {} allowed", s.len(), keys::MAX_NAME)));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(index, field, "must not contain control characters"));
    }
    Ok(())
}

/// Whether `s` is a metric name the hub accepts (so a queued aggregate can never be refused for it).
pub fn is_metric_name(s: &str) -> bool {
    let first = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Checks one reading; `index` names it in the error.
pub fn validate(index: usize, r: &Reading) -> Result<()> {
    check_name(index, ReadingField::Device, &r.device)?;
    check_name(index, ReadingField::Metric, &r.metric)?;
    if !is_metric_name(&r.metric) {
        return Err(invalid(
            index,
            ReadingField::Metric,
            format!("{:?}: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or '_'", r.metric),
        ));
    }
    if !r.value.is_finite() {
        return Err(invalid(index, ReadingField::Value, format!("{} is not a finite number", r.value)));
    }
    if !(0..=MAX_TS_MS).contains(&r.ts) {
        return Err(invalid(
            index,
            ReadingField::Ts,
            format!("{} is outside 0..={MAX_TS_MS} epoch milliseconds", r.ts),
        ));
    }
    Ok(())
}

impl SiteStore {
    /// Writes a batch of readings of namespace `ns` durably (the call returns after the commit).
    ///
    /// Idempotent on (ns, datacenter, device, metric, ts): a reading already stored is counted as a
    /// duplicate and left as it was, so replays never double-count. Any invalid reading rejects the
    /// whole batch with [`SiteError::InvalidReading`] naming it. Concurrent calls are committed
    /// together (group commit), each batch still all-or-nothing. Blocking: call it from a blocking
    /// thread, or use [`Self::write_async`].
    pub fn write(&self, ns: &str, readings: &[Reading]) -> Result<WriteSummary> {
        check_ns(ns)?;
        for (i, r) in readings.iter().enumerate() {
            validate(i, r)?;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.inner.writer.submit(writer::WriteRequest {
            ns: ns.to_string(),
            readings: readings.to_vec(),
            reply: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        });
        rx.recv().map_err(|_| SiteError::Task("the telemetry writer dropped the request".into()))?
    }

    /// [`Self::write`] for async callers: waits for the commit without blocking the runtime.
    pub async fn write_async(&self, ns: &str, readings: Vec<Reading>) -> Result<WriteSummary> {
        check_ns(ns)?;
        for (i, r) in readings.iter().enumerate() {
            validate(i, r)?;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.writer.submit(writer::WriteRequest {
            ns: ns.to_string(),
            readings,
            reply: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        });
        rx.await.map_err(|_| SiteError::Task("the telemetry writer dropped the request".into()))?
    }

    /// Deletes readings older than `days` days before now (rounded down to 15 minutes) in every
    /// namespace; returns how many were removed. Days that start before the cut-off are never
    /// reported afterwards, so a partly purged day cannot overwrite a complete report at the hub.
    pub fn purge_older_than(&self, days: u32) -> Result<u64> {
        let now = chrono::Utc::now().timestamp_millis();
        self.purge_before(now - i64::from(days) * 86_400_000)
    }

    /// Deletes readings with `ts` before `cutoff_ms` (rounded down to 15 minutes); see [`Self::purge_older_than`].
    pub fn purge_before(&self, cutoff_ms: i64) -> Result<u64> {
        let cutoff = keys::bucket_of(cutoff_ms);
        let txn = self.db().begin_write()?;
        let mut removed = 0u64;
        {
            let series: Vec<Vec<u8>> = {
                let t = txn.open_table(SERIES)?;
                let mut v = Vec::new();
                for e in t.iter()? {
                    v.push(e?.0.value().to_vec());
                }
                v
            };
            let mut readings = txn.open_table(READINGS)?;
            for s in &series {
                let lo = keys::ts_bound(s, i64::MIN);
                let hi = keys::ts_bound(s, cutoff);
                readings.retain_in(lo.as_slice()..hi.as_slice(), |_, _| {
                    removed += 1;
                    false
                })?;
            }
            let mut activity = txn.open_table(ACTIVITY)?;
            let namespaces: BTreeSet<Vec<u8>> = series.iter().filter_map(|s| ns_of_key(s)).collect();
            for ns in &namespaces {
                let mut lo = ns.clone();
                lo.extend_from_slice(&keys::enc_ts(i64::MIN));
                let mut hi = ns.clone();
                hi.extend_from_slice(&keys::enc_ts(cutoff));
                activity.retain_in(lo.as_slice()..hi.as_slice(), |_, _| false)?;
            }
            let mut reported = txn.open_table(REPORTED)?;
            let cutoff_day =
                chrono::DateTime::from_timestamp_millis(cutoff).map(|d| d.date_naive() - chrono::Days::new(2));
            if let Some(cutoff_day) = cutoff_day {
                let stale = cutoff_day.format("%Y-%m-%d").to_string();
                reported.retain(|k, _| match ns_of_key(k) {
                    Some(ns) => k[ns.len()..] >= *stale.as_bytes(),
                    None => true,
                })?;
            }
            let mut meta = txn.open_table(META)?;
            let old = meta.get("purged_before_ms")?.map_or(i64::MIN, |v| v.value());
            meta.insert("purged_before_ms", old.max(cutoff))?;
        }
        txn.commit()?;
        Ok(removed)
    }
}

/// The `len | ns` prefix of a key.
fn ns_of_key(k: &[u8]) -> Option<Vec<u8>> {
    let len = u16::from_be_bytes(k.get(..2)?.try_into().ok()?) as usize;
    k.get(..2 + len).map(<[u8]>::to_vec)
}
