//! SIGTERM (what a rollout restart sends) loses nothing the agent acknowledged: QoS 1 messages through
//! real Mosquitto and the real `record-reading` under a steady stream, a blocking invoke, a trigger fire with
//! a rule. The agent drains in order: feeds stop acknowledging, new external invokes and fires get 503,
//! running activations finish while the API still serves their calls, then HTTP, the writers and the pool.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::Agent;
use crate::mqtt::{site_agent, wait_for};
use crate::peers::{message, publish, publisher, Mosquitto};

const LIMITS: [(&str, &str); 3] = [
    ("FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE", "100000"),
    ("FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE", "100000"),
    ("FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS", "1000"),
];

/// Waits (without blocking the runtime's thread) until the agent process exits; its exit code.
pub async fn exited(a: &mut Agent, within: Duration) -> Option<i32> {
    let child = a.child.as_mut().unwrap();
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st.code().unwrap_or(-1));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Polls `f` until it returns true or the time runs out; whether it did.
async fn until<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return true;
        }
        if start.elapsed() > within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Per metric, (count, mean) of the readings of datacenter `dc` stored for the UTC day `day`.
async fn dc_stats(a: &Agent, dc: u64, day: &str) -> HashMap<String, (u64, f64)> {
    let (s, b) = a.get(&format!("telemetry/daily?from={day}&to={day}&tz=UTC")).await;
    assert_eq!(s, 200, "{b}");
    b["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["datacenter_id"].as_u64() == Some(dc))
        .map(|r| {
            (r["metric"].as_str().unwrap().to_string(), (r["count"].as_u64().unwrap(), r["mean"].as_f64().unwrap()))
        })
        .collect()
}

/// The smallest count over the three metrics of a message (0 when one is missing).
fn least(stats: &HashMap<String, (u64, f64)>) -> u64 {
    ["temperature", "humidity", "gas_perc"].iter().map(|m| stats.get(*m).map_or(0, |s| s.0)).min().unwrap()
}

/// The values of message `i` (distinct per message through its `ts`; the values check the means).
fn values(i: i64) -> (f64, f64, f64) {
    (15.0 + (i % 50) as f64 / 10.0, 40.0 + (i % 7) as f64, (i % 11) as f64 / 2.0)
}

/// `fogwhisk_edge_pool_busy_processes` from `/metrics`: runtime processes running an activation.
async fn busy(a: &Agent) -> u64 {
    let Ok(r) = a.http.get(format!("{}/metrics", a.api)).send().await else { return 0 };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("fogwhisk_edge_pool_busy_processes "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_messages_arrive_loses_no_acknowledged_reading() {
    const ROUNDS: u64 = 3;
    const N: i64 = 600;
    const SIGTERM_AT: i64 = 300;
    // About 300 messages a second, steadily.
    const EVERY: Duration = Duration::from_micros(3_333);
    let broker = Mosquitto::start();
    let port = broker.port;
    let mut a = site_agent(None, port, &LIMITS).await;
    let keep = a.take_dir();
    let data = a.data.clone();
    let day = (chrono::Utc::now().date_naive() - chrono::Duration::days(4)).to_string();
    let base = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    let c = publisher(port, "sigterm-sensors").await;
    // The feed is subscribed once a probe message (datacenter 99) is stored.
    publish(&c, 99, "PROBE1", message(99, "PROBE1", 20.0, 40.0, 1.0, base)).await;
    let probe = wait_for(1, Duration::from_secs(30), || async { least(&dc_stats(&a, 99, &day).await) }).await;
    assert_eq!(probe, 1, "the feed never delivered the probe message");
    let mut report = Vec::new();
    for round in 0..ROUNDS {
        let dc = 10 + round;
        let device = format!("R{round:05}");
        let (at_sigterm_tx, at_sigterm) = tokio::sync::oneshot::channel();
        let pubs = {
            let (c, device) = (c.clone(), device.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(EVERY);
                let mut at_sigterm_tx = Some(at_sigterm_tx);
                let started = Instant::now();
                for i in 0..N {
                    tick.tick().await;
                    let (t, h, g) = values(i);
                    publish(&c, dc as u32, &device, message(dc as u32, &device, t, h, g, base + 60 + i)).await;
                    if i + 1 == SIGTERM_AT {
                        let _ = at_sigterm_tx.take().unwrap().send(());
                    }
                }
                started.elapsed()
            })
        };
        at_sigterm.await.unwrap();
        let before = least(&dc_stats(&a, dc, &day).await);
        let signalled = Instant::now();
        a.signal(libc::SIGTERM);
        let code = exited(&mut a, Duration::from_secs(20)).await;
        let drain = signalled.elapsed();
        assert_eq!(code, Some(0), "round {round}: the agent did not exit cleanly on SIGTERM");
        drop(a);
        a = Agent::spawn(Some(data.clone()), &LIMITS).await;
        let publishing = pubs.await.unwrap();
        let n = wait_for(N as u64, Duration::from_secs(60), || async { least(&dc_stats(&a, dc, &day).await) }).await;
        let stats = dc_stats(&a, dc, &day).await;
        for (k, metric) in ["temperature", "humidity", "gas_perc"].iter().enumerate() {
            let (count, mean) = stats.get(*metric).copied().unwrap_or((0, f64::NAN));
            assert_eq!(
                count, N as u64,
                "round {round}: {metric} readings lost or stored twice ({count} of {N}); all: {stats:?}"
            );
            let want = (0..N).map(|i| [values(i).0, values(i).1, values(i).2][k]).sum::<f64>() / N as f64;
            assert!((mean - want).abs() < 1e-6, "round {round}: {metric} mean {mean}, expected {want}");
        }
        report.push(format!(
            "round {round}: {N} messages in {:.2}s, SIGTERM after message {SIGTERM_AT} ({before} stored then), exit 0 after {} ms, {n}/{N} after restart",
            publishing.as_secs_f64(),
            drain.as_millis()
        ));
    }
    eprintln!("{}", report.join("\n"));
    // The probe is still there once, and no round leaked into another.
    assert_eq!(least(&dc_stats(&a, 99, &day).await), 1);
    let _ = c.disconnect().await;
    drop(a);
    drop(keep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_blocking_invoke_answers_the_caller_and_refuses_new_work() {
    let mut a = Agent::spawn(None, &[]).await;
    a.node_action(
        "slow",
        "function main(p){ return new Promise(r => setTimeout(() => r({done: true, n: p.n}), 2500)) }",
    )
    .await;
    assert_eq!(a.put("triggers/idle", json!({})).await.0, 200);
    let caller = {
        let (url, auth, http) = (a.url("actions/slow?blocking=true&result=true"), a.auth.clone(), a.http.clone());
        tokio::spawn(async move {
            let r = http.post(url).basic_auth(&auth.0, Some(&auth.1)).json(&json!({"n": 7})).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    assert!(until(Duration::from_secs(20), || async { busy(&a).await == 1 }).await, "the activation never started");
    a.signal(libc::SIGTERM);
    // Draining: a fire (204 before, no rule) and a new invoke get 503 with OpenWhisk's error body ...
    let signalled = Instant::now();
    let refused = loop {
        let (s, b) = a.post("triggers/idle", json!({})).await;
        if s == 503 {
            break b;
        }
        assert!(signalled.elapsed() < Duration::from_secs(5), "fires were not refused while draining: {s} {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(refused["error"].is_string() && refused["code"].is_string(), "{refused}");
    let (s, b) = a.post("actions/slow", json!({})).await;
    assert_eq!(s, 503, "{b}");
    assert!(b["error"].is_string() && b["code"].is_string(), "{b}");
    // ... while everything else is still served.
    let (s, b) = a.get("actions/slow").await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = caller.await.unwrap();
    assert_eq!((s, &b), (200, &json!({"done": true, "n": 7})), "the blocking caller lost its result");
    assert_eq!(exited(&mut a, Duration::from_secs(15)).await, Some(0));
}

/// Fires a trigger whose rule starts `slow`; the rule's activation id.
async fn fire_with_rule(a: &Agent, millis: u64) -> String {
    let code =
        format!("function main(p){{ return new Promise(r => setTimeout(() => r({{done: true, n: p.n}}), {millis})) }}");
    a.node_action("slow", &code).await;
    assert_eq!(a.put("triggers/t", json!({})).await.0, 200);
    assert_eq!(a.put("rules/r", json!({"trigger": "/_/t", "action": "/_/slow"})).await.0, 200);
    let (s, b) = a.post("triggers/t", json!({"n": 3})).await;
    assert_eq!(s, 202, "{b}");
    let fire = b["activationId"].as_str().unwrap().to_string();
    let (s, rec) = a.get(&format!("activations/{fire}")).await;
    assert_eq!(s, 200, "{rec}");
    let line: Value = serde_json::from_str(rec["logs"][0].as_str().unwrap()).unwrap();
    assert_eq!(line["success"], true, "{line}");
    line["activationId"].as_str().unwrap().to_string()
}

/// After SIGTERM and a restart on the same data folder, the rule's activation is recorded with its result.
async fn sigterm_during_a_fire(millis: u64, env: &[(&str, &str)]) -> (Duration, Value) {
    let mut a = Agent::spawn(None, env).await;
    let keep = a.take_dir();
    let id = fire_with_rule(&a, millis).await;
    assert!(
        until(Duration::from_secs(20), || async { busy(&a).await == 1 }).await,
        "the rule's activation never started"
    );
    let signalled = Instant::now();
    a.signal(libc::SIGTERM);
    assert_eq!(exited(&mut a, Duration::from_secs(20)).await, Some(0), "the agent did not exit cleanly");
    let drain = signalled.elapsed();
    let data = a.data.clone();
    drop(a);
    let b = Agent::spawn(Some(data), env).await;
    let restarted = Instant::now();
    let rec = loop {
        let (s, r) = b.get(&format!("activations/{id}")).await;
        if s == 200 {
            break r;
        }
        assert!(restarted.elapsed() < Duration::from_secs(30), "the rule's activation was lost: {s} {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(keep);
    (drain, rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_fire_lets_the_rule_activation_finish() {
    let (drain, rec) = sigterm_during_a_fire(1500, &[]).await;
    assert_eq!(rec["response"]["status"], "success", "{rec}");
    assert_eq!(rec["response"]["result"], json!({"done": true, "n": 3}));
    assert!(drain >= Duration::from_millis(800), "the agent stopped before its activation ended ({drain:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_activation_longer_than_the_grace_runs_again_after_restart() {
    let (drain, rec) = sigterm_during_a_fire(4000, &[("FOGWHISK_EDGE_SHUTDOWN_GRACE_SECS", "1")]).await;
    assert!(drain < Duration::from_millis(3500), "the grace period did not bound the drain ({drain:?})");
    assert_eq!(rec["response"]["status"], "success", "an abandoned activation was recorded as finished: {rec}");
    assert_eq!(rec["response"]["result"], json!({"done": true, "n": 3}));
}
