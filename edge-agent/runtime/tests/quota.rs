//! Bounds per namespace and per process with real Node.js runtimes: a namespace holding its share of the memory
//! budget cannot keep another namespace's activations out, and a process that fills more scratch space than
//! allowed (in its folder, in /tmp, or in a deleted file it holds open) is killed with a clear error while the
//! pool carries on.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fogwhisk_runtime::pool::scratch_message;
use fogwhisk_runtime::{Isolation, RunContext, RunStatus};
use serde_json::{json, Value};

/// Waits in the action until the gate file exists.
const GATED: &str = r#"
const fs = require('fs');
async function main(p) {
  const start = Date.now();
  while (!fs.existsSync(p.gate)) {
    if (Date.now() - start > 30000) return { error: 'gate never opened' };
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pid: process.pid };
}"#;

fn in_namespace(ns: &str, params: Value) -> RunContext {
    let mut c = ctx(params);
    c.namespace = ns.to_string();
    c
}

async fn eventually(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A gate file any runtime uid can see (the test's temp folders are 0700).
struct Gate(std::path::PathBuf);

impl Gate {
    fn new() -> Gate {
        Gate(std::env::temp_dir().join(format!("fogwhisk-gate-{}-{:?}", std::process::id(), Instant::now())))
    }
    fn open(&self) {
        std::fs::write(&self.0, "open").unwrap();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `greedy` starts 8 gated 128 MB activations in a 1024 MB pool, then `other` runs one quick activation.
async fn greedy_then_other(share: f64, other_timeout: Duration) -> (fogwhisk_runtime::RunOutcome, u64, Vec<Value>) {
    let t = pool_with(|c| {
        c.user_memory_mb = 1024;
        c.namespace_memory_share = share;
    })
    .await;
    let gate = Gate::new();
    let mut greedy = node("greedy|gated@1", GATED);
    greedy.memory_mb = 128;
    greedy.timeout = Duration::from_secs(40);
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (pool, spec) = (t.pool.clone(), greedy.clone());
            let c = in_namespace("greedy", json!({ "gate": gate.0 }));
            tokio::spawn(async move { pool.run(&spec, c).await })
        })
        .collect();
    let expect_busy = if share < 1.0 { 4 } else { 8 };
    let pool = t.pool.clone();
    eventually("greedy's processes are busy", Duration::from_secs(30), || pool.stats().busy == expect_busy).await;
    let held = t.pool.namespace_memory_mb("greedy");
    let mut other = node("other|quick@1", "function main() { return { ok: true }; }");
    other.memory_mb = 128;
    other.timeout = other_timeout;
    let out = t.pool.run(&other, in_namespace("other", json!({}))).await;
    gate.open();
    let mut results = Vec::new();
    for r in runs {
        results.push(r.await.unwrap().result);
    }
    t.pool.shutdown().await;
    (out, held, results)
}

#[tokio::test]
async fn a_namespace_at_its_memory_share_cannot_keep_another_out() {
    let (out, held, greedy) = greedy_then_other(0.5, Duration::from_secs(20)).await;
    assert_eq!(held, 512, "greedy holds exactly its share");
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    assert!(out.wait_time_ms < 5_000, "other waited {} ms", out.wait_time_ms);
    // the activations beyond greedy's share waited for its own processes and ran once the first ones ended
    assert_eq!(greedy.len(), 8);
    assert!(greedy.iter().all(|r| r["pid"].is_u64()), "{greedy:?}");
}

#[tokio::test]
async fn without_a_share_one_namespace_fills_the_budget() {
    let (out, held, _) = greedy_then_other(1.0, Duration::from_millis(1500)).await;
    assert_eq!(held, 1024);
    assert_eq!(out.status, RunStatus::WhiskError, "{out:?}");
    assert!(out.result["error"].as_str().unwrap().starts_with("no capacity"), "{:?}", out.result);
}

#[tokio::test]
async fn a_namespace_at_its_share_makes_room_from_its_own_idle_processes() {
    let t = pool_with(|c| {
        c.user_memory_mb = 1024;
        c.namespace_memory_share = 0.5;
    })
    .await;
    let quick = |key: &str| {
        let mut s = node(key, "function main() { return { pid: process.pid }; }");
        s.memory_mb = 128;
        s
    };
    let theirs = t.pool.run(&quick("other|o@1"), in_namespace("other", json!({}))).await;
    assert_eq!(theirs.status, RunStatus::Success, "{theirs:?}");
    let mut pids = Vec::new();
    for i in 0..5 {
        let out = t.pool.run(&quick(&format!("greedy|g{i}@1")), in_namespace("greedy", json!({}))).await;
        assert_eq!(out.status, RunStatus::Success, "{out:?}");
        assert!(out.wait_time_ms < 5_000, "no wait for its own idle processes: {out:?}");
        pids.push(out.result["pid"].as_u64().unwrap());
    }
    assert_eq!(t.pool.namespace_memory_mb("greedy"), 512, "four processes of 128 MB at most");
    assert!(!pid_alive(pids[0]), "greedy's least recently used process made the room");
    assert!(pids[1..].iter().all(|p| pid_alive(*p)));
    let again = t.pool.run(&quick("other|o@1"), in_namespace("other", json!({}))).await;
    assert_eq!(again.init_time_ms, None, "the other namespace's idle process was left alone");
    assert_eq!(again.result["pid"], theirs.result["pid"]);
    t.pool.shutdown().await;
}

/// Writes `mb` MB in 1 MB steps to `p.where` ("folder", "tmp" or "deleted": a file unlinked and held open).
const WRITER: &str = r#"
const fs = require('fs');
const os = require('os');
async function main(p) {
  const path = p.where === 'tmp' ? os.tmpdir() + '/scratch-' + process.pid : process.cwd() + '/scratch';
  const fd = fs.openSync(path, 'w');
  if (p.where === 'deleted') fs.unlinkSync(path);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < p.mb; i++) {
    fs.writeSync(fd, chunk);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { wrote: p.mb, pid: process.pid, path };
}"#;

const INNER: &str = "FOGWHISK_QUOTA_UNDER_CHART_CAPS";

/// As root, then (when isolated) again with only the chart's capabilities: the agent measures as the process's
/// uid, since it cannot read into a runtime folder without DAC capabilities.
#[tokio::test]
async fn a_process_beyond_its_scratch_space_is_killed_with_a_clear_error() {
    if std::env::var_os(INNER).is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim().to_string();
        assert_eq!(u64::from_str_radix(&eff, 16).unwrap(), 0xe9, "CAP_CHOWN|FOWNER|KILL|SETGID|SETUID only");
    }
    scratch_bound().await;
    let isolated = matches!(Isolation::detect(), Isolation::Separate { .. });
    if isolated && std::env::var_os(INNER).is_none() {
        under_chart_caps("a_process_beyond_its_scratch_space_is_killed_with_a_clear_error", INNER);
    }
}

async fn scratch_bound() {
    let limit = 32 * 1024 * 1024;
    let t = pool_with(|c| c.max_scratch_bytes = limit).await;
    let spec = node("guest|writer@1", WRITER);
    let small = t.pool.run(&spec, in_namespace("guest", json!({"where": "folder", "mb": 8}))).await;
    assert_eq!(small.status, RunStatus::Success, "{small:?}");
    // what a process writes to /tmp is its uid's: attributed only when it has a uid of its own
    let isolated = matches!(t.pool.config().isolation, Isolation::Separate { .. });
    let places: &[&str] = if isolated { &["folder", "tmp", "deleted"] } else { &["folder", "deleted"] };
    for place in places {
        let started = Instant::now();
        let out = t.pool.run(&spec, in_namespace("guest", json!({"where": place, "mb": 200}))).await;
        assert_eq!(out.status, RunStatus::DeveloperError, "{place}: {out:?}");
        assert_eq!(out.result, json!({ "error": scratch_message(limit) }), "{place}");
        assert!(started.elapsed() < Duration::from_secs(10), "{place}: killed in {:?}", started.elapsed());
    }
    // top-level code runs at /init, before the process is in a slot: watched by its folder (at 200 MB/s, so
    // that the watch sees it while it writes: a burst that ends between two looks is caught at the next)
    if isolated {
        let code = "const fs = require('fs');\nconst fd = fs.openSync(process.cwd() + '/big', 'w');\n\
                    const c = Buffer.alloc(1 << 20, 1);\nfor (let i = 0; i < 200; i++) {\n\
                    fs.writeSync(fd, c); const t = Date.now() + 5; while (Date.now() < t) {}\n}\n\
                    function main() { return {}; }";
        let out = t.pool.run(&node("guest|init-writer@1", code), in_namespace("guest", json!({}))).await;
        assert_eq!(out.status, RunStatus::DeveloperError, "{out:?}");
        assert!(out.init_time_ms.is_some());
        assert_eq!(out.result, json!({ "error": scratch_message(limit) }));
    }
    // what the killed processes left in /tmp is gone with them
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("scratch-"))
        .filter(|e| std::os::unix::fs::MetadataExt::uid(&e.metadata().unwrap()) != 0)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let after = t.pool.run(&spec, in_namespace("guest", json!({"where": "folder", "mb": 1}))).await;
    assert_eq!(after.status, RunStatus::Success, "the pool carries on: {after:?}");
    t.pool.shutdown().await;
}
