//! Throughput of the embedded broker: one rumqttc publisher to one rumqttc subscriber on the
//! same machine, sensor-sized messages (~120 bytes), at QoS 0 and QoS 1, measured from the
//! first publish to the last message received. The same run goes through the broker with users
//! (`gated`: the device and feed users of `Access::Users`, every packet checked by the gate), and,
//! with `mosquitto` installed, through a Mosquitto started on a free port, for comparison.
//!
//! Run: `cargo bench -p fogwhisk-broker` (MESSAGES=N to change the count, default 50,000).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fogwhisk_broker::users::{Users, FEED_USER};
use fogwhisk_broker::{Access, EmbeddedBroker};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const PAYLOAD: &str = r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}"#;

/// Users of the gated run: (device user, its password, feed password).
type Logins = (String, String, String);

/// Publishes `count` messages at `qos` and returns (messages received, seconds). With `logins`
/// the publisher is device 9A3F21 of datacenter 7 on its own topic and the subscriber the feed user.
async fn run(addr: SocketAddr, qos: QoS, count: usize, logins: Option<&Logins>) -> (usize, f64) {
    let options = |id: &str, login: Option<(&str, &str)>| {
        let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o.set_inflight(100);
        if let Some((user, password)) = login {
            o.set_credentials(user, password);
        }
        o
    };
    let (filter, sub_login, pub_login) = match logins {
        Some((user, password, feed)) => {
            ("telemetry/#", Some((FEED_USER, feed.as_str())), Some((user.as_str(), password.as_str())))
        }
        None => ("bench/#", None, None),
    };
    let (sub, mut sub_loop) = AsyncClient::new(options("bench-sub", sub_login), 1000);
    sub.subscribe(filter, qos).await.unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = sub_loop.poll().await.unwrap() {
            break;
        }
    }
    let receiver = tokio::spawn(async move {
        let mut received = 0;
        let mut last = Instant::now();
        while received < count {
            match tokio::time::timeout(Duration::from_secs(3), sub_loop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    received += 1;
                    last = Instant::now();
                }
                Ok(Ok(_)) => {}
                // Three quiet seconds: QoS 0 messages were dropped; stop counting.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        (received, last)
    });
    let (publisher, mut pub_loop) = AsyncClient::new(options("bench-pub", pub_login), 1000);
    let driver = tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let start = Instant::now();
    for i in 0..count {
        let topic = match logins {
            Some(_) => "telemetry/7/9A3F21".to_string(),
            None => format!("bench/{}", i % 8),
        };
        publisher.publish(topic, qos, false, PAYLOAD).await.unwrap();
    }
    let (received, last) = receiver.await.unwrap();
    driver.abort();
    (received, last.duration_since(start).as_secs_f64())
}

fn start_mosquitto() -> Option<(std::process::Child, SocketAddr, tempfile::TempDir)> {
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let dir = tempfile::tempdir().ok()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).ok()?;
    let conf = dir.path().join("mosquitto.conf");
    let mut file = std::fs::File::create(&conf).ok()?;
    write!(
        file,
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nmax_queued_messages 0\n"
    )
    .ok()?;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).ok()?;
    let child = Command::new("mosquitto").arg("-c").arg(&conf).stderr(Stdio::null()).spawn().ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    for _ in 0..250 {
        if TcpStream::connect(addr).is_ok() {
            return Some((child, addr, dir));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn report(name: &str, qos: QoS, count: usize, (received, secs): (usize, f64)) {
    println!("{name:<10} {qos:?}: {received}/{count} delivered in {secs:.2} s = {:.0} msgs/s", received as f64 / secs);
}

fn main() {
    let count: usize = std::env::var("MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        report("embedded", qos, count, runtime.block_on(run(broker.addr(), qos, count, None)));
    }
    broker.shutdown();
    let dir = tempfile::tempdir().unwrap();
    let users = Users::in_dir(dir.path());
    let feed = users.ensure_feed(false).unwrap().unwrap();
    let (user, password) = users.add_device(7, "9A3F21", None, false).unwrap();
    let logins = (user, password, feed);
    let broker = EmbeddedBroker::start_with("127.0.0.1:0".parse().unwrap(), Access::Users(users)).unwrap();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        report("gated", qos, count, runtime.block_on(run(broker.addr(), qos, count, Some(&logins))));
    }
    broker.shutdown();
    if let Some((mut child, addr, _dir)) = start_mosquitto() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            report("mosquitto", qos, count, runtime.block_on(run(addr, qos, count, None)));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
