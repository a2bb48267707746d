//! Which local days were reported: `pending_days`, and `enqueue`, which queues records in the
//! outbox and marks their days reported in one transaction.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use fogwhisk_wire::AggregateRecord;

use crate::error::{Result, SiteError};
use crate::keys;
use crate::store::{check_ns, meta_get, SiteStore, ACTIVITY, META, OUTBOX, REPORTED};
use crate::telemetry::days::{day_start_ms, local_day};

impl SiteStore {
    /// Complete local days (before `today_exclusive` in `tz`) of namespace `ns` that have readings and
    /// were not reported, oldest first, at most `max_days`.
    ///
    /// A day also counts as pending when readings arrived for it after its report (the report
    /// covered fewer readings than the day now holds): the hub replaces records by key, so the
    /// new report corrects the old one. Days that began before the retention cut-off are never
    /// pending (their readings may be partly purged).
    pub fn pending_days(
        &self,
        ns: &str,
        tz: Tz,
        today_exclusive: NaiveDate,
        max_days: usize,
    ) -> Result<Vec<NaiveDate>> {
        check_ns(ns)?;
        let txn = self.db().begin_read()?;
        let purged_before = meta_get(&txn.open_table(META)?, "purged_before_ms")?.unwrap_or(i64::MIN);
        let prefix = keys::ns_prefix(ns);
        let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        {
            let activity = txn.open_table(ACTIVITY)?;
            let end = keys::prefix_end(&prefix);
            let iter = match &end {
                Some(end) => activity.range(prefix.as_slice()..end.as_slice())?,
                None => activity.range(prefix.as_slice()..)?,
            };
            for entry in iter {
                let (k, v) = entry?;
                let bucket = keys::dec_ts(&k.value()[prefix.len()..]);
                if let Some(day) = local_day(bucket, tz) {
                    if day < today_exclusive {
                        *per_day.entry(day).or_default() += v.value();
                    }
                }
            }
        }
        let reported = txn.open_table(REPORTED)?;
        let mut out = Vec::new();
        for (day, count) in per_day {
            if out.len() >= max_days {
                break;
            }
            if count == 0 || day_start_ms(day, tz) < purged_before {
                continue;
            }
            let done = reported.get(keys::day_key(ns, day).as_slice())?.map(|v| v.value());
            if done != Some(count) {
                out.push(day);
            }
        }
        Ok(out)
    }

    /// The records of every pending day (see [`Self::pending_days`]), ready for the outbox.
    pub fn pending_records(
        &self,
        ns: &str,
        tz: Tz,
        today_exclusive: NaiveDate,
        max_days: usize,
    ) -> Result<Vec<AggregateRecord>> {
        let mut out = Vec::new();
        for day in self.pending_days(ns, tz, today_exclusive, max_days)? {
            out.extend(self.daily_stats(ns, day, day, tz)?.iter().map(|s| s.to_record(tz)));
        }
        Ok(out)
    }

    /// Appends `records` to the outbox and marks their (ns, day) reported, in ONE transaction:
    /// either both happen or neither. Returns the number of records queued.
    ///
    /// A day's mark stores the sum of its records' counts, which equals the day's readings when the
    /// records came from [`Self::daily_stats`]; see [`Self::pending_days`].
    pub fn enqueue(&self, ns: &str, records: Vec<AggregateRecord>) -> Result<usize> {
        check_ns(ns)?;
        let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        let mut encoded = Vec::with_capacity(records.len());
        for (index, r) in records.iter().enumerate() {
            let bad = |reason: String| SiteError::InvalidRecord { index, reason };
            // The one definition of a valid record (fogwhisk-wire), the same the hub applies.
            r.validate().map_err(bad)?;
            let day = NaiveDate::parse_from_str(&r.day, "%Y-%m-%d")
                .map_err(|e| bad(format!("day {:?} is not YYYY-MM-DD: {e}", r.day)))?;
            *per_day.entry(day).or_default() += r.count;
            encoded.push(serde_json::to_string(r).map_err(|e| bad(e.to_string()))?);
        }
        let now = chrono::Utc::now().timestamp_millis();
        let txn = self.db().begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let mut seq = meta_get(&meta, "next_seq")?.unwrap_or(1);
            let mut outbox = txn.open_table(OUTBOX)?;
            for json in &encoded {
                outbox.insert(seq as u64, (now, json.as_str()))?;
                seq += 1;
            }
            meta.insert("next_seq", seq)?;
            let mut reported = txn.open_table(REPORTED)?;
            for (day, count) in per_day {
                reported.insert(keys::day_key(ns, day).as_slice(), count)?;
            }
        }
        txn.commit()?;
        self.inner.outbox_notify.notify_one();
        Ok(encoded.len())
    }
}
