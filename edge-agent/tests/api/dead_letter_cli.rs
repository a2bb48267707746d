//! The operator's `fogwhisk-edge dead-letters list|requeue|drop` against the REAL hub and the real agent
//! binary: a site registered at the hub with the wrong zone gets every record refused, so they are
//! dead-lettered with the hub's reason; once the registration is fixed, `requeue ID` sends one to the hub,
//! `drop ID` deletes the other. Only whisk.system reaches the dead-letter API. Also: the agent refuses a
//! plain `http://` hub URL to a non-loopback host at start, unless `hub.allow_insecure_http`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use fogwhisk_testkit::hub::{add_site, Hub};

use crate::helpers::{bin, Agent};

fn edge(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin()).args(args).arg("--data").arg(data).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn at_hub(hub: &Hub) -> Vec<Value> {
    let v: Value =
        reqwest::get(format!("{}/api/v1/aggregates?site=torino", hub.url)).await.unwrap().json().await.unwrap();
    v["records"].as_array().cloned().unwrap_or_default()
}

fn record(day: &str, mean: f64) -> Value {
    json!({"datacenter_id": 1, "metric": "temperature", "day": day, "tz": "UTC",
           "count": 96, "min": mean - 2.0, "max": mean + 2.0, "mean": mean, "median": mean})
}

fn env<'a>(hub: &'a Hub, token: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("FOGWHISK_EDGE_SITE_ID", "torino"),
        ("FOGWHISK_EDGE_HUB__URL", hub.url.as_str()),
        ("FOGWHISK_EDGE_HUB__TOKEN", token),
        ("FOGWHISK_EDGE_HUB__RETRY_BASE_MS", "100"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_requeued_to_the_real_hub_and_dropped() {
    let hub_dir = tempfile::tempdir().unwrap();
    // The site's zone is UTC, but it was registered at the hub as Europe/Rome: the hub refuses its records.
    let token = add_site(hub_dir.path(), "torino", "Europe/Rome");
    let mut hub = Hub::start(hub_dir.path(), "127.0.0.1:0");
    let mut a = Agent::spawn(None, &env(&hub, &token)).await;
    let days: Vec<String> = (1..=2)
        .map(|d| (chrono::Utc::now().date_naive() - chrono::Duration::days(d)).format("%Y-%m-%d").to_string())
        .collect();
    // The site's pipeline (namespace guest) pushes two days.
    let r = a
        .http
        .post(format!("{}/api/v1/namespaces/whisk.system/actions/federation/push?blocking=true", a.api))
        .basic_auth(&a.auth.0, Some(&a.auth.1))
        .json(&json!({"records": [record(&days[0], 21.0), record(&days[1], 19.0)]}))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let act: Value = r.json().await.unwrap();
    assert_eq!((s, act["response"]["result"]["queued"].clone()), (200, json!(2)), "{act}");

    let list = until("two dead letters", async || {
        let (ok, out) = edge(&a.data, &["dead-letters", "list"]);
        assert!(ok, "{out}");
        out.contains("2 dead letter(s)").then_some(out)
    })
    .await;
    assert!(list.contains(&days[0]) && list.contains("Europe/Rome"), "the hub's reason is shown: {list}");
    assert!(at_hub(&hub).await.is_empty());
    let ids: Vec<String> = list
        .lines()
        .skip(1)
        .filter(|l| l.contains(&days[0]) || l.contains(&days[1]))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");

    // Only whisk.system's key reaches the API: guest gets 403.
    let r = a
        .http
        .get(format!("{}/api/v1/namespaces/guest/federation/dead-letters", a.api))
        .basic_auth(&a.auth.0, Some(&a.auth.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (ok, out) = edge(&a.data, &["dead-letters", "requeue", "999999"]);
    assert!(!ok && out.contains("404"), "{out}");

    // The hub's operator fixes the registration (new token); the site restarts with it.
    a.signal(libc::SIGTERM);
    assert!(a.wait_exit(Duration::from_secs(20)).is_some());
    let dir = a.take_dir();
    hub.kill();
    let out = Command::new(fogwhisk_testkit::hub::hub_bin())
        .arg("--data")
        .arg(hub_dir.path())
        .args(["sites", "remove", "torino"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = add_site(hub_dir.path(), "torino", "UTC");
    let hub = Hub::start(hub_dir.path(), "127.0.0.1:0");
    let a = Agent::spawn(Some(a.data.clone()), &env(&hub, &token)).await;

    // Dead letters stay aside across the restart until the operator acts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(at_hub(&hub).await.is_empty());
    let (ok, out) = edge(&a.data, &["dead-letters", "requeue", &ids[0]]);
    assert!(ok && out.contains("re-queued 1"), "{out}");
    let got = until("the re-queued record at the hub", async || {
        let v = at_hub(&hub).await;
        (!v.is_empty()).then_some(v)
    })
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["record"]["day"], json!(days[0]));
    assert_eq!(got[0]["record"]["mean"], json!(21.0));
    let (ok, out) = edge(&a.data, &["dead-letters", "drop", &ids[1]]);
    assert!(ok && out.contains("dropped 1"), "{out}");
    let (ok, out) = edge(&a.data, &["dead-letters", "list"]);
    assert!(ok && out.contains("0 dead letter(s)"), "{out}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(at_hub(&hub).await.len(), 1, "the dropped record never reaches the hub");
    drop(dir);
}

#[test]
fn a_plain_http_hub_url_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut c = Command::new(bin());
        c.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(dir.path());
        c.env("FOGWHISK_EDGE_HUB__URL", "http://hub.example:8080").env("FOGWHISK_EDGE_HUB__TOKEN", "t");
        c.envs(extra.iter().copied());
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let out = run(&[]).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("hub.url") && err.contains("http://") && err.contains("hub.allow_insecure_http"), "{err}");
    // Allowed: the agent starts (its wskprops appears) and is stopped.
    let mut child = run(&[("FOGWHISK_EDGE_HUB__ALLOW_INSECURE_HTTP", "true")]);
    let start = Instant::now();
    while !dir.path().join("wskprops").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the agent exited with the setting on");
        assert!(start.elapsed() < Duration::from_secs(20), "agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped yet.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}
