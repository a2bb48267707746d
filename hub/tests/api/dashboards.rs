//! Every query of the Grafana dashboard (variables and panels), with Grafana's `$timeFilter`, `$__interval`
//! and variables expanded, run against real InfluxDB 1.x filled by the hub; plus the provisioning files.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, influx_v1, record, spawn_app_with};
use crate::peers::Influxd;

const DASHBOARDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboards");
const METRICS: [&str; 3] = ["temperature", "humidity", "gas_perc"];

/// Expands Grafana's macros and variables the way its InfluxDB data source does
/// (multi-value/All variables become a regex group `(a|b)`).
fn expand(q: &str, vars: &BTreeMap<&str, Vec<String>>, interval: &str) -> String {
    // 2026-11-10T00:00:00Z .. 2026-11-24T00:00:00Z, as Grafana writes it.
    let mut out = q
        .replace("$timeFilter", "time >= 1794268800000ms and time <= 1795478400000ms")
        .replace("$__interval", interval);
    for (name, values) in vars {
        let escaped: Vec<String> = values.iter().map(|v| v.replace('.', "\\.")).collect();
        out = out.replace(&format!("${name}"), &format!("({})", escaped.join("|")));
    }
    assert!(
        !out.contains("$timeFilter") && !out.contains("$__") && !out.replace("$/", "").contains('$'),
        "unexpanded: {out}"
    );
    out
}

/// (site, tz, datacenter) -> daily means for days 18..=20; min = mean-2, max = mean+3.
fn mean(site: &str, dc: u32, metric: usize, day: u32) -> f64 {
    let base = if site == "torino" { 20.0 } else { 15.0 };
    base + f64::from(dc) + 10.0 * metric as f64 + f64::from(day - 18)
}

fn tag_values(v: &Value) -> Vec<String> {
    v["results"][0]["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_dashboard_query_runs_against_influxdb_filled_by_the_hub() {
    let influx = Influxd::start();
    let app = spawn_app_with(influx_v1(influx.url(), "fogwhisk")).await;
    let sites = [("torino", "Europe/Rome", vec![7u32, 8]), ("lisboa", "Europe/Lisbon", vec![3])];
    for (site, tz, dcs) in &sites {
        let token = app.add_site(site, tz).await;
        let mut recs = Vec::new();
        for day in 18..=20 {
            for dc in dcs {
                for (i, m) in METRICS.iter().enumerate() {
                    recs.push(record(*dc, m, &format!("2026-11-{day}"), tz, mean(site, *dc, i, day)));
                }
            }
        }
        assert_eq!(app.post_batch(site, &token, &json!({ "records": recs })).await.status(), 200);
    }
    eventually(Duration::from_secs(30), "27 points in InfluxDB", || async {
        let v = influx.query("fogwhisk", "SELECT count(mean) FROM daily_aggregate").await;
        (v["results"][0]["series"][0]["values"][0][1].as_u64() == Some(27)).then_some(())
    })
    .await;

    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DASHBOARDS}/fogwhisk-daily-aggregates.json")).unwrap())
            .unwrap();
    assert_eq!(dash["uid"], "fogwhisk-daily-aggregates");
    assert!(dash["schemaVersion"].as_u64().unwrap() >= 39);
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert_eq!(vars[0]["type"], "datasource");
    assert_eq!(vars[0]["query"], "influxdb");

    // Variables: `site`, then `datacenter_id` depending on it.
    let var_query =
        |name: &str| vars.iter().find(|v| v["name"] == name).unwrap()["query"].as_str().unwrap().to_string();
    let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let sites_found = tag_values(&influx.query("fogwhisk", &expand(&var_query("site"), &values, "1d")).await);
    assert_eq!(sites_found, ["lisboa", "torino"]);
    values.insert("site", vec!["torino".into()]);
    let dcs = tag_values(&influx.query("fogwhisk", &expand(&var_query("datacenter_id"), &values, "1d")).await);
    assert_eq!(dcs, ["7", "8"]);
    values.insert("site", sites_found.clone());
    let dcs = tag_values(&influx.query("fogwhisk", &expand(&var_query("datacenter_id"), &values, "1d")).await);
    assert_eq!(dcs, ["3", "7", "8"]);
    values.insert("datacenter_id", dcs);

    let panels = dash["panels"].as_array().unwrap();
    let (mut stats, mut series_panels) = (0, 0);
    for panel in panels {
        assert_eq!(panel["datasource"]["uid"], "${datasource}");
        let target = &panel["targets"][0];
        let q = target["query"].as_str().unwrap();
        let metric = METRICS.iter().position(|m| q.contains(&format!("'{m}'"))).expect("panel names a metric");
        let interval = panel["interval"].as_str().unwrap_or("1d");
        let v = influx.query("fogwhisk", &expand(q, &values, interval)).await;
        let series = v["results"][0]["series"].as_array().unwrap_or_else(|| panic!("no series for {q}: {v}"));
        assert_eq!(series.len(), 3, "one series per site and datacenter: {q}");
        for s in series {
            let (site, dc) = (
                s["tags"]["site"].as_str().unwrap(),
                s["tags"]["datacenter_id"].as_str().unwrap().parse::<u32>().unwrap(),
            );
            let rows = s["values"].as_array().unwrap();
            match panel["type"].as_str().unwrap() {
                "stat" => {
                    assert_eq!(rows.len(), 1);
                    assert_eq!(rows[0][1].as_f64(), Some(mean(site, dc, metric, 20)), "latest {site} {dc}");
                }
                "timeseries" => {
                    let cols: Vec<&str> =
                        s["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
                    assert_eq!(cols, ["time", "mean", "min", "max"]);
                    let mut got: Vec<(f64, f64, f64)> = rows
                        .iter()
                        .map(|r| (r[1].as_f64().unwrap(), r[2].as_f64().unwrap(), r[3].as_f64().unwrap()))
                        .collect();
                    got.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let want: Vec<(f64, f64, f64)> =
                        (18..=20).map(|d| mean(site, dc, metric, d)).map(|m| (m, m - 2.0, m + 3.0)).collect();
                    assert_eq!(got, want, "{site} dc {dc} {}", METRICS[metric]);
                }
                other => panic!("unexpected panel type {other}"),
            }
        }
        if panel["type"] == "stat" {
            stats += 1
        } else {
            series_panels += 1
        }
    }
    assert_eq!((stats, series_panels), (3, 3));
    app.stop().await;
}

#[test]
fn provisioning_files_are_valid() {
    let read = |p: &str| -> Value {
        serde_norway::from_str(&std::fs::read_to_string(format!("{DASHBOARDS}/provisioning/{p}")).unwrap()).unwrap()
    };
    for f in ["datasources/influxdb-v1.yaml", "datasources/influxdb-v2.yaml"] {
        let v = read(f);
        assert_eq!(v["apiVersion"], 1);
        let ds = &v["datasources"][0];
        assert_eq!(ds["type"], "influxdb", "{f}");
        assert!(ds["jsonData"]["dbName"].is_string(), "{f}");
    }
    let v2 = read("datasources/influxdb-v2.yaml");
    assert_eq!(v2["datasources"][0]["jsonData"]["version"], "InfluxQL");
    let p = read("dashboards/fogwhisk.yaml");
    assert_eq!(p["providers"][0]["type"], "file");
    assert!(p["providers"][0]["options"]["path"].is_string());
}
