//! Test helpers: an rumqttc client whose event loop runs on a task and hands over what it
//! receives, with bounded waits so a broken broker fails a test instead of hanging it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound on any single wait; only reached when something is broken.
pub const WAIT: Duration = Duration::from_secs(20);

/// What the event loop task reports.
#[derive(Debug)]
pub enum Seen {
    ConnAck {
        session_present: bool,
    },
    SubAck,
    PubAck(u16),
    Publish(Publish),
    /// The connection failed or closed; the task then stops.
    Closed(String),
}

pub struct TestClient {
    pub client: AsyncClient,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    task: JoinHandle<()>,
}

impl TestClient {
    /// Connects and waits for the CONNACK; returns the client and the CONNACK's session flag.
    pub async fn connect(addr: SocketAddr, id: &str, clean_session: bool) -> (Self, bool) {
        match Self::connect_as(addr, id, clean_session, None).await {
            Ok(connected) => connected,
            Err(err) => panic!("{id}: expected CONNACK, got {err}"),
        }
    }

    /// Connects with a user name and password (or none); `Err` with rumqttc's error when the
    /// connection is refused or closed before the CONNACK.
    pub async fn connect_as(
        addr: SocketAddr,
        id: &str,
        clean_session: bool,
        login: Option<(&str, &str)>,
    ) -> Result<(Self, bool), String> {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_session(clean_session);
        options.set_max_packet_size(1024 * 1024, 1024 * 1024);
        if let Some((user, password)) = login {
            options.set_credentials(user, password);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let (tx, seen) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let seen = match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => Seen::ConnAck { session_present: ack.session_present },
                    Ok(Event::Incoming(Packet::SubAck(_))) => Seen::SubAck,
                    Ok(Event::Incoming(Packet::PubAck(ack))) => Seen::PubAck(ack.pkid),
                    Ok(Event::Incoming(Packet::Publish(publish))) => Seen::Publish(publish),
                    Ok(_) => continue,
                    Err(err) => {
                        let _ = tx.send(Seen::Closed(err.to_string()));
                        return;
                    }
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        let mut this = TestClient { client, seen, task };
        match this.next().await {
            Seen::ConnAck { session_present } => Ok((this, session_present)),
            Seen::Closed(err) => Err(err),
            other => Err(format!("{other:?}")),
        }
    }

    /// The next thing the event loop reports.
    pub async fn next(&mut self) -> Seen {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("nothing from the broker in time")
            .expect("event loop task gone")
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.client.subscribe(filter, qos).await.unwrap();
        loop {
            match self.next().await {
                Seen::SubAck => return,
                Seen::Closed(err) => panic!("closed while subscribing: {err}"),
                _ => continue,
            }
        }
    }

    /// Waits for the next publish, skipping acknowledgements.
    pub async fn next_publish(&mut self) -> Publish {
        loop {
            match self.next().await {
                Seen::Publish(publish) => return publish,
                Seen::Closed(err) => panic!("closed while waiting for a publish: {err}"),
                _ => continue,
            }
        }
    }

    /// Waits until `count` PUBACKs arrived.
    pub async fn wait_pubacks(&mut self, count: usize) {
        let mut acked = 0;
        while acked < count {
            match self.next().await {
                Seen::PubAck(_) => acked += 1,
                Seen::Closed(err) => panic!("closed while waiting for PUBACKs: {err}"),
                _ => continue,
            }
        }
    }

    /// Sends DISCONNECT and waits for the event loop to end.
    pub async fn disconnect(mut self) {
        self.client.disconnect().await.unwrap();
        loop {
            if let Seen::Closed(_) = self.next().await {
                break;
            }
        }
        self.task.abort();
    }
}
