//! Telemetry store: idempotent writes, validation, statistics against an independent computation,
//! DST days, retention.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use fogwhisk_site::{Reading, ReadingField, SiteError, SiteStore};
use rand::{Rng, SeedableRng};

fn rome() -> Tz {
    "Europe/Rome".parse().unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn local_ms(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0).earliest().unwrap().timestamp_millis()
}

fn reading(dc: u32, device: &str, metric: &str, value: f64, ts: i64) -> Reading {
    Reading { datacenter_id: dc, device: device.into(), metric: metric.into(), value, ts }
}

#[test]
fn writes_are_idempotent_and_scoped_by_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let ts = local_ms(rome(), 2026, 11, 23, 10, 0);
    let batch = vec![
        reading(7, "9A3F21", "temperature", 21.4, ts),
        reading(7, "9A3F21", "humidity", 48.0, ts),
        reading(7, "0B0B0B", "temperature", 22.0, ts),
    ];
    let first = store.write("guest", &batch).unwrap();
    assert_eq!((first.written, first.duplicates), (3, 0));
    let again = store.write("guest", &batch).unwrap();
    assert_eq!((again.written, again.duplicates), (0, 3));
    // A duplicate inside one batch counts once, and a changed value under the same key is not stored twice.
    let mixed = vec![
        reading(7, "9A3F21", "temperature", 99.0, ts),
        reading(7, "9A3F21", "temperature", 23.0, ts + 1000),
        reading(7, "9A3F21", "temperature", 23.0, ts + 1000),
    ];
    let m = store.write("guest", &mixed).unwrap();
    assert_eq!((m.written, m.duplicates), (1, 2));
    assert_eq!(m.duplicate_indexes, vec![0, 2], "which readings were duplicates, by position");
    assert!(first.duplicate_indexes.is_empty());
    // Another namespace is separate.
    assert_eq!(store.write("other", &batch).unwrap().written, 3);

    let stats = store.daily_stats("guest", date(2026, 11, 23), date(2026, 11, 23), rome()).unwrap();
    let temp = stats.iter().find(|s| s.metric == "temperature").unwrap();
    assert_eq!(temp.count, 3);
    assert_eq!(temp.max, 23.0, "the replayed 99.0 must not have replaced the stored 21.4");
    assert_eq!(stats.iter().map(|s| s.count).sum::<u64>(), 4);
}

#[test]
fn invalid_readings_are_rejected_whole_with_their_index_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let ts = local_ms(rome(), 2026, 11, 23, 10, 0);
    let cases = [
        (reading(1, "d", "t", f64::NAN, ts), ReadingField::Value),
        (reading(1, "d", "t", f64::INFINITY, ts), ReadingField::Value),
        (reading(1, "", "t", 1.0, ts), ReadingField::Device),
        (reading(1, "d", "", 1.0, ts), ReadingField::Metric),
        (reading(1, "d", &"m".repeat(300), 1.0, ts), ReadingField::Metric),
        (reading(1, "d", &"m".repeat(65), 1.0, ts), ReadingField::Metric),
        (reading(1, "d", "gas perc", 1.0, ts), ReadingField::Metric),
        (reading(1, "d", "9lives", 1.0, ts), ReadingField::Metric),
        (reading(1, "d", "t", 1.0, -5), ReadingField::Ts),
    ];
    for (bad, field) in cases {
        let batch = vec![reading(1, "ok", "t", 1.0, ts), bad];
        match store.write("guest", &batch) {
            Err(SiteError::InvalidReading { index, field: f, reason }) => {
                assert_eq!(index, 1);
                assert_eq!(f, field);
                assert!(!reason.is_empty());
                let msg = SiteError::InvalidReading { index, field: f, reason }.to_string();
                assert!(msg.starts_with("reading 1: invalid "), "{msg}");
            }
            other => panic!("expected InvalidReading for {field}, got {other:?}"),
        }
    }
    assert!(matches!(store.write("", &[]), Err(SiteError::InvalidNamespace(_))));
    let stats = store.daily_stats("guest", date(2026, 11, 23), date(2026, 11, 23), rome()).unwrap();
    assert!(stats.is_empty(), "a rejected batch must write nothing: {stats:?}");
}

/// Statistics computed the slow, obvious way: every reading's local date, then sort.
/// (day, datacenter, metric) → (count, min, max, mean, median).
type Expected = BTreeMap<(NaiveDate, u32, String), (u64, f64, f64, f64, f64)>;

fn expected(readings: &[Reading], tz: Tz) -> Expected {
    let mut groups: BTreeMap<(NaiveDate, u32, String), Vec<f64>> = BTreeMap::new();
    for r in readings {
        let day = chrono::DateTime::from_timestamp_millis(r.ts).unwrap().with_timezone(&tz).date_naive();
        groups.entry((day, r.datacenter_id, r.metric.clone())).or_default().push(r.value);
    }
    groups
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
            let mean = v.iter().sum::<f64>() / n as f64;
            (k, (n as u64, v[0], v[n - 1], mean, median))
        })
        .collect()
}

