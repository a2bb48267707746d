//! Who may push, against the REAL hub (`target/debug/fogwhisk-hub`, `cargo build -p fogwhisk-hub`):
//! the site's namespace `guest` pushes a record that reaches the hub; namespace `evil` tries to replace
//! it through `/whisk.system/federation/push` and gets 403, an invalid record gets 400 with the reason,
//! and the hub's aggregate stays as the site computed it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use fogwhisk_testkit::hub::Hub;

use crate::helpers::{bin, Agent};

fn add_site(data: &Path) -> String {
    fogwhisk_testkit::hub::add_site(data, "torino", "UTC")
}

fn record(day: &str, count: u64, min: f64, max: f64, mean: f64) -> Value {
    json!({"datacenter_id": 1, "metric": "temperature", "day": day, "tz": "UTC",
           "count": count, "min": min, "max": max, "mean": mean, "median": mean})
}

/// Invokes federation/push as (user, key), blocking; returns the HTTP status and the activation.
async fn push(a: &Agent, auth: (&str, &str), records: Value) -> (u16, Value) {
    let r = a
        .http
        .post(format!("{}/api/v1/namespaces/whisk.system/actions/federation/push?blocking=true", a.api))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({ "records": records }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn at_hub(hub: &Hub) -> Vec<Value> {
    let v: Value =
        reqwest::get(format!("{}/api/v1/aggregates?site=torino", hub.url)).await.unwrap().json().await.unwrap();
    v["records"].as_array().cloned().unwrap_or_default()
}

async fn outbox_depth(a: &Agent) -> f64 {
    let text = a.http.get(format!("{}/metrics", a.api)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("fogwhisk_edge_site{figure=\"outbox_depth\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_site_namespace_pushes_and_invalid_records_are_refused_with_the_reason() {
    let hub_dir = tempfile::tempdir().unwrap();
    let token = add_site(hub_dir.path());
    let hub = Hub::start(hub_dir.path(), "127.0.0.1:0");
    let env = [
        ("FOGWHISK_EDGE_SITE_ID", "torino"),
        ("FOGWHISK_EDGE_HUB__URL", hub.url.as_str()),
        ("FOGWHISK_EDGE_HUB__TOKEN", token.as_str()),
        ("FOGWHISK_EDGE_HUB__RETRY_BASE_MS", "100"),
    ];
    let a = Agent::spawn(None, &env).await;
    let day = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();

    // The site's own pipeline (namespace guest) pushes the real aggregate.
    let guest = (a.auth.0.clone(), a.auth.1.clone());
    let (s, act) = push(&a, (&guest.0, &guest.1), json!([record(&day, 96, 18.5, 23.0, 21.2)])).await;
    assert_eq!((s, act["response"]["result"]["queued"].clone()), (200, json!(1)), "{act}");
    for _ in 0..200 {
        if !at_hub(&hub).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = at_hub(&hub).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!((before[0]["record"]["mean"].clone(), before[0]["record"]["count"].clone()), (json!(21.2), json!(96)));

    // Namespace evil, with a valid key of its own, tries to replace it.
    let out = Command::new(bin()).args(["namespaces", "create", "evil", "--data"]).arg(&a.data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_string();
    let (u, k) = key.split_once(':').unwrap();
    let (s, act) = push(&a, (u, k), json!([record(&day, 1, 99.0, 99.0, 99.0)])).await;
    let result = &act["response"]["result"];
    assert_eq!((s, result["code"].clone()), (502, json!(403)), "{act}");
    assert_eq!(act["response"]["status"], "application error", "{act}");
    assert!(result["error"].as_str().unwrap().contains("'evil' is not allowed"), "{result}");
    // whisk.system is not the site's pipeline either.
    let sys = crate::helpers::wskprops(&a.data.join("wskprops-whisk.system")).unwrap().1;
    let (su, sk) = sys.split_once(':').unwrap();
    let (_, act) = push(&a, (su, sk), json!([record(&day, 1, 99.0, 99.0, 99.0)])).await;
    assert_eq!(act["response"]["result"]["code"], json!(403), "{act}");

    // Invalid records from guest: refused at push with the reason, nothing queued.
    let mut huge = record(&day, 1, 1.0, 2.0, 1.5);
    huge["count"] = json!(i64::MAX as u64 + 1);
    let cases = [
        (record(&day, 96, 30.0, 23.0, 25.0), "records[0]: min: must be <= max"),
        (huge, "records[0]: count: must be at most"),
        (record("1970-01-01", 96, 18.5, 23.0, 21.2), "before 2000-01-01"),
        (record("9999-12-31", 96, 18.5, 23.0, 21.2), "in the future"),
        (
            {
                let mut r = record(&day, 96, 18.5, 23.0, 21.2);
                r["tz"] = json!("Europe/Rome");
                r
            },
            "not the site's time zone",
        ),
    ];
    for (bad, words) in cases {
        let (s, act) = push(&a, (&guest.0, &guest.1), json!([bad])).await;
        let result = &act["response"]["result"];
        assert_eq!((s, result["code"].clone()), (502, json!(400)), "{act}");
        assert!(result["error"].as_str().unwrap().contains(words), "{words}: {result}");
    }

    // Nothing reached the hub or waits in the outbox: the aggregate is still the site's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(outbox_depth(&a).await, 0.0);
    let after = at_hub(&hub).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["record"], before[0]["record"], "the hub's aggregate is unchanged");
    assert_eq!(after[0]["received_at"], before[0]["received_at"]);
}
