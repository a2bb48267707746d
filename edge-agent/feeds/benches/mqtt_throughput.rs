//! Benchmark (not a test): messages per second from Mosquitto through the MQTT feed's durable
//! inbox to a trigger sink, with QoS 0 and QoS 1. Run: `cargo bench -p fogwhisk-feeds`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use common::{publish_all, req, Mosquitto};
use fogwhisk_feeds::{Feeds, FeedsOptions, FireError, TriggerSink};
use rumqttc::QoS;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Counter(AtomicU64, tokio::sync::Notify);

#[async_trait::async_trait]
impl TriggerSink for Counter {
    async fn fire(&self, _trigger: &str, payload: Value) -> Result<(), FireError> {
        if payload["type"] == "message" {
            self.0.fetch_add(1, Ordering::Relaxed);
            self.1.notify_one();
        }
        Ok(())
    }
}

/// A broker, and feeds (inbox or direct mode) with trigger `/bench/t` subscribed to `topic`, counted by the sink.
struct Setup {
    broker: Mosquitto,
    _dir: tempfile::TempDir,
    sink: Arc<Counter>,
    feeds: Feeds,
}

async fn setup(qos: u8, topic: &str, direct: bool) -> Setup {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Counter::default());
    let options = FeedsOptions { direct_fire: direct, ..Default::default() };
    let feeds = Feeds::start_with(dir.path(), sink.clone(), CancellationToken::new(), options).await.unwrap();
    feeds.mqtt(req("CREATE", "/bench/t", json!({"url": broker.url(), "topic": topic, "qos": qos}))).await.unwrap();
    Setup { broker, _dir: dir, sink, feeds }
}

fn qos_of(qos: u8) -> QoS {
    if qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

async fn run(qos: u8, n: usize) {
    let Setup { broker, _dir, sink, feeds } = setup(qos, "bench/+", false).await;
    let payloads: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            format!(r#"{{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.{i},"humidity":48.0}}"#)
                .into_bytes()
        })
        .collect();
    let started = Instant::now();
    publish_all(broker.port, "bench/1", &payloads, qos_of(qos)).await;
    let published = started.elapsed();
    // Until everything is fired, or nothing moved for 5 s (QoS 0 may lose messages).
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let done = sink.0.load(Ordering::Relaxed) as usize;
        if done != last {
            (last, last_change) = (done, Instant::now());
        }
        if done + feeds.stats().mqtt_dropped as usize >= n || last_change.elapsed().as_secs() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let total = started.elapsed();
    let st = feeds.stats();
    println!(
        "QoS {qos}: {n} messages published in {:.2} s, fired in {:.2} s: {:.0} messages/s broker -> sink (received {}, dropped {}, fired {})",
        published.as_secs_f64(),
        total.as_secs_f64(),
        sink.0.load(Ordering::Relaxed) as f64 / total.as_secs_f64(),
        st.mqtt_messages,
        st.mqtt_dropped,
        sink.0.load(Ordering::Relaxed),
    );
    feeds.shutdown().await;
}

/// Publish -> sink latency of single messages (one at a time), next to the broker's own round
/// trip to a plain subscriber (the floor).
async fn latency(qos: u8, n: usize, direct: bool) {
    let Setup { broker, _dir, sink, feeds } = setup(qos, "lat/+", direct).await;
    let q = qos_of(qos);
    // A plain subscriber on the same broker, and one publisher connection for both measurements.
    let (sub, mut sub_el) =
        rumqttc::AsyncClient::new(rumqttc::MqttOptions::new("floor-sub", "127.0.0.1", broker.port), 64);
    sub.subscribe("floor/+", q).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = sub_el.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(_)) = ev {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let (publ, mut pub_el) =
        rumqttc::AsyncClient::new(rumqttc::MqttOptions::new("lat-pub", "127.0.0.1", broker.port), 64);
    tokio::spawn(async move { while pub_el.poll().await.is_ok() {} });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (mut floor, mut feed) = (Vec::new(), Vec::new());
    for i in 0..n {
        let t0 = Instant::now();
        publ.publish("floor/1", q, false, format!("{i}")).await.unwrap();
        let t1 = rx.recv().await.unwrap();
        floor.push(t1 - t0);
        let before = sink.0.load(Ordering::Relaxed);
        let t0 = Instant::now();
        publ.publish("lat/1", q, false, format!("{i}")).await.unwrap();
        while sink.0.load(Ordering::Relaxed) == before {
            sink.1.notified().await;
        }
        feed.push(t0.elapsed());
    }
    floor.sort();
    feed.sort();
    let pct = |v: &Vec<std::time::Duration>, p: f64| v[((v.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    println!(
        "QoS {qos} latency over {n} messages (direct mode {direct}): broker -> plain subscriber p50 {:.3} ms p99 {:.3} ms; broker -> feed -> sink p50 {:.3} ms p99 {:.3} ms",
        pct(&floor, 0.5), pct(&floor, 0.99), pct(&feed, 0.5), pct(&feed, 0.99)
    );
    feeds.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    run(0, 20_000).await;
    run(1, 20_000).await;
    for direct in [false, true] {
        latency(0, 300, direct).await;
        latency(1, 300, direct).await;
    }
}
