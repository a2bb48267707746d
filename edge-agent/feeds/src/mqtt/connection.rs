//! One task per broker: owns the rumqttc event loop, keeps the broker-side subscriptions equal to
//! what the triggers need, reconnects with exponential backoff, reports status changes (and the last
//! connection error, e.g. a TLS certificate the `ca_file` does not trust) and hands every message to
//! the inbox writer (which acknowledges it once durable).

use std::{
    collections::{BTreeMap, HashSet},
    sync::{atomic::AtomicBool, atomic::AtomicU64, atomic::Ordering, Arc, Mutex},
    time::Duration,
};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, mpsc::error::TrySendError, watch, Notify};
use tokio_util::sync::CancellationToken;

use super::{config::BrokerUrl, tls, topic::wire_filters, topic::TopicFilter};
use crate::{
    inbox::{WriterItem, WriterTx},
    stats::Stats,
    store::{to_bytes, Batch, BROKERS},
    Shared,
};

/// A trigger's interest in a broker's messages.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub trigger: String,
    pub filter: TopicFilter,
    pub qos: u8,
    pub paused: bool,
}

/// The routes of one broker; `closed` is set by the task when it leaves for lack of routes.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    pub list: Vec<Route>,
    pub closed: bool,
}

/// Persisted per-broker session state: the stable client id of the persistent session and the
/// filters we believe the broker holds for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct BrokerMeta {
    pub client_id: String,
    pub filters: BTreeMap<String, u8>,
}

/// A connection to one broker (one URL with its credentials).
pub(crate) struct Broker {
    pub key: String,
    pub url: BrokerUrl,
    pub client_id: Arc<str>,
    pub client: AsyncClient,
    pub routes: Mutex<Routes>,
    /// Signalled when the routes changed.
    pub resync: Notify,
    pub connected: AtomicBool,
    pub cancel: CancellationToken,
    /// Generation of the routes, bumped by every change (1 for the initial routes, so a caller can
    /// wait for the first connection's subscriptions).
    pub wanted: AtomicU64,
    /// The last generation whose subscriptions the broker acknowledged.
    pub applied: watch::Sender<u64>,
    /// Why the last connection attempt failed (cleared on CONNACK); no password in it.
    last_error: Mutex<Option<String>>,
    /// Signalled after every failed connection attempt.
    errors: Notify,
    /// Why the TLS setup is unusable (the `ca_file` went away): part of every error reported.
    setup_error: Option<String>,
}

impl Broker {
    /// Creates the client and spawns the connection task.
    pub fn spawn(
        shared: &Arc<Shared>,
        writer: WriterTx,
        key: String,
        url: BrokerUrl,
        meta: BrokerMeta,
        routes: Vec<Route>,
    ) -> Arc<Broker> {
        let o = &shared.options;
        let mut opts = MqttOptions::new(meta.client_id.clone(), url.host.clone(), url.port);
        opts.set_keep_alive(o.keep_alive)
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(o.max_packet_bytes, o.max_packet_bytes)
            .set_request_channel_capacity(1024);
        if let Some(user) = &url.username {
            opts.set_credentials(user.clone(), url.password.clone().unwrap_or_default());
        }
        let mut setup_error = None;
        if url.tls {
            let (transport, err) = tls::transport(url.ca_file.as_deref());
            opts.set_transport(transport);
            if let Some(e) = err {
                tracing::error!(broker = %url.masked(), error = %e, "MQTT TLS setup failed: connections to this broker will fail");
                setup_error = Some(e.to_string());
            }
        }
        let (client, eventloop) = AsyncClient::new(opts, 1024);
        let broker = Arc::new(Broker {
            key,
            url,
            client_id: meta.client_id.clone().into(),
            client,
            routes: Mutex::new(Routes { list: routes, closed: false }),
            resync: Notify::new(),
            connected: AtomicBool::new(false),
            cancel: shared.cancel.child_token(),
            wanted: AtomicU64::new(1),
            applied: watch::Sender::new(0),
            last_error: Mutex::new(None),
            errors: Notify::new(),
            setup_error,
        });
        let (s, b) = (shared.clone(), broker.clone());
        shared.tracker.spawn(async move { run(s, b, eventloop, writer, meta.filters).await });
        broker
    }

