//! End to end with the real hub and real InfluxDB 1.x: readings for several days → `daily` → aggregates in
//! InfluxDB equal to statistics computed here from the published values; the hub down during delivery.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Europe::Rome;
use serde_json::{json, Value};

use crate::helpers::Agent;
use crate::mqtt::{site_agent, stored, wait_for};
use crate::peers::{self, free_port, message, publish, publisher, Influxd, Mosquitto};

type Key = (u32, String, NaiveDate);

fn stats(mut v: Vec<f64>) -> [f64; 5] {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    [n as f64, v[0], v[n - 1], v.iter().sum::<f64>() / n as f64, median]
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

async fn outbox_depth(a: &Agent) -> u64 {
    let text = a.http.get(format!("{}/metrics", a.api)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("fogwhisk_edge_site{figure=\"outbox_depth\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

async fn influx(http: &reqwest::Client, url: &str, q: &str) -> Value {
    http.get(format!("{url}/query"))
        .query(&[("db", "fogwhisk"), ("epoch", "ms"), ("q", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn aggregates_reach_influxdb_exactly_once_through_a_hub_outage() {
    let dir = tempfile::tempdir().unwrap();
    let influxd = Influxd::start();
    let influx_url = influxd.url();
    let hub_data = dir.path().join("hub");
    let token = peers::hub_add_site(&hub_data, "torino", "Europe/Rome");
    let hub_port = free_port();
    let hub = peers::hub(&hub_data, hub_port, &influx_url);
    let broker = Mosquitto::start();
    let mqtt_port = broker.port;
    let hub_url = format!("http://127.0.0.1:{hub_port}");
    let env = [
        ("FOGWHISK_EDGE_TIMEZONE", "Europe/Rome"),
        ("FOGWHISK_EDGE_SITE_ID", "torino"),
        ("FOGWHISK_EDGE_HUB__URL", hub_url.as_str()),
        ("FOGWHISK_EDGE_HUB__TOKEN", token.as_str()),
        ("FOGWHISK_EDGE_HUB__RETRY_BASE_MS", "200"),
    ];
    let a = site_agent(None, mqtt_port, &env).await;

    // Three complete local days before today, two datacenters with two sensors each, a reading every 3 h.
    let today = chrono::Utc::now().with_timezone(&Rome).date_naive();
    let days: Vec<NaiveDate> = (1..=3).rev().map(|n| today - chrono::Duration::days(n)).collect();
    let mut expected: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let c = publisher(mqtt_port, "fleet").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut total = 0u64;
    for day in &days {
        let start = Rome.from_local_datetime(&day.and_hms_opt(0, 30, 0).unwrap()).earliest().unwrap().timestamp();
        for step in 0..8i64 {
            for (dc, dev) in [(1u32, "A00001"), (1, "A00002"), (2, "B00001"), (2, "B00002")] {
                let k = (step * 7 + dc as i64 * 3 + dev.len() as i64 + dev.as_bytes()[5] as i64) as f64;
                let (t, h, g) = (round1(18.0 + (k % 9.0) * 0.7), round1(40.0 + (k % 13.0)), round1((k * 1.3) % 30.0));
                publish(&c, dc, dev, message(dc, dev, t, h, g, start + step * 3 * 3600)).await;
                for (m, v) in [("temperature", t), ("humidity", h), ("gas_perc", g)] {
                    expected.entry((dc, m.to_string(), *day)).or_default().push(v);
                }
                total += 1;
            }
        }
    }
    let (first, last) = (days[0].to_string(), days[2].to_string());
    assert_eq!(
        wait_for(total, Duration::from_secs(60), || stored(&a, "temperature", &first, &last, "Europe/Rome")).await,
        total
    );

    // The hub goes down; the daily report waits in the outbox.
    drop(hub);
    let (s, _) = a.post("triggers/daily", json!({})).await;
    assert_eq!(s, 202);
    let n = expected.len() as u64;
    assert_eq!(wait_for(n, Duration::from_secs(60), || outbox_depth(&a)).await, n, "records not queued");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(outbox_depth(&a).await, n, "records left the outbox while the hub was down");

    // Back up: everything is delivered once and written to InfluxDB.
    let _hub = peers::hub(&hub_data, hub_port, &influx_url);
    let http = reqwest::Client::new();
    let count = || async {
        let v = influx(&http, &influx_url, "SELECT count(\"mean\") FROM daily_aggregate").await;
        v["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0)
    };
    assert_eq!(wait_for(n, Duration::from_secs(60), count).await, n);
    assert_eq!(outbox_depth(&a).await, 0);
    let v = influx(&http, &influx_url, "SELECT * FROM daily_aggregate").await;
    let series = &v["results"][0]["series"][0];
    let cols: Vec<&str> = series["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let col = |row: &Value, name: &str| row[cols.iter().position(|c| *c == name).unwrap()].clone();
    for row in series["values"].as_array().unwrap() {
        let dc: u32 = col(row, "datacenter_id").as_str().unwrap().parse().unwrap();
        let metric = col(row, "metric").as_str().unwrap().to_string();
        assert_eq!(col(row, "site"), "torino");
        let ts = col(row, "time").as_i64().unwrap();
        let day = Rome.timestamp_millis_opt(ts).unwrap().date_naive();
        assert_eq!(
            Rome.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().timestamp_millis(),
            ts
        );
        let want = stats(expected[&(dc, metric.clone(), day)].clone());
        let got = ["count", "min", "max", "mean", "median"].map(|f| col(row, f).as_f64().unwrap());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{dc} {metric} {day}: got {got:?}, want {want:?}");
        }
    }
    // Nothing twice at the hub either, and a second report finds nothing pending.
    let (s, _) = a.post("triggers/daily", json!({})).await;
    assert_eq!(s, 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count().await, n);
    let agg: Value = http
        .get(format!("{hub_url}/api/v1/aggregates"))
        .query(&[("site", "torino")])
        .bearer_auth("admin-token-for-tests-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = agg.get("records").or(agg.get("aggregates")).unwrap_or(&agg);
    assert_eq!(rows.as_array().map(|r| r.len() as u64), Some(n), "{agg}");
}
