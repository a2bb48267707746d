//! Edge agent benchmark: warm invoke latency vs a direct `/run` (the floor), cold start vs process start + `/init`,
//! non-blocking throughput, and the agent's idle memory. Prints its figures; run with `cargo bench -p fogwhisk-edge`.
//! Warm invokes and direct runs alternate, so both meet the same load from the rest of the (shared) machine.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use figment::providers::Serialized;
use figment::Figment;
use fogwhisk_edge::config::Settings;
use fogwhisk_edge::startup::Application;
use fogwhisk_runtime::{ActionSpec, PoolConfig, RunContext, RuntimeKind, RuntimeProcess};
use serde_json::json;

const CODE: &str = "function main(p) { return { ok: true } }";
const WARM_RUNS: usize = 1000;
const COLD_RUNS: usize = 12;
const NONBLOCKING: usize = 2000;

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn spec(name: &str) -> ActionSpec {
    ActionSpec {
        key: name.into(),
        name: format!("/guest/{name}"),
        kind: RuntimeKind::Nodejs20,
        code: CODE.into(),
        binary: false,
        main: "main".into(),
        memory_mb: 256,
        timeout: Duration::from_secs(60),
        logs_limit_bytes: 10 << 20,
        concurrency: 1,
        init_env: BTreeMap::new(),
    }
}

fn ctx() -> RunContext {
    RunContext {
        params: json!({}),
        namespace: "guest".into(),
        action_name: "/guest/bench".into(),
        action_version: "0.0.1".into(),
        activation_id: "0".repeat(32),
        transaction_id: "0".repeat(32),
        deadline_ms: u64::MAX / 2,
        api_key: None,
    }
}

/// Process start + `/init` times, and one initialized runtime process for direct `/run` posts.
async fn floor(dir: &std::path::Path) -> (Vec<f64>, RuntimeProcess, std::sync::Arc<fogwhisk_runtime::Pool>) {
    let mut cfg = PoolConfig::new(dir.join("floor"));
    cfg.prewarm = vec![];
    std::fs::create_dir_all(&cfg.work_dir).unwrap();
    // Starting a pool writes the runner programs; its processes are not used.
    let pool = fogwhisk_runtime::Pool::start(cfg.clone()).await.unwrap();
    let mut cold = Vec::new();
    for i in 0..COLD_RUNS {
        let t = Instant::now();
        let p = RuntimeProcess::spawn(&cfg, RuntimeKind::Nodejs20, 256).await.unwrap();
        let r = p.init(&spec(&format!("c{i}")), &ctx()).await.unwrap();
        assert_eq!(r.status, 200);
        cold.push(ms(t.elapsed()));
        p.kill().await;
    }
    let p = RuntimeProcess::spawn(&cfg, RuntimeKind::Nodejs20, 256).await.unwrap();
    p.init(&spec("warm"), &ctx()).await.unwrap();
    (cold, p, pool)
}

