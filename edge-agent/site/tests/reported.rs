//! Pending days (complete, unreported, bounded, self-healing) and `enqueue` atomicity.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use fogwhisk_site::{Reading, SiteError, SiteStore};

fn rome() -> Tz {
    "Europe/Rome".parse().unwrap()
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(d: u32, h: u32) -> i64 {
    rome().with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().timestamp_millis()
}

fn day_readings(d: u32, device: &str) -> Vec<Reading> {
    [0, 6, 12, 23]
        .iter()
        .flat_map(|h| {
            ["temperature", "humidity"].map(|m| Reading {
                datacenter_id: 7,
                device: device.into(),
                metric: m.into(),
                value: f64::from(*h),
                ts: at(d, *h),
            })
        })
        .collect()
}

#[test]
fn pending_days_are_complete_unreported_oldest_first_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let tz = rome();
    for d in 10..=15 {
        store.write("guest", &day_readings(d, "a")).unwrap();
    }
    store.write("other", &day_readings(3, "a")).unwrap();
    // Today is the 15th: it is not complete.
    assert_eq!(store.pending_days("guest", tz, date(15), 10).unwrap(), (10..=14).map(date).collect::<Vec<_>>());
    assert_eq!(store.pending_days("guest", tz, date(15), 2).unwrap(), vec![date(10), date(11)]);

    let records = store.pending_records("guest", tz, date(15), 2).unwrap();
    assert_eq!(records.len(), 4, "two days x two metrics: {records:?}");
    assert!(records.iter().all(|r| r.tz == "Europe/Rome" && r.count == 4));
    assert_eq!(store.enqueue("guest", records.clone()).unwrap(), 4);
    assert_eq!(store.pending_days("guest", tz, date(15), 10).unwrap(), (12..=14).map(date).collect::<Vec<_>>());
    assert_eq!(store.pending_days("other", tz, date(15), 10).unwrap(), vec![date(3)], "namespaces are separate");

    // A missed alarm heals: the next run reports the rest, still bounded.
    let next = store.pending_records("guest", tz, date(16), 7).unwrap();
    assert_eq!(
        next.iter().map(|r| r.day.as_str()).collect::<Vec<_>>(),
        [
            "2026-11-12",
            "2026-11-12",
            "2026-11-13",
            "2026-11-13",
            "2026-11-14",
            "2026-11-14",
            "2026-11-15",
            "2026-11-15"
        ]
    );
    store.enqueue("guest", next).unwrap();
    assert!(store.pending_days("guest", tz, date(16), 7).unwrap().is_empty());

    // A late reading for a reported day makes it pending again; a replayed one does not.
    assert_eq!(store.write("guest", &day_readings(10, "a")).unwrap().written, 0);
    assert!(store.pending_days("guest", tz, date(16), 7).unwrap().is_empty());
    store
        .write(
            "guest",
            &[Reading {
                datacenter_id: 7,
                device: "late".into(),
                metric: "temperature".into(),
                value: 5.0,
                ts: at(10, 9),
            }],
        )
        .unwrap();
    assert_eq!(store.pending_days("guest", tz, date(16), 7).unwrap(), vec![date(10)]);
    let fixed = store.pending_records("guest", tz, date(16), 7).unwrap();
    assert_eq!(fixed.iter().find(|r| r.metric == "temperature").unwrap().count, 5);

    // Days that began before the retention cut-off are never pending.
    store.purge_before(at(12, 12)).unwrap();
    assert!(store.pending_days("guest", tz, date(16), 7).unwrap().is_empty());
}

#[test]
fn enqueue_marks_and_queues_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let tz = rome();
    for d in 1..=3 {
        store.write("guest", &day_readings(d, "a")).unwrap();
    }
    let mut records = store.pending_records("guest", tz, date(4), 7).unwrap();
    assert_eq!(records.len(), 6);
    records[3].mean = f64::NAN;
    match store.enqueue("guest", records.clone()) {
        Err(SiteError::InvalidRecord { index, .. }) => assert_eq!(index, 3),
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    records[3].mean = 1.0;
    records[5].day = "2026-11-31".into();
    assert!(matches!(store.enqueue("guest", records.clone()), Err(SiteError::InvalidRecord { index: 5, .. })));
    // Nothing was queued, nothing was marked.
    assert_eq!(store.outbox_stats().unwrap().depth, 0);
    assert_eq!(store.pending_days("guest", tz, date(4), 7).unwrap().len(), 3);

    let good = store.pending_records("guest", tz, date(4), 7).unwrap();
    store.enqueue("guest", good.clone()).unwrap();
    let queued = store.outbox_peek(100).unwrap();
    assert_eq!(queued.iter().map(|e| e.record.clone()).collect::<Vec<_>>(), good, "FIFO, unchanged");
    assert!(queued.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(store.pending_days("guest", tz, date(4), 7).unwrap().is_empty());
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.depth, 6);
    assert!(stats.oldest_age_secs >= 0.0 && stats.oldest_age_secs < 3600.0);

    // Sequence numbers keep growing after removals and a reopen.
    let last = queued.last().unwrap().seq;
    store.outbox_remove(&queued.iter().map(|e| e.seq).collect::<Vec<_>>()).unwrap();
    drop(store);
    let store = SiteStore::open(dir.path()).unwrap();
    assert_eq!(store.outbox_stats().unwrap().depth, 0);
    store.enqueue("guest", good[..1].to_vec()).unwrap();
    assert!(store.outbox_peek(1).unwrap()[0].seq > last);
}
