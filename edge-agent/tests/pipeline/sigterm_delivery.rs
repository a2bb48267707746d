//! SIGTERM while the outbox is being delivered to the REAL hub (`target/debug/fogwhisk-hub`): the agent
//! stops cleanly mid-delivery, and after a restart on the same data folder every record pushed (and
//! acknowledged to the caller as queued) reaches the hub exactly once, with its values.

use std::time::Duration;

use serde_json::{json, Value};

use fogwhisk_testkit::hub::Hub;

use crate::helpers::Agent;
use crate::sigterm::exited;

const DAYS: i64 = 80;
const DCS: u32 = 4;

async fn at_hub(hub: &Hub) -> Vec<Value> {
    let v: Value =
        reqwest::get(format!("{}/api/v1/aggregates?site=torino", hub.url)).await.unwrap().json().await.unwrap();
    v["records"].as_array().cloned().unwrap_or_default()
}

async fn outbox_depth(a: &Agent) -> u64 {
    let text = a.http.get(format!("{}/metrics", a.api)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("fogwhisk_edge_site{figure=\"outbox_depth\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(u64::MAX, |v| v as u64)
}

/// One record per (day, datacenter); its mean encodes both, so a mixed-up or lost record shows.
fn records() -> Vec<Value> {
    let today = chrono::Utc::now().date_naive();
    let mut out = Vec::new();
    for d in 1..=DAYS {
        let day = (today - chrono::Duration::days(d)).format("%Y-%m-%d").to_string();
        for dc in 1..=DCS {
            let mean = d as f64 + dc as f64 / 10.0;
            out.push(json!({"datacenter_id": dc, "metric": "temperature", "day": day, "tz": "UTC",
                            "count": 96, "min": mean - 1.0, "max": mean + 1.0, "mean": mean, "median": mean}));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_delivery_to_the_hub_loses_and_duplicates_nothing() {
    let hub_dir = tempfile::tempdir().unwrap();
    let token = fogwhisk_testkit::hub::add_site(hub_dir.path(), "torino", "UTC");
    let hub = Hub::start(hub_dir.path(), "127.0.0.1:0");
    // One record per request, so that delivery takes many round trips and SIGTERM lands in the middle.
    let env = [
        ("FOGWHISK_EDGE_SITE_ID", "torino"),
        ("FOGWHISK_EDGE_HUB__URL", hub.url.as_str()),
        ("FOGWHISK_EDGE_HUB__TOKEN", token.as_str()),
        ("FOGWHISK_EDGE_HUB__BATCH_SIZE", "1"),
        ("FOGWHISK_EDGE_HUB__RETRY_BASE_MS", "100"),
    ];
    let mut a = Agent::spawn(None, &env).await;
    let data = a.data.clone();
    let _keep = a.take_dir();
    let all = records();
    let resp = a
        .http
        .post(format!("{}/api/v1/namespaces/whisk.system/actions/federation/push?blocking=true", a.api))
        .basic_auth(&a.auth.0, Some(&a.auth.1))
        .json(&json!({ "records": all }))
        .send()
        .await
        .unwrap();
    let (s, act): (u16, Value) = (resp.status().as_u16(), resp.json().await.unwrap());
    assert_eq!((s, act["response"]["result"]["queued"].clone()), (200, json!(all.len())), "{act}");

    // SIGTERM once some records arrived and some are still queued.
    fogwhisk_testkit::eventually(Duration::from_secs(30), "the first records at the hub", || async {
        (!at_hub(&hub).await.is_empty()).then_some(())
    })
    .await;
    a.signal(libc::SIGTERM);
    let code = exited(&mut a, Duration::from_secs(20)).await;
    assert_eq!(code, Some(0), "the agent did not exit cleanly on SIGTERM during delivery");
    let delivered_before = at_hub(&hub).await.len();
    assert!(
        delivered_before < all.len(),
        "delivery finished before SIGTERM ({delivered_before}); the test proves nothing"
    );
    drop(a);

    // Restarted on the same data, delivery resumes where it stopped.
    let a = Agent::spawn(Some(data), &env).await;
    fogwhisk_testkit::eventually(Duration::from_secs(60), "an empty outbox", || async {
        (outbox_depth(&a).await == 0).then_some(())
    })
    .await;
    let got = at_hub(&hub).await;
    assert_eq!(got.len(), all.len(), "records lost or doubled at the hub: {} of {}", got.len(), all.len());
    for want in &all {
        let found = got
            .iter()
            .filter(|r| r["record"]["day"] == want["day"] && r["record"]["datacenter_id"] == want["datacenter_id"])
            .count();
        assert_eq!(found, 1, "{want}");
        let r = got
            .iter()
            .find(|r| r["record"]["day"] == want["day"] && r["record"]["datacenter_id"] == want["datacenter_id"])
            .unwrap();
        assert_eq!(r["record"]["mean"], want["mean"], "{r}");
    }
    eprintln!(
        "SIGTERM with {delivered_before} of {} records at the hub; all {} there once after the restart",
        all.len(),
        all.len()
    );
}
