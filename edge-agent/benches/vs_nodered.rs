//! Side by side with Node-RED: "MQTT message in, run a function" on one Mosquitto, measured in one run.
//! Fogwhisk (the release `fogwhisk-edge` binary as deployed: MQTT feed → trigger → rule → Node.js action with
//! `limits.concurrency: 16`) against Node-RED 4.x from npm (`mqtt in` → `function` node), with a plain MQTT
//! subscriber as the floor. Prints its figures, never asserts; not part of `cargo test`.
//!
//! Run: `cargo bench -p fogwhisk-edge --bench vs_nodered` (Node.js 20, npm, mosquitto on PATH). Node-RED is
//! installed with npm into `target/vs-nodered/` the first time (`VS_NODERED_DIR` to put it elsewhere).
//! `VS_NODERED_PERF=<file>` records the agent with `perf record --call-graph dwarf` during its first burst.
//!
//! Method. Both functions take a timestamp as their first statement (`performance.timeOrigin +
//! performance.now()`, the same clock the benchmark publishes with) and hand it to their platform's own output
//! path: the action returns it (its activation record, read back through the API), the Node-RED function pushes
//! it to an array in its global context (read back from an `http in` endpoint). Neither publishes anything, so
//! the figures are publish → function start. Latency messages alternate Fogwhisk, Node-RED, floor, a few ms
//! apart, so all three meet the same machine. Throughput: 6,000 QoS 1 messages published as fast as the client
//! goes to one side, then the other (each side twice, in both orders); end to end is first publish → last
//! function start; CPU is utime+stime from `/proc` over the burst, per process. While a burst runs the benchmark
//! asks each side only a cheap question (Fogwhisk: `/metrics`; Node-RED: an array length) every 50 ms.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

#[allow(dead_code)]
mod support;
use support::pct;

const LATENCY_SAMPLES: usize = 300;
const WARMUP: usize = 50;
const BURST: usize = 6000;
const ROUNDS: usize = 2;

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

const FW_PROBE: &str =
    "function main(p) { return { started: performance.timeOrigin + performance.now(), sent: Number(p.body) } }";
const NR_PROBE: &str =
    "const started = global.get('now')(); global.get('starts').push([Number(msg.payload), started]); return null;";

fn wait_port(port: u16) {
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mosquitto(dir: &Path, port: u16) -> Child {
    use std::os::unix::fs::PermissionsExt;
    let conf = dir.join("mosquitto.conf");
    let text = format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n");
    std::fs::write(&conf, text).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child =
        Command::new("mosquitto").arg("-c").arg(&conf).stderr(Stdio::null()).spawn().expect("mosquitto on PATH");
    wait_port(port);
    child
}

/// Node-RED 4.x in its own scratch folder (installed with npm the first time).
fn install_nodered() -> PathBuf {
    let dir = std::env::var_os("VS_NODERED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vs-nodered"));
    let red = dir.join("node_modules/node-red/red.js");
    if !red.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        eprintln!("installing Node-RED 4.x into {} ...", dir.display());
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&dir)
            .arg("node-red@4")
            .status()
            .expect("npm on PATH");
        assert!(ok.success() && red.exists(), "npm install node-red@4 failed");
    }
    red
}