#[test]
fn statistics_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let tz: Tz = "America/New_York".parse().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let from = local_ms(tz, 2026, 11, 20, 0, 0) - 3_600_000;
    let to = local_ms(tz, 2026, 11, 24, 0, 0) + 3_600_000;
    let mut readings = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while readings.len() < 20_000 {
        let r = reading(
            rng.gen_range(1..=3),
            ["a1", "b2", "c3", "d4"][rng.gen_range(0..4)],
            ["temperature", "humidity", "gas_perc"][rng.gen_range(0..3)],
            (rng.gen_range(-5000..5000) as f64) / 100.0,
            rng.gen_range(from..to),
        );
        if seen.insert((r.datacenter_id, r.device.clone(), r.metric.clone(), r.ts)) {
            readings.push(r);
        }
    }
    for chunk in readings.chunks(3000) {
        store.write("guest", chunk).unwrap();
    }
    let want = expected(&readings, tz);
    let got = store.daily_stats("guest", date(2026, 11, 19), date(2026, 11, 24), tz).unwrap();
    assert_eq!(got.len(), want.len());
    for s in &got {
        let (count, min, max, mean, median) = want[&(s.day, s.datacenter_id, s.metric.clone())];
        assert_eq!(s.count, count, "{s:?}");
        assert_eq!((s.min, s.max, s.median), (min, max, median), "{s:?}");
        assert!((s.mean - mean).abs() < 1e-9, "{s:?} vs mean {mean}");
    }
    // A sub-range returns exactly the days asked for.
    let one = store.daily_stats("guest", date(2026, 11, 21), date(2026, 11, 21), tz).unwrap();
    assert!(!one.is_empty() && one.iter().all(|s| s.day == date(2026, 11, 21)));
    assert_eq!(one.len(), want.keys().filter(|k| k.0 == date(2026, 11, 21)).count());
    assert!(matches!(
        store.daily_stats("guest", date(2026, 11, 22), date(2026, 11, 21), tz),
        Err(SiteError::InvalidRange { .. })
    ));
}

#[test]
fn dst_days_in_rome_hold_23_and_25_hours_of_readings() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let tz = rome();
    // One reading per real hour from 2026-03-28 00:00 to 2026-03-31 00:00 local, same around 25 October.
    for (start, end) in [
        (local_ms(tz, 2026, 3, 28, 0, 0), local_ms(tz, 2026, 3, 31, 0, 0)),
        (local_ms(tz, 2026, 10, 24, 0, 0), local_ms(tz, 2026, 10, 27, 0, 0)),
    ] {
        let batch: Vec<Reading> = (start..end)
            .step_by(3_600_000)
            .map(|ts| reading(7, "9A3F21", "temperature", (ts / 3_600_000 % 100) as f64, ts))
            .collect();
        store.write("guest", &batch).unwrap();
    }
    let count = |d: NaiveDate| store.daily_stats("guest", d, d, tz).unwrap().first().map_or(0, |s| s.count);
    assert_eq!(count(date(2026, 3, 28)), 24);
    assert_eq!(count(date(2026, 3, 29)), 23, "spring forward: 23-hour day");
    assert_eq!(count(date(2026, 3, 30)), 24);
    assert_eq!(count(date(2026, 10, 24)), 24);
    assert_eq!(count(date(2026, 10, 25)), 25, "fall back: 25-hour day");
    assert_eq!(count(date(2026, 10, 26)), 24);
    // The readings just around local midnight land on the right side.
    let edge = local_ms(tz, 2026, 10, 26, 0, 0);
    store.write("edge", &[reading(1, "d", "t", 1.0, edge - 1), reading(1, "d", "t", 2.0, edge)]).unwrap();
    let s = store.daily_stats("edge", date(2026, 10, 25), date(2026, 10, 26), tz).unwrap();
    assert_eq!(
        s.iter().map(|s| (s.day, s.count, s.max)).collect::<Vec<_>>(),
        vec![(date(2026, 10, 25), 1, 1.0), (date(2026, 10, 26), 1, 2.0)]
    );
}

#[test]
fn retention_purges_old_readings_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let tz = rome();
    let old = local_ms(tz, 2026, 1, 10, 12, 0);
    let new = local_ms(tz, 2026, 1, 20, 12, 0);
    store
        .write(
            "guest",
            &[reading(1, "d", "t", 1.0, old), reading(1, "d", "t", 2.0, old + 1000), reading(1, "d", "t", 3.0, new)],
        )
        .unwrap();
    let removed = store.purge_before(local_ms(tz, 2026, 1, 15, 0, 0)).unwrap();
    assert_eq!(removed, 2);
    let s = store.daily_stats("guest", date(2026, 1, 1), date(2026, 1, 31), tz).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].day, s[0].count), (date(2026, 1, 20), 1));
    // Everything is far younger than 10 years: nothing more goes.
    assert_eq!(store.purge_older_than(3650).unwrap(), 0);
}
