//! Test helpers: a real Mosquitto (the testkit's, persistent), an MQTT publisher that waits for the
//! broker's acknowledgements, and a recording trigger sink.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use fogwhisk_feeds::{FeedRequest, FireError, TriggerSink};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{Map, Value};

/// Mosquitto for one test, from the testkit (`Mosquitto::persistent()`: sessions survive a restart).
#[allow(unused_imports)]
pub use fogwhisk_testkit::Mosquitto;

/// A free loopback port (see `fogwhisk_testkit::free_port`).
pub fn free_port() -> u16 {
    fogwhisk_testkit::free_port()
}

/// Publishes every payload on `topic` and returns once the broker acknowledged all of them
/// (QoS 1) or they were all written (QoS 0).
pub async fn publish_all(port: u16, topic: &str, payloads: &[Vec<u8>], qos: QoS) {
    let items: Vec<(String, Vec<u8>)> = payloads.iter().map(|p| (topic.to_string(), p.clone())).collect();
    publish_seq(port, &items, qos).await
}

/// Publishes `(topic, payload)` pairs in order over one connection (the broker keeps the order of
/// one connection's messages; it does not order messages of different connections).
pub async fn publish_seq(port: u16, items: &[(String, Vec<u8>)], qos: QoS) {
    let mut opts = MqttOptions::new(format!("pub-{}", uuid::Uuid::new_v4().simple()), "127.0.0.1", port);
    opts.set_max_packet_size(1 << 22, 1 << 22);
    let (client, mut el) = AsyncClient::new(opts, 64);
    let list = items.to_vec();
    let c = client.clone();
    let sender = tokio::spawn(async move {
        for (topic, p) in list {
            c.publish(topic, qos, false, p).await.unwrap();
        }
    });
    let n = items.len();
    let (mut acked, mut sent, mut disconnecting) = (0, 0, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ev = tokio::time::timeout_at(deadline, el.poll()).await.expect("publisher timed out");
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(Event::Outgoing(Outgoing::Publish(_))) => sent += 1,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => panic!("publisher connection failed: {e}"),
        }
        let done = if qos == QoS::AtMostOnce { sent == n } else { acked == n };
        if done && !disconnecting {
            disconnecting = true;
            client.try_disconnect().unwrap();
        }
    }
    sender.await.unwrap();
}

/// `(topic, text)` pairs for [`publish_seq`].
pub fn seq(items: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    items.iter().map(|(t, p)| (t.to_string(), p.as_bytes().to_vec())).collect()
}

/// A sink that records every fire; it can be told to fail (as an unavailable agent does) or to
/// report a trigger as missing.
#[derive(Default)]
pub struct RecordingSink {
    pub fires: Mutex<Vec<(String, Value)>>,
    pub fail: AtomicBool,
    pub missing: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl TriggerSink for RecordingSink {
    async fn fire(&self, trigger: &str, payload: Value) -> Result<(), FireError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(FireError::Unavailable("test sink is failing".into()));
        }
        if self.missing.lock().unwrap().iter().any(|t| t == trigger) {
            return Err(FireError::NotFound(trigger.to_string()));
        }
        self.fires.lock().unwrap().push((trigger.to_string(), payload));
        Ok(())
    }
}

impl RecordingSink {
    pub fn new() -> Arc<RecordingSink> {
        Arc::new(RecordingSink::default())
    }

    /// Payloads fired to `trigger`.
    pub fn of(&self, trigger: &str) -> Vec<Value> {
        self.fires.lock().unwrap().iter().filter(|(t, _)| t == trigger).map(|(_, p)| p.clone()).collect()
    }

    /// Message bodies fired to `trigger`, in order.
    pub fn bodies(&self, trigger: &str) -> Vec<String> {
        self.of(trigger)
            .into_iter()
            .filter(|p| p["type"] == "message")
            .map(|p| p["body"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn statuses(&self, trigger: &str) -> Vec<String> {
        self.of(trigger)
            .into_iter()
            .filter(|p| p["type"] == "status")
            .map(|p| p["body"].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits (up to 30 s) until `cond` holds.
    pub async fn wait(&self, what: &str, cond: impl Fn(&RecordingSink) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond(self) {
            if Instant::now() > deadline {
                let fires = self.fires.lock().unwrap().clone();
                let shown: Vec<_> = fires.iter().rev().take(20).collect();
                panic!("timed out waiting for: {what}; {} fires, last ones: {shown:?}", fires.len());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    fogwhisk_testkit::until(Duration::from_secs(30), what, cond).await
}

pub fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Creates an MQTT subscription for `trigger` and waits until its trigger is told `connected`.
pub async fn subscribe(feeds: &fogwhisk_feeds::Feeds, sink: &RecordingSink, trigger: &str, p: Value) {
    feeds.mqtt(req("CREATE", trigger, p)).await.unwrap();
    sink.wait("connected", |s| s.statuses(trigger) == ["connected"]).await;
}

pub fn req(event: &str, trigger: &str, p: Value) -> FeedRequest {
    FeedRequest::new(event, trigger, params(p)).unwrap()
}

pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path(d: &tempfile::TempDir) -> PathBuf {
    d.path().to_path_buf()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