fn nodered(red: &Path, user_dir: &Path, http_port: u16, mqtt_port: u16) -> Child {
    std::fs::create_dir_all(user_dir).unwrap();
    let settings = format!(
        "const {{ performance }} = require('perf_hooks');\nmodule.exports = {{ uiPort: {http_port}, uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false, \
         logging: {{ console: {{ level: 'warn', metrics: false, audit: false }} }}, \
         functionGlobalContext: {{ now: () => performance.timeOrigin + performance.now(), starts: [] }} }};\n"
    );
    std::fs::write(user_dir.join("settings.js"), settings).unwrap();
    let flows = json!([
        {"id": "t1", "type": "tab", "label": "bench"},
        {"id": "b1", "type": "mqtt-broker", "name": "mosquitto", "broker": "127.0.0.1", "port": mqtt_port.to_string(),
         "clientid": "nodered-bench", "autoConnect": true, "usetls": false, "protocolVersion": "4", "keepalive": "60", "cleansession": true},
        {"id": "in1", "type": "mqtt in", "z": "t1", "name": "", "topic": "bench/nr", "qos": "1", "datatype": "utf8",
         "broker": "b1", "nl": false, "rap": true, "rh": 0, "inputs": 0, "wires": [["fn1"]]},
        {"id": "fn1", "type": "function", "z": "t1", "name": "probe", "func": NR_PROBE, "outputs": 0, "wires": []},
        {"id": "h1", "type": "http in", "z": "t1", "url": "/bench/starts", "method": "get", "wires": [["fn2"]]},
        {"id": "fn2", "type": "function", "z": "t1", "name": "take",
         "func": "const s = global.get('starts'); msg.payload = msg.req.query.take ? s.splice(0) : { count: s.length }; return msg;",
         "outputs": 1, "wires": [["r1"]]},
        {"id": "r1", "type": "http response", "z": "t1", "wires": []}
    ]);
    std::fs::write(user_dir.join("flows.json"), flows.to_string()).unwrap();
    let child = Command::new("node")
        .arg(red)
        .arg("--userDir")
        .arg(user_dir)
        .arg("--settings")
        .arg(user_dir.join("settings.js"))
        .stdout(Stdio::null())
        .spawn()
        .expect("node on PATH");
    wait_port(http_port);
    child
}

/// The agent binary as deployed, in its own process, with limits that do not throttle the benchmark.
fn agent(data: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_fogwhisk-edge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE", "100000000")
        .env("FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE", "100000000")
        .env("FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS", "100000")
        .env("FOGWHISK_EDGE_ACTIVATIONS__KEEP_COUNT", "100000")
        .env("FOGWHISK_EDGE_POOL__PREWARM_NODEJS", "1")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    child
}

/// The agent's API with the guest key.
struct Api {
    base: String,
    user: String,
    key: String,
    auth: String,
    http: reqwest::Client,
}

