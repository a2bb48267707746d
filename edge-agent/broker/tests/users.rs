//! The embedded broker with a user file (`Access::Users`) against rumqttc clients: each device
//! publishes on its own topics only, the feed user subscribes only, wrong passwords and
//! anonymous clients are refused at CONNECT, and one user cannot take over another's session.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;

use common::{Seen, TestClient};
use fogwhisk_broker::users::{Users, FEED_USER};
use fogwhisk_broker::{Access, EmbeddedBroker};
use rumqttc::QoS;

const READING: &str = r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}"#;

struct Site {
    _dir: tempfile::TempDir,
    users: Users,
    broker: EmbeddedBroker,
    feed_password: String,
}

async fn site() -> Site {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let dir = tempfile::tempdir().unwrap();
    let users = Users::in_dir(dir.path());
    let feed_password = users.ensure_feed(false).unwrap().expect("a new feed user");
    assert_eq!(users.ensure_feed(false).unwrap(), None, "the feed user is created once");
    let access = Access::Users(users.clone());
    let broker =
        tokio::task::spawn_blocking(move || EmbeddedBroker::start_with("127.0.0.1:0".parse().unwrap(), access))
            .await
            .unwrap()
            .unwrap();
    Site { _dir: dir, users, broker, feed_password }
}

impl Site {
    fn addr(&self) -> SocketAddr {
        self.broker.addr()
    }

    async fn feed(&self) -> TestClient {
        let (mut feed, _) =
            TestClient::connect_as(self.addr(), "feed", true, Some((FEED_USER, &self.feed_password))).await.unwrap();
        feed.subscribe("telemetry/#", QoS::AtLeastOnce).await;
        feed
    }
}

