//! The inbox writer: commits incoming MQTT events to the durable inbox in batches (one fsync per
//! batch), or fires them directly in direct mode, and only then acknowledges QoS 1 messages to
//! their broker. (`worker` fires what the inbox holds.)

use std::{collections::HashMap, sync::Arc, time::Duration};

use rumqttc::{AsyncClient, Publish, QoS};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::{
    stats::Stats,
    store::{Batch, DedupRecord, InboxEntry, Source},
    Shared,
};

/// Direct mode fires a writer batch through the sink only when it is this small (under load the
/// inbox's group commit is faster).
const DIRECT_MAX: usize = 8;
/// Events accepted by one writer batch at most.
const MAX_BATCH: usize = 512;
/// Capacity of the channel from the connection tasks to the writer.
pub(crate) const WRITER_CAPACITY: usize = 16_384;

/// What a connection task hands to the writer.
pub(crate) enum WriterItem {
    /// A message from a broker, with the triggers whose filters match it (maybe none: it is then
    /// only acknowledged).
    Publish { client: AsyncClient, client_id: Arc<str>, publish: Publish, triggers: Vec<String> },
    /// A connection status change for these triggers.
    Status { triggers: Vec<String>, body: &'static str },
}

pub(crate) type WriterTx = mpsc::Sender<WriterItem>;

/// FNV-1a over topic and payload: tells a redelivery from a new message reusing a packet id.
fn content_hash(topic: &str, payload: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.as_bytes().iter().chain([0u8].iter()).chain(payload.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn new_msg_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The trigger payload of one MQTT message; bad ones carry an `error` the consuming action reports.
fn message_payload(shared: &Shared, p: &Publish, msg_id: &str) -> Value {
    let max = shared.options.max_body_bytes;
    let mut error = None;
    let bytes: &[u8] = if p.payload.len() > max {
        error = Some(format!("payload of {} bytes exceeds the limit of {max} bytes (truncated)", p.payload.len()));
        &p.payload[..max]
    } else {
        &p.payload
    };
    let body = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            if error.is_none() {
                error = Some("payload is not valid UTF-8 (invalid bytes replaced by U+FFFD)".to_string());
            }
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    let mut v = json!({"type": "message", "topic": p.topic, "body": body, "msg_id": msg_id});
    if let Some(e) = error {
        Stats::add(&shared.stats.bad_messages, 1);
        v["error"] = Value::String(e);
    }
    v
}

pub(crate) fn spawn_writer(shared: Arc<Shared>) -> WriterTx {
    let (tx, rx) = mpsc::channel(WRITER_CAPACITY);
    let s = shared.clone();
    shared.tracker.spawn(async move { writer(s, rx).await });
    tx
}

async fn writer(shared: Arc<Shared>, mut rx: mpsc::Receiver<WriterItem>) {
    loop {
        let first = tokio::select! {
            _ = shared.cancel.cancelled() => break,
            item = rx.recv() => match item { Some(i) => i, None => break },
        };
        // Backpressure: stop taking events while the inbox is full.
        while Stats::get(&shared.stats.inbox_depth) >= shared.options.max_inbox {
            tokio::select! {
                _ = shared.cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        let mut items = vec![first];
        while items.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(i) => items.push(i),
                Err(_) => break,
            }
        }
        let direct =
            shared.options.direct_fire && items.len() <= DIRECT_MAX && Stats::get(&shared.stats.inbox_depth) == 0;
        let recorded = if direct {
            fire_direct(&shared, &items).await
        } else {
            match prepare(&shared, &items).await {
                Ok(batch) => store(&shared, batch).await,
                Err(e) => {
                    tracing::error!(error = %e, "inbox dedup lookup failed; messages stay unacknowledged");
                    false
                }
            }
        };
        if !recorded {
            // Shutting down (or the store is broken): unacknowledged messages stay on the broker.
            continue;
        }
        // Acknowledge only now that the events are durably recorded.
        for item in items {
            if let WriterItem::Publish { client, publish, .. } = item {
                if publish.qos != QoS::AtMostOnce && client.try_ack(&publish).is_err() {
                    shared.tracker.spawn(async move {
                        let _ = client.ack(&publish).await;
                    });
                }
            }
        }
    }
}

/// Direct mode: fires the events through the sink at once (the sink records them durably), and
/// puts the rest in the inbox from the first failure on. Returns false when cancelled.
async fn fire_direct(shared: &Arc<Shared>, items: &[WriterItem]) -> bool {
    let batch = match prepare(shared, items).await {
        Ok(b) => b,
        Err(_) => return false,
    };
    let mut events = batch.events.into_iter();
    while let Some(ev) = events.next() {
        let r = tokio::select! {
            _ = shared.cancel.cancelled() => return false,
            r = shared.sink.fire(&ev.trigger, ev.payload.clone()) => r,
        };
        match r {
            Ok(()) => Stats::add(&shared.stats.fires_ok, 1),
            Err(e) => {
                // The worker retries it (and handles a vanished trigger) in order with the rest.
                tracing::debug!(trigger = %ev.trigger, error = %e, "direct fire failed; event goes to the inbox");
                Stats::add(&shared.stats.fires_failed, 1);
                let rest = Batch { events: std::iter::once(ev).chain(events).collect(), ..Batch::default() };
                return store(shared, rest).await;
            }
        }
    }
    true
}

/// Commits a batch, retrying with backoff until it succeeds; false when cancelled.
async fn store(shared: &Arc<Shared>, batch: Batch) -> bool {
    let n = batch.events.len() as u64;
    let duplicates = batch.duplicates;
    // Counted before the commit: the worker may fire and remove the events as soon as it is done.
    Stats::add(&shared.stats.inbox_depth, n);
    let mut backoff = Duration::from_millis(100);
    loop {
        // A copy per attempt: a failed commit leaves nothing behind, the next one writes it all.
        let b = batch.clone();
        let r = shared.blocking(move |s| s.commit(b)).await;
        match r {
            Ok(_) => break,
            Err(e) => {
                tracing::error!(error = %e, "inbox commit failed; retrying");
                tokio::select! {
                    _ = shared.cancel.cancelled() => {
                        Stats::sub(&shared.stats.inbox_depth, n);
                        return false;
                    }
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    Stats::add(&shared.stats.mqtt_duplicates, duplicates);
    if n > 0 {
        shared.inbox_ready.notify_one();
    }
    true
}

/// Turns writer items into inbox events. In inbox mode a QoS 1 message gets a random `msg_id` and
/// a packet-id record that recognises its broker redeliveries. With direct mode enabled, its
/// `msg_id` is derived from client id, packet id and content instead (no record), so a redelivery
/// after a crash keeps its id whichever path it takes.
async fn prepare(shared: &Arc<Shared>, items: &[WriterItem]) -> Result<Batch, crate::FeedError> {
    let derived = shared.options.direct_fire;
    let mut batch = Batch::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for item in items {
        match item {
            WriterItem::Publish { client_id, publish: p, triggers, .. } => {
                Stats::add(&shared.stats.mqtt_messages, 1);
                let mut msg_id = None;
                if p.qos != QoS::AtMostOnce {
                    let key = format!("{client_id}/{}", p.pkid);
                    let hash = content_hash(&p.topic, &p.payload);
                    if derived {
                        msg_id = Some(format!("{:016x}", content_hash(&key, &hash.to_be_bytes())));
                    } else {
                        if p.dup {
                            let prior = match seen.get(&key) {
                                Some(h) => Some(*h),
                                None => {
                                    let k = key.clone();
                                    shared.blocking(move |s| s.dedup(&k)).await?.map(|r| r.hash)
                                }
                            };
                            if prior == Some(hash) {
                                batch.duplicates += 1;
                                continue;
                            }
                        }
                        let id = new_msg_id();
                        seen.insert(key.clone(), hash);
                        batch.dedup.push((key, DedupRecord { hash, msg_id: id.clone() }));
                        msg_id = Some(id);
                    }
                }
                let msg_id = msg_id.unwrap_or_else(new_msg_id);
                if triggers.is_empty() {
                    continue;
                }
                batch.push_mqtt(triggers, message_payload(shared, p, &msg_id));
            }
            WriterItem::Status { triggers, body } => {
                batch.push_mqtt(triggers, json!({"type": "status", "body": body, "msg_id": new_msg_id()}));
            }
        }
    }
    Ok(batch)
}

impl Batch {
    /// One MQTT event per trigger, all with the same payload.
    fn push_mqtt(&mut self, triggers: &[String], payload: Value) {
        for t in triggers {
            self.events.push(InboxEntry {
                trigger: t.clone(),
                payload: payload.clone(),
                source: Source::Mqtt,
                retire: None,
            });
        }
    }
}
