//! The InfluxDB writer is supervised: a real store error (the hub's data folder runs out of space, on a
//! small tmpfs, while InfluxDB comes back) makes the writer fail; the hub logs it, counts it in
//! `fogwhisk_hub_task_restarts_total{task="influx writer"}` and restarts it with backoff instead of
//! running on without a writer. redb refuses every write after an I/O error until the store is opened
//! again, so the hub on that data folder is started again once space is back (what Kubernetes does):
//! every record, the queued ones and the later ones, then reaches InfluxDB once per point.
//! Needs root (it mounts a tmpfs), `influxd` (InfluxDB 1.x).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, influx_v1, record, spawn_app_in};
use crate::peers::Influxd;

const TZ: &str = "Europe/Rome";
const WAIT: Duration = Duration::from_secs(30);

/// A small tmpfs mounted on a temp folder, unmounted on drop.
struct SmallDisk {
    dir: Arc<tempfile::TempDir>,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "this test mounts a tmpfs for the hub's data folder: run it as root");
        SmallDisk { dir }
    }

    /// Fills the disk with a file until the filesystem says it is full.
    fn fill(&self) -> PathBuf {
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xa5u8; 64 * 1024];
        loop {
            if f.write_all(&chunk).and_then(|_| f.sync_all()).is_err() {
                break;
            }
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn batch(day: u32, mean: f64) -> Value {
    let recs: Vec<Value> = (1..=2)
        .flat_map(|dc| {
            ["temperature", "humidity"]
                .iter()
                .map(move |m| record(dc, m, &format!("2026-11-{day:02}"), TZ, mean + f64::from(dc)))
        })
        .collect();
    json!({ "records": recs })
}

async fn point_count(influx: &Influxd) -> u64 {
    let v = influx.query("fogwhisk", "SELECT count(mean) FROM daily_aggregate").await;
    v["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0)
}

async fn wait_points(influx: &Influxd, n: u64) {
    eventually(WAIT, &format!("{n} points in InfluxDB"), || async { (point_count(influx).await == n).then_some(()) })
        .await;
}

fn restarts(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("fogwhisk_hub_task_restarts_total{task=\"influx writer\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn data_of(disk: &SmallDisk) -> &Path {
    disk.dir.path()
}

#[tokio::test]
async fn a_store_error_in_the_influx_writer_is_counted_and_the_writer_restarted() {
    let disk = SmallDisk::mount("16m");
    let mut influx = Influxd::start();
    let app = spawn_app_in(disk.dir.clone(), influx_v1(influx.url(), "fogwhisk")).await;
    let token = app.add_site("torino", TZ).await;
    assert_eq!(app.post_batch("torino", &token, &batch(1, 10.0)).await.status(), 200);
    wait_points(&influx, 4).await;
    assert_eq!(restarts(&app.metrics().await), 0, "no restart while all is well");

    // InfluxDB goes away; a batch waits in the queue; the disk fills up; InfluxDB comes back: the
    // writer sends the batch and cannot remove it from the queue (the store's write fails).
    influx.stop();
    assert_eq!(app.post_batch("torino", &token, &batch(2, 20.0)).await.status(), 200);
    let filler = disk.fill();
    influx.restart();
    let seen = eventually(WAIT, "the writer's restart in /metrics", || async {
        let n = restarts(&app.metrics().await);
        (n >= 1).then_some(n)
    })
    .await;
    eprintln!("writer restarts counted: {seen}");
    // It keeps being restarted with backoff (not once, not in a hot loop) while the store fails.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = restarts(&app.metrics().await);
    assert!(later > seen && later < 60, "restarted with backoff: {seen} then {later} within 2 s");

    // Space is back; the hub is started again on the same data folder (redb reopens and repairs it).
    std::fs::remove_file(filler).unwrap();
    app.stop().await;
    assert!(data_of(&disk).join("hub.redb").exists());
    let app = spawn_app_in(disk.dir.clone(), influx_v1(influx.url(), "fogwhisk")).await;
    assert_eq!(app.post_batch("torino", &token, &batch(3, 30.0)).await.status(), 200);
    // Days 1, 2 and 3: 4 points each, once (InfluxDB keeps one point per series and time).
    wait_points(&influx, 12).await;
    eventually(WAIT, "an empty queue", || async {
        app.metrics().await.contains("fogwhisk_hub_influx_queue_depth 0\n").then_some(())
    })
    .await;
    assert_eq!(restarts(&app.metrics().await), 0);
    app.stop().await;
}
