//! The delivery task: sends the oldest outbox records to the hub's ingest endpoint in batches, in
//! order, deleting them only once the hub acknowledged them; retries with exponential backoff and
//! jitter; never drops a record.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fogwhisk_wire::{AggregateBatch, ErrorBody, IngestResponse, RefusedBatch};
use rand::Rng;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use fogwhisk_shutdown::{supervise, Restart};

use crate::store::SiteStore;

/// Where the records go. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct HubTarget {
    /// Base URL of the hub, e.g. `https://hub.example.org`.
    pub url: String,
    /// This site's id at the hub.
    pub site_id: String,
    /// The site's bearer token.
    pub token: SecretString,
}

/// Tuning of the delivery task.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Most records per request.
    pub batch_size: usize,
    /// First retry delay after a transient failure; doubled on each further failure.
    pub base_delay: Duration,
    /// Longest delay between transient retries.
    pub max_delay: Duration,
    /// Delay between retries after a permanent refusal (400, 401, 403, 404, …): slow, never giving up.
    pub permanent_retry: Duration,
    /// Time limit of one request.
    pub request_timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            batch_size: 100,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            permanent_retry: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Why an attempt failed.
enum Failure {
    /// Network error, timeout, 408, 429 or 5xx: retry with backoff (at least `retry_after`).
    Transient { message: String, retry_after: Option<Duration> },
    /// 413: the batch is too large for the hub.
    TooLarge(String),
    /// 400 (422): the hub refuses the records themselves; `refused` are the indexes it named, each
    /// with its reasons (empty when the hub did not say which).
    Refused { message: String, refused: Vec<(usize, String)> },
    /// Any other 4xx (401, 403, 404, …): the hub refuses the site, not the records; retry slowly.
    Permanent(String),
}

/// Starts the delivery task with the default [`DeliveryConfig`].
pub fn spawn_delivery(store: SiteStore, target: HubTarget, stop: CancellationToken) -> JoinHandle<()> {
    spawn_delivery_with(store, target, DeliveryConfig::default(), stop)
}

/// Starts the delivery task; it ends when `stop` is cancelled (records not yet acknowledged stay queued).
/// It never ends on its own: when its HTTP client cannot be built it retries with backoff, and when the
/// loop panics the panic is caught, logged, counted as a delivery failure (`/metrics`, `last_error`) and
/// the loop started again after a backoff.
pub fn spawn_delivery_with(
    store: SiteStore,
    target: HubTarget,
    config: DeliveryConfig,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let (s, c, st) = (store.clone(), config.clone(), stop.clone());
    tokio::spawn(restarting(store, config, stop, move || run(s.clone(), target.clone(), c.clone(), st.clone())))
}

/// Runs `start()` under the shared supervisor (`fogwhisk_shutdown::supervise`) until it returns (stopped): a
/// panic is caught, counted as a delivery failure (`last_error`, `/metrics`) and the loop started again after
/// the delivery backoff.
async fn restarting<F, Fut>(store: SiteStore, config: DeliveryConfig, stop: CancellationToken, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let policy = Restart { min: config.base_delay, max: config.max_delay };
    let on_restart = |f: &fogwhisk_shutdown::Failure| record_failure(&store, &format!("outbox delivery {f}"));
    let run = move || {
        let once = start();
        async move {
            once.await;
            Ok::<(), std::convert::Infallible>(())
        }
    };
    supervise(DELIVERY_TASK, policy, stop, on_restart, run).await;
}

/// The delivery task's name in logs and restart counts.
pub const DELIVERY_TASK: &str = "outbox delivery";

