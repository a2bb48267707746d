//! The inbox worker: fires the events of the durable inbox through the sink (in order, a chunk at a time), deletes each
//! after the sink recorded it, retries with backoff when the agent cannot take fires, and tells the
//! feeds about triggers that vanished.

use std::{sync::Arc, time::Duration};

use crate::{alarms::AlarmFeed, error::FireError, mqtt::MqttFeed, stats::Stats, store::Source, Shared};

/// Fired events deleted from the inbox in one commit at most: more means faster firing, and more
/// events fired again after a crash.
const DELETE_BATCH: usize = 16;

/// Events fired at once: their records share the agent's durable commits. Events of one chunk may be
/// recorded in any order; chunks follow each other in inbox order.
const FIRE_CONCURRENCY: usize = 32;

pub(crate) fn spawn_worker(shared: Arc<Shared>, mqtt: Arc<MqttFeed>, alarms: Arc<AlarmFeed>) {
    let s = shared.clone();
    shared.tracker.spawn(async move { worker(s, mqtt, alarms).await });
}

async fn worker(shared: Arc<Shared>, mqtt: Arc<MqttFeed>, alarms: Arc<AlarmFeed>) {
    let initial = Duration::from_millis(100);
    let mut backoff = initial;
    while !shared.cancel.is_cancelled() {
        let head = match shared.blocking(|s| s.inbox_head(256)).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "inbox read failed");
                Vec::new()
            }
        };
        if head.is_empty() {
            tokio::select! {
                _ = shared.cancel.cancelled() => break,
                _ = shared.inbox_ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let mut retry_later = false;
        let mut fired = Vec::new();
        // Fires of one chunk run concurrently, so the agent can record them in one durable commit.
        for chunk in head.chunks(FIRE_CONCURRENCY) {
            let fires = chunk.iter().map(|(seq, entry)| {
                let shared = &shared;
                async move {
                    let outcome = if entry.trigger.is_empty() {
                        Ok(()) // unreadable entry: nothing to fire
                    } else {
                        shared.sink.fire(&entry.trigger, entry.payload.clone()).await
                    };
                    (*seq, entry, outcome)
                }
            });
            let results = tokio::select! {
                _ = shared.cancel.cancelled() => {
                    remove(&shared, fired).await;
                    return;
                }
                r = futures::future::join_all(fires) => r,
            };
            for (seq, entry, outcome) in results {
                if settle(&shared, &mqtt, &alarms, entry, outcome).await {
                    fired.push(seq);
                } else {
                    retry_later = true;
                }
            }
            if fired.len() >= DELETE_BATCH {
                remove(&shared, std::mem::take(&mut fired)).await;
            }
            if retry_later {
                break;
            }
            backoff = initial;
        }
        remove(&shared, fired).await;
        if retry_later {
            tokio::select! {
                _ = shared.cancel.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

/// Accounts for one fire; false when it must be retried later (the event stays in the inbox).
async fn settle(
    shared: &Arc<Shared>,
    mqtt: &MqttFeed,
    alarms: &AlarmFeed,
    entry: &crate::store::InboxEntry,
    outcome: Result<(), FireError>,
) -> bool {
    match outcome {
        Ok(()) => {
            Stats::add(&shared.stats.fires_ok, 1);
            if let Some(how) = entry.retire {
                if let Err(e) = shared.sink.retire(&entry.trigger, how).await {
                    tracing::warn!(trigger = %entry.trigger, error = %e, "could not retire trigger after its once alarm");
                }
            }
            true
        }
        Err(e) => {
            Stats::add(&shared.stats.fires_failed, 1);
            match e {
                FireError::NotFound(_) | FireError::Disabled(_) => {
                    let disabled = matches!(e, FireError::Disabled(_));
                    tracing::info!(trigger = %entry.trigger, error = %e, "trigger gone; feed stops firing it");
                    match entry.source {
                        Source::Mqtt => mqtt.trigger_gone(&entry.trigger, disabled).await,
                        Source::Alarm => alarms.trigger_gone(&entry.trigger, disabled).await,
                    }
                    true
                }
                FireError::Rejected(_) => {
                    tracing::warn!(trigger = %entry.trigger, error = %e, "fire rejected; event dropped");
                    true
                }
                FireError::Throttled | FireError::Unavailable(_) => {
                    tracing::debug!(trigger = %entry.trigger, error = %e, "fire failed; will retry");
                    false
                }
            }
        }
    }
}

/// Deletes fired events from the inbox.
async fn remove(shared: &Arc<Shared>, seqs: Vec<u64>) {
    if seqs.is_empty() {
        return;
    }
    let n = seqs.len() as u64;
    if let Err(e) = shared.blocking(move |s| s.inbox_remove(&seqs)).await {
        tracing::error!(error = %e, "inbox delete failed");
    }
    Stats::sub(&shared.stats.inbox_depth, n);
}
