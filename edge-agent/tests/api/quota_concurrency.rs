//! The concurrency share per namespace (`limits.concurrent_invocations`): a namespace with that many activations
//! in flight gets OpenWhisk's 429 while another namespace's activations run.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::Agent;

/// Waits in the action until the gate file exists (in /tmp: runtime processes run under uids of their own).
const GATED: &str = r#"
const fs = require('fs');
async function main(p) {
  while (!fs.existsSync(p.gate)) await new Promise((r) => setTimeout(r, 20));
  return { through: true };
}"#;

#[tokio::test]
async fn a_namespace_at_its_concurrency_share_gets_429_while_another_runs() {
    let a = Agent::spawn(None, &[("FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS", "2")]).await;
    let gate = std::env::temp_dir().join(format!("fogwhisk-quota-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&gate);
    a.node_action("gated", GATED).await;
    let params = json!({"gate": gate});
    for _ in 0..2 {
        let (s, b) = a.post("actions/gated", params.clone()).await;
        assert_eq!(s, 202, "{b}");
    }
    let (s, b) = a.post("actions/gated?blocking=true", params.clone()).await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(b["error"], json!("Too many concurrent requests in flight (count: 3, allowed: 2)."), "{b}");
    assert!(b["code"].as_str().is_some_and(|c| !c.is_empty()), "{b}");

    // another namespace invokes guest's shared package meanwhile: its own share, it runs
    let (s, b) = a.put("packages/tools", json!({"publish": true})).await;
    assert_eq!(s, 200, "{b}");
    a.node_action("tools/hello", "function main(){ return {hello: 'other'} }").await;
    let (u, k) = a.create_namespace("other");
    for _ in 0..3 {
        let r = a
            .http
            .post(format!("{}/api/v1/namespaces/guest/actions/tools/hello?blocking=true&result=true", a.api))
            .basic_auth(&u, Some(&k))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"hello": "other"}));
    }

    // once guest's activations end, its share is free again
    std::fs::write(&gate, "open").unwrap();
    let start = Instant::now();
    let through = loop {
        let (s, b) = a.get("activations?name=gated&docs=true").await;
        assert_eq!(s, 200, "{b}");
        let done = b.as_array().unwrap().iter().filter(|r| r["response"]["result"]["through"] == json!(true)).count();
        if done == 2 {
            break done;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{b}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(through, 2);
    let (s, b) = a.post("actions/gated?blocking=true&result=true", params).await;
    let _ = std::fs::remove_file(&gate);
    assert_eq!((s, b), (200, json!({"through": true})));
}
