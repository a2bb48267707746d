//! Real peers started by the tests on loopback: Mosquitto and InfluxDB 1.x (from the testkit), the hub; and an
//! MQTT publisher.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions, QoS};

pub use fogwhisk_testkit::{Influxd, Mosquitto};

/// A free loopback port (see `fogwhisk_testkit::free_port`).
pub fn free_port() -> u16 {
    fogwhisk_testkit::free_port()
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_port(port: u16) {
    fogwhisk_testkit::wait::until_blocking(Duration::from_secs(15), &format!("a listener on {port}"), || {
        fogwhisk_testkit::wait::listening(port)
    });
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The hub binary built next to the agent's.
pub fn hub_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/fogwhisk-hub");
    assert!(p.exists(), "build the hub first: cargo build -p fogwhisk-hub");
    p
}

/// Registers a site at a (stopped) hub and returns its token.
pub fn hub_add_site(data: &Path, site: &str, tz: &str) -> String {
    let out =
        Command::new(hub_bin()).args(["--data"]).arg(data).args(["sites", "add", site, "--tz", tz]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().rfind(|w| w.len() >= 32).expect("token in output").to_string()
}

/// Starts the hub writing to InfluxDB v1 at `influx`.
pub fn hub(data: &Path, port: u16, influx: &str) -> Proc {
    let child = Command::new(hub_bin())
        .args(["--data"])
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("FOGWHISK_HUB_ADMIN_TOKEN", "admin-token-for-tests-0123456789")
        .env("FOGWHISK_HUB_INFLUX__BACKEND", "v1")
        .env("FOGWHISK_HUB_INFLUX__URL", influx)
        .env("FOGWHISK_HUB_INFLUX__DATABASE", "fogwhisk")
        .env("FOGWHISK_HUB_INFLUX__RETRY_MIN_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    Proc(child)
}

/// An MQTT publisher (QoS 1) whose event loop runs in the background.
pub async fn publisher(port: u16, id: &str) -> AsyncClient {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_inflight(100);
    let (client, mut el) = AsyncClient::new(o, 1000);
    tokio::spawn(async move {
        loop {
            if el.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    client
}

/// The firmware's message for one reading cycle.
pub fn message(dc: u32, device: &str, t: f64, h: f64, g: f64, ts: i64) -> String {
    format!("{{\"device_fingerprint\":\"{device}\",\"datacenter_id\":{dc},\"temperature\":{t:.1},\"humidity\":{h:.1},\"gas_perc\":{g:.1},\"ts\":{ts}}}")
}

/// Publishes one message with QoS 1.
pub async fn publish(c: &AsyncClient, dc: u32, device: &str, body: String) {
    c.publish(format!("telemetry/{dc}/{device}"), QoS::AtLeastOnce, false, body).await.unwrap();
}
