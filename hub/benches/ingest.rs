//! Benchmark: aggregate ingest end to end (HTTP -> hub store -> InfluxDB 1.x) against the floor of
//! writing the same line protocol straight to InfluxDB with the same batch size. Prints both and the ratio.
//!
//! Run: `cargo bench -p fogwhisk-hub --bench ingest` (needs `influxd`: apt-get install influxdb).
//! `BENCH_RECORDS` (default 60000), `BENCH_BATCH` (records per HTTP request, default 1000) and
//! `BENCH_ROUNDS` (default 3; the best round of each side is reported) tune it.

#[path = "../tests/api/peers.rs"]
#[allow(dead_code)]
mod peers;

use std::time::{Duration, Instant};

use fogwhisk_hub::config::{InfluxBackend, Settings};
use fogwhisk_hub::startup::Application;
use fogwhisk_wire::{AggregateBatch, AggregateRecord};

const ADMIN: &str = "bench-admin-token-0123456789";
const TZ: &str = "Europe/Rome";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn records(n: usize) -> Vec<AggregateRecord> {
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    (0..n)
        .map(|i| {
            let (day, rest) = (i / 150, i % 150);
            let mean = 20.0 + (i % 97) as f64 / 10.0;
            AggregateRecord {
                datacenter_id: (rest / 3) as u32,
                metric: ["temperature", "humidity", "gas_perc"][rest % 3].into(),
                day: (start + chrono::Duration::days(day as i64)).to_string(),
                tz: TZ.into(),
                count: 96,
                min: mean - 2.0,
                max: mean + 3.0,
                mean,
                median: mean - 0.5,
            }
        })
        .collect()
}

async fn count(influx: &peers::Influxd, db: &str) -> u64 {
    let v = influx.query(db, "SELECT count(mean) FROM daily_aggregate").await;
    v["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0)
}

async fn create_db(client: &reqwest::Client, influx: &peers::Influxd, db: &str) {
    let r = client
        .post(format!("{}/query", influx.url()))
        .form(&[("q", format!("CREATE DATABASE {db}"))])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Writes the lines straight to InfluxDB in batches of `batch_lines`; returns the elapsed time.
async fn floor(
    client: &reqwest::Client,
    influx: &peers::Influxd,
    db: &str,
    lines: &[String],
    batch_lines: usize,
) -> Duration {
    create_db(client, influx, db).await;
    let t = Instant::now();
    for chunk in lines.chunks(batch_lines) {
        let r = client
            .post(format!("{}/write?db={db}&precision=ns", influx.url()))
            .body(chunk.join("\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    t.elapsed()
}

/// Posts the records to a hub writing to InfluxDB; returns the time until InfluxDB has them all.
async fn hub(
    client: &reqwest::Client,
    influx: &peers::Influxd,
    db: &str,
    recs: &[AggregateRecord],
    batch: usize,
) -> Duration {
    create_db(client, influx, db).await;
    let data = tempfile::tempdir().unwrap();
    let mut s = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        admin_token: Some(ADMIN.to_string().into()),
        ..Default::default()
    };
    s.influx.backend = InfluxBackend::V1;
    s.influx.url = influx.url();
    s.influx.database = db.into();
    s.log.level = "warn".into();
    let app = Application::build(s).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/sites"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"id": "bench", "tz": TZ}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    let url = format!("{base}/api/v1/sites/bench/aggregates");
    let t = Instant::now();
    for chunk in recs.chunks(batch) {
        let body = AggregateBatch { records: chunk.to_vec() };
        let r = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let ingested = t.elapsed();
    loop {
        let store = state.store.clone();
        let (depth, _) = tokio::task::spawn_blocking(move || store.queue_status()).await.unwrap().unwrap();
        if depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = t.elapsed();
    stop.cancel();
    server.await.unwrap().unwrap();
    println!(
        "  hub: all {} requests answered after {ingested:.2?}, all lines in InfluxDB after {elapsed:.2?}",
        recs.len().div_ceil(batch)
    );
    elapsed
}

/// Where the hub's time goes, in-process and without InfluxDB: parse + validate, render, store.
fn breakdown(recs: &[AggregateRecord], batch: usize) {
    let bodies: Vec<Vec<u8>> =
        recs.chunks(batch).map(|c| serde_json::to_vec(&AggregateBatch { records: c.to_vec() }).unwrap()).collect();
    let t = Instant::now();
    let parsed: Vec<Vec<AggregateRecord>> =
        bodies.iter().map(|b| fogwhisk_hub::ingest::validate::parse_batch(b, TZ, 100_000).unwrap()).collect();
    let parse = t.elapsed();
    let t = Instant::now();
    let lines: Vec<Vec<String>> = parsed
        .iter()
        .map(|c| c.iter().map(|r| fogwhisk_hub::influx::line::render("bench", r).unwrap()).collect())
        .collect();
    let render = t.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let store = fogwhisk_hub::store::Store::open(dir.path()).unwrap();
    let site = fogwhisk_hub::store::SiteRecord {
        id: "bench".into(),
        display_name: "bench".into(),
        tz: TZ.into(),
        token_hash: "x".into(),
        created_at: chrono::Utc::now(),
        last_report: None,
    };
    store.insert_site(&site).unwrap();
    let t = Instant::now();
    for (c, l) in parsed.iter().zip(lines) {
        store.upsert_batch("bench", c, l, chrono::Utc::now()).unwrap();
    }
    let stored = t.elapsed();
    println!("breakdown for {} records in {} batches: parse+validate {parse:.2?}, render lines {render:.2?}, store (one durable commit per batch) {stored:.2?}", recs.len(), bodies.len());
}

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_RECORDS", 60_000);
    let batch = env_usize("BENCH_BATCH", 1_000);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let influx = peers::Influxd::start();
    let client = reqwest::Client::new();
    let recs = records(n);
    let lines: Vec<String> = recs.iter().map(|r| fogwhisk_hub::influx::line::render("bench", r).unwrap()).collect();
    let batch_lines = Settings::default().influx.batch_size;
    breakdown(&recs, batch);

    // Alternate the two so background load on the machine hits both alike; report the best round of each.
    let (mut floors, mut hubs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (fdb, hdb) = (format!("floor{round}"), format!("hub{round}"));
        floors.push(floor(&client, &influx, &fdb, &lines, batch_lines).await);
        hubs.push(hub(&client, &influx, &hdb, &recs, batch).await);
        assert_eq!(count(&influx, &fdb).await, n as u64);
        assert_eq!(count(&influx, &hdb).await, n as u64);
        println!("round {round}: floor {:.2?}, hub {:.2?}", floors[round], hubs[round]);
    }
    let (floor_time, hub_time) = (*floors.iter().min().unwrap(), *hubs.iter().min().unwrap());
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("records: {n}; hub: {batch} records per request; InfluxDB writes: {batch_lines} lines per request; best of {rounds}");
    println!("floor (line protocol straight to InfluxDB): {:>10.0} records/s ({:.2?})", rate(floor_time), floor_time);
    println!("hub end to end (HTTP -> store -> InfluxDB): {:>10.0} records/s ({:.2?})", rate(hub_time), hub_time);
    println!("ratio hub/floor time: {:.2}x", hub_time.as_secs_f64() / floor_time.as_secs_f64());
}
