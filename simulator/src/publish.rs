//! Publishing a fleet's readings over MQTT (rumqttc): the connection with its event-loop task,
//! a backfill of past readings with flow control, and live publishing until told to stop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::fleet::{Fleet, SensorMessage};
use crate::message;

/// QoS 1 publishes awaiting their PUBACK at once; rumqttc holds further publishes back, which
/// is the flow control that keeps a broker from being flooded.
pub const MAX_INFLIGHT: u16 = 100;
/// Requests queued in front of rumqttc's event loop.
const REQUEST_CAPACITY: usize = 64;
/// How long [`Publisher::connect`] waits for the first CONNACK.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before reconnecting after the connection was lost.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long [`Publisher::disconnect`] waits for DISCONNECT to be sent and for the broker to
/// close the connection.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("bad broker URL {url:?}: {reason} (expected mqtt://[user:password@]host[:port])")]
    BadUrl { url: String, reason: String },
    #[error("cannot connect to the MQTT broker at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("the MQTT client stopped: {0}")]
    Closed(String),
    #[error("bad backfill range: {0}")]
    BadRange(String),
    #[error("no MQTT login for device {0} (each device publishes as its own user)")]
    NoLogin(String),
    #[error("bad device login line for {0:?} (expected `<fingerprint> <user>:<password>`)")]
    BadLogin(String),
}

/// A broker address: `mqtt://` or `tcp://`, host, port (default 1883), optional credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        write!(f, "mqtt://{}:{}", self.host, self.port)
    }
}

impl BrokerUrl {
    pub fn parse(raw: &str) -> Result<Self, PublishError> {
        let bad = |reason: &str| PublishError::BadUrl { url: raw.to_string(), reason: reason.to_string() };
        let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "mqtt" | "tcp") {
            return Err(bad(&format!("scheme {:?} is not mqtt or tcp", url.scheme())));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
            return Err(bad("a broker URL has no path or query"));
        }
        let credentials = (!url.username().is_empty())
            .then(|| (url.username().to_string(), url.password().unwrap_or_default().to_string()));
        Ok(BrokerUrl {
            host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port: url.port().unwrap_or(1883),
            credentials,
        })
    }
}

/// What the event-loop task shares with the publisher.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// PUBACKs received since connecting.
    acked: u64,
    /// Set once the task has ended, with the reason.
    closed: Option<String>,
}

/// One device's MQTT user name and password (the embedded broker's `fogwhisk-edge devices add`
/// prints them; with the edge chart's Mosquitto, its password file has them).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceLogin {
    pub fingerprint: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        write!(f, "DeviceLogin({} as {})", self.fingerprint, self.user)
    }
}

impl DeviceLogin {
    /// Reads `<fingerprint> <user>:<password>` lines (blank lines and `#` comments skipped).
    pub fn parse_lines(text: &str) -> Result<Vec<Self>, PublishError> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let bad = || PublishError::BadLogin(l.split_whitespace().next().unwrap_or_default().to_string());
                let (fingerprint, login) = l.split_once(char::is_whitespace).ok_or_else(bad)?;
                let (user, password) = login.trim().split_once(':').ok_or_else(bad)?;
                Ok(Self {
                    fingerprint: fingerprint.to_string(),
                    user: user.to_string(),
                    password: password.to_string(),
                })
            })
            .collect()
    }
}

/// One MQTT connection and its event-loop task.
struct Connection {
    client: AsyncClient,
    task: JoinHandle<()>,
}

/// MQTT connections for publishing readings: one shared by every device ([`Publisher::connect`])
/// or one per device, each with its own user ([`Publisher::connect_devices`]), as sensors do with
/// a broker that lets each user publish on its own topics only. Each event loop runs on a task
/// that reconnects after a lost connection; stop them with [`Publisher::disconnect`].
pub struct Publisher {
    connections: Vec<Connection>,
    /// Fingerprint → connection; empty when one connection serves every device.
    by_device: HashMap<String, usize>,
    progress: watch::Receiver<Progress>,
    stop: CancellationToken,
    addr: String,
}

impl Publisher {
    /// Connects to `broker_url` as `client_id` (clean session) and waits for the broker's CONNACK.
    pub async fn connect(broker_url: &str, client_id: &str) -> Result<Self, PublishError> {
        let url = BrokerUrl::parse(broker_url)?;
        let login = url.credentials.clone();
        Self::open(&url, vec![(client_id.to_string(), login)], HashMap::new()).await
    }

    /// Connects once per device of `logins` to `broker_url` (its own credentials, if any, are not
    /// used) as `<client_prefix>-<fingerprint>`, each with its own user. A message of a device
    /// without a login is an error ([`PublishError::NoLogin`]).
    pub async fn connect_devices(
        broker_url: &str,
        client_prefix: &str,
        logins: &[DeviceLogin],
    ) -> Result<Self, PublishError> {
        let url = BrokerUrl::parse(broker_url)?;
        let clients = logins
            .iter()
            .map(|l| (format!("{client_prefix}-{}", l.fingerprint), Some((l.user.clone(), l.password.clone()))))
            .collect();
        let by_device = logins.iter().enumerate().map(|(i, l)| (l.fingerprint.clone(), i)).collect();
        Self::open(&url, clients, by_device).await
    }