/// Exponential backoff with jitter: a random delay in `[d/2, d]`, `d = min(max, base * 2^(attempt-1))`.
pub fn backoff(config: &DeliveryConfig, attempt: u32) -> Duration {
    let exp = config.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let d = exp.min(config.max_delay);
    d.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

async fn run(store: SiteStore, target: HubTarget, config: DeliveryConfig, stop: CancellationToken) {
    // Without a client nothing can be delivered, but the agent runs on: retry with backoff, counted.
    let mut tries: u32 = 0;
    let client = loop {
        match reqwest::Client::builder().timeout(config.request_timeout).build() {
            Ok(c) => break c,
            Err(e) => {
                tries += 1;
                let message = format!("outbox delivery has no HTTP client: {e}");
                record_failure(&store, &message);
                tracing::error!(error = %message, tries, "outbox delivery cannot start; will retry");
                if sleep_or_stop(backoff(&config, tries), &stop).await {
                    return;
                }
            }
        }
    };
    let endpoint = format!("{}/api/v1/sites/{}/aggregates", target.url.trim_end_matches('/'), target.site_id);
    let counters = &store.inner.counters;
    let mut attempt: u32 = 0;
    let mut batch_size = config.batch_size.max(1);
    tracing::info!(%endpoint, "outbox delivery started");
    loop {
        let notified = store.inner.outbox_notify.notified();
        let peek = store.run_blocking(move |s| s.outbox_peek(batch_size)).await;
        let entries = match peek {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "outbox unreadable");
                attempt += 1;
                if sleep_or_stop(backoff(&config, attempt), &stop).await {
                    break;
                }
                continue;
            }
        };
        if entries.is_empty() {
            tokio::select! {
                _ = notified => continue,
                _ = stop.cancelled() => break,
            }
        }
        let entries = without_repeated_keys(entries);
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        let batch = AggregateBatch { records: entries.into_iter().map(|e| e.record).collect() };
        let outcome = tokio::select! {
            r = post(&client, &endpoint, &target.token, &batch) => r,
            _ = stop.cancelled() => break,
        };
        let delay = match outcome {
            Ok(resp) => {
                let n = seqs.len();
                if let Err(e) = store.run_blocking(move |s| s.outbox_remove(&seqs)).await {
                    // The hub has the records; they will be sent again and replace themselves.
                    tracing::error!(error = %e, "delivered records could not be removed from the outbox");
                }
                counters.delivered.fetch_add(n as u64, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    records = n,
                    accepted = resp.accepted,
                    replaced = resp.replaced,
                    "batch delivered to the hub"
                );
                attempt = 0;
                batch_size = (batch_size * 2).min(config.batch_size.max(1));
                continue;
            }
            Err(Failure::Transient { message, retry_after }) => {
                attempt += 1;
                record_failure(&store, &message);
                tracing::warn!(error = %message, attempt, "hub delivery failed; will retry");
                backoff(&config, attempt).max(retry_after.unwrap_or_default().min(config.max_delay))
            }
            Err(Failure::TooLarge(message)) if batch_size > 1 => {
                record_failure(&store, &message);
                batch_size = (batch_size / 2).max(1);
                tracing::warn!(error = %message, batch_size, "hub refused the batch as too large; splitting it");
                continue;
            }
            Err(Failure::Refused { message, refused }) => {
                record_failure(&store, &message);
                // Records the hub named, or the one record left once splitting found it.
                let mut dead: Vec<(u64, String)> = Vec::new();
                for (index, reason) in refused {
                    match (seqs.get(index), dead.last_mut()) {
                        (Some(seq), Some((last, text))) if last == seq => text.push_str(&format!("; {reason}")),
                        (Some(seq), _) => dead.push((*seq, reason)),
                        (None, _) => {}
                    }
                }
                if dead.is_empty() && seqs.len() > 1 {
                    batch_size = (seqs.len() / 2).max(1);
                    tracing::warn!(error = %message, batch_size, "hub refused the batch without naming a record; splitting it");
                    continue;
                }
                if dead.is_empty() {
                    dead.push((seqs[0], message.clone()));
                }
                let moved = store.run_blocking(move |s| s.outbox_dead_letter(&dead)).await;
                match moved {
                    Ok(n) => {
                        counters.dead_lettered.fetch_add(n as u64, Ordering::Relaxed);
                        tracing::error!(error = %message, records = n, "hub refused records; moved to the dead-letter list, delivering the rest");
                        attempt = 0;
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "refused records could not be moved to the dead-letter list");
                        attempt += 1;
                        backoff(&config, attempt)
                    }
                }
            }
            Err(Failure::TooLarge(message) | Failure::Permanent(message)) => {
                record_failure(&store, &message);
                tracing::error!(error = %message, "hub refused the batch; keeping it and retrying slowly");
                config.permanent_retry
            }
        };
        if sleep_or_stop(delay, &stop).await {
            break;
        }
    }
    tracing::info!("outbox delivery stopped");
}

