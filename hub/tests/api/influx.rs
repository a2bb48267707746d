//! The InfluxDB writer against real servers: InfluxDB 1.x (v1 write, checked with InfluxQL),
//! VictoriaMetrics (the `influxdb2` crate's `/api/v2/write`), an outage mid-stream, and backfill.

use std::time::Duration;

use fogwhisk_hub::config::InfluxBackend;
use serde_json::{json, Value};

use crate::helpers::{eventually, influx_v1, record, spawn_app_in, spawn_app_with, TestApp};
use crate::peers::{Influxd, Victoria};

const TZ: &str = "Europe/Rome";
const WAIT: Duration = Duration::from_secs(30);

/// 2 datacenters x 3 metrics x `days` days, day-of-month starting at `first_day`.
fn batch(first_day: u32, days: u32, offset: f64) -> Value {
    let mut recs = Vec::new();
    for d in first_day..first_day + days {
        for dc in [7u32, 8] {
            for (i, m) in ["temperature", "humidity", "gas_perc"].iter().enumerate() {
                let mean = 10.0 * (i as f64 + 1.0) + f64::from(dc) + f64::from(d) / 10.0 + offset;
                recs.push(record(dc, m, &format!("2026-11-{d:02}"), TZ, mean));
            }
        }
    }
    json!({ "records": recs })
}

