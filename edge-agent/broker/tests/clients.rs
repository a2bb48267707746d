//! The embedded broker against rumqttc clients: round trips at QoS 0 and 1, several clients,
//! port 0, persistent sessions, errors and shutdown.

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};

use common::{Seen, TestClient};
use fogwhisk_broker::{BrokerError, EmbeddedBroker};
use rumqttc::QoS;

const MESSAGE: &str = r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}"#;

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn port_zero_binds_a_real_port_that_speaks_mqtt() {
    let broker = tokio::task::spawn_blocking(|| EmbeddedBroker::start(any_port())).await.unwrap().unwrap();
    let addr = broker.addr();
    assert_ne!(addr.port(), 0);
    assert!(addr.ip().is_loopback());
    let (client, session_present) = TestClient::connect(addr, "port-zero", true).await;
    assert!(!session_present);
    client.disconnect().await;
    broker.shutdown();
}

#[tokio::test]
async fn qos0_round_trip_keeps_payload_and_order() {
    let broker = EmbeddedBroker::start(any_port()).unwrap();
    let (mut sub, _) = TestClient::connect(broker.addr(), "sub-q0", true).await;
    sub.subscribe("telemetry/#", QoS::AtMostOnce).await;
    let (publisher, _) = TestClient::connect(broker.addr(), "pub-q0", true).await;
    for i in 0..50 {
        let payload = format!("{MESSAGE}{i}");
        publisher.client.publish("telemetry/7/9A3F21", QoS::AtMostOnce, false, payload).await.unwrap();
    }
    for i in 0..50 {
        let got = sub.next_publish().await;
        assert_eq!(got.topic, "telemetry/7/9A3F21");
        assert_eq!(got.qos, QoS::AtMostOnce);
        assert_eq!(std::str::from_utf8(&got.payload).unwrap(), format!("{MESSAGE}{i}"));
    }
    publisher.disconnect().await;
    sub.disconnect().await;
    broker.shutdown();
}

#[tokio::test]
async fn qos1_publishes_are_acknowledged_and_delivered_at_qos1() {
    let broker = EmbeddedBroker::start(any_port()).unwrap();
    let (mut sub, _) = TestClient::connect(broker.addr(), "sub-q1", true).await;
    sub.subscribe("telemetry/+/+", QoS::AtLeastOnce).await;
    let (mut publisher, _) = TestClient::connect(broker.addr(), "pub-q1", true).await;
    // More than rumqttd's in-flight window of 100, so its flow control is exercised.
    let count = 500;
    for i in 0..count {
        let topic = format!("telemetry/{}/ABCDEF", i % 3);
        publisher.client.publish(topic, QoS::AtLeastOnce, false, format!("m{i}")).await.unwrap();
    }
    publisher.wait_pubacks(count).await;
    let mut received = Vec::new();
    for _ in 0..count {
        let got = sub.next_publish().await;
        assert_eq!(got.qos, QoS::AtLeastOnce);
        received.push(String::from_utf8(got.payload.to_vec()).unwrap());
    }
    let expected: Vec<String> = (0..count).map(|i| format!("m{i}")).collect();
    assert_eq!(received, expected);
    publisher.disconnect().await;
    sub.disconnect().await;
    broker.shutdown();
}

#[tokio::test]
async fn two_subscribers_get_what_their_filters_match() {
    let broker = EmbeddedBroker::start(any_port()).unwrap();
    let (mut dc1, _) = TestClient::connect(broker.addr(), "dc1", true).await;
    dc1.subscribe("telemetry/1/#", QoS::AtLeastOnce).await;
    let (mut device, _) = TestClient::connect(broker.addr(), "device", true).await;
    device.subscribe("telemetry/+/C0FFEE", QoS::AtMostOnce).await;
    let (mut publisher, _) = TestClient::connect(broker.addr(), "pub-two", true).await;
    let topics =
        ["telemetry/1/C0FFEE", "telemetry/1/ABCDEF", "telemetry/2/C0FFEE", "telemetry/2/ABCDEF", "other/1/C0FFEE"];
    for topic in topics {
        publisher.client.publish(topic, QoS::AtLeastOnce, false, topic).await.unwrap();
    }
    publisher.wait_pubacks(topics.len()).await;
    // A marker on a topic both match ends each subscriber's stream.
    publisher.client.publish("telemetry/1/C0FFEE", QoS::AtLeastOnce, false, "end").await.unwrap();
    publisher.wait_pubacks(1).await;

    async fn collect(client: &mut TestClient) -> BTreeSet<String> {
        let mut got = BTreeSet::new();
        loop {
            let publish = client.next_publish().await;
            let payload = String::from_utf8(publish.payload.to_vec()).unwrap();
            if payload == "end" {
                return got;
            }
            assert_eq!(payload, publish.topic);
            got.insert(payload);
        }
    }
    let want_dc1: BTreeSet<String> = ["telemetry/1/C0FFEE", "telemetry/1/ABCDEF"].map(String::from).into();
    let want_device: BTreeSet<String> = ["telemetry/1/C0FFEE", "telemetry/2/C0FFEE"].map(String::from).into();
    assert_eq!(collect(&mut dc1).await, want_dc1);
    assert_eq!(collect(&mut device).await, want_device);
    for client in [publisher, dc1, device] {
        client.disconnect().await;
    }
    broker.shutdown();
}

