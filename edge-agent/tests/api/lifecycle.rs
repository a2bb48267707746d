//! Process lifecycle: `kill -9` loses nothing committed, SIGTERM drains in-flight activations, bad settings stop the start.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{bin, Agent};

#[tokio::test]
async fn kill_9_keeps_every_acknowledged_entity_and_activation() {
    let mut a = Agent::spawn(None, &[]).await;
    let keep = a.take_dir();
    a.node_action("inc", "function main(p){ return {n: (p.n||0)+1} }").await;
    assert_eq!(a.put("triggers/t", json!({})).await.0, 200);
    assert_eq!(a.put("rules/r", json!({"trigger":"/_/t","action":"/_/inc"})).await.0, 200);
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, b) = a.post("actions/inc?blocking=true", json!({"n": i})).await;
        assert_eq!(s, 200, "{b}");
        ids.push(b["activationId"].as_str().unwrap().to_string());
    }
    // Records are persisted right after the blocking answer (as OpenWhisk does): wait until all five are listed.
    let mut listed = 0;
    for _ in 0..100 {
        listed = a.get("activations?count=true&name=inc").await.1["activations"].as_u64().unwrap_or(0);
        if listed >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed, 5);
    // Keep invoking non-blocking while the process is killed.
    let api = a.url("actions/inc");
    let auth = a.auth.clone();
    let flood = tokio::spawn(async move {
        let c = reqwest::Client::new();
        for _ in 0..200 {
            let _ = c.post(&api).basic_auth(&auth.0, Some(&auth.1)).json(&json!({})).send().await;
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    a.signal(libc::SIGKILL);
    assert!(a.wait_exit(Duration::from_secs(5)).is_some());
    flood.abort();
    let data = a.data.clone();
    drop(a);

    let b = Agent::spawn(Some(data), &[]).await;
    assert_eq!(b.get("actions/inc").await.0, 200);
    let (s, rule) = b.get("rules/r").await;
    assert_eq!((s, rule["status"].as_str()), (200, Some("active")));
    for id in &ids {
        let (s, rec) = b.get(&format!("activations/{id}")).await;
        assert_eq!(s, 200, "activation {id} lost: {rec}");
        assert_eq!(rec["response"]["success"], true);
    }
    // The store is usable: new writes and reads work.
    let (s, r) = b.post("actions/inc?blocking=true&result=true", json!({"n": 41})).await;
    assert_eq!((s, r["n"].as_i64()), (200, Some(42)));
    drop(keep);
}

#[tokio::test]
async fn sigterm_lets_running_activations_finish_and_exits_cleanly() {
    let mut a = Agent::spawn(None, &[]).await;
    let keep = a.take_dir();
    a.node_action("slow", "function main(){ return new Promise(r => setTimeout(() => r({done: true}), 1500)) }").await;
    let (s, b) = a.post("actions/slow", json!({})).await;
    assert_eq!(s, 202);
    let id = b["activationId"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit(Duration::from_secs(20)).and_then(|s| s.code()), Some(0), "agent did not exit cleanly");
    let data = a.data.clone();
    drop(a);
    let b = Agent::spawn(Some(data), &[]).await;
    let (s, rec) = b.get(&format!("activations/{id}")).await;
    assert_eq!(s, 200, "in-flight activation was not recorded: {rec}");
    assert_eq!(rec["response"]["result"]["done"], true);
    drop(keep);
}

#[test]
fn invalid_settings_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("limits.fires_per_minute"), "{err}");
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "not-an-address", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}

#[tokio::test]
async fn namespaces_command_creates_keys_the_running_agent_accepts() {
    let a = Agent::spawn(None, &[]).await;
    a.node_action("mine", "function main(){ return {} }").await;
    let out = std::process::Command::new(bin())
        .args(["namespaces", "create", "acme", "--data"])
        .arg(&a.data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_string();
    let (u, k) = key.split_once(':').unwrap();
    let r = a.http.get(format!("{}/api/v1/namespaces", a.api)).basic_auth(u, Some(k)).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), json!(["acme"]));
    let r = a
        .http
        .get(format!("{}/api/v1/namespaces/guest/actions/mine", a.api))
        .basic_auth(u, Some(k))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let list = std::process::Command::new(bin()).args(["namespaces", "list", "--data"]).arg(&a.data).output().unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(text.contains("acme") && text.contains("guest") && !text.contains(k));
}

#[tokio::test]
async fn metrics_count_activations_by_outcome() {
    let a = Agent::spawn(None, &[]).await;
    a.node_action("ok", "function main(){ return {} }").await;
    a.node_action("bad", "function main(){ return {error: 'no'} }").await;
    assert_eq!(a.post("actions/ok?blocking=true", json!({})).await.0, 200);
    assert_eq!(a.post("actions/bad?blocking=true", json!({})).await.0, 502);
    let text = a.http.get(format!("{}/metrics", a.api)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("fogwhisk_edge_activations_total{status=\"success\"} 1"), "{text}");
    assert!(text.contains("fogwhisk_edge_activations_total{status=\"application_error\"} 1"), "{text}");
    assert!(text.contains("fogwhisk_edge_cold_starts 2"), "{text}");
}