    async fn open(
        url: &BrokerUrl,
        clients: Vec<(String, Option<(String, String)>)>,
        by_device: HashMap<String, usize>,
    ) -> Result<Self, PublishError> {
        let addr = format!("{}:{}", url.host, url.port);
        let (progress_tx, progress) = watch::channel(Progress::default());
        let progress_tx = Arc::new(progress_tx);
        let stop = CancellationToken::new();
        let mut connections = Vec::with_capacity(clients.len());
        for (client_id, login) in clients {
            let (client, eventloop) = match first_connect(url, &client_id, login.as_ref()).await {
                Ok(c) => c,
                Err(err) => {
                    stop.cancel();
                    for c in connections {
                        let Connection { task, .. } = c;
                        let _ = task.await;
                    }
                    return Err(err);
                }
            };
            let task = tokio::spawn(drive(eventloop, progress_tx.clone(), stop.clone(), addr.clone()));
            tracing::info!(broker = %addr, client_id, "connected to the MQTT broker");
            connections.push(Connection { client, task });
        }
        Ok(Publisher { connections, by_device, progress, stop, addr })
    }

    /// The broker's `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// PUBACKs received so far.
    pub fn acked(&self) -> u64 {
        self.progress.borrow().acked
    }

    /// Queues one message; waits while rumqttc's in-flight window and queue are full.
    pub async fn publish(&self, message: &SensorMessage, qos: QoS) -> Result<(), PublishError> {
        self.publish_raw(&message.topic, qos, false, message.payload.clone()).await
    }

    async fn publish_raw(&self, topic: &str, qos: QoS, retain: bool, payload: String) -> Result<(), PublishError> {
        if let Some(reason) = self.progress.borrow().closed.clone() {
            return Err(PublishError::Closed(reason));
        }
        let index = if self.by_device.is_empty() {
            0
        } else {
            let device = topic.rsplit('/').next().unwrap_or_default();
            *self.by_device.get(device).ok_or_else(|| PublishError::NoLogin(device.to_string()))?
        };
        self.connections[index]
            .client
            .publish(topic, qos, retain, payload)
            .await
            .map_err(|e| PublishError::Closed(e.to_string()))
    }

    /// Waits until at least `count` PUBACKs arrived in total.
    async fn wait_acked(&mut self, count: u64, mut on_change: impl FnMut(u64)) -> Result<(), PublishError> {
        loop {
            let now = self.progress.borrow_and_update().clone();
            on_change(now.acked);
            if now.acked >= count {
                return Ok(());
            }
            if let Some(reason) = now.closed {
                return Err(PublishError::Closed(reason));
            }
            if self.progress.changed().await.is_err() {
                return Err(PublishError::Closed("event loop ended".to_string()));
            }
        }
    }

    /// Sends DISCONNECT (after what is queued) on every connection and stops the event-loop tasks.
    pub async fn disconnect(self) {
        for c in &self.connections {
            let _ = c.client.disconnect().await;
        }
        let deadline = tokio::time::Instant::now() + 2 * DISCONNECT_TIMEOUT;
        for c in self.connections {
            let mut task = c.task;
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                self.stop.cancel();
                let _ = task.await;
            }
        }
        tracing::info!(broker = %self.addr, "disconnected from the MQTT broker");
    }
}

/// Makes the first connection (so a wrong address or login is a clear error at once) and returns
/// the client with its event loop.
async fn first_connect(
    url: &BrokerUrl,
    client_id: &str,
    login: Option<&(String, String)>,
) -> Result<(AsyncClient, rumqttc::EventLoop), PublishError> {
    let addr = format!("{}:{}", url.host, url.port);
    let mut options = MqttOptions::new(client_id, url.host.clone(), url.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_inflight(MAX_INFLIGHT);
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let first = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => continue,
                Err(err) => return Err(err.to_string()),
            }
        }
    })
    .await;
    match first {
        Ok(Ok(())) => Ok((client, eventloop)),
        Ok(Err(reason)) => Err(PublishError::Connect { addr, reason }),
        Err(_) => Err(PublishError::Connect { addr, reason: format!("no CONNACK within {CONNECT_TIMEOUT:?}") }),
    }
}

