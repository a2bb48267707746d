//! The embedded broker against the real Mosquitto command-line clients (Debian package
//! `mosquitto-clients`): mosquitto_pub and mosquitto_sub at QoS 0 and 1, and a persistent
//! mosquitto_sub session.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;

use common::{TestClient, WAIT};
use fogwhisk_broker::EmbeddedBroker;
use rumqttc::QoS;

const MESSAGE: &str = r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}"#;

fn start() -> EmbeddedBroker {
    EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Runs mosquitto_pub with `args` after the connection arguments; asserts it succeeded (for
/// QoS 1 that means the broker acknowledged the message).
fn mosquitto_pub(addr: SocketAddr, args: &[&str]) {
    let port = addr.port().to_string();
    let output = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv311"])
        .args(args)
        .output()
        .expect("mosquitto_pub (Debian package mosquitto-clients) must be installed");
    assert!(output.status.success(), "mosquitto_pub {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A running mosquitto_sub in debug mode, whose stdout lines arrive on a channel. Killed when
/// dropped, so a failing test leaves no process behind.
struct Sub {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Sub {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Sub {
    /// Starts mosquitto_sub with `args` and waits until its subscription is acknowledged.
    fn start(addr: SocketAddr, args: &[&str]) -> Sub {
        let mut sub = Sub::spawn(addr, args);
        sub.wait_for(|line| line.contains("received SUBACK"));
        sub
    }

    /// Starts mosquitto_sub with `args` without waiting for anything.
    fn spawn(addr: SocketAddr, args: &[&str]) -> Sub {
        let port = addr.port().to_string();
        // stdbuf: mosquitto_sub only flushes its output per line on a terminal.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", &port, "-V", "mqttv311", "-d"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto_sub (Debian package mosquitto-clients) must be installed");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Sub { child, lines }
    }

    fn next_line(&mut self) -> String {
        self.lines.recv_timeout(WAIT).expect("no output from mosquitto_sub in time")
    }

    fn wait_for(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.next_line();
            if pred(&line) {
                return line;
            }
        }
    }

    /// The next received message as "topic payload" (mosquitto_sub -v), skipping debug lines.
    fn next_message(&mut self) -> String {
        self.wait_for(|line| !line.starts_with("Client ") && !line.starts_with("Subscribed"))
    }

    /// Waits for mosquitto_sub to exit by itself (-C) and checks it succeeded.
    fn wait_exit(mut self) {
        let (tx, rx) = mpsc::channel();
        let pid = self.child.id();
        thread::spawn(move || {
            thread::sleep(WAIT);
            let _ = tx.send(());
        });
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(rx.try_recv().is_err(), "mosquitto_sub (pid {pid}) did not exit in time");
            thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(status.success(), "mosquitto_sub exited with {status}");
    }

    fn kill(self) {
        drop(self);
    }
}

#[test]
fn mosquitto_pub_to_mosquitto_sub_at_qos0_and_qos1() {
    let broker = start();
    let mut sub = Sub::start(broker.addr(), &["-q", "1", "-v", "-C", "2", "-t", "telemetry/#"]);
    mosquitto_pub(broker.addr(), &["-q", "0", "-t", "telemetry/7/9A3F21", "-m", MESSAGE]);
    assert_eq!(sub.next_message(), format!("telemetry/7/9A3F21 {MESSAGE}"));
    mosquitto_pub(broker.addr(), &["-q", "1", "-t", "telemetry/12/0A0B0C", "-m", "second"]);
    // At QoS 1 the broker delivers with a packet id; -d shows it as q1.
    let debug = sub.wait_for(|line| line.contains("PUBLISH"));
    assert!(debug.contains("q1"), "{debug}");
    assert_eq!(sub.next_message(), "telemetry/12/0A0B0C second");
    sub.wait_exit();
    broker.shutdown();
}

#[tokio::test]
async fn mosquitto_pub_reaches_an_rumqttc_subscriber_byte_for_byte() {
    let broker = tokio::task::spawn_blocking(start).await.unwrap();
    let (mut sub, _) = TestClient::connect(broker.addr(), "rumqttc-sub", true).await;
    sub.subscribe("telemetry/+/+", QoS::AtLeastOnce).await;
    let addr = broker.addr();
    tokio::task::spawn_blocking(move || mosquitto_pub(addr, &["-q", "1", "-t", "telemetry/7/9A3F21", "-m", MESSAGE]))
        .await
        .unwrap();
    let got = sub.next_publish().await;
    assert_eq!(got.topic, "telemetry/7/9A3F21");
    assert_eq!(&got.payload[..], MESSAGE.as_bytes());
    sub.disconnect().await;
    broker.shutdown();
}

#[tokio::test]
async fn rumqttc_publisher_reaches_mosquitto_sub_in_order() {
    let broker = tokio::task::spawn_blocking(start).await.unwrap();
    let addr = broker.addr();
    let count = 200;
    let count_arg = count.to_string();
    let mut sub =
        tokio::task::spawn_blocking(move || Sub::start(addr, &["-q", "1", "-C", &count_arg, "-t", "telemetry/#"]))
            .await
            .unwrap();
    let (mut publisher, _) = TestClient::connect(addr, "rumqttc-pub", true).await;
    for i in 0..count {
        publisher.client.publish("telemetry/1/ABCDEF", QoS::AtLeastOnce, false, format!("reading {i}")).await.unwrap();
    }
    publisher.wait_pubacks(count).await;
    let received = tokio::task::spawn_blocking(move || {
        let got: Vec<String> = (0..count).map(|_| sub.next_message()).collect();
        sub.wait_exit();
        got
    })
    .await
    .unwrap();
    let expected: Vec<String> = (0..count).map(|i| format!("reading {i}")).collect();
    assert_eq!(received, expected);
    publisher.disconnect().await;
    broker.shutdown();
}

#[test]
fn persistent_mosquitto_sub_session_gets_messages_sent_while_away() {
    let broker = start();
    let session = ["-c", "-i", "persistent-sub", "-q", "1", "-v", "-t", "telemetry/#"];
    // Subscribe with a persistent session (-c: clean session off), then go away.
    Sub::start(broker.addr(), &session).kill();
    for i in 0..3 {
        mosquitto_pub(broker.addr(), &["-q", "1", "-t", "telemetry/7/9A3F21", "-m", &format!("away {i}")]);
    }
    // Reconnecting with the same client id resumes the session: the subscription still exists
    // and the three messages arrive (possibly before mosquitto_sub's own SUBACK).
    let mut args = session.to_vec();
    args.extend(["-C", "3"]);
    let mut sub = Sub::spawn(broker.addr(), &args);
    // mosquitto_sub prints the CONNACK's return code (0: accepted), not its session flag.
    let connack = sub.wait_for(|line| line.contains("received CONNACK"));
    assert!(connack.ends_with("(0)"), "{connack}");
    for i in 0..3 {
        assert_eq!(sub.next_message(), format!("telemetry/7/9A3F21 away {i}"));
    }
    sub.wait_exit();
    broker.shutdown();
}
