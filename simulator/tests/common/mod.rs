//! Test helpers: a real Mosquitto (from the testkit), the embedded broker, and an rumqttc
//! subscriber that hands over what it receives, with bounded waits.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound on any single wait; only reached when something is broken.
pub const WAIT: Duration = Duration::from_secs(30);

#[allow(unused_imports)]
pub use fogwhisk_testkit::Mosquitto;

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
        Self::start_as(addr, id, None).await
    }

    /// Subscribes to `telemetry/#` and `status/#` as a user (or anonymously).
    pub async fn start_as(addr: SocketAddr, id: &str, login: Option<(&str, &str)>) -> Subscriber {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        if let Some((user, password)) = login {
            options.set_credentials(user, password);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        client.subscribe("telemetry/#", QoS::AtLeastOnce).await.unwrap();
        client.subscribe("status/#", QoS::AtLeastOnce).await.unwrap();
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
        tokio::time::timeout(WAIT, ready_rx.recv()).await.expect("no SUBACK in time");
        Subscriber { client, rx, task }
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.rx.recv()).await.expect("no message in time").expect("subscriber ended")
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
