//! Edge agent benchmark: warm invoke latency vs a direct `/run` (the floor), cold start vs process start + `/init`,
//! non-blocking throughput, and the agent's idle memory. Prints its figures; run with `cargo bench -p fogwhisk-edge`.
//! Warm invokes and direct runs alternate, so both meet the same load from the rest of the (shared) machine.
//! The agent is measured as deployed (the binary, its own process) and, for comparison, inside this process.

use std::time::{Duration, Instant};

use figment::providers::Serialized;
use figment::Figment;
use fogwhisk_edge::config::Settings;
use fogwhisk_edge::startup::Application;
use fogwhisk_runtime::RuntimeProcess;
use serde_json::json;

mod support;
use support::{ctx, floor_pool, initialized, pct};

const CODE: &str = "function main(p) { return { ok: true } }";
const WARM_RUNS: usize = 1000;
const COLD_RUNS: usize = 12;
const NONBLOCKING: usize = 2000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Process start + `/init` times, and one initialized runtime process for direct `/run` posts.
async fn floor(dir: &std::path::Path) -> (Vec<f64>, RuntimeProcess, std::sync::Arc<fogwhisk_runtime::Pool>) {
    let pool = floor_pool(dir).await;
    let mut cold = Vec::new();
    for i in 0..COLD_RUNS {
        let t = Instant::now();
        let p = initialized(&pool, &format!("c{i}"), CODE).await;
        cold.push(ms(t.elapsed()));
        p.kill().await;
    }
    let p = fresh_floor(&pool).await;
    (cold, p, pool)
}

/// A new initialized runtime process for direct runs: as fresh as the agent's own (its JIT as warm).
async fn fresh_floor(pool: &fogwhisk_runtime::Pool) -> RuntimeProcess {
    initialized(pool, "warm", CODE).await
}

/// One direct `/run` to the floor process, its logs collected as the agent does.
async fn direct_run(p: &RuntimeProcess) -> f64 {
    let t = Instant::now();
    let r = p.run(&ctx(json!({})), Duration::from_secs(60)).await.unwrap();
    assert_eq!(r.status, 200);
    p.logs().take_activation(Duration::from_millis(100)).await;
    ms(t.elapsed())
}

fn idle_rss_kb(bin: &str) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("d"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap()
}

/// A running agent's API and the guest key.
struct Agent {
    api: String,
    user: String,
    key: String,
    http: reqwest::Client,
}

impl Agent {
    fn new(api: String, data: &std::path::Path) -> Self {
        let props = std::fs::read_to_string(data.join("wskprops")).unwrap();
        let auth = props.lines().find_map(|l| l.strip_prefix("AUTH=")).unwrap();
        let (user, key) = auth.split_once(':').unwrap();
        Agent { api, user: user.into(), key: key.into(), http: reqwest::Client::new() }
    }

