//! The agent ↔ runtime channel alone: warm `/run`s of a trivial action sent straight to a Node.js and a Python
//! runtime process over the framed protocol and over HTTP (the action-runtime protocol), alternating, with the
//! runtime process's CPU per run from `/proc`. Prints its figures; run with
//! `cargo bench -p fogwhisk-edge --bench channel`.

use std::time::{Duration, Instant};

use fogwhisk_runtime::process::Protocol;
use fogwhisk_runtime::{RuntimeKind, RuntimeProcess};
use serde_json::{json, Value};

#[allow(dead_code)]
mod support;
use support::{ctx, floor_pool, pct, spec};

const RUNS: usize = 2000;

/// utime + stime of `pid`, in seconds.
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / tick
}

async fn started(pool: &fogwhisk_runtime::Pool, kind: RuntimeKind, protocol: Protocol) -> RuntimeProcess {
    let p = RuntimeProcess::spawn_with(pool.config(), kind, 256, protocol).await.unwrap();
    let mut s = spec("chan", "function main(p) { return { ok: true } }");
    if kind == RuntimeKind::Python311 {
        s.kind = kind;
        s.code = "def main(a):\n    return {'ok': True}\n".into();
    }
    assert_eq!(p.init(&s, &ctx(Value::Object(Default::default()))).await.unwrap().status, 200);
    p
}

/// One warm run with its logs collected as the agent does; its time in ms.
async fn run(p: &RuntimeProcess) -> f64 {
    let t = Instant::now();
    let r = p.run(&ctx(json!({"n": 1})), Duration::from_secs(60)).await.unwrap();
    assert_eq!(r.status, 200);
    p.logs().take_activation(Duration::from_millis(100)).await;
    t.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let pool = floor_pool(dir.path()).await;
    println!("warm /run straight to a runtime process ({RUNS} runs each, framed and HTTP alternating)");
    for kind in [RuntimeKind::Nodejs20, RuntimeKind::Python311] {
        let framed = started(&pool, kind, Protocol::Framed).await;
        let http = started(&pool, kind, Protocol::Http).await;
        for _ in 0..200 {
            run(&framed).await;
            run(&http).await;
        }
        let (cf0, ch0) = (cpu(framed.pid()), cpu(http.pid()));
        let (mut f, mut h) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            f.push(run(&framed).await);
            h.push(run(&http).await);
        }
        let (cf, ch) = ((cpu(framed.pid()) - cf0) * 1e6 / RUNS as f64, (cpu(http.pid()) - ch0) * 1e6 / RUNS as f64);
        let (f50, h50) = (pct(f.clone(), 0.5), pct(h.clone(), 0.5));
        println!("{kind}:");
        println!("  framed  p50 {f50:.3} ms  p99 {:.3} ms  runtime process CPU {cf:.0} µs per run", pct(f, 0.99));
        println!("  HTTP    p50 {h50:.3} ms  p99 {:.3} ms  runtime process CPU {ch:.0} µs per run", pct(h, 0.99));
        println!("  framed / HTTP  p50 {:.2}x  CPU {:.2}x", f50 / h50, cf / ch);
        framed.kill().await;
        http.kill().await;
    }
    pool.shutdown().await;
}
