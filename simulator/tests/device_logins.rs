//! The simulator with one MQTT user per device, against the embedded broker with users (each
//! device may publish only on its own topics, the checker subscribes as the feed user): a backfill
//! arrives complete and in order per device, live readings and statuses arrive, and a device
//! without a login is a clear error.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Subscriber;
use fogwhisk_broker::users::{Users, FEED_USER};
use fogwhisk_broker::{Access, EmbeddedBroker};
use fogwhisk_simulator::{publish_backfill, run_live, DeviceLogin, Fleet, PublishError, Publisher, QoS};
use tokio_util::sync::CancellationToken;

/// 2024-11-23 00:00:00 UTC.
const MIDNIGHT: i64 = 1_732_320_000;

struct Site {
    _dir: tempfile::TempDir,
    broker: EmbeddedBroker,
    feed_password: String,
    logins: Vec<DeviceLogin>,
}

async fn site(fleet: &Fleet) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let users = Users::in_dir(dir.path());
    let feed_password = users.ensure_feed(false).unwrap().unwrap();
    let logins = fleet
        .devices()
        .iter()
        .map(|d| {
            let (user, password) = users.add_device(d.datacenter_id, &d.fingerprint, None, false).unwrap();
            DeviceLogin { fingerprint: d.fingerprint.clone(), user, password }
        })
        .collect();
    let broker = tokio::task::spawn_blocking(move || {
        EmbeddedBroker::start_with("127.0.0.1:0".parse().unwrap(), Access::Users(users))
    })
    .await
    .unwrap()
    .unwrap();
    Site { _dir: dir, broker, feed_password, logins }
}

impl Site {
    async fn subscriber(&self, id: &str) -> Subscriber {
        Subscriber::start_as(self.broker.addr(), id, Some((FEED_USER, &self.feed_password))).await
    }
}

fn by_topic(messages: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (topic, payload) in messages {
        map.entry(topic).or_default().push(payload);
    }
    map
}

#[tokio::test]
async fn backfill_with_one_user_per_device_arrives_complete_and_in_order_per_device() {
    let fleet = Fleet::new(11, &[1, 2], 3);
    let site = site(&fleet).await;
    let mut subscriber = site.subscriber("checker").await;
    let url = format!("mqtt://{}", site.broker.addr());
    let mut publisher = Publisher::connect_devices(&url, "sim", &site.logins).await.unwrap();
    let to = MIDNIGHT + 86_400;
    let total = publish_backfill(&mut publisher, &fleet, MIDNIGHT, to, 900, |_, _| {}).await.unwrap();
    let expected: Vec<(String, String)> =
        (MIDNIGHT..to).step_by(900).flat_map(|ts| fleet.readings_at(ts)).map(|m| (m.topic, m.payload)).collect();
    assert_eq!(total as usize, expected.len());
    let got = subscriber.telemetry(expected.len()).await;
    // One connection per device: each device's readings keep their order; devices interleave freely.
    assert_eq!(by_topic(got), by_topic(expected));
    publisher.disconnect().await;
    subscriber.stop().await;
}

#[tokio::test]
async fn live_readings_and_statuses_with_one_user_per_device() {
    let fleet = Fleet::new(4, &[9], 2);
    let site = site(&fleet).await;
    let mut subscriber = site.subscriber("live-checker").await;
    let url = format!("mqtt://{}", site.broker.addr());
    let publisher = Publisher::connect_devices(&url, "sim-live", &site.logins).await.unwrap();
    let stop = CancellationToken::new();
    let live = {
        let (fleet, stop) = (fleet.clone(), stop.clone());
        tokio::spawn(async move {
            let result = run_live(&publisher, &fleet, Duration::from_millis(200), stop).await;
            publisher.disconnect().await;
            result
        })
    };
    let (mut online, mut telemetry) = (0, 0);
    while telemetry < 4 {
        let (topic, payload, _) = subscriber.next().await;
        if topic.starts_with("status/") {
            assert_eq!(payload, "online");
            online += 1;
        } else {
            let device = topic.rsplit('/').next().unwrap();
            assert!(fleet.devices().iter().any(|d| d.fingerprint == device), "{topic}");
            telemetry += 1;
        }
    }
    assert_eq!(online, 2, "each device's online status, on its own topic");
    stop.cancel();
    assert!(live.await.unwrap().unwrap() >= 2);
    let mut offline = 0;
    while offline < 2 {
        let (topic, payload, _) = subscriber.next().await;
        if topic.starts_with("status/") && payload == "offline" {
            offline += 1;
        }
    }
    subscriber.stop().await;
}

#[tokio::test]
async fn a_device_without_a_login_or_with_a_wrong_one_is_a_clear_error() {
    let fleet = Fleet::new(4, &[9], 2);
    let site = site(&fleet).await;
    let url = format!("mqtt://{}", site.broker.addr());
    // Only the first device has a login: the second device's message is refused before sending.
    let publisher = Publisher::connect_devices(&url, "sim-one", &site.logins[..1]).await.unwrap();
    let second = fleet.reading(&fleet.devices()[1], MIDNIGHT);
    match publisher.publish(&second, QoS::AtLeastOnce).await {
        Err(PublishError::NoLogin(device)) => assert_eq!(device, fleet.devices()[1].fingerprint),
        other => panic!("{other:?}"),
    }
    publisher.disconnect().await;
    let mut wrong = site.logins[0].clone();
    wrong.password.push('0');
    match Publisher::connect_devices(&url, "sim-wrong", &[wrong]).await {
        Err(PublishError::Connect { reason, .. }) => assert!(reason.contains("BadUserNamePassword"), "{reason}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(matches!(Publisher::connect(&url, "anonymous").await, Err(PublishError::Connect { .. })));
    let text =
        format!("# sensors\n{} {}:{}\n\n", site.logins[0].fingerprint, site.logins[0].user, site.logins[0].password);
    assert_eq!(DeviceLogin::parse_lines(&text).unwrap(), site.logins[..1].to_vec());
    assert!(matches!(DeviceLogin::parse_lines("9A3F21 no-colon"), Err(PublishError::BadLogin(_))));
}
