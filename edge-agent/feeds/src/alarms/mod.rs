//! The alarms feeds (`/whisk.system/alarms/alarm|once|interval`): lifecycle of schedules and the
//! scheduler task that puts each due fire in the durable inbox.

mod params;
mod schedule;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex},
    time::Duration as StdDuration,
};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::{Mutex, Notify};

pub use params::AlarmKind;
pub use schedule::{next_fire_after, Schedule};

use self::params::{parse, AlarmRecord, Parsed};
use crate::{
    error::FeedError,
    iso, now_ms,
    request::{FeedRequest, Lifecycle},
    stats::Stats,
    store::{to_bytes, Batch, InboxEntry, Source, ALARMS},
    Shared,
};

/// Longest scheduler sleep, so a changed system clock is noticed within this time.
const MAX_SLEEP: StdDuration = StdDuration::from_secs(30);

/// A schedule in memory: its record, its parsed form and its next fire.
struct Entry {
    record: AlarmRecord,
    parsed: Parsed,
    next: Option<DateTime<Utc>>,
}

pub(crate) struct AlarmFeed {
    shared: Arc<Shared>,
    entries: Mutex<HashMap<String, Entry>>,
    changed: Notify,
    count: StdMutex<u64>,
}

impl AlarmFeed {
    pub fn new(shared: Arc<Shared>) -> AlarmFeed {
        AlarmFeed { shared, entries: Mutex::new(HashMap::new()), changed: Notify::new(), count: StdMutex::new(0) }
    }

    pub fn count(&self) -> u64 {
        *self.count.lock().expect("count lock")
    }

    fn now(&self) -> DateTime<Utc> {
        self.shared.options.clock.now()
    }

    /// Loads every persisted schedule and starts the scheduler. Fires missed while the agent was
    /// down are skipped, except a `once` alarm that never fired: it fires at once.
    pub async fn restore(self: &Arc<Self>) -> Result<(), FeedError> {
        let records: Vec<(String, AlarmRecord)> = self.shared.blocking(|s| s.load_all(ALARMS)).await?;
        let now = self.now();
        let mut entries = self.entries.lock().await;
        for (trigger, record) in records {
            match parse(record.kind, &record.params, now, &|_| false) {
                Ok(parsed) => {
                    let next = first_fire(&record, &parsed, now);
                    entries.insert(trigger, Entry { record, parsed, next });
                }
                Err(e) => {
                    tracing::error!(trigger, error = %e, "stored alarm no longer valid; skipped")
                }
            }
        }
        *self.count.lock().expect("count lock") = entries.len() as u64;
        tracing::info!(alarms = entries.len(), "alarms restored");
        drop(entries);
        let me = self.clone();
        self.shared.tracker.spawn(async move { me.run().await });
        Ok(())
    }