/// Waits for the connection's end; panics if a publish arrives first.
async fn closed(client: &mut TestClient) -> String {
    loop {
        match client.next().await {
            Seen::Closed(err) => return err,
            Seen::Publish(p) => panic!("unexpected publish on {}", p.topic),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn a_device_publishes_on_its_own_topic_and_the_feed_receives_it() {
    let site = site().await;
    let (user, password) = site.users.add_device(7, "9A3F21", None, false).unwrap();
    assert_eq!(user, "9A3F21", "the default user name is the fingerprint");
    let mode = std::fs::metadata(site.users.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored = std::fs::read_to_string(site.users.path()).unwrap();
    assert!(!stored.contains(&password) && !stored.contains(&site.feed_password), "passwords are stored hashed");

    let mut feed = site.feed().await;
    let (mut device, _) =
        TestClient::connect_as(site.addr(), "sensor-9A3F21", true, Some((&user, &password))).await.unwrap();
    device.client.publish("telemetry/7/9A3F21", QoS::AtLeastOnce, false, READING).await.unwrap();
    device.wait_pubacks(1).await;
    let got = feed.next_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("telemetry/7/9A3F21", READING.as_bytes()));
    device.client.publish("status/7/9A3F21", QoS::AtLeastOnce, true, "online").await.unwrap();
    device.wait_pubacks(1).await;
    device.disconnect().await;
    feed.disconnect().await;
}

#[tokio::test]
async fn wrong_passwords_unknown_users_and_anonymous_clients_are_refused_at_connect() {
    let site = site().await;
    let (user, password) = site.users.add_device(7, "9A3F21", None, false).unwrap();
    let wrong = format!("{password}x");
    for (login, code) in [
        (Some((user.as_str(), wrong.as_str())), "BadUserNamePassword"),
        (Some(("nobody", password.as_str())), "BadUserNamePassword"),
        (Some((FEED_USER, password.as_str())), "BadUserNamePassword"),
        (None, "NotAuthorized"),
    ] {
        let err = TestClient::connect_as(site.addr(), "x", true, login).await.err().expect("refused");
        assert!(err.contains(code), "{login:?}: {err}");
    }
    // A removed device can no longer connect; a rotated password replaces the old one.
    let (_, again) = site.users.add_device(7, "9A3F21", None, true).unwrap();
    assert!(TestClient::connect_as(site.addr(), "x", true, Some((&user, &password))).await.is_err());
    let (ok, _) = TestClient::connect_as(site.addr(), "x", true, Some((&user, &again))).await.unwrap();
    ok.disconnect().await;
    assert!(site.users.add_device(7, "9A3F21", None, false).is_err(), "adding twice needs --rotate");
    assert_eq!(site.users.remove("9A3F21").unwrap(), user);
    assert!(TestClient::connect_as(site.addr(), "x", true, Some((&user, &again))).await.is_err());
}

#[tokio::test]
async fn a_device_publishing_on_another_devices_topic_is_not_delivered_and_disconnected() {
    let site = site().await;
    let (user, password) = site.users.add_device(7, "9A3F21", None, false).unwrap();
    site.users.add_device(7, "00C0DE", None, false).unwrap();
    let mut feed = site.feed().await;
    for forged in ["telemetry/7/00C0DE", "telemetry/8/9A3F21", "status/7/00C0DE", "other"] {
        let (mut device, _) =
            TestClient::connect_as(site.addr(), "sensor", true, Some((&user, &password))).await.unwrap();
        device.client.publish(forged, QoS::AtLeastOnce, false, READING).await.unwrap();
        let err = closed(&mut device).await;
        assert!(!err.is_empty(), "{forged}");
    }
    // A device may subscribe to nothing, and its last will must be on its own status topic.
    let (mut device, _) = TestClient::connect_as(site.addr(), "sensor", true, Some((&user, &password))).await.unwrap();
    device.client.subscribe("telemetry/#", QoS::AtLeastOnce).await.unwrap();
    closed(&mut device).await;
    // Its own topic still works afterwards, and it is the only message the feed ever saw.
    let (mut device, _) = TestClient::connect_as(site.addr(), "sensor", true, Some((&user, &password))).await.unwrap();
    device.client.publish("telemetry/7/9A3F21", QoS::AtLeastOnce, false, "own").await.unwrap();
    device.wait_pubacks(1).await;
    let got = feed.next_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("telemetry/7/9A3F21", &b"own"[..]));
    device.disconnect().await;
    feed.disconnect().await;
}

#[tokio::test]
async fn the_feed_user_subscribes_only_and_sessions_stay_with_their_user() {
    let site = site().await;
    let (user, password) = site.users.add_device(7, "9A3F21", None, false).unwrap();
    // The feed's persistent session: subscribe, go away.
    let (mut feed, _) =
        TestClient::connect_as(site.addr(), "agent-feed", false, Some((FEED_USER, &site.feed_password))).await.unwrap();
    feed.subscribe("telemetry/#", QoS::AtLeastOnce).await;
    feed.disconnect().await;
    // A device connecting with the feed's client id gets a session of its own, not the feed's.
    let (mut thief, present) =
        TestClient::connect_as(site.addr(), "agent-feed", false, Some((&user, &password))).await.unwrap();
    assert!(!present, "the feed's session is not handed to another user");
    thief.client.publish("telemetry/7/9A3F21", QoS::AtLeastOnce, false, "while away").await.unwrap();
    thief.wait_pubacks(1).await;
    let (mut feed, present) =
        TestClient::connect_as(site.addr(), "agent-feed", false, Some((FEED_USER, &site.feed_password))).await.unwrap();
    assert!(present);
    let got = feed.next_publish().await;
    assert_eq!(&got.payload[..], b"while away");
    thief.disconnect().await;
    // The feed may not publish, nor subscribe outside telemetry/# and status/#.
    feed.client.publish("telemetry/7/9A3F21", QoS::AtLeastOnce, false, READING).await.unwrap();
    closed(&mut feed).await;
    let (mut feed, _) =
        TestClient::connect_as(site.addr(), "agent-feed-2", true, Some((FEED_USER, &site.feed_password)))
            .await
            .unwrap();
    feed.client.subscribe("#", QoS::AtLeastOnce).await.unwrap();
    closed(&mut feed).await;
}