impl Api {
    fn new(port: u16, data: &Path) -> Self {
        let props = std::fs::read_to_string(data.join("wskprops")).unwrap();
        let auth = props.lines().find_map(|l| l.strip_prefix("AUTH=")).unwrap().to_string();
        let (user, key) = auth.split_once(':').unwrap();
        let base = format!("http://127.0.0.1:{port}/api/v1/namespaces/_");
        Api { base, user: user.into(), key: key.into(), auth: auth.clone(), http: reqwest::Client::new() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req =
            self.http.request(method, format!("{}/{path}", self.base)).basic_auth(&self.user, Some(&self.key));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Runtime activations run so far (from `/metrics`: cheap, unlike counting records, which reads them all).
    async fn runs(&self) -> u64 {
        let url = self.base.replace("/api/v1/namespaces/_", "/metrics");
        let text = self.http.get(url).send().await.unwrap().text().await.unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("fogwhisk_edge_activation_duration_seconds_count "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    }

    async fn count(&self, since: u64) -> u64 {
        let v =
            self.call(reqwest::Method::GET, &format!("activations?count=true&name=probe&since={since}"), None).await;
        v["activations"].as_u64().unwrap_or(0)
    }

    /// (sent, started) of every probe activation since `since` (ms).
    async fn starts(&self, since: u64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        for skip in (0..).step_by(200) {
            let page = self
                .call(
                    reqwest::Method::GET,
                    &format!("activations?name=probe&docs=true&limit=200&skip={skip}&since={since}"),
                    None,
                )
                .await;
            let rows = page.as_array().cloned().unwrap_or_default();
            for a in &rows {
                let r = &a["response"]["result"];
                if let (Some(s), Some(t)) = (r["sent"].as_f64(), r["started"].as_f64()) {
                    out.push((s, t));
                }
            }
            if rows.len() < 200 {
                break;
            }
        }
        out
    }
}

/// Node-RED's recorded (sent, started) pairs: the count, or all of them (taken out).
async fn nr_count(http: &reqwest::Client, port: u16) -> usize {
    let v: Value =
        http.get(format!("http://127.0.0.1:{port}/bench/starts")).send().await.unwrap().json().await.unwrap();
    v["count"].as_u64().unwrap_or(0) as usize
}

async fn nr_take(http: &reqwest::Client, port: u16) -> Vec<(f64, f64)> {
    let v: Value =
        http.get(format!("http://127.0.0.1:{port}/bench/starts?take=1")).send().await.unwrap().json().await.unwrap();
    v.as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect()
}

async fn mqtt(port: u16, id: &str) -> AsyncClient {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_inflight(1000);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (c, mut ev) = AsyncClient::new(o, 20_000);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    c
}

/// The floor: a plain subscriber that reports each message's delay (publish to receipt).
async fn floor_subscriber(port: u16) -> tokio::sync::mpsc::UnboundedReceiver<f64> {
    let mut o = MqttOptions::new("floor-sub", "127.0.0.1", port);
    o.set_inflight(1000);
    let (sub, mut ev) = AsyncClient::new(o, 1000);
    sub.subscribe("bench/floor", QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _sub = sub;
        while let Ok(e) = ev.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = e {
                let sent: f64 = std::str::from_utf8(&p.payload).unwrap().parse().unwrap();
                let _ = tx.send(now_ms() - sent);
            }
        }
    });
    rx
}

/// utime + stime of `pid` in seconds, and its resident memory in MB.
fn cpu_rss(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // after the ')' field 0 is the state: utime and stime are fields 11 and 12 from there, rss (pages) 21
    let page = 4096.0;
    ((ticks(11) + ticks(12)) / tick, ticks(21) * page / (1024.0 * 1024.0))
}

/// The processes the agent started (runtime processes), by parent pid.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat.rsplit(')').next().unwrap_or("").split_whitespace().nth(1).and_then(|v| v.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// CPU seconds so far of each group of processes.
#[derive(Clone, Copy, Default)]
struct Cpu {
    agent: f64,
    runtimes: f64,
    broker: f64,
    nodered: f64,
}

struct Pids {
    agent: u32,
    broker: u32,
    nodered: u32,
}

impl Pids {
    fn cpu(&self) -> Cpu {
        Cpu {
            agent: cpu_rss(self.agent).0,
            runtimes: children_of(self.agent).into_iter().map(|p| cpu_rss(p).0).sum(),
            broker: cpu_rss(self.broker).0,
            nodered: cpu_rss(self.nodered).0,
        }
    }
}

struct Burst {
    /// first publish → last function start
    end_to_end: f64,
    /// first publish → all recorded (Fogwhisk: activation records committed)
    recorded: f64,
    started: usize,
    cpu: Cpu,
}

/// Publishes `BURST` messages to `topic` as fast as the client goes, stamped with their send time.
async fn publish_burst(publ: &AsyncClient, topic: &str) -> f64 {
    let t0 = now_ms();
    for _ in 0..BURST {
        publ.publish(topic, QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
    }
    t0
}

async fn fw_burst(api: &Api, publ: &AsyncClient, pids: &Pids, perf: Option<&str>) -> Burst {
    let since = now_ms() as u64;
    let before = pids.cpu();
    let recorder = perf.map(|out| {
        Command::new("perf")
            .args(["record", "-F", "400", "--call-graph", "dwarf,32768", "-o", out, "-p", &pids.agent.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("perf on PATH")
    });
    let ran = api.runs().await;
    let t0 = publish_burst(publ, "bench/fw").await;
    let deadline = Instant::now() + Duration::from_secs(180);
    while api.runs().await < ran + BURST as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // then the records (a count reads every record: asked only once they should all be there)
    while api.count(since).await < BURST as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recorded = now_ms() - t0;
    let cpu = pids.cpu();
    if let Some(mut r) = recorder {
        // SAFETY: signalling the perf process this benchmark started.
        unsafe { libc::kill(r.id() as i32, libc::SIGINT) };
        let _ = r.wait();
    }
    let starts = api.starts(since).await;
    let last = starts.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    Burst { end_to_end: last - t0, recorded, started: starts.len(), cpu: diff(cpu, before) }
}

async fn nr_burst(http: &reqwest::Client, nr_port: u16, publ: &AsyncClient, pids: &Pids) -> Burst {
    nr_take(http, nr_port).await;
    let before = pids.cpu();
    let t0 = publish_burst(publ, "bench/nr").await;
    let deadline = Instant::now() + Duration::from_secs(180);
    while nr_count(http, nr_port).await < BURST && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recorded = now_ms() - t0;
    let cpu = pids.cpu();
    let starts = nr_take(http, nr_port).await;
    let last = starts.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    Burst { end_to_end: last - t0, recorded, started: starts.len(), cpu: diff(cpu, before) }
}

fn diff(a: Cpu, b: Cpu) -> Cpu {
    Cpu {
        agent: a.agent - b.agent,
        runtimes: a.runtimes - b.runtimes,
        broker: a.broker - b.broker,
        nodered: a.nodered - b.nodered,
    }
}

fn us_per_msg(s: f64) -> f64 {
    s * 1e6 / BURST as f64
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().cloned().fold(f64::MAX, f64::min);
    let hi = v.iter().cloned().fold(f64::MIN, f64::max);
    format!("{lo:.0}–{hi:.0}")
}

#[tokio::main]
async fn main() {
    let red = install_nodered();
    let dir = tempfile::tempdir().unwrap();
    let (mqtt_port, api_port, nr_port) =
        (fogwhisk_testkit::free_port(), fogwhisk_testkit::free_port(), fogwhisk_testkit::free_port());
    let mut broker = mosquitto(dir.path(), mqtt_port);
    let data = dir.path().join("agent");
    let mut agent_proc = agent(&data, api_port);
    let mut nr_proc = nodered(&red, &dir.path().join("nodered"), nr_port, mqtt_port);
    let pids = Pids { agent: agent_proc.id(), broker: broker.id(), nodered: nr_proc.id() };
    let http = reqwest::Client::new();

    // Fogwhisk: MQTT feed → trigger → rule → the probe action (concurrency 16).
    let api = Api::new(api_port, &data);
    use reqwest::Method;
    api.call(
        Method::PUT,
        "actions/probe",
        Some(json!({"exec": {"kind": "nodejs:20", "code": FW_PROBE}, "limits": {"concurrency": 16}})),
    )
    .await;
    api.call(
        Method::PUT,
        "triggers/bench",
        Some(json!({"annotations": [{"key": "feed", "value": "/whisk.system/mqtt/mqtt_feed"}]})),
    )
    .await;
    let feed = json!({"lifecycleEvent": "CREATE", "triggerName": "/_/bench", "authKey": api.auth, "url": format!("mqtt://127.0.0.1:{mqtt_port}"), "topic": "bench/fw", "qos": 1});
    api.call(Method::POST, "../whisk.system/actions/mqtt/mqtt_feed?blocking=true", Some(feed)).await;
    api.call(Method::PUT, "rules/bench-probe", Some(json!({"trigger": "/_/bench", "action": "/_/probe"}))).await;

    let publ = mqtt(mqtt_port, "bench-pub").await;
    let mut floor_rx = floor_subscriber(mqtt_port).await;
    // both sides up and warm: messages reach both functions
    let ready = Instant::now();
    loop {
        publ.publish("bench/fw", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        publ.publish("bench/nr", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if (api.count(0).await > 0 && nr_count(&http, nr_port).await > 0) || ready.elapsed() > Duration::from_secs(60) {
            break;
        }
    }

    // Latency, alternating: Fogwhisk, Node-RED, the floor.
    let since = now_ms() as u64;
    nr_take(&http, nr_port).await;
    let mut floor = Vec::new();
    for i in 0..WARMUP + LATENCY_SAMPLES {
        publ.publish("bench/fw", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(4)).await;
        publ.publish("bench/nr", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(4)).await;
        publ.publish("bench/floor", QoS::AtLeastOnce, false, now_ms().to_string()).await.unwrap();
        let d = floor_rx.recv().await.unwrap();
        if i >= WARMUP {
            floor.push(d);
        }
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let want = (WARMUP + LATENCY_SAMPLES) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.count(since).await < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let newest = |mut v: Vec<(f64, f64)>| {
        v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        v.into_iter().skip(WARMUP).map(|(s, t)| t - s).collect::<Vec<f64>>()
    };
    let fw_lat = newest(api.starts(since).await);
    let nr_lat = newest(nr_take(&http, nr_port).await);

    // Throughput: bursts, each side twice, in both orders.
    let perf = std::env::var("VS_NODERED_PERF").ok();
    let (mut fw, mut nr) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let perf_now = if round == 0 { perf.as_deref() } else { None };
        if round % 2 == 0 {
            fw.push(fw_burst(&api, &publ, &pids, perf_now).await);
            nr.push(nr_burst(&http, nr_port, &publ, &pids).await);
        } else {
            nr.push(nr_burst(&http, nr_port, &publ, &pids).await);
            fw.push(fw_burst(&api, &publ, &pids, perf_now).await);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_agent = cpu_rss(pids.agent).1;
    let runtimes = children_of(pids.agent);
    let rss_runtimes: f64 = runtimes.iter().map(|p| cpu_rss(*p).1).sum();
    let rss_nr = cpu_rss(pids.nodered).1;
    let nr_version = std::fs::read_to_string(red.parent().unwrap().join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(String::from))
        .unwrap_or_default();

    for c in [&mut agent_proc, &mut nr_proc, &mut broker] {
        // SAFETY: signalling processes this benchmark started.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    }
    for c in [&mut agent_proc, &mut nr_proc, &mut broker] {
        let _ = c.wait();
    }

    let (f50, f99) = (pct(fw_lat.clone(), 0.5), pct(fw_lat.clone(), 0.99));
    let (n50, n99) = (pct(nr_lat.clone(), 0.5), pct(nr_lat.clone(), 0.99));
    let (b50, b99) = (pct(floor.clone(), 0.5), pct(floor, 0.99));
    println!(
        "Fogwhisk vs Node-RED {nr_version} on one Mosquitto (QoS 1), {} latency samples each, bursts of {BURST}",
        fw_lat.len().min(nr_lat.len())
    );
    println!("publish -> function start      p50        p99");
    println!("  Fogwhisk                     {f50:.3} ms  {f99:.3} ms");
    println!("  Node-RED                     {n50:.3} ms  {n99:.3} ms");
    println!("  plain subscriber (floor)     {b50:.3} ms  {b99:.3} ms");
    println!("  Fogwhisk / Node-RED          {:.2}x      {:.2}x", f50 / n50, f99 / n99);
    println!("  Fogwhisk / floor             {:.2}x      {:.2}x", f50 / b50, f99 / b99);
    let rate = |b: &Burst| b.started as f64 / (b.end_to_end / 1000.0);
    for (i, (f, n)) in fw.iter().zip(&nr).enumerate() {
        println!("burst {} ({BURST} QoS 1 messages):", i + 1);
        println!(
            "  Fogwhisk   {} started, last start after {:.0} ms: {:.0} msg/s; all recorded after {:.0} ms ({:.0}/s)",
            f.started,
            f.end_to_end,
            rate(f),
            f.recorded,
            BURST as f64 / (f.recorded / 1000.0)
        );
        println!("  Node-RED   {} started, last start after {:.0} ms: {:.0} msg/s", n.started, n.end_to_end, rate(n));
        println!("  throughput ratio Fogwhisk / Node-RED {:.2}x", rate(f) / rate(n));
        println!(
            "  CPU per message, Fogwhisk burst: agent {:.0} µs, runtime processes {:.0} µs, broker {:.0} µs (Node-RED idle {:.0} µs)",
            us_per_msg(f.cpu.agent),
            us_per_msg(f.cpu.runtimes),
            us_per_msg(f.cpu.broker),
            us_per_msg(f.cpu.nodered)
        );
        println!(
            "  CPU per message, Node-RED burst: Node-RED {:.0} µs, broker {:.0} µs (agent idle {:.0} µs, runtimes {:.0} µs)",
            us_per_msg(n.cpu.nodered),
            us_per_msg(n.cpu.broker),
            us_per_msg(n.cpu.agent),
            us_per_msg(n.cpu.runtimes)
        );
    }
    let fr: Vec<f64> = fw.iter().map(rate).collect();
    let nrr: Vec<f64> = nr.iter().map(rate).collect();
    println!("throughput over the bursts: Fogwhisk {} msg/s, Node-RED {} msg/s", range(&fr), range(&nrr));
    println!(
        "resident memory after the run: agent {rss_agent:.1} MB + {} runtime processes {rss_runtimes:.1} MB; Node-RED {rss_nr:.1} MB",
        runtimes.len()
    );
}
