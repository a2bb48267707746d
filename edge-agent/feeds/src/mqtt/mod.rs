//! The MQTT feed (`/whisk.system/mqtt/mqtt_feed`): the lifecycle of subscriptions and the map of
//! broker connections they share.

pub(crate) mod config;
mod connection;
mod tls;
pub mod topic;

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc, Mutex as StdMutex},
};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use self::{
    config::{parse_qos, BrokerUrl, Subscription},
    connection::{Broker, BrokerMeta, Route},
    topic::TopicFilter,
};
use crate::{
    error::FeedError,
    inbox::WriterTx,
    iso, now_ms,
    request::{FeedRequest, Lifecycle},
    store::{BROKERS, SUBSCRIPTIONS},
    Shared,
};

/// Longest wait for a broker to acknowledge changed subscriptions before a lifecycle call returns.
const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

const MISSING: &str = "Missing mandatory feed properties, must include url and topic.";

#[derive(Default)]
struct State {
    subs: HashMap<String, Subscription>,
    brokers: HashMap<String, Arc<Broker>>,
}

pub(crate) struct MqttFeed {
    shared: Arc<Shared>,
    writer: WriterTx,
    state: Mutex<State>,
    /// Brokers and the subscription count, readable without the async lock for `stats()`.
    counts: StdMutex<(Vec<Arc<Broker>>, u64)>,
}

impl MqttFeed {
    pub fn new(shared: Arc<Shared>, writer: WriterTx) -> MqttFeed {
        MqttFeed { shared, writer, state: Mutex::new(State::default()), counts: StdMutex::new((Vec::new(), 0)) }
    }

    /// (live broker connections, subscriptions).
    pub fn counts(&self) -> (u64, u64) {
        let c = self.counts.lock().expect("counts lock");
        let live = c.0.iter().filter(|b| !b.routes.lock().expect("routes lock").closed).count();
        (live as u64, c.1)
    }

    /// Re-creates every persisted subscription and its broker connection.
    pub async fn restore(&self) -> Result<(), FeedError> {
        let subs: Vec<(String, Subscription)> = self.shared.blocking(|s| s.load_all(SUBSCRIPTIONS)).await?;
        let mut st = self.state.lock().await;
        for (trigger, sub) in subs {
            st.subs.insert(trigger, sub);
        }
        let keys: Vec<String> = st.subs.values().map(|s| s.broker.key()).collect();
        for key in keys {
            self.refresh_broker(&mut st, &key).await?;
        }
        tracing::info!(subscriptions = st.subs.len(), brokers = st.brokers.len(), "MQTT feed restored");
        self.update_counts(&st);
        Ok(())
    }

