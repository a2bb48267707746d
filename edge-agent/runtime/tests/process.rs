//! A single runtime process without the pool: the protocol rules of both runners, on both wires (the framed
//! channel the pool uses and the HTTP action-runtime protocol).

mod common;

use std::time::Duration;

use common::*;
use fogwhisk_runtime::process::Protocol;
use fogwhisk_runtime::{RuntimeKind, RuntimeProcess};
use serde_json::{json, Value};

const SLOW_NODE: &str = "function main(p) { return new Promise((r) => setTimeout(() => r({ ok: p.n }), 400)); }";
const SLOW_PY: &str = "import time\ndef main(p):\n    time.sleep(0.4)\n    return {'ok': p['n']}\n";

fn body(reply: &fogwhisk_runtime::HttpReply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

async fn protocol_rules(kind: RuntimeKind, code: &str, protocol: Protocol) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir);
    let proc = RuntimeProcess::spawn_with(&cfg, kind, 256, protocol).await.expect("runner starts");
    assert_eq!(proc.protocol(), protocol);
    assert!(proc.socket().exists(), "the private socket is bound");
    let pid = proc.pid() as u64;
    let folder = proc.dir().to_path_buf();
    assert!(folder.is_dir());
    let c = empty_ctx();
    let t = Duration::from_secs(10);

    let before = proc.run(&c, t).await.unwrap();
    assert_eq!((before.status, body(&before)), (403, json!({"error": "System not initialized."})));

    let bad = proc.post("/run", &json!("not an object"), t, 1 << 20).await.unwrap();
    assert_eq!(bad.status, 403, "non-object value is refused");

    let mut spec = spec(kind, "proto@1", code);
    spec.timeout = t;
    let init = proc.init(&spec, &c).await.unwrap();
    assert_eq!(init.status, 200, "{:?}", body(&init));
    let again = proc.init(&spec, &c).await.unwrap();
    assert_eq!((again.status, body(&again)), (403, json!({"error": "Cannot initialize the action more than once."})));

    // one run at a time unless concurrency is allowed
    let c1 = ctx(json!({"n": 1}));
    let c2 = ctx(json!({"n": 2}));
    let (a, b) = tokio::join!(proc.run(&c1, t), proc.run(&c2, t));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (served, refused) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(served.status, 200, "{:?}", body(&served));
    assert!(body(&served)["ok"].is_number());
    assert_eq!(refused.status, 403, "the overlapping run is refused: {:?}", body(&refused));

    // after the overlap, runs go on one at a time on the same process (framed: idle connections are reused)
    for n in 3..6 {
        let r = proc.run(&ctx(json!({"n": n})), t).await.unwrap();
        assert_eq!((r.status, body(&r)), (200, json!({"ok": n})));
    }
    // a result above the size limit is cut, its full size counted, and the next run still gets its own reply
    let big = proc.run(&ctx(json!({"n": "x".repeat(5000)})), t).await.unwrap();
    assert_eq!(big.status, 200);
    let small = proc.post("/run", &fogwhisk_runtime::protocol::run_body(&ctx(json!({"n": 7}))), t, 100).await.unwrap();
    assert_eq!(body(&small), json!({"ok": 7}));
    let cut = proc
        .post("/run", &fogwhisk_runtime::protocol::run_body(&ctx(json!({"n": "y".repeat(5000)}))), t, 100)
        .await
        .unwrap();
    assert_eq!((cut.body.len(), cut.size), (100, big.size));
    let after = proc.run(&ctx(json!({"n": 8})), t).await.unwrap();
    assert_eq!(body(&after), json!({"ok": 8}));

    proc.kill().await;
    assert!(!pid_alive(pid), "process {pid} is gone");
    assert!(!folder.exists(), "its folder is removed");
}

#[tokio::test]
async fn node_runner_follows_the_protocol() {
    protocol_rules(RuntimeKind::Nodejs20, SLOW_NODE, Protocol::Framed).await;
}

#[tokio::test]
async fn python_runner_follows_the_protocol() {
    protocol_rules(RuntimeKind::Python311, SLOW_PY, Protocol::Framed).await;
}

#[tokio::test]
async fn node_runner_follows_the_http_protocol() {
    protocol_rules(RuntimeKind::Nodejs20, SLOW_NODE, Protocol::Http).await;
}

#[tokio::test]
async fn python_runner_follows_the_http_protocol() {
    protocol_rules(RuntimeKind::Python311, SLOW_PY, Protocol::Http).await;
}

#[tokio::test]
async fn missing_interpreter_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.node_bin = dir.path().join("no-such-node");
    let err = RuntimeProcess::spawn(&cfg, RuntimeKind::Nodejs20, 256).await.err().expect("spawn fails");
    assert!(err.to_string().contains("no-such-node"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_outlives_the_thread_that_asked_for_it() {
    // The parent-death signal is tied to the forking thread: a process requested from a short-lived
    // thread must survive that thread's end.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir);
    let handle = tokio::runtime::Handle::current();
    let cfg2 = cfg.clone();
    let proc = std::thread::spawn(move || handle.block_on(RuntimeProcess::spawn(&cfg2, RuntimeKind::Nodejs20, 256)))
        .join()
        .unwrap()
        .expect("runner starts");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(proc.is_alive(), "process survived the end of the requesting thread");
    let mut spec = spec(RuntimeKind::Nodejs20, "outlive@1", "function main() { return { ok: true }; }");
    spec.timeout = Duration::from_secs(10);
    assert_eq!(proc.init(&spec, &empty_ctx()).await.unwrap().status, 200);
    let reply = proc.run(&empty_ctx(), Duration::from_secs(10)).await.unwrap();
    assert_eq!(body(&reply), json!({"ok": true}));
    proc.kill().await;
}