/// Cuts the batch before the first record whose (datacenter, metric, day) is already in it: the
/// hub refuses a batch with a repeated key, and a day re-reported after late readings may still
/// have its first report queued. The later record goes in the next batch, so order is kept.
fn without_repeated_keys(mut entries: Vec<super::OutboxEntry>) -> Vec<super::OutboxEntry> {
    let mut seen = std::collections::HashSet::new();
    let cut = entries
        .iter()
        .position(|e| !seen.insert((e.record.datacenter_id, e.record.metric.clone(), e.record.day.clone())))
        .unwrap_or(entries.len());
    entries.truncate(cut.max(1));
    entries
}

fn record_failure(store: &SiteStore, message: &str) {
    let c = &store.inner.counters;
    c.failures.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut g) = c.last_error.lock() {
        *g = Some(message.to_string());
    }
}

/// Sleeps `d`; true when `stop` fired first.
async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.cancelled() => true,
    }
}

async fn post(
    client: &reqwest::Client,
    endpoint: &str,
    token: &SecretString,
    batch: &AggregateBatch,
) -> Result<IngestResponse, Failure> {
    let resp = client.post(endpoint).bearer_auth(token.expose_secret()).json(batch).send().await.map_err(|e| {
        Failure::Transient { message: format!("hub unreachable: {}", e.without_url()), retry_after: None }
    })?;
    let status = resp.status();
    if status.is_success() {
        return resp.json::<IngestResponse>().await.map_err(|e| Failure::Transient {
            message: format!("hub answered {status} with an unreadable body: {}", e.without_url()),
            retry_after: None,
        });
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    if matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY) {
        let refused = serde_json::from_str::<RefusedBatch>(&text).ok();
        let detail = match &refused {
            Some(b) => format!("{} ({})", b.error, b.code),
            None => text.chars().take(200).collect(),
        };
        let refused = refused
            .map(|b| {
                let mut by_index: Vec<(usize, String)> = Vec::new();
                for r in b.records {
                    let why = if r.field.is_empty() {
                        format!("{} ({})", r.message, r.reason)
                    } else {
                        format!("{}: {} ({})", r.field, r.message, r.reason)
                    };
                    match by_index.iter_mut().find(|(i, _)| *i == r.index) {
                        Some((_, text)) => text.push_str(&format!("; {why}")),
                        None => by_index.push((r.index, format!("hub answered {status}: {why}"))),
                    }
                }
                by_index.sort_by_key(|(i, _)| *i);
                by_index
            })
            .unwrap_or_default();
        return Err(Failure::Refused { message: format!("hub answered {status}: {detail}"), refused });
    }
    let detail = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => format!("{} ({})", b.error, b.code),
        Err(_) => text.chars().take(200).collect(),
    };
    let message = format!("hub answered {status}: {detail}");
    Err(match status {
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Failure::Transient { message, retry_after },
        StatusCode::PAYLOAD_TOO_LARGE => Failure::TooLarge(message),
        s if s.is_server_error() => Failure::Transient { message, retry_after },
        _ => Failure::Permanent(message),
    })
}

#[cfg(test)]
mod supervision_tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_panicking_delivery_loop_is_counted_and_started_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SiteStore::open(dir.path()).unwrap();
        let config = DeliveryConfig {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..Default::default()
        };
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let stop = CancellationToken::new();
        let done = tokio::time::timeout(
            Duration::from_secs(5),
            restarting(store.clone(), config, stop, move || {
                let r = r.clone();
                async move {
                    if r.fetch_add(1, Ordering::SeqCst) < 2 {
                        panic!("client gone");
                    }
                }
            }),
        )
        .await;
        assert!(done.is_ok(), "the third run ends normally");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let stats = store.outbox_stats().unwrap();
        assert_eq!(stats.failures, 2);
        assert_eq!(stats.last_error.as_deref(), Some("outbox delivery panicked: client gone"));
    }
}