    pub async fn handle(&self, req: FeedRequest) -> Result<Value, FeedError> {
        let (ns, name) = req.trigger_parts()?;
        let (ns, name) = (ns.to_string(), name.to_string());
        let mut st = self.state.lock().await;
        // The brokers this call touches (before and after), to wait for their acknowledgements.
        let mut touched: Vec<String> = st.subs.get(&req.trigger).map(|s| s.broker.key()).into_iter().collect();
        let mut result = match req.event {
            Lifecycle::Create => self.create(&mut st, &req).await?,
            Lifecycle::Read => {
                let sub = st.subs.get(&req.trigger).ok_or_else(|| not_found(&req.trigger))?;
                let broker = st.brokers.get(&sub.broker.key());
                let connected = broker.is_some_and(|b| b.connected.load(Ordering::Relaxed));
                let mut status = json!({
                    "active": !sub.paused,
                    "connected": connected,
                    "dateChanged": sub.date_changed,
                    "dateChangedISO": iso(sub.date_changed),
                });
                if let Some(e) = broker.filter(|_| !connected).and_then(|b| b.last_error()) {
                    status["error"] = json!(e);
                }
                if let Some(r) = &sub.reason {
                    status["reason"] = json!({"kind": "AUTO", "message": r});
                } else if sub.paused {
                    status["reason"] = json!({"kind": "MANUAL", "message": "paused by the PAUSE lifecycle event"});
                }
                json!({
                    "config": {"name": name, "namespace": ns, "url": sub.broker.masked(), "topic": sub.topic, "qos": sub.qos},
                    "status": status,
                })
            }
            Lifecycle::Update => self.update(&mut st, &req).await?,
            Lifecycle::Delete => {
                self.remove(&mut st, &req.trigger).await?.ok_or_else(|| not_found(&req.trigger))?;
                json!({"status": "success"})
            }
            Lifecycle::Pause | Lifecycle::Unpause => {
                let paused = req.event == Lifecycle::Pause;
                let mut sub = st.subs.get(&req.trigger).cloned().ok_or_else(|| not_found(&req.trigger))?;
                sub.paused = paused;
                sub.reason = None;
                sub.date_changed = now_ms(&*self.shared.options.clock);
                self.store(&mut st, sub).await?;
                json!({"status": "success"})
            }
        };
        self.update_counts(&st);
        touched.extend(st.subs.get(&req.trigger).map(|s| s.broker.key()));
        // Return once the broker acknowledged the changed subscriptions (a new connection: once it
        // connected and subscribed), so a message published right after CREATE or UPDATE is not
        // missed. Bounded: an unreachable broker only delays the answer.
        // A broker that refuses the connection (TLS, credentials) ends the wait at once, and
        // CREATE/UPDATE then say why in `warning` (the subscription stays and keeps retrying).
        let current = st.subs.get(&req.trigger).and_then(|s| st.brokers.get(&s.broker.key())).cloned();
        let waits: Vec<_> = touched
            .iter()
            .filter_map(|k| st.brokers.get(k))
            .map(|b| (b.clone(), b.applied.subscribe(), b.wanted.load(Ordering::SeqCst)))
            .collect();
        drop(st);
        for (broker, mut rx, generation) in waits {
            let _ = tokio::time::timeout(ACK_WAIT, async {
                tokio::select! {
                    _ = rx.wait_for(|g| *g >= generation) => {}
                    _ = broker.failed() => {}
                }
            })
            .await;
        }
        if matches!(req.event, Lifecycle::Create | Lifecycle::Update) {
            if let Some(b) = current.filter(|b| !b.connected.load(Ordering::Relaxed)) {
                if let Some(e) = b.last_error() {
                    result["warning"] = json!(format!("not connected to the broker: {e}"));
                }
            }
        }
        Ok(result)
    }

    async fn create(&self, st: &mut State, req: &FeedRequest) -> Result<Value, FeedError> {
        let (Some(url), Some(topic)) = (req.str_param("url")?, req.str_param("topic")?) else {
            return Err(FeedError::BadRequest(MISSING.to_string()));
        };
        let broker = parse_url(&url)?;
        TopicFilter::parse(&topic)?;
        let qos = parse_qos(req.uint_param("qos")?)?;
        let sub = Subscription {
            trigger: req.trigger.clone(),
            broker,
            topic,
            qos,
            paused: false,
            date_changed: now_ms(&*self.shared.options.clock),
            reason: None,
        };
        // A trigger added to a live connection learns its status at once from the connection task
        // (as the thesis provider did).
        self.store(st, sub).await?;
        Ok(json!({"status": "success"}))
    }

    async fn update(&self, st: &mut State, req: &FeedRequest) -> Result<Value, FeedError> {
        let mut sub = st.subs.get(&req.trigger).cloned().ok_or_else(|| not_found(&req.trigger))?;
        let (url, topic, qos) = (req.str_param("url")?, req.str_param("topic")?, req.uint_param("qos")?);
        if url.is_none() && topic.is_none() && qos.is_none() {
            return Err(FeedError::BadRequest("no updatable parameters were specified".to_string()));
        }
        if let Some(url) = url {
            sub.broker = parse_url(&url)?;
        }
        if let Some(topic) = topic {
            TopicFilter::parse(&topic)?;
            sub.topic = topic;
        }
        if qos.is_some() {
            sub.qos = parse_qos(qos)?;
        }
        sub.date_changed = now_ms(&*self.shared.options.clock);
        self.store(st, sub).await?;
        Ok(json!({"status": "success"}))
    }