    /// Why the last connection attempt failed, while not connected.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("error lock").clone()
    }

    /// Resolves once the broker is not connected and has a connection error (now or later).
    pub async fn failed(&self) {
        loop {
            let notified = self.errors.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.connected.load(Ordering::Relaxed) && self.last_error().is_some() {
                return;
            }
            notified.await;
        }
    }

    fn record_error(&self, e: &rumqttc::ConnectionError) {
        let msg = match &self.setup_error {
            Some(setup) => format!("{setup} ({e})"),
            None => e.to_string(),
        };
        *self.last_error.lock().expect("error lock") = Some(msg);
        self.errors.notify_waiters();
    }

    fn route_snapshot(&self) -> Vec<Route> {
        self.routes.lock().expect("routes lock").list.clone()
    }

    fn active_triggers(&self) -> Vec<String> {
        self.route_snapshot().into_iter().filter(|r| !r.paused).map(|r| r.trigger).collect()
    }
}

/// Sends `connected` to the active triggers not yet told during this connection.
async fn announce(broker: &Broker, writer: &WriterTx, announced: &mut HashSet<String>) {
    let new: Vec<String> = broker.active_triggers().into_iter().filter(|t| !announced.contains(t)).collect();
    if !new.is_empty() {
        announced.extend(new.iter().cloned());
        let _ = writer.send(WriterItem::Status { triggers: new, body: "connected" }).await;
    }
}

