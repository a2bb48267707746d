//! Aggregate rows keyed by (site, datacenter, metric, day), written together with their queue lines.

use chrono::{DateTime, Utc};
use fogwhisk_wire::AggregateRecord;
use redb::ReadableTable;

use super::{queue, SiteRecord, Store, StoreError, AGGREGATES, SITES};

/// An aggregate as stored: the record, who sent it, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Reporting site.
    pub site: String,
    /// The record as last received.
    pub record: AggregateRecord,
    /// When this version was stored.
    pub received_at: DateTime<Utc>,
}

/// Which aggregates a query wants; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AggregateFilter {
    /// Only this site.
    pub site: Option<String>,
    /// Only this datacenter.
    pub datacenter_id: Option<u32>,
    /// Only this metric.
    pub metric: Option<String>,
    /// First day (inclusive, `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Last day (inclusive, `YYYY-MM-DD`).
    pub to: Option<String>,
}

impl AggregateFilter {
    fn matches(&self, r: &StoredRecord) -> bool {
        self.datacenter_id.is_none_or(|d| d == r.record.datacenter_id)
            && self.metric.as_deref().is_none_or(|m| m == r.record.metric)
            && self.from.as_deref().is_none_or(|f| r.record.day.as_str() >= f)
            && self.to.as_deref().is_none_or(|t| r.record.day.as_str() <= t)
    }
}

/// The row key: sorts by site, then day, datacenter and metric, so a site's daily batch lands in one
/// contiguous key range (cheap inserts) and day ranges are range scans.
fn key(site: &str, r: &AggregateRecord) -> String {
    format!("{site}\u{0}{}\u{0}{:010}\u{0}{}", r.day, r.datacenter_id, r.metric)
}

/// The row value: received-at (ms), count, min, max, mean, median (8 bytes each, big-endian), then the zone.
/// Compact and fixed-layout because ingest writes one per record.
fn encode(r: &AggregateRecord, received_at: DateTime<Utc>) -> Vec<u8> {
    let mut v = Vec::with_capacity(48 + r.tz.len());
    v.extend_from_slice(&received_at.timestamp_millis().to_be_bytes());
    v.extend_from_slice(&r.count.to_be_bytes());
    for f in [r.min, r.max, r.mean, r.median] {
        v.extend_from_slice(&f.to_be_bytes());
    }
    v.extend_from_slice(r.tz.as_bytes());
    v
}

fn decode(key: &str, value: &[u8]) -> Option<StoredRecord> {
    let mut parts = key.split('\u{0}');
    let (site, day, dc, metric) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?, parts.next()?);
    let word = |i: usize| -> Option<[u8; 8]> { value.get(i * 8..i * 8 + 8)?.try_into().ok() };
    let float = |i: usize| word(i).map(f64::from_be_bytes);
    Some(StoredRecord {
        site: site.to_string(),
        record: AggregateRecord {
            datacenter_id: dc,
            metric: metric.to_string(),
            day: day.to_string(),
            tz: String::from_utf8_lossy(value.get(48..)?).into_owned(),
            count: u64::from_be_bytes(word(1)?),
            min: float(2)?,
            max: float(3)?,
            mean: float(4)?,
            median: float(5)?,
        },
        received_at: DateTime::from_timestamp_millis(i64::from_be_bytes(word(0)?))?,
    })
}

fn decode_row(key: &str, value: &[u8]) -> Result<StoredRecord, StoreError> {
    decode(key, value).ok_or_else(|| StoreError::Corrupt(format!("aggregate row {key:?}")))
}

impl Store {
    /// Stores a validated batch for `site` in one transaction: upserts every record, queues `lines`
    /// for InfluxDB (if any) and sets the site's last report time. Returns (accepted, replaced).
    pub fn upsert_batch(
        &self,
        site: &str,
        records: &[AggregateRecord],
        lines: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let txn = self.db().begin_write()?;
        let mut replaced = 0;
        {
            let mut sites = txn.open_table(SITES)?;
            let mut row: SiteRecord = match sites.get(site)? {
                Some(v) => serde_json::from_slice(v.value())?,
                None => return Err(StoreError::Missing(format!("site {site:?}"))),
            };
            row.last_report = Some(now);
            sites.insert(site, serde_json::to_vec(&row)?.as_slice())?;
            let mut aggs = txn.open_table(AGGREGATES)?;
            for r in records {
                if aggs.insert(key(site, r).as_str(), encode(r, now).as_slice())?.is_some() {
                    replaced += 1;
                }
            }
        }
        queue::push_lines(&txn, now.timestamp_millis(), lines)?;
        txn.commit()?;
        Ok((records.len(), replaced))
    }

    /// Aggregates matching `filter`, ordered by site, day, datacenter, metric; at most `limit`.
    pub fn query_aggregates(&self, filter: &AggregateFilter, limit: usize) -> Result<Vec<StoredRecord>, StoreError> {
        let txn = self.db().begin_read()?;
        let aggs = txn.open_table(AGGREGATES)?;
        let iter = match &filter.site {
            Some(site) => {
                let lo = format!("{site}\u{0}{}", filter.from.as_deref().unwrap_or(""));
                let hi = match filter.to.as_deref() {
                    Some(to) => format!("{site}\u{0}{to}\u{1}"),
                    None => format!("{site}\u{1}"),
                };
                aggs.range(lo.as_str()..hi.as_str())?
            }
            None => aggs.range::<&str>(..)?,
        };
        let mut out = Vec::new();
        for row in iter {
            let (k, v) = row?;
            let rec = decode_row(k.value(), v.value())?;
            if filter.matches(&rec) {
                out.push(rec);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Queues a line for every stored aggregate (`line_of` renders it) in one transaction, in rows of
    /// `chunk` lines; returns how many were queued. Used by backfill.
    pub fn enqueue_all(
        &self,
        chunk: usize,
        line_of: impl Fn(&StoredRecord) -> Option<String>,
    ) -> Result<usize, StoreError> {
        let txn = self.db().begin_write()?;
        let mut lines = Vec::new();
        {
            let aggs = txn.open_table(AGGREGATES)?;
            for row in aggs.iter()? {
                let (k, v) = row?;
                let rec = decode_row(k.value(), v.value())?;
                lines.extend(line_of(&rec));
            }
        }
        let n = lines.len();
        let now = Utc::now().timestamp_millis();
        let mut rest = lines.into_iter().peekable();
        while rest.peek().is_some() {
            queue::push_lines(&txn, now, rest.by_ref().take(chunk.max(1)).collect())?;
        }
        txn.commit()?;
        Ok(n)
    }
}
