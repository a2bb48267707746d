//! kill -9 of a process running the MQTT feed (QoS 1, persistent session) while messages keep
//! arriving: after restarts, every message the broker acknowledged to the publisher is fired at
//! least once (duplicates are possible only between a fire and its inbox deletion, and carry the
//! same msg_id).

mod common;

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{wait_until, Mosquitto};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

/// The probe process; killed when dropped (so a failing test leaves nothing running).
struct Probe {
    child: Child,
}

impl Probe {
    fn start(data: &std::path::Path, url: &str, out: &std::path::Path, direct: bool) -> Probe {
        let child = Command::new(env!("CARGO_BIN_EXE_feeds-probe"))
            .args(if direct { &["--direct"][..] } else { &[][..] })
            .args([
                "--data",
                data.to_str().unwrap(),
                "--url",
                url,
                "--topic",
                "crash/#",
                "--qos",
                "1",
                "--out",
                out.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Probe { child }
    }

    fn signal(&mut self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    fn kill9(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM, and the probe must exit by itself (clean shutdown) within 10 s.
    fn terminate(mut self) {
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "probe exited with {status}");
                return;
            }
            assert!(std::time::Instant::now() < deadline, "probe did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Lines of the probe's output file (a line cut by the kill is ignored: its fire never returned).
fn fired(out: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn bodies(out: &std::path::Path) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for v in fired(out) {
        if v["payload"]["type"] == "message" {
            *m.entry(v["payload"]["body"].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
    }
    m
}

fn connections(out: &std::path::Path) -> usize {
    fired(out).iter().filter(|v| v["payload"]["body"] == "connected").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_message() {
    scenario(false).await;
}

/// The same with direct mode: acknowledgement after the sink's own durable record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_message_in_direct_mode() {
    scenario(true).await;
}

async fn scenario(direct: bool) {
    let broker = Mosquitto::persistent();
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("fired.jsonl"));
    let url = broker.url();
    let probe = Probe::start(&data, &url, &out, direct);
    wait_until("probe connected", || connections(&out) >= 1).await;

    // A publisher sending N QoS 1 messages at a steady pace; it counts the broker's acknowledgements.
    const N: usize = 800;
    let mut opts = MqttOptions::new("crash-publisher", "127.0.0.1", broker.port);
    opts.set_inflight(100);
    let (client, mut el) = AsyncClient::new(opts, 64);
    let publisher = tokio::spawn(async move {
        for i in 0..N {
            client.publish("crash/m", QoS::AtLeastOnce, false, format!("m-{i}")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let acks = tokio::spawn(async move {
        let mut acked = 0;
        while acked < N {
            match el.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => panic!("publisher failed: {e}"),
            }
        }
        acked
    });

    // Kill -9 the probe four times while messages keep arriving, restarting it each time.
    let mut probe = Some(probe);
    for round in 1..=4 {
        wait_until("some messages fired", || bodies(&out).len() >= round * 150).await;
        probe.take().unwrap().kill9();
        tokio::time::sleep(Duration::from_millis(300)).await;
        probe = Some(Probe::start(&data, &url, &out, direct));
    }
    publisher.await.unwrap();
    assert_eq!(acks.await.unwrap(), N, "the broker acknowledged every publish");

    wait_until("every acknowledged message fired", || bodies(&out).len() == N).await;
    let b = bodies(&out);
    for i in 0..N {
        assert!(b.get(&format!("m-{i}")).copied().unwrap_or(0) >= 1, "m-{i} was lost");
    }
    let duplicates: usize = b.values().map(|c| c - 1).sum();
    // Duplicates (a fire recorded just before the kill, not yet deleted) share their msg_id.
    let mut ids: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for v in fired(&out).into_iter().filter(|v| v["payload"]["type"] == "message") {
        ids.entry(v["payload"]["body"].as_str().unwrap().into())
            .or_default()
            .insert(v["payload"]["msg_id"].as_str().unwrap().into());
    }
    assert!(ids.values().all(|s| s.len() == 1), "a re-fired message keeps its msg_id");
    println!("crash test (direct mode: {direct}): {N} messages, 4 kills, {duplicates} duplicate fires (same msg_id)");
    probe.take().unwrap().terminate();
}
