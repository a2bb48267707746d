//! Mosquitto → MQTT feed → rule → record-reading → telemetry store, through crashes and broker restarts.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{bin, Agent};
use crate::peers::{message, publish, publisher, Mosquitto};

const LIMITS: [(&str, &str); 3] = [
    ("FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE", "100000"),
    ("FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE", "100000"),
    ("FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS", "1000"),
];

/// Starts an agent and applies `actions/manifest.yaml` with the given broker.
pub async fn site_agent(data: Option<std::path::PathBuf>, mqtt_port: u16, extra: &[(&str, &str)]) -> Agent {
    let mut env: Vec<(&str, &str)> = LIMITS.to_vec();
    env.extend_from_slice(extra);
    let a = Agent::spawn(data, &env).await;
    deploy(&a, mqtt_port, extra);
    a
}

/// Runs `fogwhisk-edge deploy` against a running agent.
pub fn deploy(a: &Agent, mqtt_port: u16, env: &[(&str, &str)]) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions/manifest.yaml");
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["deploy", "--data"]).arg(&a.data).arg("--manifest").arg(&manifest);
    cmd.arg("--var").arg(format!("MQTT_URL=mqtt://127.0.0.1:{mqtt_port}"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "deploy failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Readings of `metric` stored for local days `from..=to` (UTC unless `tz`).
pub async fn stored(a: &Agent, metric: &str, from: &str, to: &str, tz: &str) -> u64 {
    let (s, b) = a.get(&format!("telemetry/daily?from={from}&to={to}&tz={tz}")).await;
    assert_eq!(s, 200, "{b}");
    b["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["metric"] == metric)
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

/// Polls `f` (with `fogwhisk_testkit::eventually`) until it returns `want` or `within` passed; returns the last
/// value, so that callers assert with their own diagnostics (how many readings were lost, say).
pub async fn wait_for<F, Fut>(want: u64, within: Duration, mut f: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let deadline = Instant::now() + within;
    fogwhisk_testkit::eventually(within + Duration::from_secs(30), &format!("the value {want}"), || {
        let next = f();
        async move { Some(next.await).filter(|v| *v == want || Instant::now() >= deadline) }
    })
    .await
}

fn days_ago(n: i64) -> (i64, String) {
    let d = chrono::Utc::now().date_naive() - chrono::Duration::days(n);
    (d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(), d.to_string())
}

#[tokio::test]
async fn messages_become_readings_and_bad_messages_fail_clearly() {
    let broker = Mosquitto::start();
    let port = broker.port;
    let a = site_agent(None, port, &[]).await;
    let (base, day) = days_ago(2);
    let c = publisher(port, "sensor-a").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..20 {
        publish(&c, 7, "9A3F21", message(7, "9A3F21", 20.0 + i as f64 / 10.0, 48.0, 12.5, base + 60 * i)).await;
    }
    for bad in [
        "not json",
        r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":"hot"}"#,
        r#"{"device_fingerprint":"9A3F21","temperature":21.0}"#,
    ] {
        publish(&c, 7, "9A3F21", bad.to_string()).await;
    }
    let n = wait_for(20, Duration::from_secs(30), || stored(&a, "temperature", &day, &day, "UTC")).await;
    assert_eq!(n, 20);
    let failed = wait_for(3, Duration::from_secs(20), || async {
        let (_, rows) = a.get("activations?name=fogwhisk/record-reading&limit=100&docs=true").await;
        rows.as_array().unwrap().iter().filter(|r| r["response"]["status"] == "application error").count() as u64
    })
    .await;
    assert_eq!(failed, 3);
    let (_, rows) = a.get("activations?name=fogwhisk/record-reading&limit=100&docs=true").await;
    let errors: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["response"]["result"]["error"].as_str().map(String::from))
        .collect();
    assert!(errors.iter().all(|e| !e.is_empty()), "{errors:?}");
    assert_eq!(a.http.get(format!("{}/api/v1", a.api)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn kill_9_while_messages_arrive_loses_no_acknowledged_reading() {
    let broker = Mosquitto::start();
    let port = broker.port;
    let mut a = site_agent(None, port, &[]).await;
    let keep = a.take_dir();
    let (base, day) = days_ago(3);
    const N: i64 = 400;
    let c = publisher(port, "sensor-b").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pubs = tokio::spawn(async move {
        for i in 0..N {
            publish(&c, 3, "B00001", message(3, "B00001", 21.0, 40.0, 5.0, base + i)).await;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        c
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.signal(libc::SIGKILL);
    a.wait_exit(Duration::from_secs(5)).expect("agent killed");
    let data = a.data.clone();
    drop(a);
    let publisher = pubs.await.unwrap();
    let b = Agent::spawn(Some(data), &LIMITS).await;
    let n = wait_for(N as u64, Duration::from_secs(60), || stored(&b, "temperature", &day, &day, "UTC")).await;
    assert_eq!(n, N as u64, "readings lost or counted twice across kill -9 ({n} of {N})");
    let _ = publisher.disconnect().await;
    drop(keep);
}

#[tokio::test]
async fn the_feed_reconnects_after_a_broker_restart() {
    let mut broker = Mosquitto::start();
    let port = broker.port;
    let a = site_agent(None, port, &[]).await;
    let (base, day) = days_ago(1);
    let c = publisher(port, "sensor-c").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish(&c, 1, "C00001", message(1, "C00001", 19.0, 50.0, 1.0, base)).await;
    assert_eq!(wait_for(1, Duration::from_secs(20), || stored(&a, "temperature", &day, &day, "UTC")).await, 1);
    broker.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart();
    // The feed fires `disconnected` then `connected` status events to the trigger (the first `connected`
    // came before the rule existed, so it was not recorded).
    let statuses = wait_for(1, Duration::from_secs(30), || async {
        let (_, rows) = a.get("activations?name=telemetry&limit=200&docs=true").await;
        let bodies: Vec<&Value> = rows.as_array().unwrap().iter().map(|r| &r["response"]["result"]["body"]).collect();
        let (down, up) =
            (bodies.iter().position(|b| *b == "disconnected"), bodies.iter().position(|b| *b == "connected"));
        matches!((down, up), (Some(d), Some(u)) if u < d) as u64
    })
    .await;
    assert_eq!(statuses, 1, "no reconnection status seen");
    let c2 = publisher(port, "sensor-c2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish(&c2, 1, "C00001", message(1, "C00001", 19.5, 50.0, 1.0, base + 60)).await;
    assert_eq!(wait_for(2, Duration::from_secs(30), || stored(&a, "temperature", &day, &day, "UTC")).await, 2);
    let (_, v): (u16, Value) = a.get("triggers/telemetry").await;
    assert_eq!(v["name"], json!("telemetry"));
}