    async fn put(&self, name: &str) {
        let r = self
            .http
            .put(format!("{}/api/v1/namespaces/_/actions/{name}", self.api))
            .basic_auth(&self.user, Some(&self.key))
            .json(&json!({"exec": {"kind": "nodejs:20", "code": CODE}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    fn invoke(
        &self,
        name: &str,
        blocking: bool,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        self.http
            .post(format!("{}/api/v1/namespaces/_/actions/{name}?blocking={blocking}", self.api))
            .basic_auth(&self.user, Some(&self.key))
            .json(&json!({}))
            .send()
    }

    async fn get_ms(&self, path: &str) -> f64 {
        let t = Instant::now();
        let r =
            self.http.get(format!("{}{path}", self.api)).basic_auth(&self.user, Some(&self.key)).send().await.unwrap();
        r.bytes().await.unwrap();
        ms(t.elapsed())
    }
}

/// The agent binary as deployed, in its own process.
async fn spawn_agent(data: &std::path::Path) -> (std::process::Child, Agent) {
    let port = fogwhisk_testkit::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fogwhisk-edge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE", "1000000")
        .env("FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS", "10000")
        .env("FOGWHISK_EDGE_POOL__PREWARM_NODEJS", "0")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let api = format!("http://127.0.0.1:{port}");
    let probe = reqwest::Client::new();
    for _ in 0..300 {
        if probe.get(&api).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, Agent::new(api, data))
}

/// Warm blocking invokes of `warm`, each followed by a direct run to the floor process: (API, floor).
async fn warm_pairs(agent: &Agent, floor: &RuntimeProcess) -> (Vec<f64>, Vec<f64>) {
    let (mut api, mut direct) = (Vec::new(), Vec::new());
    for i in 0..WARM_RUNS + 20 {
        let t = Instant::now();
        let r = agent.invoke("warm", true).await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        let a = ms(t.elapsed());
        let d = direct_run(floor).await;
        if i >= 20 {
            api.push(a);
            direct.push(d);
        }
    }
    (api, direct)
}

/// Non-blocking invokes, 32 in flight: time until all are accepted, and until all are recorded.
async fn nonblocking(agent: &Agent, already: usize) -> (Duration, Duration) {
    let t = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut handles = Vec::new();
    for _ in 0..NONBLOCKING {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let f = agent.invoke("warm", false);
        handles.push(tokio::spawn(async move {
            let r = f.await.unwrap();
            drop(permit);
            r.status().as_u16()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 202);
    }
    let accepted = t.elapsed();
    let count_url = format!("{}/api/v1/namespaces/_/activations?count=true&name=warm", agent.api);
    loop {
        let r = agent.http.get(&count_url).basic_auth(&agent.user, Some(&agent.key)).send().await.unwrap();
        let n: serde_json::Value = r.json().await.unwrap();
        if n["activations"].as_u64().unwrap() >= (already + NONBLOCKING) as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (accepted, t.elapsed())
}

/// The warm pairs again with the agent running inside this process (no process hop of its own).
async fn in_process(dir: &std::path::Path, floor_pool: &fogwhisk_runtime::Pool) -> (Vec<f64>, Vec<f64>) {
    let floor = fresh_floor(floor_pool).await;
    let over = Figment::new()
        .merge(Serialized::default("listen", "127.0.0.1:0"))
        .merge(Serialized::default("data_dir", dir.join("inproc")))
        .merge(Serialized::default("limits.invocations_per_minute", 1_000_000))
        .merge(Serialized::default("pool.prewarm_nodejs", 0));
    let app = Application::build(Settings::load(None, over).unwrap()).await.unwrap();
    let agent = Agent::new(app.api_host().to_string(), &dir.join("inproc"));
    let stop = tokio_util::sync::CancellationToken::new();
    let s2 = stop.clone();
    let server = tokio::spawn(app.run_until_stopped(async move { s2.cancelled().await }));
    agent.put("warm").await;
    let pairs = warm_pairs(&agent, &floor).await;
    floor.kill().await;
    stop.cancel();
    server.await.unwrap().unwrap();
    pairs
}

fn line(what: &str, api: &[f64], floor: &[f64]) {
    let (a50, a99, f50, f99) =
        (pct(api.to_vec(), 0.5), pct(api.to_vec(), 0.99), pct(floor.to_vec(), 0.5), pct(floor.to_vec(), 0.99));
    println!("{what}");
    println!("  warm blocking invoke via API   p50 {a50:.3} ms  p99 {a99:.3} ms");
    println!("  direct /run to runtime (floor) p50 {f50:.3} ms  p99 {f99:.3} ms");
    println!("  warm overhead ratio            p50 {:.2}x  p99 {:.2}x", a50 / f50, a99 / f99);
    let extra: Vec<f64> = api.iter().zip(floor).map(|(a, f)| (a - f) * 1000.0).collect();
    println!("  the agent's share (API − floor of the same pair) p50 {:.0} µs", pct(extra, 0.5));
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (floor_cold, floor_proc, floor_pool) = floor(dir.path()).await;
    let (mut child, agent) = spawn_agent(&dir.path().join("data")).await;
    // Cold starts through the API (no prewarmed process).
    let mut cold = Vec::new();
    for i in 0..COLD_RUNS {
        let name = format!("cold{i}");
        agent.put(&name).await;
        let t = Instant::now();
        assert_eq!(agent.invoke(&name, true).await.unwrap().status(), 200);
        cold.push(ms(t.elapsed()));
    }
    agent.put("warm").await;
    let (warm, floor_warm) = warm_pairs(&agent, &floor_proc).await;
    // The API's own HTTP exchange: an authenticated GET that does no work.
    let mut hop = Vec::new();
    for _ in 0..WARM_RUNS {
        hop.push(agent.get_ms("/api/v1/namespaces").await);
    }
    let (accepted, completed) = nonblocking(&agent, WARM_RUNS + 20).await;
    // SAFETY: signalling the agent process this benchmark started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    floor_proc.kill().await;
    let (warm_in, floor_in) = in_process(dir.path(), &floor_pool).await;
    floor_pool.shutdown().await;
    let rss = idle_rss_kb(env!("CARGO_BIN_EXE_fogwhisk-edge"));

    let (c50, fc50) = (pct(cold, 0.5), pct(floor_cold, 0.5));
    println!("edge agent benchmark (trivial Node.js action, {WARM_RUNS} warm runs, {COLD_RUNS} cold starts)");
    line("the agent binary (its own process, as deployed):", &warm, &floor_warm);
    println!("  API round trip alone (GET /namespaces) p50 {:.3} ms", pct(hop, 0.5));
    line("the agent inside the benchmark's process (no process hop of its own):", &warm_in, &floor_in);
    println!("cold start via API             p50 {c50:.1} ms");
    println!("process start + /init (floor)  p50 {fc50:.1} ms");
    println!("cold start ratio               p50 {:.2}x", c50 / fc50);
    println!(
        "non-blocking: {NONBLOCKING} accepted in {:.2} s ({:.0}/s), all recorded after {:.2} s ({:.0}/s)",
        accepted.as_secs_f64(),
        NONBLOCKING as f64 / accepted.as_secs_f64(),
        completed.as_secs_f64(),
        NONBLOCKING as f64 / completed.as_secs_f64()
    );
    println!("agent idle resident memory     {:.1} MB (runtime processes excluded)", rss as f64 / 1024.0);
}
