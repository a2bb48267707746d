//! The MQTT feed against a real Mosquitto: delivery in order, status, wildcards, a shared
//! connection, broker restart, persistent QoS 1 sessions and the durable inbox.

mod common;

use std::sync::{atomic::Ordering, Arc};

use common::{data_dir, publish_all, publish_seq, req, seq, subscribe, wait_until, Mosquitto, RecordingSink};
use fogwhisk_feeds::Feeds;
use rumqttc::QoS;
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn start(dir: &tempfile::TempDir, sink: Arc<RecordingSink>) -> Feeds {
    Feeds::start(dir.path(), sink, CancellationToken::new()).await.unwrap()
}

fn texts(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{prefix}-{i}").into_bytes()).collect()
}

fn strings(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_in_order_with_topic_and_status() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    let url = format!("mqtt://sensor:s3cret@127.0.0.1:{}", broker.port);
    let r = feeds
        .mqtt(req("CREATE", "/guest/telemetry", json!({"url": url, "topic": "telemetry/+/+", "authKey": "a:b"})))
        .await
        .unwrap();
    assert_eq!(r, json!({"status": "success"}));
    sink.wait("connected status", |s| s.statuses("/guest/telemetry") == ["connected"]).await;
    let read = feeds.mqtt(req("READ", "/guest/telemetry", json!({}))).await.unwrap();
    assert_eq!(read["config"]["url"], format!("mqtt://sensor:***@127.0.0.1:{}", broker.port));
    assert!(!read.to_string().contains("s3cret"), "READ must not show the password");
    assert_eq!((read["config"]["topic"].as_str(), read["config"]["qos"].as_u64()), (Some("telemetry/+/+"), Some(0)));
    assert_eq!((read["status"]["active"].as_bool(), read["status"]["connected"].as_bool()), (Some(true), Some(true)));

    // One publisher connection: the broker keeps its order.
    let mut items: Vec<(String, Vec<u8>)> =
        texts("m", 100).into_iter().map(|p| ("telemetry/7/9A3F21".to_string(), p)).collect();
    items.extend(texts("x", 3).into_iter().map(|p| ("other/7".to_string(), p)));
    items.extend(texts("y", 3).into_iter().map(|p| ("telemetry/7/9A3F21/extra".to_string(), p)));
    items.push(("telemetry/8/B0".to_string(), b"last".to_vec()));
    publish_seq(broker.port, &items, QoS::AtMostOnce).await;
    sink.wait("101 messages", |s| s.bodies("/guest/telemetry").len() >= 101).await;
    let mut expected = strings("m", 100);
    expected.push("last".into());
    assert_eq!(sink.bodies("/guest/telemetry"), expected, "only matching topics, in publish order");
    let msgs: Vec<_> = sink.of("/guest/telemetry").into_iter().filter(|p| p["type"] == "message").collect();
    assert_eq!(msgs[0]["topic"], "telemetry/7/9A3F21");
    assert_eq!(msgs[100]["topic"], "telemetry/8/B0");
    let ids: std::collections::HashSet<_> = msgs.iter().map(|p| p["msg_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 101, "every message has its own msg_id");
    assert!(msgs.iter().all(|p| p.get("error").is_none()));
    let st = feeds.stats();
    assert_eq!((st.mqtt_brokers, st.mqtt_connected, st.mqtt_subscriptions), (1, 1, 1));
    assert!(st.mqtt_messages >= 101 && st.fires_ok >= 102);
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_share_one_connection_and_overlapping_filters_fire_once() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    let url = broker.url();
    // Thesis form of the URL (http:// = plain MQTT) for one of them: same broker, same connection.
    let thesis_url = format!("http://127.0.0.1:{}", broker.port);
    feeds.mqtt(req("CREATE", "/guest/all", json!({"url": url, "topic": "site/#", "qos": 1}))).await.unwrap();
    feeds.mqtt(req("CREATE", "/guest/one", json!({"url": thesis_url, "topic": "site/a/+"}))).await.unwrap();
    feeds.mqtt(req("CREATE", "/guest/other", json!({"url": url, "topic": "site/+/t"}))).await.unwrap();
    sink.wait("all connected", |s| {
        ["/guest/all", "/guest/one", "/guest/other"].iter().all(|t| s.statuses(t) == ["connected"])
    })
    .await;
    assert_eq!(feeds.stats().mqtt_brokers, 1);
    let items = seq(&[("site/a/t", "1"), ("site/b/t", "2"), ("site/a/h", "3"), ("site", "4")]);
    publish_seq(broker.port, &items, QoS::AtLeastOnce).await;
    sink.wait("sentinel", |s| s.bodies("/guest/all").contains(&"4".to_string())).await;
    assert_eq!(sink.bodies("/guest/all"), ["1", "2", "3", "4"]);
    assert_eq!(sink.bodies("/guest/one"), ["1", "3"]);
    assert_eq!(sink.bodies("/guest/other"), ["1", "2"]);
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_reports_status_and_resumes() {
    let mut broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    subscribe(&feeds, &sink, "/guest/t", json!({"url": broker.url(), "topic": "r/#", "qos": 1})).await;
    publish_all(broker.port, "r/1", &[b"before".to_vec()], QoS::AtLeastOnce).await;
    sink.wait("before", |s| s.bodies("/guest/t") == ["before"]).await;
    broker.stop();
    sink.wait("disconnected", |s| s.statuses("/guest/t") == ["connected", "disconnected"]).await;
    wait_until("stats show no connection", || feeds.stats().mqtt_connected == 0).await;
    broker.restart();
    sink.wait("connected again", |s| s.statuses("/guest/t") == ["connected", "disconnected", "connected"]).await;
    publish_all(broker.port, "r/2", &[b"after".to_vec()], QoS::AtLeastOnce).await;
    sink.wait("after", |s| s.bodies("/guest/t") == ["before", "after"]).await;
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_persistent_session_keeps_messages_while_agent_is_down() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    subscribe(&feeds, &sink, "/guest/t", json!({"url": broker.url(), "topic": "p/+", "qos": 1})).await;
    feeds.shutdown().await;
    drop(feeds);
    // The agent is down: the broker keeps QoS 1 messages for its persistent session.
    publish_all(broker.port, "p/1", &texts("down", 300), QoS::AtLeastOnce).await;
    let feeds = start(&dir, sink.clone()).await;
    sink.wait("300 messages after restart", |s| s.bodies("/guest/t").len() >= 300).await;
    assert_eq!(sink.bodies("/guest/t"), strings("down", 300));
    // The subscription survived the restart.
    let read = feeds.mqtt(req("READ", "/guest/t", json!({}))).await.unwrap();
    assert_eq!(read["config"]["qos"], 1);
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_inbox_keeps_events_while_the_sink_fails() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    subscribe(&feeds, &sink, "/guest/t", json!({"url": broker.url(), "topic": "d", "qos": 1})).await;
    sink.fail.store(true, Ordering::SeqCst);
    publish_all(broker.port, "d", &texts("a", 20), QoS::AtLeastOnce).await;
    wait_until("20 events in the inbox", || feeds.stats().inbox_depth == 20).await;
    wait_until("failed fires", || feeds.stats().fires_failed >= 2).await;
    assert!(sink.bodies("/guest/t").is_empty());
    // The agent goes down with a full inbox (the broker already has its acknowledgements)...
    feeds.shutdown().await;
    drop(feeds);
    publish_all(broker.port, "d", &texts("b", 5), QoS::AtLeastOnce).await;
    // ...and comes back with a working sink: the inbox is replayed first, then the queued messages.
    sink.fail.store(false, Ordering::SeqCst);
    let feeds = start(&dir, sink.clone()).await;
    sink.wait("25 messages", |s| s.bodies("/guest/t").len() >= 25).await;
    let mut expected = strings("a", 20);
    expected.extend(strings("b", 5));
    assert_eq!(sink.bodies("/guest/t"), expected);
    wait_until("inbox empty", || feeds.stats().inbox_depth == 0).await;
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_fires_at_once_and_falls_back_to_the_inbox() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let options = fogwhisk_feeds::FeedsOptions { direct_fire: true, ..Default::default() };
    let feeds = Feeds::start_with(dir.path(), sink.clone(), CancellationToken::new(), options).await.unwrap();
    subscribe(&feeds, &sink, "/guest/t", json!({"url": broker.url(), "topic": "direct", "qos": 1})).await;
    // One at a time: each message is a batch of one with an empty inbox, so it is fired directly.
    for (i, p) in texts("a", 5).into_iter().enumerate() {
        publish_all(broker.port, "direct", &[p], QoS::AtLeastOnce).await;
        sink.wait("message", |s| s.bodies("/guest/t").len() > i).await;
    }
    publish_all(broker.port, "direct", &texts("z", 45), QoS::AtLeastOnce).await;
    sink.wait("50 messages", |s| s.bodies("/guest/t").len() >= 50).await;
    // The sink fails: events go to the inbox, and are fired in order once it works again.
    sink.fail.store(true, Ordering::SeqCst);
    publish_all(broker.port, "direct", &texts("b", 10), QoS::AtLeastOnce).await;
    wait_until("10 events in the inbox", || feeds.stats().inbox_depth == 10).await;
    sink.fail.store(false, Ordering::SeqCst);
    publish_all(broker.port, "direct", &texts("c", 10), QoS::AtLeastOnce).await;
    sink.wait("70 messages", |s| s.bodies("/guest/t").len() >= 70).await;
    let mut expected = strings("a", 5);
    expected.extend(strings("z", 45));
    expected.extend(strings("b", 10));
    expected.extend(strings("c", 10));
    assert_eq!(sink.bodies("/guest/t"), expected);
    // QoS 1 messages fired directly get an id derived from packet id and content.
    let msgs = sink.of("/guest/t");
    let id = msgs[1]["msg_id"].as_str().unwrap();
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    wait_until("inbox empty", || feeds.stats().inbox_depth == 0).await;
    feeds.shutdown().await;
}
