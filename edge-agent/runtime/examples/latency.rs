//! Measures cold start, warm run through the pool, and a direct `/run` on a process (the floor).
//! Run: `cargo run --release -p fogwhisk-runtime --example latency`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fogwhisk_runtime::{ActionSpec, Pool, PoolConfig, RunContext, RuntimeKind, RuntimeProcess};
use serde_json::json;

const N: usize = 500;

fn spec(kind: RuntimeKind, code: &str) -> ActionSpec {
    ActionSpec {
        key: format!("bench/{kind}@1"),
        name: "/guest/bench".into(),
        kind,
        code: code.into(),
        binary: false,
        main: "main".into(),
        memory_mb: 256,
        timeout: Duration::from_secs(10),
        logs_limit_bytes: 1 << 20,
        concurrency: 1,
        init_env: BTreeMap::new(),
    }
}

fn ctx() -> RunContext {
    RunContext {
        params: json!({"n": 1}),
        namespace: "guest".into(),
        action_name: "/guest/bench".into(),
        action_version: "0.0.1".into(),
        activation_id: "0".repeat(32),
        transaction_id: "t".into(),
        deadline_ms: u64::MAX / 2,
        api_key: None,
    }
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!("{label:<34} n={:<4} p50={:.3} ms  p99={:.3} ms", samples.len(), p(0.5), p(0.99));
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("fogwhisk-latency-{}", std::process::id()));
    let mut cfg = PoolConfig::new(&dir);
    cfg.prewarm = Vec::new();
    let pool = Pool::start(cfg.clone()).await?;
    for (kind, code) in [
        (RuntimeKind::Nodejs20, "function main(p) { console.log('x'); return { n: p.n }; }"),
        (RuntimeKind::Python311, "def main(p):\n    print('x')\n    return {'n': p['n']}\n"),
    ] {
        let s = spec(kind, code);
        let t = Instant::now();
        let cold = pool.run(&s, ctx()).await;
        println!(
            "{kind}: cold start {:.1} ms (init {} ms), status {:?}",
            t.elapsed().as_secs_f64() * 1000.0,
            cold.init_time_ms.unwrap_or(0),
            cold.status
        );
        let mut warm = Vec::with_capacity(N);
        for _ in 0..N {
            let t = Instant::now();
            let out = pool.run(&s, ctx()).await;
            warm.push(t.elapsed());
            assert_eq!(out.logs.len(), 1);
        }
        report(&format!("{kind} pool warm run (with logs)"), warm);
        let proc = RuntimeProcess::spawn(&cfg, kind, 256).await?;
        proc.init(&s, &ctx()).await?;
        let mut direct = Vec::with_capacity(N);
        for _ in 0..N {
            let t = Instant::now();
            proc.run(&ctx(), Duration::from_secs(10)).await?;
            direct.push(t.elapsed());
        }
        report(&format!("{kind} direct /run (floor)"), direct);
        proc.kill().await;
    }
    pool.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
