//! Operations: `/metrics` contents, graceful shutdown in-process and of the binary on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fogwhisk_hub::store::Store;
use serde_json::json;

use crate::helpers::{eventually, influx_v1, record, spawn_app_with};
use crate::peers::free_port;

#[tokio::test]
async fn metrics_and_shutdown_with_influxdb_unreachable_keep_the_queue() {
    // Nothing listens on this port: the writer keeps retrying.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let app = spawn_app_with(influx_v1(dead, "fogwhisk")).await;
    let token = app.add_site("torino", "Europe/Rome").await;
    let batch = json!({"records": [record(7, "temperature", "2026-11-23", "Europe/Rome", 21.0), record(7, "humidity", "2026-11-23", "Europe/Rome", 40.0)]});
    assert_eq!(app.post_batch("torino", &token, &batch).await.status(), 200);
    assert_eq!(app.post_batch("torino", "bad", &batch).await.status(), 401);
    let m = eventually(Duration::from_secs(20), "queue metrics", || async {
        let m = app.metrics().await;
        (m.contains("fogwhisk_hub_influx_queue_depth 2\n")
            && !m.contains("fogwhisk_hub_influx_write_failures_total 0\n"))
        .then_some(m)
    })
    .await;
    for needle in [
        "fogwhisk_hub_ingest_batches_total{site=\"torino\"} 1",
        "fogwhisk_hub_ingest_records_total{site=\"torino\"} 2",
        "fogwhisk_hub_ingest_rejected_total{reason=\"unauthorized\"} 1",
        "fogwhisk_hub_influx_queue_lag_seconds",
        "fogwhisk_hub_influx_written_lines_total 0",
    ] {
        assert!(m.contains(needle), "{needle} in {m}");
    }
    let data = app.data.clone();
    app.stop().await;
    // Every task has stopped and released the store; the unwritten lines are still queued.
    let store = Store::open(data.path()).expect("store released after shutdown");
    assert_eq!(store.queue_status().unwrap().0, 2);
}

#[test]
fn binary_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fogwhisk-hub"))
        .args(["serve", "--listen", "127.0.0.1:0", "--influx-backend", "v1", "--influx-url"])
        .arg(format!("http://127.0.0.1:{}", free_port()))
        .arg("--data")
        .arg(data.path())
        .env_remove("FOGWHISK_HUB_CONFIG")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("admin token file: "), "{first}");
    let token_file = first.trim_start_matches("admin token file: ");
    let listening = lines.next().unwrap().unwrap();
    assert!(listening.starts_with("listening on http://127.0.0.1:"), "{listening}");
    assert_eq!(std::fs::read_to_string(token_file).unwrap().trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(token_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(log.contains("InfluxDB writer stopped") && log.contains("stopped"), "{log}");
}
