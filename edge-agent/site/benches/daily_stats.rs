//! Prints how long `daily_stats` takes for one day of one million readings (target: under 1 s in
//! release mode), and how many single-message writes per second the store commits durably.

use std::time::Instant;

use chrono::NaiveDate;
use chrono_tz::Tz;
use fogwhisk_site::telemetry::days::day_start_ms;
use fogwhisk_site::{Reading, SiteStore};

const READINGS: usize = 1_000_000;
const DEVICES: usize = 100;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SiteStore::open(dir.path()).expect("open store");
    let tz: Tz = "Europe/Rome".parse().expect("zone");
    let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let start = day_start_ms(day, tz);
    let step = 86_400_000 / (READINGS / DEVICES) as i64;

    let t = Instant::now();
    let mut batch = Vec::with_capacity(50_000);
    for i in 0..READINGS {
        let ts = start + (i / DEVICES) as i64 * step;
        let value = 15.0 + ((i as u64).wrapping_mul(2_654_435_761) % 10_000) as f64 / 1000.0;
        batch.push(Reading {
            datacenter_id: 7,
            device: format!("dev{:04}", i % DEVICES),
            metric: "temperature".into(),
            value,
            ts,
        });
        if batch.len() == batch.capacity() {
            store.write("guest", &batch).expect("write");
            batch.clear();
        }
    }
    store.write("guest", &batch).expect("write");
    println!("loaded {READINGS} readings in {:.2} s (batches of 50,000)", t.elapsed().as_secs_f64());

    let mut best = f64::MAX;
    for run in 0..5 {
        let t = Instant::now();
        let stats = store.daily_stats("guest", day, day, tz).expect("stats");
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].count, READINGS as u64);
        if run == 0 {
            println!("first run: {secs:.3} s; stat: {:?}", stats[0]);
        }
        best = best.min(secs);
    }
    println!("daily_stats over {READINGS} readings of one day: best of 5 = {:.3} s (target < 1 s)", best);

    let n = 500;
    let t = Instant::now();
    for i in 0..n {
        let ts = start + 86_400_000 * 2 + i as i64 * 1000;
        let msg: Vec<Reading> = ["temperature", "humidity", "gas_perc"]
            .iter()
            .map(|m| Reading { datacenter_id: 7, device: "9A3F21".into(), metric: (*m).into(), value: 1.0, ts })
            .collect();
        store.write("guest", &msg).expect("write");
    }
    let secs = t.elapsed().as_secs_f64();
    println!("durable single-message writes, one writer (3 readings each): {:.0} messages/s", n as f64 / secs);

    let (threads, per_thread) = (16, 250);
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..threads {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    let ts = start + 86_400_000 * 3 + i as i64 * 1000;
                    let msg: Vec<Reading> = ["temperature", "humidity", "gas_perc"]
                        .iter()
                        .map(|m| Reading {
                            datacenter_id: 7,
                            device: format!("dev{th}"),
                            metric: (*m).into(),
                            value: 1.0,
                            ts,
                        })
                        .collect();
                    store.write("guest", &msg).expect("write");
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "durable single-message writes, {threads} concurrent writers (group commit): {:.0} messages/s",
        (threads * per_thread) as f64 / secs
    );
}
