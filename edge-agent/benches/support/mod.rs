//! Shared by the benchmarks: runtime processes driven straight (no agent), the floors their figures
//! are compared with, and percentiles.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fogwhisk_runtime::{ActionSpec, Pool, PoolConfig, RunContext, RuntimeKind, RuntimeProcess};
use serde_json::Value;

/// The `p` quantile (0..=1) of `v`.
pub fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A Node.js action as the agent would describe it to the pool.
pub fn spec(name: &str, code: &str) -> ActionSpec {
    ActionSpec {
        key: name.into(),
        name: format!("/guest/{name}"),
        kind: RuntimeKind::Nodejs20,
        code: code.into(),
        binary: false,
        main: "main".into(),
        memory_mb: 256,
        timeout: Duration::from_secs(60),
        logs_limit_bytes: 10 << 20,
        concurrency: 1,
        init_env: BTreeMap::new(),
    }
}

/// An activation's context with `params`.
pub fn ctx(params: Value) -> RunContext {
    RunContext {
        params,
        namespace: "guest".into(),
        action_name: "/guest/bench".into(),
        action_version: "0.0.1".into(),
        activation_id: "0".repeat(32),
        transaction_id: "0".repeat(32),
        deadline_ms: u64::MAX / 2,
        api_key: None,
    }
}

/// A pool under `dir` whose only use is writing the runner programs (it starts no process itself).
pub async fn floor_pool(dir: &Path) -> Arc<Pool> {
    let mut cfg = PoolConfig::new(dir.join("floor"));
    cfg.prewarm = vec![];
    std::fs::create_dir_all(&cfg.work_dir).unwrap();
    Pool::start(cfg).await.unwrap()
}

/// A new Node.js runtime process initialized with `code`.
pub async fn initialized(pool: &Pool, name: &str, code: &str) -> RuntimeProcess {
    let p = RuntimeProcess::spawn(pool.config(), RuntimeKind::Nodejs20, 256).await.unwrap();
    assert_eq!(p.init(&spec(name, code), &ctx(Value::Object(Default::default()))).await.unwrap().status, 200);
    p
}