/// The event loop: counts PUBACKs, reconnects after errors, ends after DISCONNECT or on `stop`.
async fn drive(
    mut eventloop: rumqttc::EventLoop,
    progress: Arc<watch::Sender<Progress>>,
    stop: CancellationToken,
    addr: String,
) {
    // After sending DISCONNECT the loop keeps reading until the broker closes the connection:
    // closing with unread PUBACKs in the socket would send a TCP reset, and a broker may then
    // discard the last publishes it had not read yet.
    let mut disconnecting: Option<tokio::time::Instant> = None;
    let reason = loop {
        let event = tokio::select! {
            _ = stop.cancelled() => break "stopped".to_string(),
            _ = sleep_until(disconnecting) => break "disconnected (the broker did not close)".to_string(),
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => progress.send_modify(|p| p.acked += 1),
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(broker = %addr, "reconnected")
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                disconnecting = Some(tokio::time::Instant::now() + DISCONNECT_TIMEOUT);
            }
            Ok(_) => {}
            Err(_) if disconnecting.is_some() => break "disconnected".to_string(),
            Err(ConnectionError::RequestsDone) => break "client dropped".to_string(),
            Err(err) => {
                tracing::warn!(broker = %addr, error = %err, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = stop.cancelled() => break "stopped".to_string(),
                    _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                }
            }
        }
    };
    progress.send_modify(|p| p.closed = Some(reason));
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Publishes every reading of `fleet` from `from_ts` (inclusive) to `to_ts` (exclusive) every
/// `step_secs`, in time order, at QoS 1, and returns once the broker acknowledged them all.
/// `progress(done, total)` is called as acknowledgements arrive (at least at every percent and
/// at the end). Returns the number of messages. Run one backfill at a time per publisher.
pub async fn publish_backfill(
    publisher: &mut Publisher,
    fleet: &Fleet,
    from_ts: i64,
    to_ts: i64,
    step_secs: i64,
    progress: impl Fn(u64, u64),
) -> Result<u64, PublishError> {
    if step_secs <= 0 {
        return Err(PublishError::BadRange(format!("step {step_secs} s is not positive")));
    }
    if to_ts < from_ts {
        return Err(PublishError::BadRange(format!("end {to_ts} is before start {from_ts}")));
    }
    let steps = ((to_ts - from_ts) + step_secs - 1) / step_secs;
    let total = steps as u64 * fleet.devices().len() as u64;
    let base = publisher.acked();
    let percent = (total / 100).max(1);
    let mut reported = None;
    let mut report = |acked: u64| {
        let done = acked.saturating_sub(base).min(total);
        let due = match reported {
            None => true,
            Some(last) => (done == total && last != total) || done >= last + percent,
        };
        if due {
            reported = Some(done);
            progress(done, total);
        }
    };
    report(base);
    for step in 0..steps {
        let ts = from_ts + step * step_secs;
        for message in fleet.readings_at(ts) {
            publisher.publish(&message, QoS::AtLeastOnce).await?;
        }
        report(publisher.acked());
    }
    publisher.wait_acked(base + total, report).await?;
    Ok(total)
}

/// The current time in epoch seconds.
pub fn now_ts() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// Publishes every device's reading every `interval` (QoS 1) until `stop` is cancelled.
/// Each device first publishes a retained `online` on `status/<datacenter_id>/<fingerprint>`
/// and, when stopped, `offline` there (what the firmware's connect message and last will say).
/// Returns the number of complete rounds published.
pub async fn run_live(
    publisher: &Publisher,
    fleet: &Fleet,
    interval: Duration,
    stop: CancellationToken,
) -> Result<u64, PublishError> {
    set_status(publisher, fleet, "online").await?;
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut rounds = 0;
    'live: loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let ts = now_ts();
        for message in fleet.readings_at(ts) {
            tokio::select! {
                _ = stop.cancelled() => break 'live,
                result = publisher.publish(&message, QoS::AtLeastOnce) => result?,
            }
        }
        rounds += 1;
        tracing::debug!(ts, devices = fleet.devices().len(), "published live readings");
    }
    set_status(publisher, fleet, "offline").await?;
    Ok(rounds)
}

async fn set_status(publisher: &Publisher, fleet: &Fleet, status: &str) -> Result<(), PublishError> {
    for device in fleet.devices() {
        let topic = message::topic(message::STATUS_PREFIX, device.datacenter_id, &device.fingerprint)
            .map_err(|e| PublishError::Closed(e.to_string()))?;
        publisher.publish_raw(&topic, QoS::AtLeastOnce, true, status.to_string()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let url = BrokerUrl::parse("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.credentials.is_none()), ("127.0.0.1", 1883, true));
        let url = BrokerUrl::parse("tcp://sensor:s3cret@localhost").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("localhost", 1883));
        assert_eq!(url.credentials, Some(("sensor".to_string(), "s3cret".to_string())));
        assert!(!format!("{url:?}").contains("s3cret"));
        for bad in ["127.0.0.1:1883", "http://host:1883", "mqtt://", "mqtt://host:1883/path", "mqtt://host:99999"] {
            assert!(matches!(BrokerUrl::parse(bad), Err(PublishError::BadUrl { .. })), "{bad}");
        }
    }
}
