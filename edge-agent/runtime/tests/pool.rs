//! Warm pool behaviour with real runtime processes: reuse, timeouts, memory, concurrency, budget, shutdown.

mod common;

use std::time::Duration;

use common::*;
use fogwhisk_runtime::{RunStatus, RuntimeKind};
use serde_json::json;

const PID_CODE: &str = "function main() { return { pid: process.pid }; }";

#[tokio::test]
async fn warm_reuse_same_key_and_cold_for_new_version() {
    let t = pool().await;
    let v1 = node("guest/pid@0.0.1", PID_CODE);
    let a = t.pool.run(&v1, empty_ctx()).await;
    let b = t.pool.run(&v1, empty_ctx()).await;
    assert_eq!(a.status, RunStatus::Success);
    assert!(a.init_time_ms.is_some() && b.init_time_ms.is_none());
    assert_eq!(a.result["pid"], b.result["pid"], "same process reused");
    let v2 = node("guest/pid@0.0.2", PID_CODE);
    let c = t.pool.run(&v2, empty_ctx()).await;
    assert!(c.init_time_ms.is_some(), "new version key is cold");
    assert_ne!(c.result["pid"], a.result["pid"]);
    let st = t.pool.stats();
    assert_eq!((st.cold_starts, st.warm_starts, st.live, st.idle, st.busy), (2, 1, 2, 2, 0));
    assert_eq!(st.memory_used_mb, 512);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn timeout_kills_process_and_next_run_is_cold() {
    let t = pool().await;
    let code = "function main(p) { if (p.hang) { while (true) {} } return { pid: process.pid }; }";
    let mut spec = node("hang@1", code);
    spec.timeout = Duration::from_millis(500);
    let first = t.pool.run(&spec, empty_ctx()).await;
    let pid = first.result["pid"].as_u64().unwrap();
    let out = t.pool.run(&spec, ctx(json!({"hang": true}))).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert!(out.timed_out);
    assert_eq!(out.result, json!({"error": "The action exceeded its time limits of 500 milliseconds."}));
    assert!(!pid_alive(pid), "timed out process {pid} is killed");
    let next = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(next.status, RunStatus::Success);
    assert!(next.init_time_ms.is_some(), "next run is cold");
    assert_ne!(next.result["pid"].as_u64().unwrap(), pid);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn init_timeout_is_reported() {
    let t = pool().await;
    let mut spec =
        node("slowinit@1", "const end = Date.now() + 5000; while (Date.now() < end) {} function main() { return {}; }");
    spec.timeout = Duration::from_millis(300);
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert_eq!(
        out.result,
        json!({"error": "The action exceeded its time limits of 300 milliseconds during initialization."})
    );
    assert_eq!(t.pool.stats().live, 0);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn memory_limit_kills_the_process() {
    let t = pool().await;
    let code = r#"
        async function main() {
            const keep = [];
            for (let i = 0; i < 64; i++) {
                keep.push(Buffer.alloc(16 * 1024 * 1024, 1));
                await new Promise((r) => setTimeout(r, 25));
            }
            return { allocated: keep.length };
        }"#;
    let mut spec = node("hog@1", code);
    spec.memory_mb = 128;
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError, "{:?}", out);
    assert_eq!(out.result, json!({"error": "The action exceeded its memory limit of 128 MB."}));
    assert_eq!(t.pool.stats().live, 0);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn memory_of_what_an_action_starts_counts_against_its_limit() {
    if !matches!(fogwhisk_runtime::Isolation::detect(), fogwhisk_runtime::Isolation::Separate { .. }) {
        eprintln!("no uid of its own per process here (not root): the whole-uid watch does not apply");
        return;
    }
    let t = pool().await;
    // the runner itself stays small; a child it starts fills 300 MB (every page touched)
    let hog =
        "import time\nx = bytearray(300 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1\ntime.sleep(60)";
    let code = format!(
        "const cp = require('child_process');\nfunction main() {{ cp.spawn('python3', ['-c', {hog:?}], {{ stdio: 'ignore' }}); return new Promise(() => {{}}); }}"
    );
    let mut spec = node("childhog@1", &code);
    spec.memory_mb = 128;
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError, "{:?}", out);
    assert_eq!(out.result, json!({"error": "The action exceeded its memory limit of 128 MB."}));
    t.pool.shutdown().await;
}

#[tokio::test]
async fn heap_exhaustion_is_reported_as_memory_limit() {
    let t = pool().await;
    let code = "function main() { const keep = []; while (true) keep.push({ a: Math.random(), b: [1, 2, 3] }); }";
    let mut spec = node("heap@1", code);
    spec.memory_mb = 128;
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError, "{:?}", out);
    assert_eq!(out.result, json!({"error": "The action exceeded its memory limit of 128 MB."}), "{:?}", out.logs);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn process_crash_is_developer_error() {
    let t = pool().await;
    let out = t.pool.run(&node("exit@1", "function main() { process.exit(3); }"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert_eq!(out.result, json!({"error": "The action did not produce a valid response and exited unexpectedly."}));
    t.pool.shutdown().await;
}

#[tokio::test]
async fn result_over_the_limit_is_truncated() {
    let t = pool_with(|c| c.max_result_bytes = 1000).await;
    let out = t.pool.run(&node("big@1", "function main() { return { s: 'y'.repeat(5000) }; }"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::ApplicationError);
    assert_eq!(
        out.result,
        json!({"error": "The action produced a response that exceeded the allowed length: 5008 > 1000 bytes."})
    );
    t.pool.shutdown().await;
}

#[tokio::test]
async fn concurrent_runs_share_one_process() {
    let t = pool().await;
    let code = r#"
        let active = 0, most = 0;
        async function main() {
            active++; most = Math.max(most, active);
            const until = Date.now() + 10000;
            while (most < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
            active--;
            return { pid: process.pid, most };
        }"#;
    let mut spec = node("conc@1", code);
    spec.concurrency = 2;
    let (a, b) = tokio::join!(t.pool.run(&spec, empty_ctx()), t.pool.run(&spec, empty_ctx()));
    assert_eq!((a.status, b.status), (RunStatus::Success, RunStatus::Success), "{a:?} {b:?}");
    assert_eq!(a.result["most"], 2, "the runs overlapped");
    assert_eq!(b.result["most"], 2);
    assert_eq!(a.result["pid"], b.result["pid"]);
    assert_eq!(t.pool.stats().live, 1);
    assert_eq!(a.logs.len(), 1);
    assert!(a.logs[0].contains("Logs are not collected"), "{:?}", a.logs);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn memory_budget_evicts_idle_then_waits_then_gives_up() {
    let t = pool_with(|c| c.user_memory_mb = 256).await;
    let a = node("a@1", PID_CODE);
    let ra = t.pool.run(&a, empty_ctx()).await;
    let pid_a = ra.result["pid"].as_u64().unwrap();
    let rb = t.pool.run(&node("b@1", PID_CODE), empty_ctx()).await;
    assert_eq!(rb.status, RunStatus::Success);
    assert!(!pid_alive(pid_a), "idle process of a was evicted for b");
    let st = t.pool.stats();
    assert_eq!((st.live, st.memory_used_mb), (1, 256));
    // a long run holds the whole budget: a short-timeout action of another key finds no capacity
    let slow =
        node("slow@1", "function main() { return new Promise((r) => setTimeout(() => r({ done: true }), 1500)); }");
    let mut quick = node("quick@1", PID_CODE);
    quick.timeout = Duration::from_millis(300);
    let mut patient = node("patient@1", PID_CODE);
    patient.timeout = Duration::from_secs(20);
    let pool = t.pool.clone();
    let slow_run = tokio::spawn(async move { pool.run(&slow, empty_ctx()).await });
    // wait until the slow run holds its process
    for _ in 0..200 {
        if t.pool.stats().busy == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(t.pool.stats().busy, 1);
    let (q, p) = tokio::join!(t.pool.run(&quick, empty_ctx()), t.pool.run(&patient, empty_ctx()));
    assert_eq!(q.status, RunStatus::WhiskError, "{q:?}");
    assert!(q.result["error"].as_str().unwrap().starts_with("no capacity"));
    assert_eq!(p.status, RunStatus::Success, "{p:?}");
    assert!(p.wait_time_ms > 0);
    assert_eq!(slow_run.await.unwrap().result, json!({"done": true}));
    let mut huge = node("huge@1", PID_CODE);
    huge.memory_mb = 512;
    assert_eq!(t.pool.run(&huge, empty_ctx()).await.status, RunStatus::WhiskError);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn idle_processes_are_evicted_after_the_idle_timeout() {
    let t = pool_with(|c| c.idle_timeout = Duration::from_millis(200)).await;
    let r = t.pool.run(&node("idle@1", PID_CODE), empty_ctx()).await;
    let pid = r.result["pid"].as_u64().unwrap();
    // The slot goes first; the process is reaped right after it, on the spawner thread.
    for _ in 0..200 {
        if t.pool.stats().live == 0 && !pid_alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(t.pool.stats().live, 0);
    assert!(!pid_alive(pid), "the evicted process {pid} is still running");
    t.pool.shutdown().await;
}

#[tokio::test]
async fn prewarmed_stem_cell_is_used_and_refilled() {
    let t = pool_with(|c| c.prewarm = vec![(RuntimeKind::Nodejs20, 1), (RuntimeKind::Python311, 1)]).await;
    for _ in 0..200 {
        let st = t.pool.stats();
        if st.prewarmed == 2 && st.live == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(t.pool.stats().prewarmed, 2);
    let mut spec = node("stem@1", PID_CODE);
    spec.memory_mb = 128;
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success);
    assert!(out.init_time_ms.is_some());
    for _ in 0..200 {
        if t.pool.stats().prewarmed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let st = t.pool.stats();
    assert_eq!((st.prewarmed, st.idle, st.live), (2, 1, 3), "{st:?}");
    assert_eq!(st.memory_used_mb, 256 + 256 + 128);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_every_process() {
    let t = pool_with(|c| c.prewarm = vec![(RuntimeKind::Nodejs20, 1)]).await;
    let mut pids = Vec::new();
    for key in ["s1@1", "s2@1"] {
        pids.push(t.pool.run(&node(key, PID_CODE), empty_ctx()).await.result["pid"].as_u64().unwrap());
    }
    let py = python("s3@1", "import os\ndef main(a):\n    return {'pid': os.getpid()}\n");
    pids.push(t.pool.run(&py, empty_ctx()).await.result["pid"].as_u64().unwrap());
    // the busy action marks its own folder once it runs, so the test knows it is in the middle of an activation
    let busy = node(
        "busy@1",
        "function main() { require('fs').writeFileSync(process.env.HOME + '/running', String(process.pid)); return new Promise(() => {}); }",
    );
    let pool = t.pool.clone();
    let busy_run = tokio::spawn(async move { pool.run(&busy, empty_ctx()).await });
    let work = t.dir.path().join("work");
    let mut busy_pid = None;
    for _ in 0..500 {
        busy_pid = std::fs::read_dir(&work)
            .unwrap()
            .filter_map(|e| e.ok())
            .find_map(|e| std::fs::read_to_string(e.path().join("running")).ok())
            .and_then(|pid| pid.parse::<u64>().ok());
        if busy_pid.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pids.push(busy_pid.expect("the busy action started"));
    assert!(pids.iter().all(|p| pid_alive(*p)));
    t.pool.shutdown().await;
    for pid in &pids {
        assert!(!pid_alive(*pid), "pid {pid} still alive after shutdown");
    }
    let busy_out = busy_run.await.unwrap();
    assert_eq!(busy_out.status, RunStatus::DeveloperError);
    assert_eq!(t.pool.stats().live, 0);
    let leftovers: Vec<_> = std::fs::read_dir(t.dir.path().join("work"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("proc-"))
        .collect();
    assert!(leftovers.is_empty(), "process folders removed: {leftovers:?}");
    let after = t.pool.run(&node("late@1", PID_CODE), empty_ctx()).await;
    assert_eq!(after.status, RunStatus::WhiskError);
}

#[tokio::test]
async fn abandoned_activation_gives_its_capacity_back() {
    let t = pool_with(|c| c.user_memory_mb = 256).await;
    let code = "function main() { return new Promise((r) => setTimeout(() => r({ pid: process.pid }), 60000)); }";
    let slow = node("abandon@1", code);
    let gave_up = tokio::time::timeout(Duration::from_millis(1500), t.pool.run(&slow, empty_ctx())).await;
    assert!(gave_up.is_err(), "the caller gave up");
    let st = t.pool.stats();
    assert_eq!((st.live, st.busy, st.memory_used_mb), (0, 0, 0), "{st:?}");
    let mut other = node("after@1", PID_CODE);
    other.timeout = Duration::from_secs(5);
    let out = t.pool.run(&other, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    let procs: Vec<_> = std::fs::read_dir(t.dir.path().join("work"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("proc-"))
        .collect();
    assert_eq!(procs.len(), 1, "the abandoned process folder is gone: {procs:?}");
    t.pool.shutdown().await;
}
