//! The pool's background task: evicts idle processes after the idle timeout, drops dead ones,
//! and keeps the configured number of stem cells started.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::slots::Slot;
use super::Pool;
use crate::config::PREWARM_MEMORY_MB;
use crate::kind::RuntimeKind;
use crate::process::RuntimeProcess;

/// After a failed stem-cell start, wait this long before trying again.
const PREWARM_BACKOFF: Duration = Duration::from_secs(30);

pub(super) async fn run(pool: Weak<Pool>, stop: CancellationToken) {
    let mut backoff_until: Option<Instant> = None;
    loop {
        let Some(p) = pool.upgrade() else { return };
        let tick = (p.cfg.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        sweep(&p).await;
        if backoff_until.is_none_or(|t| Instant::now() >= t) {
            backoff_until = None;
            if !prewarm(&p, &stop).await {
                backoff_until = Some(Instant::now() + PREWARM_BACKOFF);
            }
        }
        let refill = p.refill.clone();
        drop(p);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = refill.notified() => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// Removes dead processes and initialized processes idle for longer than the idle timeout.
async fn sweep(pool: &Pool) {
    let idle_timeout = pool.cfg.idle_timeout;
    let gone: Vec<Arc<RuntimeProcess>> = {
        let mut st = pool.lock();
        let ids: Vec<_> = st
            .slots
            .iter()
            .filter(|(_, s)| s.active == 0)
            .filter(|(_, s)| match &s.proc {
                Some(p) => !p.is_alive() || (s.key.is_some() && s.last_used.elapsed() >= idle_timeout),
                None => false,
            })
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter().filter_map(|id| st.slots.remove(&id).and_then(|s| s.proc)).collect()
    };
    if gone.is_empty() {
        return;
    }
    for p in gone {
        tracing::debug!(pid = p.pid(), "evicting idle runtime process");
        p.terminate().await;
    }
    pool.changed.notify_waiters();
}

/// Starts stem cells until each kind has its configured count (as far as the budget allows).
/// Returns false if a start failed.
async fn prewarm(pool: &Pool, stop: &CancellationToken) -> bool {
    for &(kind, want) in &pool.cfg.prewarm {
        loop {
            if stop.is_cancelled() {
                return true;
            }
            let id = {
                let mut st = pool.lock();
                let have = st.slots.values().filter(|s| s.key.is_none() && s.kind == kind).count();
                if st.closed || have >= want || st.used_mb() + PREWARM_MEMORY_MB > pool.cfg.user_memory_mb {
                    break;
                }
                st.insert(stem_slot(kind))
            };
            let started = tokio::select! {
                r = RuntimeProcess::spawn(&pool.cfg, kind, PREWARM_MEMORY_MB) => r,
                _ = stop.cancelled() => {
                    pool.lock().slots.remove(&id);
                    return true;
                }
            };
            match started {
                Ok(proc) => {
                    let proc = Arc::new(proc);
                    let placed = match pool.lock().slots.get_mut(&id) {
                        Some(slot) => {
                            slot.proc = Some(proc.clone());
                            slot.last_used = Instant::now();
                            true
                        }
                        None => false,
                    };
                    if !placed {
                        proc.terminate().await;
                    }
                    pool.changed.notify_waiters();
                }
                Err(e) => {
                    tracing::warn!(%kind, error = %e, "cannot start a prewarmed runtime process");
                    pool.lock().slots.remove(&id);
                    pool.changed.notify_waiters();
                    return false;
                }
            }
        }
    }
    true
}

fn stem_slot(kind: RuntimeKind) -> Slot {
    Slot {
        proc: None,
        kind,
        key: None,
        namespace: None,
        memory_mb: PREWARM_MEMORY_MB,
        active: 0,
        max_active: 1,
        last_used: Instant::now(),
    }
}
