//! Per-day statistics (count, min, max, mean, median) by datacenter and metric, computed by the store.
//!
//! One day of one series is one contiguous key range (see [`crate::keys`]), so a day costs one
//! range scan; the median is found by selection, not by sorting.

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use fogwhisk_wire::AggregateRecord;
use redb::ReadTransaction;
use serde::{Deserialize, Serialize};

use super::days::day_start_ms;
use crate::error::{Result, SiteError};
use crate::keys;
use crate::store::{check_ns, SiteStore, READINGS, SERIES};

/// Most days one `daily_stats` call may cover.
pub const MAX_RANGE_DAYS: u64 = 366;

/// Statistics of one local day of one (datacenter, metric).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayStat {
    /// Local day, serialized `YYYY-MM-DD`.
    pub day: NaiveDate,
    /// Datacenter.
    pub datacenter_id: u32,
    /// Metric name.
    pub metric: String,
    /// Number of readings (at least 1: days without readings are not listed).
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (mean of the two middle values when the count is even).
    pub median: f64,
}

impl DayStat {
    /// The wire record for the hub, computed in zone `tz`.
    pub fn to_record(&self, tz: Tz) -> AggregateRecord {
        AggregateRecord {
            datacenter_id: self.datacenter_id,
            metric: self.metric.clone(),
            day: self.day.format("%Y-%m-%d").to_string(),
            tz: tz.name().to_string(),
            count: self.count,
            min: self.min,
            max: self.max,
            mean: self.mean,
            median: self.median,
        }
    }
}

/// Statistics of a non-empty slice of finite values (reordered in place). `None` when empty.
pub fn summarize(values: &mut [f64]) -> Option<(f64, f64, f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for &v in values.iter() {
        min = min.min(v);
        max = max.max(v);
        sum += v;
    }
    let mean = (sum / n as f64).clamp(min, max);
    let (left, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    let median = if n % 2 == 1 {
        upper
    } else {
        let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lower + (upper - lower) / 2.0
    };
    Some((min, max, mean, median))
}

impl SiteStore {
    /// Statistics for every local day in `from..=to` (in zone `tz`) of namespace `ns`, grouped by
    /// datacenter and metric, ordered by day, datacenter, metric. Days without readings are omitted.
    pub fn daily_stats(&self, ns: &str, from: NaiveDate, to: NaiveDate, tz: Tz) -> Result<Vec<DayStat>> {
        check_ns(ns)?;
        if to < from {
            return Err(SiteError::InvalidRange { from, to, reason: "the last day is before the first" });
        }
        if (to - from).num_days() as u64 >= MAX_RANGE_DAYS {
            return Err(SiteError::InvalidRange { from, to, reason: "at most 366 days per request" });
        }
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let mut bounds: Vec<i64> = days.iter().map(|d| day_start_ms(*d, tz)).collect();
        bounds.push(to.checked_add_days(Days::new(1)).map_or(i64::MAX, |d| day_start_ms(d, tz)));
        let txn = self.db().begin_read()?;
        let mut out = Vec::new();
        for (dc, metric, prefix) in list_series(&txn, ns)? {
            scan_series(&txn, &prefix, &bounds, |idx, values| {
                if let Some((min, max, mean, median)) = summarize(values) {
                    out.push(DayStat {
                        day: days[idx],
                        datacenter_id: dc,
                        metric: metric.clone(),
                        count: values.len() as u64,
                        min,
                        max,
                        mean,
                        median,
                    });
                }
            })?;
        }
        out.sort_by(|a, b| (a.day, a.datacenter_id, &a.metric).cmp(&(b.day, b.datacenter_id, &b.metric)));
        Ok(out)
    }
}

/// Every (datacenter, metric, key prefix) of namespace `ns`.
fn list_series(txn: &ReadTransaction, ns: &str) -> Result<Vec<(u32, String, Vec<u8>)>> {
    let table = txn.open_table(SERIES)?;
    let prefix = keys::ns_prefix(ns);
    let mut out = Vec::new();
    let iter = match keys::prefix_end(&prefix) {
        Some(end) => table.range(prefix.as_slice()..end.as_slice())?,
        None => table.range(prefix.as_slice()..)?,
    };
    for entry in iter {
        let key = entry?.0.value().to_vec();
        if let Some((dc, metric)) = keys::parse_series_tail(&key[prefix.len()..]) {
            out.push((dc, metric, key));
        }
    }
    Ok(out)
}

/// Scans one series over `[bounds[0], bounds[last])`, calling `emit(day index, values)` per day.
fn scan_series(
    txn: &ReadTransaction,
    prefix: &[u8],
    bounds: &[i64],
    mut emit: impl FnMut(usize, &mut [f64]),
) -> Result<()> {
    let table = txn.open_table(READINGS)?;
    let lo = keys::ts_bound(prefix, bounds[0]);
    let hi = keys::ts_bound(prefix, bounds[bounds.len() - 1]);
    let mut idx = 0usize;
    let mut values: Vec<f64> = Vec::new();
    for entry in table.range(lo.as_slice()..hi.as_slice())? {
        let (k, v) = entry?;
        let ts = keys::dec_ts(&k.value()[prefix.len()..]);
        while ts >= bounds[idx + 1] {
            emit(idx, &mut values);
            values.clear();
            idx += 1;
        }
        values.push(v.value());
    }
    emit(idx, &mut values);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(summarize(&mut [3.0, 1.0, 2.0]), Some((1.0, 3.0, 2.0, 2.0)));
        assert_eq!(summarize(&mut [4.0, 1.0, 3.0, 2.0]), Some((1.0, 4.0, 2.5, 2.5)));
        assert_eq!(summarize(&mut []), None);
    }
}
