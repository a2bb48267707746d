//! Fixtures shared by the runtime integration tests: pool configs in temp folders, action specs, contexts.
#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use fogwhisk_runtime::{ActionSpec, Pool, PoolConfig, RunContext, RuntimeKind};
use serde_json::{json, Value};

/// A pool in a fresh temp folder; no prewarm unless the test asks for it.
pub struct TestPool {
    pub pool: Arc<Pool>,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &tempfile::TempDir) -> PoolConfig {
    let mut cfg = PoolConfig::new(dir.path().join("work"));
    cfg.prewarm = Vec::new();
    cfg.sentinel_wait = Duration::from_secs(2);
    cfg
}

pub async fn pool_with(adjust: impl FnOnce(&mut PoolConfig)) -> TestPool {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config(&dir);
    adjust(&mut cfg);
    let pool = Pool::start(cfg).await.expect("pool starts");
    TestPool { pool, dir }
}

pub async fn pool() -> TestPool {
    pool_with(|_| {}).await
}

pub fn spec(kind: RuntimeKind, key: &str, code: &str) -> ActionSpec {
    ActionSpec {
        key: key.to_string(),
        name: format!("/guest/{}", key.split('@').next().unwrap_or(key)),
        kind,
        code: code.to_string(),
        binary: false,
        main: "main".to_string(),
        memory_mb: 256,
        timeout: Duration::from_secs(20),
        logs_limit_bytes: 10 * 1024 * 1024,
        concurrency: 1,
        init_env: BTreeMap::new(),
    }
}

pub fn node(key: &str, code: &str) -> ActionSpec {
    spec(RuntimeKind::Nodejs20, key, code)
}

pub fn python(key: &str, code: &str) -> ActionSpec {
    spec(RuntimeKind::Python311, key, code)
}

pub fn ctx(params: Value) -> RunContext {
    let id = format!("{:032x}", rand_id());
    RunContext {
        params,
        namespace: "guest".to_string(),
        action_name: "/guest/hello".to_string(),
        action_version: "0.0.1".to_string(),
        activation_id: id,
        transaction_id: "tid-1".to_string(),
        deadline_ms: 4_102_444_800_000,
        api_key: None,
    }
}

pub fn empty_ctx() -> RunContext {
    ctx(json!({}))
}

fn rand_id() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    t ^ ((N.fetch_add(1, Ordering::Relaxed) as u128) << 64)
}

/// Base64 of a zip holding `files` (deflated).
pub fn zip_base64(files: &[(&str, &str)]) -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in files {
            zip.start_file(*name, opts).expect("zip entry");
            zip.write_all(text.as_bytes()).expect("zip write");
        }
        zip.finish().expect("zip finish");
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

/// True while a process with this pid exists (and is not a zombie).
pub fn pid_alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// The text part of formatted log lines ("<ts> stream: text" → "stream: text").
pub fn log_texts(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| l[31..].to_string()).collect()
}

/// The edge chart's capabilities (uid 0 with only these), as `setpriv --bounding-set` takes them.
pub const CHART_CAPS: &str = "-all,+setuid,+setgid,+chown,+fowner,+kill";

/// Runs test `name` again in a child copy of this test binary with only the chart's capabilities; `inner` is
/// set in its environment so that the copy knows it is the copy.
pub fn under_chart_caps(name: &str, inner: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--inh-caps", "-all", "--bounding-set", CHART_CAPS, "--"])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(inner, "1")
        .output()
        .expect("setpriv runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "{name} under the chart's capabilities:\n{text}");
}