    pub async fn handle(&self, kind: AlarmKind, req: FeedRequest) -> Result<Value, FeedError> {
        let (ns, name) = req.trigger_parts()?;
        let (ns, name) = (ns.to_string(), name.to_string());
        let mut entries = self.entries.lock().await;
        let now = self.now();
        let result = match req.event {
            Lifecycle::Create => {
                let mut p: Map<String, Value> =
                    kind.keys().iter().filter_map(|k| req.params.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
                let parsed = parse(kind, &p, now, &|k| req.param(k).is_some())?;
                if let Schedule::Interval { start, .. } = &parsed.schedule {
                    // Keep the defaulted start so a restart does not move it.
                    p.entry("startDate").or_insert_with(|| json!(start.timestamp_millis()));
                }
                let record = AlarmRecord {
                    trigger: req.trigger.clone(),
                    kind,
                    params: p,
                    active: true,
                    date_changed: now.timestamp_millis(),
                    reason: None,
                    last_fire: None,
                    fires: 0,
                };
                self.save(&mut entries, record, parsed, now).await?;
                json!({"status": "success"})
            }
            Lifecycle::Read => {
                let e = entries
                    .get(&req.trigger)
                    .filter(|e| e.record.kind == kind)
                    .ok_or_else(|| not_found(&req.trigger))?;
                read(&e.record, &e.parsed, &ns, &name)
            }
            Lifecycle::Update => {
                let e = entries
                    .get(&req.trigger)
                    .filter(|e| e.record.kind == kind)
                    .ok_or_else(|| not_found(&req.trigger))?;
                let mut record = e.record.clone();
                let given: Vec<&str> = kind.keys().iter().copied().filter(|k| req.params.contains_key(*k)).collect();
                if given.is_empty() {
                    return Err(FeedError::BadRequest("no updatable parameters were specified".to_string()));
                }
                for k in &given {
                    record.params.insert(k.to_string(), req.params[*k].clone());
                }
                let parsed = parse(kind, &record.params, now, &|k| given.contains(&k))?;
                if !record.active && record.reason.as_ref().is_some_and(|r| r["kind"] == "AUTO") {
                    record.active = true;
                    record.reason = None;
                    record.date_changed = now.timestamp_millis();
                }
                self.save(&mut entries, record, parsed, now).await?;
                json!({"status": "success"})
            }
            Lifecycle::Delete => {
                entries.get(&req.trigger).filter(|e| e.record.kind == kind).ok_or_else(|| not_found(&req.trigger))?;
                let t = req.trigger.clone();
                self.shared.blocking(move |s| s.delete(ALARMS, &t)).await?;
                entries.remove(&req.trigger);
                json!({"status": "success"})
            }
            Lifecycle::Pause | Lifecycle::Unpause => {
                let e = entries
                    .get(&req.trigger)
                    .filter(|e| e.record.kind == kind)
                    .ok_or_else(|| not_found(&req.trigger))?;
                let mut record = e.record.clone();
                let parsed = parse(kind, &record.params, now, &|_| false)?;
                record.active = req.event == Lifecycle::Unpause;
                record.reason = (!record.active)
                    .then(|| json!({"kind": "MANUAL", "message": "paused by the PAUSE lifecycle event"}));
                record.date_changed = now.timestamp_millis();
                self.save(&mut entries, record, parsed, now).await?;
                json!({"status": "success"})
            }
        };
        *self.count.lock().expect("count lock") = entries.len() as u64;
        self.changed.notify_one();
        Ok(result)
    }

    async fn save(
        &self,
        entries: &mut HashMap<String, Entry>,
        record: AlarmRecord,
        parsed: Parsed,
        now: DateTime<Utc>,
    ) -> Result<(), FeedError> {
        let (t, rec) = (record.trigger.clone(), record.clone());
        self.shared.blocking(move |s| s.put(ALARMS, &t, &rec)).await?;
        let next = first_fire(&record, &parsed, now);
        entries.insert(record.trigger.clone(), Entry { record, parsed, next });
        Ok(())
    }

    /// The sink reported the trigger missing (forget the schedule) or disabled (deactivate it).
    pub async fn trigger_gone(&self, trigger: &str, disabled: bool) {
        let mut entries = self.entries.lock().await;
        let t = trigger.to_string();
        let res = if disabled {
            match entries.get_mut(trigger) {
                Some(e) if e.record.active => {
                    e.record.active = false;
                    e.record.reason = Some(json!({"kind": "AUTO", "message": "the trigger is disabled"}));
                    e.record.date_changed = now_ms(&*self.shared.options.clock);
                    e.next = None;
                    let rec = e.record.clone();
                    self.shared.blocking(move |s| s.put(ALARMS, &t, &rec)).await
                }
                _ => Ok(()),
            }
        } else {
            entries.remove(trigger);
            self.shared.blocking(move |s| s.delete(ALARMS, &t).map(|_| ())).await
        };
        if let Err(e) = res {
            tracing::error!(trigger, error = %e, "cannot update the alarm of a vanished trigger");
        }
        *self.count.lock().expect("count lock") = entries.len() as u64;
    }

    /// The scheduler: sleeps until the earliest next fire, then records every due fire.
    async fn run(self: Arc<Self>) {
        loop {
            let now = self.now();
            let earliest = {
                let entries = self.entries.lock().await;
                entries.values().filter_map(|e| e.next).min()
            };
            let wait = match earliest {
                Some(t) if t <= now => {
                    self.fire_due(now).await;
                    continue;
                }
                Some(t) => (t - now).to_std().unwrap_or_default().min(MAX_SLEEP),
                None => MAX_SLEEP,
            };
            tokio::select! {
                _ = self.shared.cancel.cancelled() => break,
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn fire_due(&self, now: DateTime<Utc>) {
        let mut entries = self.entries.lock().await;
        let mut batch = Batch::default();
        let mut fired = Vec::new();
        for (trigger, e) in entries.iter_mut() {
            let Some(due) = e.next.filter(|t| *t <= now) else {
                continue;
            };
            e.record.last_fire = Some(due.timestamp_millis());
            e.record.fires += 1;
            batch.events.push(InboxEntry {
                trigger: trigger.clone(),
                payload: e.parsed.payload.clone(),
                source: Source::Alarm,
                retire: e.parsed.retire,
            });
            let mut next = next_fire_after(&e.parsed.schedule, due);
            if next.is_some_and(|n| n <= now - Duration::seconds(1)) {
                // We were stalled past several fires: skip them rather than firing a burst.
                next = next_fire_after(&e.parsed.schedule, now);
            }
            let exhausted = e.parsed.max_fires.is_some_and(|m| e.record.fires >= m);
            if next.is_none() || exhausted {
                e.record.active = false;
                e.record.date_changed = now.timestamp_millis();
                let message = match e.record.kind {
                    AlarmKind::Once => "Automatically disabled after firing once",
                    _ if exhausted => "Automatically disabled after reaching maxTriggers",
                    _ => "Automatically disabled after reaching stopDate",
                };
                e.record.reason = Some(json!({"kind": "AUTO", "message": message}));
                next = None;
            }
            e.next = next;
            match to_bytes(&e.record) {
                Ok(b) => batch.puts.push((ALARMS, trigger.clone(), b)),
                Err(err) => tracing::error!(trigger, error = %err, "cannot serialize alarm"),
            }
            fired.push(trigger.clone());
        }
        if fired.is_empty() {
            return;
        }
        let n = fired.len() as u64;
        // Counted before the commit: the worker may fire and remove the events as soon as it is done.
        Stats::add(&self.shared.stats.inbox_depth, n);
        match self.shared.blocking(move |s| s.commit(batch)).await {
            Ok(_) => {
                Stats::add(&self.shared.stats.alarm_fires, n);
                self.shared.inbox_ready.notify_one();
                tracing::debug!(?fired, "alarms fired");
            }
            Err(err) => {
                Stats::sub(&self.shared.stats.inbox_depth, n);
                tracing::error!(error = %err, ?fired, "could not record alarm fires; they are skipped");
            }
        }
    }
}

/// The next fire of a (re)loaded schedule: none when inactive; a `once` alarm that never fired
/// fires even if its date passed while the agent was down.
fn first_fire(record: &AlarmRecord, parsed: &Parsed, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !record.active {
        return None;
    }
    match parsed.schedule {
        Schedule::Once { at } if record.last_fire.is_none() => Some(at),
        Schedule::Once { .. } => None,
        _ => {
            let after = record.last_fire.and_then(DateTime::from_timestamp_millis).map_or(now, |l| l.max(now));
            next_fire_after(&parsed.schedule, after)
        }
    }
}

/// The READ result (OpenWhisk alarms shape).
fn read(record: &AlarmRecord, parsed: &Parsed, ns: &str, name: &str) -> Value {
    let mut config = json!({"name": name, "namespace": ns, "payload": parsed.payload});
    let keys: &[&str] = match record.kind {
        AlarmKind::Alarm => &["cron", "timezone", "startDate", "stopDate", "strict", "maxTriggers"],
        AlarmKind::Once => &["date", "deleteAfterFire"],
        AlarmKind::Interval => &["minutes", "startDate", "stopDate"],
    };
    for k in keys {
        if let Some(v) = record.params.get(*k).filter(|v| !v.is_null()) {
            config[*k] = v.clone();
        }
    }
    let mut status = json!({
        "active": record.active,
        "dateChanged": record.date_changed,
        "dateChangedISO": iso(record.date_changed),
    });
    if let Some(r) = &record.reason {
        status["reason"] = r.clone();
    }
    json!({"config": config, "status": status})
}

fn not_found(trigger: &str) -> FeedError {
    FeedError::NotFound(format!("trigger {trigger} has no alarm of this kind"))
}
