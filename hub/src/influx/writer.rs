//! The background writer: drains the store's queue to InfluxDB in order, in batches, retrying with backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::sink::{LineSink, WriteError};
use crate::config::InfluxSettings;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// How the writer batches and retries.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most lines per write.
    pub batch_size: usize,
    /// First retry delay.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long to wait for more lines when less than a full batch is queued (fewer, larger writes).
    pub linger: Duration,
    /// Return once the queue is empty (backfill) instead of waiting for more.
    pub stop_when_empty: bool,
}

impl WriterConfig {
    /// From the `influx` settings.
    pub fn from_settings(s: &InfluxSettings) -> Self {
        WriterConfig {
            batch_size: s.batch_size,
            retry_min: Duration::from_millis(s.retry_min_ms),
            retry_max: Duration::from_millis(s.retry_max_ms),
            linger: Duration::from_millis(s.linger_ms),
            stop_when_empty: false,
        }
    }
}

/// Everything the writer task needs.
pub struct Writer {
    /// The queue lives here.
    pub store: Store,
    /// Destination.
    pub sink: Arc<dyn LineSink>,
    /// Batching and retry.
    pub config: WriterConfig,
    /// Queue depth, lag and write counters.
    pub metrics: Arc<Metrics>,
    /// Woken when lines are queued.
    pub notify: Arc<Notify>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(redb::StorageError::Io(std::io::Error::other(e.to_string())).into()))
}

/// Runs until `cancel` fires (or, with `stop_when_empty`, until the queue is empty).
/// Returns the number of lines written. Unwritten lines stay queued for the next run.
pub async fn run_writer(w: Writer, cancel: CancellationToken) -> Result<u64, StoreError> {
    tracing::info!(sink = %w.sink.describe(), "InfluxDB writer started");
    let mut backoff = w.config.retry_min;
    let mut written = 0u64;
    let mut lingered = false;
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let store = w.store.clone();
        let limit = w.config.batch_size;
        let (batch, (depth, oldest)) = blocking(move || Ok((store.queue_peek(limit)?, store.queue_status()?))).await?;
        w.metrics.set_queue(depth, oldest);
        let Some(last) = batch.last().map(|l| l.seq) else {
            if w.config.stop_when_empty {
                break;
            }
            tokio::select! {
                _ = w.notify.notified() => {}
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        };
        let partial = (depth as usize) < w.config.batch_size;
        if partial && !lingered && !w.config.linger.is_zero() && !w.config.stop_when_empty {
            lingered = true;
            tokio::select! {
                _ = tokio::time::sleep(w.config.linger) => {}
                _ = cancel.cancelled() => break,
            }
            continue;
        }
        lingered = false;
        let n: u64 = batch.iter().map(|l| l.count).sum();
        let body = batch.into_iter().map(|l| l.lines).collect::<Vec<_>>().join("\n");
        let result = tokio::select! {
            r = w.sink.write(body) => r,
            _ = cancel.cancelled() => break,
        };
        match result {
            Ok(()) => {
                let store = w.store.clone();
                blocking(move || store.queue_ack(last)).await?;
                written += n;
                w.metrics.influx_written.inc_by(n);
                backoff = w.config.retry_min;
            }
            Err(WriteError::Rejected(msg)) => {
                tracing::error!(lines = n, error = %msg, "InfluxDB refused a batch; dropping it from the queue (the store keeps the records; backfill re-sends them)");
                let store = w.store.clone();
                blocking(move || store.queue_ack(last)).await?;
                w.metrics.influx_dropped.inc_by(n);
            }
            Err(e @ WriteError::Transient(_)) => {
                w.metrics.influx_failures.inc();
                tracing::warn!(error = %e, retry_in = ?backoff, queued = depth, "InfluxDB write failed; will retry");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => break,
                }
                backoff = (backoff * 2).min(w.config.retry_max);
            }
        }
    }
    tracing::info!(written, "InfluxDB writer stopped");
    Ok(written)
}
