//! `manifest::apply` against the REAL edge agent (`target/debug/fogwhisk-edge`, built with
//! `cargo build -p fogwhisk-edge`): the site manifest of `actions/` is applied three times (new,
//! unchanged, changed zone); feed lifecycle calls are observed through the agent's activations.
//!
//! The system feeds (`/whisk.system/mqtt/mqtt_feed`, `/whisk.system/alarms/alarm`) and the push
//! action are built into the agent by other work; here the manifest's references to them are
//! pointed at recorder actions the test installs, so the test sees exactly what each feed receives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fogwhisk_site::manifest::{apply, ManifestError, Outcome};
use serde_json::{json, Value};

fn bin(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let bin = target.join("debug").join(name);
    assert!(bin.exists(), "{} is missing: run `cargo build -p fogwhisk-edge` first", bin.display());
    bin
}

fn actions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../actions")
}

struct Agent {
    child: Child,
    host: String,
    auth: String,
    http: reqwest::Client,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    async fn start(data: &Path) -> Agent {
        let child = Command::new(bin("fogwhisk-edge"))
            .args(["--data", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let props = data.join("wskprops");
        let mut text = String::new();
        for _ in 0..3000 {
            if let Ok(t) = std::fs::read_to_string(&props) {
                if t.contains("AUTH=") {
                    text = t;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let get = |k: &str| {
            text.lines().find_map(|l| l.strip_prefix(k)).unwrap_or_else(|| panic!("no {k} in wskprops")).to_string()
        };
        let agent = Agent { child, host: get("APIHOST="), auth: get("AUTH="), http: reqwest::Client::new() };
        for _ in 0..3000 {
            if agent.http.get(format!("{}/api/v1", agent.host)).send().await.is_ok() {
                return agent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the agent did not answer");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (user, key) = self.auth.split_once(':').unwrap();
        let mut req = self.http.request(method, format!("{}/api/v1{path}", self.host)).basic_auth(user, Some(key));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Results of the recorder feed's activations, oldest first.
    async fn feed_calls(&self, feed: &str) -> Vec<Value> {
        let list = self.get(&format!("/namespaces/_/activations?name=testfeeds/{feed}&docs=true&limit=200")).await;
        let mut calls: Vec<Value> = list.as_array().unwrap().iter().map(|a| a["response"]["result"].clone()).collect();
        calls.reverse();
        calls
    }
}

const RECORDER: &str = r#"
function main(p) {
  const { authKey, lifecycleEvent, triggerName, ...params } = p;
  if (p.url === 'mqtt://refuse') return { error: 'broker refused the subscription' };
  return { event: lifecycleEvent, trigger: triggerName, keyGiven: typeof authKey === 'string' && authKey.includes(':'), params };
}
"#;

async fn install_recorders(agent: &Agent) {
    let (s, v) =
        agent.call(reqwest::Method::PUT, "/namespaces/_/packages/testfeeds?overwrite=true", Some(json!({}))).await;
    assert_eq!(s, 200, "{v}");
    for name in ["mqtt_feed", "alarm", "push"] {
        let body = json!({ "exec": { "kind": "nodejs:20", "code": RECORDER }, "annotations": [{ "key": "feed", "value": true }] });
        let (s, v) = agent
            .call(reqwest::Method::PUT, &format!("/namespaces/_/actions/testfeeds/{name}?overwrite=true"), Some(body))
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

fn site_manifest() -> String {
    std::fs::read_to_string(actions_dir().join("manifest.yaml"))
        .unwrap()
        .replace("/whisk.system/mqtt/mqtt_feed", "/guest/testfeeds/mqtt_feed")
        .replace("/whisk.system/alarms/alarm", "/guest/testfeeds/alarm")
        .replace("/whisk.system/federation/push", "/guest/testfeeds/push")
}

fn vars(tz: &str, url: &str) -> BTreeMap<String, String> {
    [("SITE_TZ", tz), ("MQTT_URL", url)].map(|(k, v)| (k.to_string(), v.to_string())).into()
}

fn outcome_of(summary: &fogwhisk_site::manifest::ApplySummary, kind: &str, name: &str) -> Outcome {
    summary
        .steps
        .iter()
        .find(|s| s.kind == kind && s.name == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_the_site_manifest_is_idempotent_and_drives_the_feed_lifecycle() {
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path()).await;
    install_recorders(&agent).await;
    let manifest = site_manifest();
    let dir = actions_dir();

    // 1. First apply: everything is created, each feed gets one CREATE.
    let first =
        apply(&agent.host, &agent.auth, &manifest, &dir, &vars("Europe/Rome", "mqtt://127.0.0.1:1883")).await.unwrap();
    assert_eq!(first.namespace, "guest");
    assert!(first.steps.iter().all(|s| s.outcome == Outcome::Created), "{first:?}");
    assert_eq!(first.steps.len(), 1 + 2 + 1 + 2 + 2);

    let rr = agent.get("/namespaces/_/actions/fogwhisk/record-reading").await;
    assert_eq!(rr["exec"]["kind"], "nodejs:20");
    assert!(rr["annotations"].as_array().unwrap().contains(&json!({ "key": "provide-api-key", "value": true })));
    let seq = agent.get("/namespaces/_/actions/fogwhisk/daily-report").await;
    assert_eq!(seq["exec"]["components"], json!(["/guest/fogwhisk/daily-aggregates", "/guest/testfeeds/push"]));
    let da = agent.get("/namespaces/_/actions/fogwhisk/daily-aggregates").await;
    assert!(da["parameters"].as_array().unwrap().contains(&json!({ "key": "tz", "value": "Europe/Rome" })));
    let trig = agent.get("/namespaces/_/triggers/telemetry").await;
    assert!(trig["annotations"]
        .as_array()
        .unwrap()
        .contains(&json!({ "key": "feed", "value": "/guest/testfeeds/mqtt_feed" })));
    for (rule, trigger, action) in
        [("record-telemetry", "telemetry", "record-reading"), ("daily-report", "daily", "daily-report")]
    {
        let r = agent.get(&format!("/namespaces/_/rules/{rule}")).await;
        assert_eq!(r["status"], "active", "{r}");
        assert_eq!(
            (r["trigger"]["name"].as_str(), r["action"]["name"].as_str(), r["action"]["path"].as_str()),
            (Some(trigger), Some(action), Some("guest/fogwhisk"))
        );
    }
    let mqtt = agent.feed_calls("mqtt_feed").await;
    assert_eq!(
        mqtt,
        vec![json!({ "event": "CREATE", "trigger": "/guest/telemetry", "keyGiven": true,
        "params": { "url": "mqtt://127.0.0.1:1883", "topic": "telemetry/#", "qos": 1 } })]
    );
    let alarm = agent.feed_calls("alarm").await;
    assert_eq!(
        alarm,
        vec![json!({ "event": "CREATE", "trigger": "/guest/daily", "keyGiven": true,
        "params": { "cron": "5 0 * * *", "timezone": "Europe/Rome" } })]
    );

    // The uploaded action code runs in the agent's Node.js runtime.
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            "/namespaces/_/actions/fogwhisk/record-reading?blocking=true&result=true",
            Some(json!({ "type": "status", "body": "connected" })),
        )
        .await;
    assert_eq!((s, v), (200, json!({ "ok": true, "ignored": "status" })));
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            "/namespaces/_/actions/fogwhisk/record-reading?blocking=true&result=true",
            Some(json!({ "type": "message", "body": "{not json" })),
        )
        .await;
    assert_eq!(s, 502, "a bad message is an application error: {v}");
    assert!(v["error"].as_str().unwrap().contains("message is not JSON"), "{v}");

    // 2. Same manifest again: no feed call, triggers and rules untouched.
    let second =
        apply(&agent.host, &agent.auth, &manifest, &dir, &vars("Europe/Rome", "mqtt://127.0.0.1:1883")).await.unwrap();
    for (kind, name) in
        [("trigger", "telemetry"), ("trigger", "daily"), ("rule", "record-telemetry"), ("rule", "daily-report")]
    {
        assert_eq!(outcome_of(&second, kind, name), Outcome::Unchanged, "{kind} {name}");
    }
    assert_eq!(outcome_of(&second, "action", "fogwhisk/record-reading"), Outcome::Updated);
    assert_eq!(agent.feed_calls("mqtt_feed").await.len(), 1);
    assert_eq!(agent.feed_calls("alarm").await.len(), 1);

    // 3. The site's zone changes: only the alarm feed gets an UPDATE.
    let third = apply(&agent.host, &agent.auth, &manifest, &dir, &vars("America/New_York", "mqtt://127.0.0.1:1883"))
        .await
        .unwrap();
    assert_eq!(outcome_of(&third, "trigger", "daily"), Outcome::Updated);
    assert_eq!(outcome_of(&third, "trigger", "telemetry"), Outcome::Unchanged);
    let alarm = agent.feed_calls("alarm").await;
    assert_eq!(alarm.len(), 2);
    assert_eq!(alarm[1]["event"], "UPDATE");
    assert_eq!(alarm[1]["params"]["timezone"], "America/New_York");
    assert_eq!(agent.feed_calls("mqtt_feed").await.len(), 1);
    let da = agent.get("/namespaces/_/actions/fogwhisk/daily-aggregates").await;
    assert!(da["parameters"].as_array().unwrap().contains(&json!({ "key": "tz", "value": "America/New_York" })));

    // 4. A feed that refuses a new trigger: the error names it and the trigger is removed again.
    let (s, _) = agent.call(reqwest::Method::DELETE, "/namespaces/_/rules/record-telemetry", None).await;
    assert_eq!(s, 200);
    let (s, _) = agent.call(reqwest::Method::DELETE, "/namespaces/_/triggers/telemetry", None).await;
    assert_eq!(s, 200);
    let err =
        apply(&agent.host, &agent.auth, &manifest, &dir, &vars("America/New_York", "mqtt://refuse")).await.unwrap_err();
    match &err {
        ManifestError::Feed { trigger, event, message, .. } => {
            assert_eq!((trigger.as_str(), *event), ("/guest/telemetry", "CREATE"));
            assert!(message.contains("broker refused the subscription"), "{message}");
        }
        other => panic!("expected a feed error, got {other:?}"),
    }
    let (s, _) = agent.call(reqwest::Method::GET, "/namespaces/_/triggers/telemetry", None).await;
    assert_eq!(s, 404, "a trigger whose feed failed does not stay behind");

    // 5. Wrong credentials are a clear API error.
    let err = apply(&agent.host, "nobody:wrong", &manifest, &dir, &vars("Europe/Rome", "mqtt://x")).await.unwrap_err();
    assert!(matches!(err, ManifestError::Api { status: 401, .. }), "{err:?}");
}
