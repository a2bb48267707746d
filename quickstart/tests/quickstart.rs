//! Runs the quickstart as a user would, checks through the hub's API and page that both sites reported the
//! backfilled days, stops it with a signal, and runs it again to see it resume from its data folder.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fogwhisk_testkit::free_port;

struct Run {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

fn start(data: &Path, ports: &[u16; 5]) -> Run {
    let bins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug");
    assert!(
        bins.join("fogwhisk-edge").exists() && bins.join("fogwhisk-hub").exists(),
        "build the binaries first: cargo build --bins"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_fogwhisk-quickstart"))
        .arg("--data")
        .arg(data)
        .arg("--bin-dir")
        .arg(&bins)
        .args(["--hub-port", &ports[0].to_string()])
        .args(["--api-ports", &ports[1].to_string(), &ports[2].to_string()])
        .args(["--mqtt-ports", &ports[3].to_string(), &ports[4].to_string()])
        .args(["--days", "2", "--step-minutes", "30", "--interval-secs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("quickstart: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Run { child, lines }
}

impl Drop for Run {
    /// A failed assertion must not leave the federation running: SIGTERM, then SIGKILL after 30 s.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Run {
    fn wait_for(&self, text: &str, within: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(text);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => panic!("no line containing {text:?} within {within:?}; saw {seen:#?}"),
            }
        }
    }

    fn stop(&mut self, sig: i32) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe { libc::kill(self.child.id() as i32, sig) };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(std::time::Instant::now() < deadline, "quickstart did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn quickstart_reports_both_sites_stops_cleanly_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("qs");
    let ports = [free_port(), free_port(), free_port(), free_port(), free_port()];
    let run = start(&data, &ports);
    let seen = run.wait_for("Fogwhisk quickstart is running", Duration::from_secs(300));
    assert!(seen.iter().any(|l| l.contains("daily aggregates at the hub")));
    let hub = format!("http://127.0.0.1:{}", ports[0]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        for site in ["torino", "newyork"] {
            let v: serde_json::Value =
                http.get(format!("{hub}/api/v1/aggregates?site={site}")).send().await.unwrap().json().await.unwrap();
            let records = v["records"].as_array().unwrap();
            let days: std::collections::BTreeSet<&str> =
                records.iter().filter_map(|r| r["record"]["day"].as_str()).collect();
            assert_eq!(days.len(), 2, "{site}: {days:?}");
            assert_eq!(records.len(), 2 * 2 * 3, "{site}: two days x two datacenters x three metrics");
            assert!(
                records.iter().all(|r| r["record"]["count"].as_u64().unwrap() == 48 * 3),
                "{site}: 48 readings a day from each of 3 sensors"
            );
        }
        let page = http.get(format!("{hub}/")).send().await.unwrap().text().await.unwrap();
        for text in ["torino", "newyork", "Torino DC", "New York plant", "temperature", "humidity", "gas_perc"] {
            assert!(page.contains(text), "page lacks {text}");
        }
        let index = http.get(format!("{hub}/index.yaml")).send().await.unwrap().text().await.unwrap();
        assert!(index.contains("fogwhisk-edge") && index.contains("fogwhisk-hub"), "{index}");
    });
    let mut run = run;
    let status = run.stop(libc::SIGINT);
    assert!(status.success(), "quickstart exited with {status}");

    // Again: resumes from its data folder (no second backfill), then stops on SIGTERM.
    let mut run = start(&data, &ports);
    let seen = run.wait_for("Fogwhisk quickstart is running", Duration::from_secs(120));
    assert!(!seen.iter().any(|l| l.contains("publishing")), "history published twice: {seen:#?}");
    let status = run.stop(libc::SIGTERM);
    assert!(status.success(), "quickstart exited with {status}");
}