    /// Persists a subscription (new or changed) and updates the brokers it leaves and joins.
    async fn store(&self, st: &mut State, sub: Subscription) -> Result<(), FeedError> {
        let trigger = sub.trigger.clone();
        let rec = sub.clone();
        let t = trigger.clone();
        self.shared.blocking(move |s| s.put(SUBSCRIPTIONS, &t, &rec)).await?;
        let old_key = st.subs.insert(trigger, sub.clone()).map(|o| o.broker.key());
        let key = sub.broker.key();
        if let Some(old) = old_key.filter(|k| *k != key) {
            self.refresh_broker(st, &old).await?;
        }
        self.refresh_broker(st, &key).await
    }

    async fn remove(&self, st: &mut State, trigger: &str) -> Result<Option<Subscription>, FeedError> {
        let t = trigger.to_string();
        self.shared.blocking(move |s| s.delete(SUBSCRIPTIONS, &t)).await?;
        let Some(sub) = st.subs.remove(trigger) else {
            return Ok(None);
        };
        self.refresh_broker(st, &sub.broker.key()).await?;
        Ok(Some(sub))
    }

    /// Gives a broker its current routes, creating its connection when needed.
    async fn refresh_broker(&self, st: &mut State, key: &str) -> Result<(), FeedError> {
        let routes: Vec<Route> = st
            .subs
            .values()
            .filter(|s| s.broker.key() == key)
            .map(|s| Route { trigger: s.trigger.clone(), filter: s.filter(), qos: s.qos, paused: s.paused })
            .collect();
        if let Some(b) = st.brokers.get(key) {
            let mut r = b.routes.lock().expect("routes lock");
            if !r.closed {
                r.list = routes;
                drop(r);
                b.wanted.fetch_add(1, Ordering::SeqCst);
                // With no routes left, the task unsubscribes and ends by itself (marking itself
                // closed); it stays in the map until then so no second connection takes over its
                // session.
                b.resync.notify_one();
                return Ok(());
            }
        }
        st.brokers.remove(key);
        if routes.is_empty() {
            return Ok(());
        }
        let url = routes
            .first()
            .and_then(|r| st.subs.get(&r.trigger))
            .map(|s| s.broker.clone())
            .ok_or_else(|| FeedError::Internal("subscription vanished".to_string()))?;
        let k = key.to_string();
        let meta = self
            .shared
            .blocking(move |s| {
                if let Some(m) = s.get::<BrokerMeta>(BROKERS, &k)? {
                    return Ok(m);
                }
                // A stable id (23 characters, the MQTT 3.1.1 limit) for this broker's persistent session.
                let id = uuid::Uuid::new_v4().simple().to_string();
                let m = BrokerMeta { client_id: format!("fogwhisk-{}", &id[..14]), filters: Default::default() };
                s.put(BROKERS, &k, &m)?;
                Ok(m)
            })
            .await?;
        let broker = Broker::spawn(&self.shared, self.writer.clone(), key.to_string(), url, meta, routes);
        st.brokers.insert(key.to_string(), broker);
        Ok(())
    }

    /// The sink reported the trigger missing (forget it) or disabled (pause it).
    pub async fn trigger_gone(&self, trigger: &str, disabled: bool) {
        let mut st = self.state.lock().await;
        let res = if disabled {
            match st.subs.get(trigger).cloned() {
                Some(mut sub) if !sub.paused => {
                    sub.paused = true;
                    sub.reason = Some("the trigger is disabled".to_string());
                    sub.date_changed = now_ms(&*self.shared.options.clock);
                    self.store(&mut st, sub).await
                }
                _ => Ok(()),
            }
        } else {
            self.remove(&mut st, trigger).await.map(|_| ())
        };
        if let Err(e) = res {
            tracing::error!(trigger, error = %e, "cannot update subscription of a vanished trigger");
        }
        self.update_counts(&st);
    }

    fn update_counts(&self, st: &State) {
        *self.counts.lock().expect("counts lock") = (st.brokers.values().cloned().collect(), st.subs.len() as u64);
    }
}

/// Parses a broker URL and checks that its `ca_file` is usable now (a 400 names the problem).
fn parse_url(raw: &str) -> Result<BrokerUrl, FeedError> {
    let url = BrokerUrl::parse(raw)?;
    if let Some(ca) = &url.ca_file {
        tls::client_config(ca).map_err(|e| FeedError::BadRequest(e.to_string()))?;
    }
    Ok(url)
}

fn not_found(trigger: &str) -> FeedError {
    FeedError::NotFound(format!("trigger {trigger} has no MQTT feed subscription"))
}
