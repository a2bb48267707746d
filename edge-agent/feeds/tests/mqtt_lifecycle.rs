//! The MQTT feed against a real Mosquitto: bad payloads, lifecycle (UPDATE, PAUSE, UNPAUSE,
//! DELETE), parameter errors and a trigger the agent reports missing.

mod common;

use std::sync::Arc;

use common::{data_dir, publish_all, publish_seq, req, seq, subscribe, wait_until, Mosquitto, RecordingSink};
use fogwhisk_feeds::{FeedError, Feeds, FeedsOptions};
use rumqttc::QoS;
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn start(dir: &tempfile::TempDir, sink: Arc<RecordingSink>) -> Feeds {
    Feeds::start(dir.path(), sink, CancellationToken::new()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_are_fired_with_an_error_and_counted() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let options = FeedsOptions { max_body_bytes: 64, ..FeedsOptions::default() };
    let feeds = Feeds::start_with(dir.path(), sink.clone(), CancellationToken::new(), options).await.unwrap();
    subscribe(&feeds, &sink, "/guest/t", json!({"url": broker.url(), "topic": "b", "qos": "1"})).await;
    let payloads = vec![vec![0xff, 0xfe, b'o', b'k'], vec![b'x'; 100], b"{\"fine\":true}".to_vec()];
    publish_all(broker.port, "b", &payloads, QoS::AtLeastOnce).await;
    sink.wait("three messages", |s| s.bodies("/guest/t").len() >= 3).await;
    let msgs: Vec<_> = sink.of("/guest/t").into_iter().filter(|p| p["type"] == "message").collect();
    assert!(msgs[0]["error"].as_str().unwrap().contains("not valid UTF-8"));
    assert_eq!(msgs[0]["body"], "\u{fffd}\u{fffd}ok");
    assert!(msgs[1]["error"].as_str().unwrap().contains("exceeds the limit of 64 bytes"));
    assert_eq!(msgs[1]["body"].as_str().unwrap().len(), 64);
    assert!(msgs[2].get("error").is_none());
    assert_eq!(msgs[2]["body"], "{\"fine\":true}");
    assert_eq!(feeds.stats().bad_messages, 2);
    feeds.shutdown().await;
}

fn err(r: Result<serde_json::Value, FeedError>) -> FeedError {
    r.expect_err("expected an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_update_pause_delete_and_errors() {
    let broker = Mosquitto::persistent();
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    let url = broker.url();
    let missing = "Missing mandatory feed properties, must include url and topic.";
    for p in [json!({}), json!({"url": url}), json!({"topic": "a"}), json!({"url": "", "topic": "a"})] {
        match err(feeds.mqtt(req("CREATE", "/guest/t", p)).await) {
            FeedError::BadRequest(m) => assert_eq!(m, missing),
            other => panic!("{other:?}"),
        }
    }
    for p in [
        json!({"url": url, "topic": "a/#/b"}),
        json!({"url": url, "topic": "a", "qos": 2}),
        json!({"url": "ws://h:1", "topic": "a"}),
        json!({"url": url, "topic": "a", "qos": "high"}),
    ] {
        assert!(matches!(err(feeds.mqtt(req("CREATE", "/guest/t", p.clone())).await), FeedError::BadRequest(_)), "{p}");
    }
    assert!(matches!(err(feeds.mqtt(req("READ", "/guest/t", json!({}))).await), FeedError::NotFound(_)));
    assert!(matches!(err(feeds.mqtt(req("DELETE", "/guest/t", json!({}))).await), FeedError::NotFound(_)));

    feeds.mqtt(req("CREATE", "/guest/t", json!({"url": url, "topic": "old"}))).await.unwrap();
    feeds.mqtt(req("CREATE", "/guest/s", json!({"url": url, "topic": "sentinel"}))).await.unwrap();
    sink.wait("connected", |s| s.statuses("/guest/t") == ["connected"] && s.statuses("/guest/s") == ["connected"])
        .await;
    match err(feeds.mqtt(req("UPDATE", "/guest/t", json!({"other": 1}))).await) {
        FeedError::BadRequest(m) => assert_eq!(m, "no updatable parameters were specified"),
        other => panic!("{other:?}"),
    }
    feeds.mqtt(req("UPDATE", "/guest/t", json!({"topic": "new"}))).await.unwrap();
    // Events of one feeds instance are fired in order, and the broker keeps the order of one
    // publisher connection: once the sentinel published after `body` arrives, `body` was handled.
    let port = broker.port;
    let then_sentinel = |topic: &'static str, body: &'static str, n: usize| {
        let sink = sink.clone();
        async move {
            let s = format!("s{n}");
            publish_seq(port, &seq(&[(topic, body), ("sentinel", &s)]), QoS::AtLeastOnce).await;
            sink.wait("sentinel", |k| k.bodies("/guest/s").contains(&s)).await;
        }
    };
    publish_all(broker.port, "new", &[b"n1".to_vec()], QoS::AtMostOnce).await;
    sink.wait("updated topic fires", |s| s.bodies("/guest/t") == ["n1"]).await;
    then_sentinel("old", "o1", 1).await;
    assert_eq!(sink.bodies("/guest/t"), ["n1"], "old topic no longer fires");

    feeds.mqtt(req("PAUSE", "/guest/t", json!({}))).await.unwrap();
    let read = feeds.mqtt(req("READ", "/guest/t", json!({}))).await.unwrap();
    assert_eq!(read["status"]["active"], false);
    then_sentinel("new", "paused", 2).await;
    assert_eq!(sink.bodies("/guest/t"), ["n1"], "paused trigger does not fire");
    feeds.mqtt(req("UNPAUSE", "/guest/t", json!({}))).await.unwrap();
    publish_all(broker.port, "new", &[b"n2".to_vec()], QoS::AtMostOnce).await;
    sink.wait("unpaused", |s| s.bodies("/guest/t") == ["n1", "n2"]).await;

    feeds.mqtt(req("DELETE", "/guest/t", json!({}))).await.unwrap();
    assert!(matches!(err(feeds.mqtt(req("READ", "/guest/t", json!({}))).await), FeedError::NotFound(_)));
    then_sentinel("new", "gone", 3).await;
    assert_eq!(sink.bodies("/guest/t"), ["n1", "n2"]);
    assert_eq!(feeds.stats().mqtt_subscriptions, 1);

    // A trigger the agent reports missing loses its subscription.
    sink.missing.lock().unwrap().push("/guest/s".into());
    publish_all(broker.port, "sentinel", &[b"x".to_vec()], QoS::AtMostOnce).await;
    wait_until("subscription dropped", || feeds.stats().mqtt_subscriptions == 0).await;
    assert!(matches!(err(feeds.mqtt(req("READ", "/guest/s", json!({}))).await), FeedError::NotFound(_)));
    wait_until("connection closed", || feeds.stats().mqtt_brokers == 0).await;
    feeds.shutdown().await;
}
