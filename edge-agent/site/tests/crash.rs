//! Crash safety: a child process writes readings and enqueues records, printing each acknowledged
//! step; it is killed with SIGKILL mid-stream; the reopened store holds every acknowledged step.
//!
//! The test runs its own binary again as the child (selected by an environment variable).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use fogwhisk_site::{Reading, SiteStore};

const CHILD_DIR: &str = "FOGWHISK_SITE_CRASH_CHILD_DIR";

fn rome() -> Tz {
    "Europe/Rome".parse().unwrap()
}

fn batch(i: i64) -> Vec<Reading> {
    let base = rome().with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap().timestamp_millis();
    (0..10)
        .map(|k| Reading {
            datacenter_id: 7,
            device: format!("d{k}"),
            metric: "temperature".into(),
            value: i as f64,
            ts: base + i * 1000,
        })
        .collect()
}

/// The child's job: write forever, reporting each committed batch; enqueue once after 20 batches.
fn child(dir: &str) -> ! {
    let store = SiteStore::open(std::path::Path::new(dir)).expect("open");
    for i in 0.. {
        let s = store.write("guest", &batch(i)).expect("write");
        assert_eq!(s.written, 10);
        println!("written {i}");
        if i == 20 {
            let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
            let recs: Vec<_> = store
                .daily_stats("guest", day, day, rome())
                .expect("stats")
                .iter()
                .map(|s| s.to_record(rome()))
                .collect();
            store.enqueue("guest", recs).expect("enqueue");
            println!("enqueued");
        }
    }
    unreachable!()
}

#[test]
fn killed_writer_loses_nothing_it_acknowledged() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_writer_loses_nothing_it_acknowledged", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(proc.stdout.take().unwrap());
    let (mut acked, mut enqueued) = (-1i64, false);
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("written ") {
            acked = n.trim().parse().unwrap();
        }
        enqueued |= line.trim() == "enqueued";
        if acked >= 150 {
            break;
        }
    }
    // SIGKILL: no destructor, no clean shutdown.
    proc.kill().unwrap();
    proc.wait().unwrap();
    assert!(enqueued && acked >= 150);

    let store = SiteStore::open(dir.path()).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let stats = store.daily_stats("guest", day, day, rome()).unwrap();
    assert_eq!(stats.len(), 1);
    let count = stats[0].count as i64;
    assert!(count >= (acked + 1) * 10, "acknowledged {} batches, found {count} readings", acked + 1);
    assert_eq!(count % 10, 0, "a batch is all or nothing");
    // Every batch present is whole and replays are duplicates.
    for i in 0..=acked {
        let s = store.write("guest", &batch(i)).unwrap();
        assert_eq!((s.written, s.duplicates), (0, 10), "batch {i}");
    }
    // The enqueue happened with its mark: one record queued, and the day is pending only because it grew.
    let queued = store.outbox_peek(10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].record.count, 210);
    let pending = store.pending_days("guest", rome(), day.succ_opt().unwrap(), 7).unwrap();
    assert_eq!(pending, vec![day]);
}
