//! Site pipeline benchmark against real Mosquitto: MQTT publish → action start latency next to a plain
//! broker round trip (the floor), and sustained messages per second through `record-reading` into the
//! telemetry store. Prints its figures; run with `cargo bench -p fogwhisk-edge --bench pipeline`.
//! Pipeline and floor messages alternate, a few milliseconds apart, so both meet the same machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use figment::providers::Serialized;
use figment::Figment;
use fogwhisk_edge::config::Settings;
use fogwhisk_edge::startup::Application;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

mod support;
use support::{ctx, floor_pool, initialized, pct};

const LATENCY_SAMPLES: usize = 300;
const THROUGHPUT_MESSAGES: usize = 6000;

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

use fogwhisk_testkit::free_port;

fn mosquitto(dir: &Path, port: u16) -> std::process::Child {
    use std::os::unix::fs::PermissionsExt;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n")).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = Command::new("mosquitto").arg("-c").arg(&conf).stderr(Stdio::null()).spawn().expect("mosquitto");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

async fn client(port: u16, id: &str) -> (AsyncClient, rumqttc::EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_inflight(1000);
    AsyncClient::new(o, 10_000)
}

/// A subscriber on the floor topic: it reports each message's delay (publish to receipt).
async fn floor_subscriber(port: u16) -> tokio::sync::mpsc::UnboundedReceiver<f64> {
    let (sub, mut sub_loop) = client(port, "floor-sub").await;
    sub.subscribe("bench/floor", QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _sub = sub;
        while let Ok(ev) = sub_loop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let sent: f64 = std::str::from_utf8(&p.payload).unwrap().parse().unwrap();
                let _ = tx.send(now_ms() - sent);
            }
        }
    });
    rx
}

