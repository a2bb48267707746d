//! Activation records past a namespace's quota (count or bytes) are pruned oldest-first in the commit that stores
//! new ones: every activation still succeeds, the newest records stay, another namespace keeps its own.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::Agent;

async fn invoke(a: &Agent, name: &str, params: Value) -> String {
    let (s, b) = a.post(&format!("actions/{name}?blocking=true"), params).await;
    assert_eq!(s, 200, "activations never fail because of old records: {b}");
    assert_eq!(b["response"]["success"], json!(true), "{b}");
    b["activationId"].as_str().unwrap().to_string()
}

/// The ids listed for `name`, newest first, once `ok` holds for them (records are committed just after the answer).
async fn listed_until(a: &Agent, name: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let start = Instant::now();
    loop {
        let (s, b) = a.get(&format!("activations?name={name}&limit=100")).await;
        assert_eq!(s, 200, "{b}");
        let ids: Vec<String> =
            b.as_array().unwrap().iter().map(|r| r["activationId"].as_str().unwrap().to_string()).collect();
        if ok(&ids) {
            return ids;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "listed {ids:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn records_past_the_count_quota_are_pruned_oldest_first() {
    let a = Agent::spawn(None, &[("FOGWHISK_EDGE_ACTIVATIONS__KEEP_COUNT", "5")]).await;
    a.node_action("tick", "function main(p){ return {n: p.n} }").await;
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.push(invoke(&a, "tick", json!({"n": n})).await);
        // one at a time, so every commit is a quota check of its own
        listed_until(&a, "tick", |l| l.first() == ids.last()).await;
    }
    let newest: Vec<String> = ids[3..].iter().rev().cloned().collect();
    let kept = listed_until(&a, "tick", |l| l.len() == 5).await;
    assert_eq!(kept, newest, "the five newest stay");
    for old in &ids[..3] {
        assert_eq!(a.get(&format!("activations/{old}")).await.0, 404, "{old} was pruned");
    }
}

#[tokio::test]
async fn records_past_the_bytes_quota_are_pruned_oldest_first() {
    let a = Agent::spawn(None, &[("FOGWHISK_EDGE_ACTIVATIONS__KEEP_MB", "1")]).await;
    // each record carries a 300 kB result: three fit in 1 MB, four do not
    a.node_action("bulky", "function main(p){ return {n: p.n, pad: 'x'.repeat(300 * 1024)} }").await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(invoke(&a, "bulky", json!({"n": n})).await);
        listed_until(&a, "bulky", |l| l.first() == ids.last()).await;
    }
    let kept = listed_until(&a, "bulky", |l| l.len() <= 3).await;
    let newest: Vec<String> = ids[3..].iter().rev().cloned().collect();
    assert_eq!(kept, newest, "the three newest stay");
    assert_eq!(a.get(&format!("activations/{}", ids[0])).await.0, 404);
    let (s, b) = a.get(&format!("activations/{}", ids[5])).await;
    assert_eq!((s, b["response"]["result"]["n"].clone()), (200, json!(5)));
}
