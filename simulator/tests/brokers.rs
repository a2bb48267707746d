//! Publishing through real brokers: Mosquitto (Debian's package) and the embedded rumqttd
//! broker. Backfills arrive complete, in order and byte for byte; live publishing and the
//! status topics work; the binary runs, backfills, goes live and stops cleanly on SIGINT.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Mosquitto, Subscriber};
use fogwhisk_broker::EmbeddedBroker;
use fogwhisk_simulator::{publish_backfill, run_live, Fleet, PublishError, Publisher};
use tokio_util::sync::CancellationToken;

/// 2024-11-23 00:00:00 UTC.
const MIDNIGHT: i64 = 1_732_320_000;

/// Backfills `days` at `step` through the broker at `url` and checks that the subscriber got
/// exactly the expected messages in order, and that progress was reported up to the total.
async fn backfill_round_trip(addr: std::net::SocketAddr, days: i64, step: i64) {
    let url = format!("mqtt://{addr}");
    let fleet = Fleet::new(11, &[1, 2], 3);
    let mut subscriber = Subscriber::start(addr, "checker").await;
    let mut publisher = Publisher::connect(&url, "sim-backfill").await.unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let to = MIDNIGHT + days * 86_400;
    let total = publish_backfill(&mut publisher, &fleet, MIDNIGHT, to, step, move |done, total| {
        seen.lock().unwrap().push((done, total));
    })
    .await
    .unwrap();

    let expected: Vec<(String, String)> = (MIDNIGHT..to)
        .step_by(step as usize)
        .flat_map(|ts| fleet.readings_at(ts))
        .map(|m| (m.topic, m.payload))
        .collect();
    assert_eq!(total as usize, expected.len());
    let got = subscriber.telemetry(expected.len()).await;
    assert_eq!(got, expected);

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.first(), Some(&(0, total)));
    assert_eq!(calls.last(), Some(&(total, total)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "progress goes forward: {calls:?}");
    publisher.disconnect().await;
    subscriber.stop().await;
}

#[tokio::test]
async fn backfill_through_mosquitto() {
    let mosquitto = Mosquitto::start();
    backfill_round_trip(mosquitto.addr(), 3, 900).await;
}

#[tokio::test]
async fn backfill_through_the_embedded_broker() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    backfill_round_trip(broker.addr(), 3, 900).await;
    tokio::task::spawn_blocking(move || broker.shutdown()).await.unwrap();
}

#[tokio::test]
async fn live_readings_and_status_through_mosquitto() {
    let mosquitto = Mosquitto::start();
    live_round_trip(mosquitto.addr()).await;
}

#[tokio::test]
async fn live_readings_and_status_through_the_embedded_broker() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    live_round_trip(broker.addr()).await;
    tokio::task::spawn_blocking(move || broker.shutdown()).await.unwrap();
}

/// Runs live publishing for a few rounds and checks readings, online/offline statuses and
/// the retained status a late subscriber gets.
async fn live_round_trip(addr: std::net::SocketAddr) {
    let fleet = Fleet::new(4, &[9], 2);
    let mut subscriber = Subscriber::start(addr, "live-checker").await;
    let publisher = Publisher::connect(&format!("mqtt://{addr}"), "sim-live").await.unwrap();
    let stop = CancellationToken::new();
    let live = {
        let (fleet, stop) = (fleet.clone(), stop.clone());
        tokio::spawn(async move {
            let result = run_live(&publisher, &fleet, Duration::from_millis(200), stop).await;
            publisher.disconnect().await;
            result
        })
    };
    let mut online = 0;
    let mut telemetry = 0;
    while telemetry < 6 {
        let (topic, payload, _) = subscriber.next().await;
        if topic.starts_with("status/") {
            assert_eq!(payload, "online");
            online += 1;
            continue;
        }
        // Each live message is the fleet's reading at the ts it carries.
        let ts = payload.rsplit(r#""ts":"#).next().unwrap().trim_end_matches('}').parse::<i64>().unwrap();
        let device = topic.rsplit('/').next().unwrap();
        let d = fleet.devices().iter().find(|d| d.fingerprint == device).expect("a fleet device");
        assert_eq!(payload, fleet.reading(d, ts).payload);
        assert!((ts - fogwhisk_simulator::now_ts()).abs() < 60, "live ts {ts} is now");
        telemetry += 1;
    }
    assert_eq!(online, 2, "one online status per device before readings");
    stop.cancel();
    let rounds = live.await.unwrap().unwrap();
    assert!(rounds >= 3, "{rounds} rounds");
    let mut offline = 0;
    while offline < 2 {
        let (topic, payload, _) = subscriber.next().await;
        if topic.starts_with("status/") && payload == "offline" {
            offline += 1;
        }
    }
    // A new subscriber gets the retained status.
    let mut late = Subscriber::start(addr, "late").await;
    let (topic, payload, retained) = late.next().await;
    assert!(topic.starts_with("status/9/") && payload == "offline" && retained, "{topic} {payload} {retained}");
    late.stop().await;
    subscriber.stop().await;
}

#[tokio::test]
async fn unreachable_broker_and_bad_urls_are_clear_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = Publisher::connect(&format!("mqtt://127.0.0.1:{port}"), "x").await.err().unwrap();
    assert!(matches!(err, PublishError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    let err = Publisher::connect("http://127.0.0.1:1883", "x").await.err().unwrap();
    assert!(matches!(err, PublishError::BadUrl { .. }), "{err}");
}

#[tokio::test]
async fn bad_backfill_ranges_are_rejected() {
    let mosquitto = Mosquitto::start();
    let fleet = Fleet::new(1, &[1], 1);
    let mut publisher = Publisher::connect(&mosquitto.url(), "sim-range").await.unwrap();
    for (from, to, step) in [(10, 0, 60), (0, 10, 0), (0, 10, -5)] {
        let err = publish_backfill(&mut publisher, &fleet, from, to, step, |_, _| {}).await.unwrap_err();
        assert!(matches!(err, PublishError::BadRange(_)), "{err}");
    }
    publisher.disconnect().await;
}