/// `SELECT count(mean) FROM daily_aggregate` (0 when the database or measurement is missing).
async fn point_count(influx: &Influxd, db: &str) -> u64 {
    let v = influx.query(db, "SELECT count(mean) FROM daily_aggregate").await;
    v["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0)
}

async fn wait_count(influx: &Influxd, db: &str, n: u64) {
    eventually(WAIT, &format!("{n} points in InfluxDB"), || async {
        (point_count(influx, db).await == n).then_some(())
    })
    .await
}

async fn wait_queue_empty(app: &TestApp) {
    eventually(WAIT, "an empty InfluxDB queue", || async {
        app.metrics().await.contains("fogwhisk_hub_influx_queue_depth 0\n").then_some(())
    })
    .await
}

#[tokio::test]
async fn v1_writes_daily_aggregate_points_checked_with_influxql() {
    let influx = Influxd::start();
    let app = spawn_app_with(influx_v1(influx.url(), "fogwhisk")).await;
    let token = app.add_site("torino", TZ).await;
    assert_eq!(app.post_batch("torino", &token, &batch(20, 3, 0.0)).await.status(), 200);
    wait_count(&influx, "fogwhisk", 18).await;

    let q = "SELECT * FROM daily_aggregate WHERE site='torino' AND datacenter_id='7' AND metric='temperature'";
    let v = influx.query("fogwhisk", q).await;
    let series = &v["results"][0]["series"][0];
    let cols: Vec<&str> = series["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let row = &series["values"][0];
    let col = |name: &str| &row[cols.iter().position(|c| *c == name).unwrap()];
    // 2026-11-20 00:00 in Rome (UTC+1) is 2026-11-19T23:00:00Z.
    assert_eq!(col("time").as_i64(), Some(1_795_129_200_000_000_000));
    assert_eq!(col("count").as_i64(), Some(96));
    assert_eq!(col("mean").as_f64(), Some(19.0));
    assert_eq!(col("min").as_f64(), Some(17.0));
    assert_eq!(col("max").as_f64(), Some(22.0));
    assert_eq!(col("median").as_f64(), Some(18.5));
    assert_eq!(series["values"].as_array().unwrap().len(), 3);

    // Tags, for Grafana's variables.
    let v = influx.query("fogwhisk", "SHOW TAG VALUES FROM daily_aggregate WITH KEY = \"metric\"").await;
    let metrics: Vec<&str> =
        v["results"][0]["series"][0]["values"].as_array().unwrap().iter().map(|r| r[1].as_str().unwrap()).collect();
    assert_eq!(metrics, ["gas_perc", "humidity", "temperature"]);

    // A replaced record overwrites its point (same series and timestamp): still 18 points.
    let again = json!({"records": [record(7, "temperature", "2026-11-20", TZ, 30.5)]});
    assert_eq!(app.post_batch("torino", &token, &again).await.status(), 200);
    eventually(WAIT, "the replaced value", || async {
        let v = influx.query("fogwhisk", &format!("{q} AND time = 1795129200000000000")).await;
        (v["results"][0]["series"][0]["values"][0][4].as_f64() == Some(30.5)).then_some(())
    })
    .await;
    assert_eq!(point_count(&influx, "fogwhisk").await, 18);
    wait_queue_empty(&app).await;
    assert!(app.metrics().await.contains("fogwhisk_hub_influx_written_lines_total 19"));
    app.stop().await;
}

#[tokio::test]
async fn v2_path_writes_to_a_server_accepting_api_v2_write() {
    let vm = Victoria::start();
    let url = vm.url();
    let app = spawn_app_with(move |s| {
        s.influx.backend = InfluxBackend::V2;
        s.influx.url = url;
        s.influx.org = "fogwhisk".into();
        s.influx.bucket = "aggregates".into();
        s.influx.token = Some("test-token".to_string().into());
    })
    .await;
    let token = app.add_site("torino", TZ).await;
    assert_eq!(app.post_batch("torino", &token, &batch(20, 2, 0.0)).await.status(), 200);
    wait_queue_empty(&app).await;

    let client = reqwest::Client::new();
    let export = format!("{}/api/v1/export", vm.url());
    // VictoriaMetrics shows a new series ~1.5 s after its first write: poll.
    let lines = eventually(WAIT, "6 mean series of 2 points in VictoriaMetrics", || async {
        let text = client
            .get(&export)
            .query(&[("match[]", "{__name__=\"daily_aggregate_mean\"}")])
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        (lines.len() == 6 && lines.iter().all(|l| l["values"].as_array().map(Vec::len) == Some(2))).then_some(lines)
    })
    .await;
    let s = lines
        .iter()
        .find(|l| l["metric"]["datacenter_id"] == "8" && l["metric"]["metric"] == "humidity")
        .expect("dc 8 humidity series");
    assert_eq!(s["metric"]["site"], "torino");
    // Two days; values sorted by time: 2026-11-20 and 21 at local midnight in Rome (ms).
    assert_eq!(s["timestamps"], json!([1_795_129_200_000i64, 1_795_215_600_000i64]));
    let values: Vec<f64> = s["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(values, [30.0, 30.1]);
    app.stop().await;
}

#[tokio::test]
async fn influx_outage_mid_stream_loses_nothing_and_keeps_order() {
    let mut influx = Influxd::start();
    let app = spawn_app_with(influx_v1(influx.url(), "fogwhisk")).await;
    let token = app.add_site("torino", TZ).await;
    assert_eq!(app.post_batch("torino", &token, &batch(1, 2, 0.0)).await.status(), 200);
    wait_count(&influx, "fogwhisk", 12).await;

    influx.stop();
    // Ingest keeps working while InfluxDB is down; lines wait in the store.
    assert_eq!(app.post_batch("torino", &token, &batch(3, 2, 0.0)).await.status(), 200);
    // Replacing day 1 twice: the later value must win, so order matters.
    assert_eq!(app.post_batch("torino", &token, &batch(1, 1, 100.0)).await.status(), 200);
    assert_eq!(app.post_batch("torino", &token, &batch(1, 1, 200.0)).await.status(), 200);
    eventually(WAIT, "queued lines and failed attempts", || async {
        let m = app.metrics().await;
        let failing = !m.contains("fogwhisk_hub_influx_write_failures_total 0\n");
        (m.contains("fogwhisk_hub_influx_queue_depth 24\n") && failing).then_some(())
    })
    .await;

    influx.restart();
    wait_queue_empty(&app).await;
    // 4 days x 6 series, each point once.
    assert_eq!(point_count(&influx, "fogwhisk").await, 24);
    let v = influx
        .query("fogwhisk", "SELECT count(mean) FROM daily_aggregate WHERE time >= '2026-10-31T00:00:00Z' GROUP BY time(1d), site, datacenter_id, metric")
        .await;
    let series = v["results"][0]["series"].as_array().unwrap();
    assert_eq!(series.len(), 6);
    for s in series {
        let counts: Vec<u64> =
            s["values"].as_array().unwrap().iter().filter_map(|r| r[1].as_u64()).filter(|c| *c > 0).collect();
        assert_eq!(counts, [1, 1, 1, 1], "one point per day in {}", s["tags"]);
    }
    let v = influx
        .query("fogwhisk", "SELECT mean FROM daily_aggregate WHERE site='torino' AND datacenter_id='7' AND metric='temperature' LIMIT 1")
        .await;
    assert_eq!(v["results"][0]["series"][0]["values"][0][1].as_f64(), Some(217.1));
    app.stop().await;
}

#[tokio::test]
async fn backfill_resends_everything_to_an_empty_influxdb() {
    let first = Influxd::start();
    let app = spawn_app_with(influx_v1(first.url(), "fogwhisk")).await;
    let token = app.add_site("torino", TZ).await;
    assert_eq!(app.post_batch("torino", &token, &batch(10, 3, 0.0)).await.status(), 200);
    wait_count(&first, "fogwhisk", 18).await;
    // The points can be in InfluxDB a moment before the writer removes their lines from the queue; a stop in
    // between leaves them queued (sent again at the next start, at least once), which would double the count below.
    wait_queue_empty(&app).await;
    let data = app.data.clone();
    app.stop().await;

    let empty = Influxd::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fogwhisk-hub"))
        .args(["backfill", "--data"])
        .arg(data.path())
        .env("FOGWHISK_HUB_INFLUX__BACKEND", "v1")
        .env("FOGWHISK_HUB_INFLUX__URL", empty.url())
        .env("FOGWHISK_HUB_INFLUX__DATABASE", "restored")
        .env_remove("FOGWHISK_HUB_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("queued 18 aggregates") && stdout.contains("wrote 18 lines"), "{stdout}");
    assert_eq!(point_count(&empty, "restored").await, 18);

    // The hub restarted on the same store has nothing left to send.
    let app = spawn_app_in(data, influx_v1(empty.url(), "restored")).await;
    wait_queue_empty(&app).await;
    assert_eq!(point_count(&empty, "restored").await, 18);
    app.stop().await;
}