fn qos(q: u8) -> QoS {
    if q == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// What the poller forwards: one result of `EventLoop::poll`.
type Polled = Result<Event, rumqttc::ConnectionError>;

/// Drives the rumqttc event loop in its own task and forwards every event, so the connection task
/// never drops an unfinished `poll()` (which is not cancel-safe while it writes to the socket).
/// After an error it waits with exponential backoff before polling again (which reconnects).
async fn poller(mut eventloop: EventLoop, tx: mpsc::Sender<Polled>, stop: CancellationToken, max: Duration) {
    let initial = Duration::from_millis(100);
    let mut backoff = initial;
    loop {
        let ev = tokio::select! {
            _ = stop.cancelled() => break,
            ev = eventloop.poll() => ev,
        };
        let failed = ev.is_err();
        if matches!(ev, Ok(Event::Incoming(Packet::ConnAck(_)))) {
            backoff = initial;
        }
        if tx.send(ev).await.is_err() {
            break;
        }
        if failed {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(max);
        }
    }
}

async fn run(
    shared: Arc<Shared>,
    broker: Arc<Broker>,
    eventloop: EventLoop,
    writer: WriterTx,
    mut believed: BTreeMap<String, u8>,
) {
    let (tx, mut events) = mpsc::channel::<Polled>(256);
    let stop_poller = CancellationToken::new();
    let (stop, max) = (stop_poller.clone(), shared.options.reconnect_max);
    shared.tracker.spawn(async move { poller(eventloop, tx, stop, max).await });
    let mut connected = false;
    let mut failures = 0u32;
    // Triggers told `connected` during the current connection (once their subscriptions are acknowledged).
    let mut announced: HashSet<String> = HashSet::new();
    // Subscribe/unsubscribe requests not yet acknowledged, and the route generation they apply.
    let (mut pending, mut target) = (0usize, 0u64);
    loop {
        tokio::select! {
            biased;
            _ = broker.cancel.cancelled() => break,
            _ = broker.resync.notified(), if connected => {
                let generation = broker.wanted.load(Ordering::SeqCst);
                let Some(n) = sync(&shared, &broker, &mut believed, false).await else { break };
                (pending, target) = (pending + n, generation);
                if pending == 0 {
                    broker.applied.send_replace(target);
                    announce(&broker, &writer, &mut announced).await;
                }
            }
            ev = events.recv() => match ev {
                None => break,
                Some(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                    tracing::info!(broker = %broker.url.masked(), session_present = ack.session_present, "MQTT connected");
                    connected = true;
                    broker.connected.store(true, Ordering::Relaxed);
                    *broker.last_error.lock().expect("error lock") = None;
                    Stats::add(&shared.stats.mqtt_connected, 1);
                    failures = 0;
                    announced.clear();
                    let generation = broker.wanted.load(Ordering::SeqCst);
                    let Some(n) = sync(&shared, &broker, &mut believed, !ack.session_present).await else { break };
                    (pending, target) = (n, generation);
                    if pending == 0 {
                        broker.applied.send_replace(target);
                        announce(&broker, &writer, &mut announced).await;
                    }
                }
                Some(Ok(Event::Incoming(Packet::SubAck(_) | Packet::UnsubAck(_)))) if pending > 0 => {
                    pending -= 1;
                    if pending == 0 {
                        broker.applied.send_replace(target);
                        announce(&broker, &writer, &mut announced).await;
                    }
                }
                Some(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                    let triggers: Vec<String> = broker
                        .route_snapshot()
                        .into_iter()
                        .filter(|r| !r.paused && r.filter.matches(&publish.topic))
                        .map(|r| r.trigger)
                        .collect();
                    let at_most_once = publish.qos == QoS::AtMostOnce;
                    let item = WriterItem::Publish { client: broker.client.clone(), client_id: broker.client_id.clone(), publish, triggers };
                    if at_most_once {
                        if let Err(TrySendError::Full(_)) = writer.try_send(item) {
                            Stats::add(&shared.stats.mqtt_dropped, 1);
                        }
                    } else if writer.send(item).await.is_err() {
                        break; // writer gone: shutting down
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    broker.record_error(&e);
                    if connected {
                        connected = false;
                        pending = 0;
                        broker.connected.store(false, Ordering::Relaxed);
                        Stats::sub(&shared.stats.mqtt_connected, 1);
                        tracing::warn!(broker = %broker.url.masked(), error = %e, "MQTT connection lost; reconnecting");
                        // Tell the triggers that were told `connected` and are still active.
                        let triggers: Vec<String> = broker.active_triggers().into_iter().filter(|t| announced.contains(t)).collect();
                        announced.clear();
                        if !triggers.is_empty() {
                            let _ = writer.send(WriterItem::Status { triggers, body: "disconnected" }).await;
                        }
                    } else if failures.is_multiple_of(20) {
                        let error = broker.last_error().unwrap_or_default();
                        tracing::warn!(broker = %broker.url.masked(), %error, attempts = failures + 1, "MQTT connection failed; retrying");
                    }
                    failures = failures.saturating_add(1);
                }
            }
        }
    }
    if connected {
        broker.connected.store(false, Ordering::Relaxed);
        Stats::sub(&shared.stats.mqtt_connected, 1);
        // A clean DISCONNECT (the persistent session stays on the broker): let the poller send it.
        let _ = broker.client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(ev)) = events.recv().await {
                if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
    stop_poller.cancel();
}

/// Makes the broker's subscriptions match the routes (everything when the broker has no session
/// for us). Returns how many requests were sent, or `None` when the broker has no routes left and
/// nothing subscribed: the task ends.
async fn sync(
    shared: &Arc<Shared>,
    broker: &Arc<Broker>,
    believed: &mut BTreeMap<String, u8>,
    full: bool,
) -> Option<usize> {
    let routes = broker.route_snapshot();
    let input: Vec<(TopicFilter, u8)> = routes.iter().map(|r| (r.filter.clone(), r.qos)).collect();
    let desired: BTreeMap<String, u8> =
        wire_filters(&input).into_iter().map(|(f, q)| (f.as_str().to_string(), q)).collect();
    if full {
        believed.clear();
    }
    let subscribe: Vec<SubscribeFilter> = desired
        .iter()
        .filter(|(f, q)| believed.get(*f) != Some(*q))
        .map(|(f, q)| SubscribeFilter::new(f.clone(), qos(*q)))
        .collect();
    let unsubscribe: Vec<String> = believed.keys().filter(|f| !desired.contains_key(*f)).cloned().collect();
    let mut ok = true;
    let mut sent = 0;
    if !subscribe.is_empty() {
        let r = broker.client.try_subscribe_many(subscribe).is_ok();
        ok &= r;
        sent += usize::from(r);
    }
    for f in unsubscribe {
        let r = broker.client.try_unsubscribe(f).is_ok();
        ok &= r;
        sent += usize::from(r);
    }
    if !ok {
        // Request channel full: try again on the next resync.
        broker.resync.notify_one();
        return Some(sent);
    }
    if *believed != desired {
        *believed = desired;
        let meta = BrokerMeta { client_id: broker.client_id.to_string(), filters: believed.clone() };
        let key = broker.key.clone();
        let res = match to_bytes(&meta) {
            Ok(bytes) => {
                shared
                    .blocking(move |s| {
                        s.commit(Batch { puts: vec![(BROKERS, key, bytes)], ..Batch::default() }).map(|_| ())
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            tracing::error!(error = %e, "cannot persist MQTT session filters");
        }
    }
    if believed.is_empty() {
        let mut r = broker.routes.lock().expect("routes lock");
        if r.list.is_empty() {
            r.closed = true;
            return None;
        }
    }
    Some(sent)
}