/// One direct `/run` to the floor process, its logs collected as the agent does.
async fn direct_run(p: &RuntimeProcess) -> f64 {
    let t = Instant::now();
    let r = p.run(&ctx(), Duration::from_secs(60)).await.unwrap();
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
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").trim().parse().unwrap()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (floor_cold, floor_proc, floor_pool) = floor(dir.path()).await;
    let over = Figment::new()
        .merge(Serialized::default("listen", "127.0.0.1:0"))
        .merge(Serialized::default("data_dir", dir.path().join("data")))
        .merge(Serialized::default("limits.invocations_per_minute", 1_000_000))
        .merge(Serialized::default("limits.concurrent_invocations", 10_000))
        .merge(Serialized::default("pool.prewarm_nodejs", 0));
    let settings = Settings::load(None, over).unwrap();
    let app = Application::build(settings).await.unwrap();
    let api = app.api_host().to_string();
    let auth = std::fs::read_to_string(dir.path().join("data/wskprops")).unwrap();
    let auth = auth.lines().find_map(|l| l.strip_prefix("AUTH=")).unwrap().to_string();
    let (user, key) = auth.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let s2 = stop.clone();
    let server = tokio::spawn(app.run_until_stopped(async move { s2.cancelled().await }));
    let http = reqwest::Client::new();
    let put = |name: String| {
        http.put(format!("{api}/api/v1/namespaces/_/actions/{name}"))
            .basic_auth(&user, Some(&key))
            .json(&json!({"exec": {"kind": "nodejs:20", "code": CODE}}))
            .send()
    };
    let invoke = |name: &str, blocking: bool| {
        http.post(format!("{api}/api/v1/namespaces/_/actions/{name}?blocking={blocking}"))
            .basic_auth(&user, Some(&key))
            .json(&json!({}))
            .send()
    };

    // Cold starts through the API (no prewarmed process).
    let mut cold = Vec::new();
    for i in 0..COLD_RUNS {
        let name = format!("cold{i}");
        assert!(put(name.clone()).await.unwrap().status().is_success());
        let t = Instant::now();
        let r = invoke(&name, true).await.unwrap();
        assert_eq!(r.status(), 200);
        cold.push(ms(t.elapsed()));
    }
    // Warm blocking invokes, each followed by a direct run to the floor process.
    assert!(put("warm".into()).await.unwrap().status().is_success());
    let (mut warm, mut floor_warm) = (Vec::new(), Vec::new());
    for i in 0..WARM_RUNS + 20 {
        let t = Instant::now();
        let r = invoke("warm", true).await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        let api = ms(t.elapsed());
        let direct = direct_run(&floor_proc).await;
        if i >= 20 {
            warm.push(api);
            floor_warm.push(direct);
        }
    }
    // The API's own HTTP exchange: an authenticated GET that does no work.
    let mut hop = Vec::new();
    for i in 0..WARM_RUNS + 20 {
        let t = Instant::now();
        let r = http.get(format!("{api}/api/v1/namespaces")).basic_auth(&user, Some(&key)).send().await.unwrap();
        r.bytes().await.unwrap();
        if i >= 20 {
            hop.push(ms(t.elapsed()));
        }
    }
    // Non-blocking throughput: accepted per second, and until every activation is recorded.
    let t = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut handles = Vec::new();
    for _ in 0..NONBLOCKING {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let f = invoke("warm", false);
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
    let count_url = format!("{api}/api/v1/namespaces/_/activations?count=true&name=warm");
    loop {
        let n: serde_json::Value = http.get(&count_url).basic_auth(&user, Some(&key)).send().await.unwrap().json().await.unwrap();
        if n["activations"].as_u64().unwrap() >= (WARM_RUNS + 20 + NONBLOCKING) as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let completed = t.elapsed();
    stop.cancel();
    server.await.unwrap().unwrap();

    floor_proc.kill().await;
    floor_pool.shutdown().await;
    let rss = idle_rss_kb(env!("CARGO_BIN_EXE_fogwhisk-edge"));
    let (w50, w99, f50, f99) = (pct(warm.clone(), 0.5), pct(warm, 0.99), pct(floor_warm.clone(), 0.5), pct(floor_warm, 0.99));
    let (c50, fc50) = (pct(cold, 0.5), pct(floor_cold, 0.5));
    println!("edge agent benchmark (trivial Node.js action, {WARM_RUNS} warm runs, {COLD_RUNS} cold starts)");
    println!("warm blocking invoke via API   p50 {w50:.3} ms  p99 {w99:.3} ms");
    println!("direct /run to runtime (floor) p50 {f50:.3} ms  p99 {f99:.3} ms");
    println!("warm overhead ratio            p50 {:.2}x  p99 {:.2}x", w50 / f50, w99 / f99);
    println!("API round trip alone (GET /namespaces) p50 {:.3} ms", pct(hop, 0.5));
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
