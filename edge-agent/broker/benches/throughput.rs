//! Throughput of the embedded broker: one rumqttc publisher to one rumqttc subscriber on the
//! same machine, sensor-sized messages (~120 bytes), at QoS 0 and QoS 1, measured from the
//! first publish to the last message received. With `mosquitto` installed the same run goes
//! through a Mosquitto started on a free port, for comparison.
//!
//! Run: `cargo bench -p fogwhisk-broker` (MESSAGES=N to change the count, default 50,000).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fogwhisk_broker::EmbeddedBroker;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const PAYLOAD: &str = r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}"#;

/// Publishes `count` messages at `qos` and returns (messages received, seconds).
async fn run(addr: SocketAddr, qos: QoS, count: usize) -> (usize, f64) {
    let options = |id: &str| {
        let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o.set_inflight(100);
        o
    };
    let (sub, mut sub_loop) = AsyncClient::new(options("bench-sub"), 1000);
    sub.subscribe("bench/#", qos).await.unwrap();
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
    let (publisher, mut pub_loop) = AsyncClient::new(options("bench-pub"), 1000);
    let driver = tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let start = Instant::now();
    for i in 0..count {
        publisher
            .publish(format!("bench/{}", i % 8), qos, false, PAYLOAD)
            .await
            .unwrap();
    }
    let (received, last) = receiver.await.unwrap();
    driver.abort();
    (received, last.duration_since(start).as_secs_f64())
}

fn start_mosquitto() -> Option<(std::process::Child, SocketAddr, tempfile::TempDir)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = tempfile::tempdir().ok()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).ok()?;
    let conf = dir.path().join("mosquitto.conf");
    let mut file = std::fs::File::create(&conf).ok()?;
    write!(file, "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nmax_queued_messages 0\n").ok()?;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).ok()?;
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
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
    println!(
        "{name:<10} {qos:?}: {received}/{count} delivered in {secs:.2} s = {:.0} msgs/s",
        received as f64 / secs
    );
}

fn main() {
    let count: usize = std::env::var("MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        report(
            "embedded",
            qos,
            count,
            runtime.block_on(run(broker.addr(), qos, count)),
        );
    }
    broker.shutdown();
    if let Some((mut child, addr, _dir)) = start_mosquitto() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            report(
                "mosquitto",
                qos,
                count,
                runtime.block_on(run(addr, qos, count)),
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
