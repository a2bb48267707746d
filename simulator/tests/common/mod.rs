//! Test helpers: a real Mosquitto started on a free port, the embedded broker, and an rumqttc
//! subscriber that hands over what it receives, with bounded waits.
#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound on any single wait; only reached when something is broken.
pub const WAIT: Duration = Duration::from_secs(30);

/// Mosquitto from Debian's package, on 127.0.0.1 and a free port, killed when dropped.
pub struct Mosquitto {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        // Run as root, mosquitto drops to user `mosquitto`, which must be able to read this.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.path().join("mosquitto.conf");
        let mut file = std::fs::File::create(&conf).unwrap();
        write!(
            file,
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
        )
        .unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (Debian package mosquitto) must be installed");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut mosquitto = Mosquitto {
            child,
            addr,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = mosquitto.child.try_wait() {
                panic!("mosquitto exited at start: {status}");
            }
            assert!(
                started.elapsed() < WAIT,
                "mosquitto did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        mosquitto
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A subscriber to `telemetry/#` and `status/#` at QoS 1.
pub struct Subscriber {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, String, bool)>,
    task: JoinHandle<()>,
}

/// One received message: topic, payload, retain flag.
pub type Received = (String, String, bool);

impl Subscriber {
    pub async fn start(addr: SocketAddr, id: &str) -> Subscriber {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        client
            .subscribe("telemetry/#", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .subscribe("status/#", QoS::AtLeastOnce)
            .await
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut subacks = 0;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subacks += 1;
                        if subacks == 2 {
                            let _ = ready_tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let payload = String::from_utf8(p.payload.to_vec()).unwrap();
                        if tx.send((p.topic, payload, p.retain)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => panic!("subscriber connection failed: {err}"),
                }
            }
        });
        tokio::time::timeout(WAIT, ready_rx.recv())
            .await
            .expect("no SUBACK in time");
        Subscriber { client, rx, task }
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("no message in time")
            .expect("subscriber ended")
    }

    /// The next `count` messages on telemetry topics, skipping status messages.
    pub async fn telemetry(&mut self, count: usize) -> Vec<(String, String)> {
        let mut got = Vec::with_capacity(count);
        while got.len() < count {
            let (topic, payload, _) = self.next().await;
            if topic.starts_with("telemetry/") {
                got.push((topic, payload));
            }
        }
        got
    }

    pub async fn stop(self) {
        let _ = self.client.disconnect().await;
        self.task.abort();
    }
}