#[tokio::test]
async fn persistent_session_receives_what_was_published_while_away() {
    let broker = EmbeddedBroker::start(any_port()).unwrap();
    let (mut feed, _) = TestClient::connect(broker.addr(), "site-feed", false).await;
    feed.subscribe("telemetry/#", QoS::AtLeastOnce).await;
    feed.disconnect().await;

    let (mut publisher, _) = TestClient::connect(broker.addr(), "pub-away", true).await;
    for i in 0..5 {
        publisher.client.publish("telemetry/7/9A3F21", QoS::AtLeastOnce, false, format!("away-{i}")).await.unwrap();
    }
    publisher.wait_pubacks(5).await;

    let (mut feed, session_present) = TestClient::connect(broker.addr(), "site-feed", false).await;
    assert!(session_present, "the broker should keep the session of a clean_session=false client");
    for i in 0..5 {
        let got = feed.next_publish().await;
        assert_eq!(std::str::from_utf8(&got.payload).unwrap(), format!("away-{i}"));
    }
    publisher.disconnect().await;
    feed.disconnect().await;
    broker.shutdown();
}

#[tokio::test]
async fn brokers_on_port_zero_are_separate() {
    let first = EmbeddedBroker::start(any_port()).unwrap();
    let second = EmbeddedBroker::start(any_port()).unwrap();
    assert_ne!(first.addr(), second.addr());
    let (mut sub_second, _) = TestClient::connect(second.addr(), "sub", true).await;
    sub_second.subscribe("#", QoS::AtLeastOnce).await;
    let (mut pub_first, _) = TestClient::connect(first.addr(), "pub", true).await;
    pub_first.client.publish("telemetry/1/ABCDEF", QoS::AtLeastOnce, false, "first").await.unwrap();
    pub_first.wait_pubacks(1).await;
    let (mut pub_second, _) = TestClient::connect(second.addr(), "pub", true).await;
    pub_second.client.publish("telemetry/2/ABCDEF", QoS::AtLeastOnce, false, "second").await.unwrap();
    pub_second.wait_pubacks(1).await;
    // The only message the second broker's subscriber sees is the second broker's.
    let got = sub_second.next_publish().await;
    assert_eq!(&got.payload[..], b"second");
    for client in [sub_second, pub_first, pub_second] {
        client.disconnect().await;
    }
    first.shutdown();
    second.shutdown();
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = EmbeddedBroker::start(addr).unwrap_err();
    assert!(matches!(err, BrokerError::AddrUnavailable { addr: a, .. } if a == addr), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
}

#[test]
fn a_foreign_address_is_a_clear_error() {
    // TEST-NET-1 is never assigned to this machine, so it cannot be bound.
    let err = EmbeddedBroker::start("192.0.2.1:0".parse().unwrap()).unwrap_err();
    assert!(matches!(err, BrokerError::AddrUnavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn shutdown_closes_connections_and_frees_the_port() {
    let broker = EmbeddedBroker::start(any_port()).unwrap();
    let addr = broker.addr();
    let (mut client, _) = TestClient::connect(addr, "left-open", true).await;
    client.subscribe("#", QoS::AtLeastOnce).await;
    tokio::task::spawn_blocking(move || broker.shutdown()).await.unwrap();
    // The open connection is closed by the broker.
    loop {
        match client.next().await {
            Seen::Closed(_) => break,
            _ => continue,
        }
    }
    // Nothing listens any more, and the same address can be used again.
    assert!(TcpStream::connect(addr).is_err(), "the listener should be closed");
    let again = EmbeddedBroker::start(addr).unwrap();
    assert_eq!(again.addr(), addr);
    let (client, _) = TestClient::connect(addr, "again", true).await;
    client.disconnect().await;
    again.shutdown();
}