/// One `/run` straight to the floor runtime: the delay from sending it to the action's start.
async fn direct_start(p: &fogwhisk_runtime::RuntimeProcess) -> f64 {
    let r = p.run(&ctx(json!({"body": now_ms().to_string()})), Duration::from_secs(60)).await.unwrap();
    p.logs().take_activation(Duration::from_millis(100)).await;
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["started"].as_f64().unwrap() - v["sent"].as_f64().unwrap()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = mosquitto(dir.path(), port);
    let over = Figment::new()
        .merge(Serialized::default("listen", "127.0.0.1:0"))
        .merge(Serialized::default("data_dir", dir.path().join("data")))
        .merge(Serialized::default("limits.invocations_per_minute", 10_000_000))
        .merge(Serialized::default("limits.fires_per_minute", 10_000_000))
        .merge(Serialized::default("limits.concurrent_invocations", 100_000))
        .merge(Serialized::default("pool.prewarm_nodejs", 2));
    let app = Application::build(Settings::load(None, over).unwrap()).await.unwrap();
    let api = app.api_host().to_string();
    let props = std::fs::read_to_string(dir.path().join("data/wskprops")).unwrap();
    let auth = props.lines().find_map(|l| l.strip_prefix("AUTH=")).unwrap().to_string();
    let stop = tokio_util::sync::CancellationToken::new();
    let s2 = stop.clone();
    let server = tokio::spawn(app.run_until_stopped(async move { s2.cancelled().await }));

    let manifest_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions/manifest.yaml");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    let vars = BTreeMap::from([
        ("MQTT_URL".to_string(), format!("mqtt://127.0.0.1:{port}")),
        ("SITE_TZ".to_string(), "UTC".to_string()),
    ]);
    fogwhisk_site::manifest::apply(&api, &auth, &text, manifest_path.parent().unwrap(), &vars).await.unwrap();

    // A probe rule beside the manifest's: it reports when its action started (sub-millisecond clock).
    let http = reqwest::Client::new();
    let (u, k) = auth.split_once(':').unwrap();
    let call = |m: reqwest::Method, path: &str, body: Value| {
        http.request(m, format!("{api}/api/v1/namespaces/_/{path}")).basic_auth(u, Some(k)).json(&body).send()
    };
    let probe =
        "function main(p) { return { started: performance.timeOrigin + performance.now(), sent: Number(p.body) } }";
    call(reqwest::Method::PUT, "actions/probe", json!({"exec": {"kind": "nodejs:20", "code": probe}})).await.unwrap();
    call(
        reqwest::Method::PUT,
        "triggers/lat",
        json!({"annotations": [{"key": "feed", "value": "/whisk.system/mqtt/mqtt_feed"}]}),
    )
    .await
    .unwrap();
    let feed = json!({"lifecycleEvent": "CREATE", "triggerName": "/_/lat", "authKey": auth, "url": format!("mqtt://127.0.0.1:{port}"), "topic": "bench/lat", "qos": 1});
    let r = call(reqwest::Method::POST, "../whisk.system/actions/mqtt/mqtt_feed?blocking=true", feed).await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = call(reqwest::Method::PUT, "rules/lat-probe", json!({"trigger": "/_/lat", "action": "/_/probe"}))
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let (publ, mut pub_loop) = client(port, "bench-pub").await;
    tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let mut floor_rx = floor_subscriber(port).await;
    let runtime_pool = floor_pool(dir.path()).await;
    let runtime = initialized(&runtime_pool, "probe", probe).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut fl, mut hop) = (Vec::new(), Vec::new());
    for i in 0..LATENCY_SAMPLES + 20 {
        publ.publish("bench/lat", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(4)).await;
        publ.publish("bench/floor", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        let d = floor_rx.recv().await.unwrap();
        tokio::time::sleep(Duration::from_millis(4)).await;
        let h = direct_start(&runtime).await;
        if i >= 20 {
            fl.push(d);
            hop.push(h);
        }
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let mut lat = Vec::new();
    let t0 = Instant::now();
    while lat.len() < LATENCY_SAMPLES + 20 && t0.elapsed() < Duration::from_secs(60) {
        lat.clear();
        for skip in (0..LATENCY_SAMPLES + 20).step_by(200) {
            let rows: Value = call(
                reqwest::Method::GET,
                &format!("activations?name=probe&docs=true&limit=200&skip={skip}"),
                json!(null),
            )
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            for a in rows.as_array().unwrap() {
                let r = &a["response"]["result"];
                if let (Some(s), Some(t)) = (r["started"].as_f64(), r["sent"].as_f64()) {
                    lat.push(s - t);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lat.sort_by(|a, b| b.partial_cmp(a).unwrap());
    lat.truncate(LATENCY_SAMPLES); // the newest, once the pool is warm

    // Throughput: sensor messages through the manifest's rule into the telemetry store.
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let base = day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let t = Instant::now();
    for i in 0..THROUGHPUT_MESSAGES {
        let dev = format!("D{:05}", i % 50);
        let msg = format!("{{\"device_fingerprint\":\"{dev}\",\"datacenter_id\":1,\"temperature\":21.5,\"humidity\":40.0,\"gas_perc\":3.0,\"ts\":{}}}", base + (i / 50) as i64);
        publ.publish(format!("telemetry/1/{dev}"), QoS::AtLeastOnce, false, msg).await.unwrap();
    }
    let published = t.elapsed();
    let count_path = format!("telemetry/daily?from={day}&to={day}&tz=UTC");
    let stored = loop {
        let v: Value = call(reqwest::Method::GET, &count_path, json!(null)).await.unwrap().json().await.unwrap();
        let n: u64 = v["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["metric"] == "temperature")
            .map(|r| r["count"].as_u64().unwrap())
            .sum();
        if n >= THROUGHPUT_MESSAGES as u64 || t.elapsed() > Duration::from_secs(300) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let through = t.elapsed();
    stop.cancel();
    server.await.unwrap().unwrap();
    runtime.kill().await;
    runtime_pool.shutdown().await;
    let _ = broker.kill();
    let _ = broker.wait();

    let (l50, l99, f50, f99) = (pct(lat.clone(), 0.5), pct(lat, 0.99), pct(fl.clone(), 0.5), pct(fl, 0.99));
    println!("site pipeline benchmark (real Mosquitto, QoS 1, durable inbox and fires)");
    println!("MQTT publish -> action start       p50 {l50:.2} ms  p99 {l99:.2} ms");
    println!("broker round trip (floor)          p50 {f50:.2} ms  p99 {f99:.2} ms");
    println!("ratio                              p50 {:.1}x  p99 {:.1}x", l50 / f50, l99 / f99);
    let (h50, h99) = (pct(hop.clone(), 0.5), pct(hop, 0.99));
    println!(
        "for reference: /run sent -> start  p50 {h50:.2} ms  p99 {h99:.2} ms (a warm runtime, straight, no agent)"
    );
    println!(
        "  so publish -> start without any agent work would be about p50 {:.2} ms ({:.1}x the floor)",
        f50 + h50,
        (f50 + h50) / f50
    );
    println!(
        "record-reading: {THROUGHPUT_MESSAGES} messages published in {:.2} s, {stored} stored after {:.2} s: {:.0} messages/s",
        published.as_secs_f64(),
        through.as_secs_f64(),
        stored as f64 / through.as_secs_f64()
    );
}
