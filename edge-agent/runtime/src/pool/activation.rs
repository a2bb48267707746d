//! One activation through the pool: get a process (warm, stem cell or new), `/init` when cold, `/run`,
//! collect its logs, map the reply to an outcome, and give the process back or retire it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use serde_json::Value;

use super::slots::{Grant, SlotId};
use super::Pool;
use crate::error::RuntimeError;
use crate::logs::{format_line, Stream};
use crate::process::RuntimeProcess;
use crate::protocol::{self, error_value};
use crate::types::{ActionSpec, RunContext, RunOutcome, RunStatus};

/// How long to wait for remaining output of a process that is already dead.
const DEAD_LOG_WAIT: Duration = Duration::from_millis(300);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn failed(status: RunStatus, error: Value, wait_time_ms: u64) -> RunOutcome {
    let t = now_ms();
    RunOutcome {
        status,
        result: error,
        logs: Vec::new(),
        start_ms: t,
        end_ms: t,
        init_time_ms: None,
        wait_time_ms,
        timed_out: false,
        result_size: 0,
    }
}

/// The process chosen for an activation.
struct Lease<'a> {
    guard: SlotGuard<'a>,
    proc: Option<Arc<RuntimeProcess>>,
    warm: bool,
}

async fn acquire<'a>(
    pool: &'a Pool,
    spec: &ActionSpec,
    deadline: tokio::time::Instant,
) -> Result<Lease<'a>, RunOutcome> {
    let started = Instant::now();
    loop {
        let notified = pool.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let mut evicted = Vec::new();
        let grant = {
            let mut st = pool.lock();
            if st.closed {
                return Err(failed(RunStatus::WhiskError, error_value(RuntimeError::ShutDown.to_string()), 0));
            }
            st.acquire(spec, pool.cfg.user_memory_mb, &mut evicted)
        };
        for p in evicted {
            tracing::debug!(pid = p.pid(), "evicting idle runtime process for capacity");
            p.terminate().await;
        }
        match grant {
            Grant::Warm(id, proc) => {
                let guard = SlotGuard::new(pool, id, spec.concurrency <= 1);
                return Ok(Lease { guard, proc: Some(proc), warm: true });
            }
            Grant::Joined(id) => {
                // if this wait is abandoned, only our run count is given back: the process is someone else's cold start
                let guard = SlotGuard::new(pool, id, false);
                match wait_published(pool, id, deadline).await {
                    Joined::Ready(proc) => {
                        let guard = guard.retiring_on_drop(spec.concurrency <= 1);
                        return Ok(Lease { guard, proc: Some(proc), warm: true });
                    }
                    Joined::Gone => guard.forget(),
                    Joined::TimedOut => {
                        guard.release_now(false);
                        let waited = started.elapsed().as_millis() as u64;
                        let msg = format!("no capacity: the action's runtime process was not ready within {waited} ms");
                        return Err(failed(RunStatus::WhiskError, error_value(msg), waited));
                    }
                }
            }
            Grant::Cold(id, proc) => {
                if proc.is_some() {
                    pool.refill.notify_one();
                }
                let guard = SlotGuard::new(pool, id, true);
                return Ok(Lease { guard, proc, warm: false });
            }
            Grant::TooBig => {
                let msg = format!(
                    "no capacity: the action needs {} MB, more than the {} MB available for actions",
                    spec.memory_mb, pool.cfg.user_memory_mb
                );
                return Err(failed(RunStatus::WhiskError, error_value(msg), 0));
            }
            Grant::Wait => {
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    let waited = started.elapsed().as_millis() as u64;
                    let msg = format!("no capacity: no runtime process became available within {waited} ms");
                    return Err(failed(RunStatus::WhiskError, error_value(msg), waited));
                }
            }
        }
    }
}

enum Joined {
    Ready(Arc<RuntimeProcess>),
    Gone,
    TimedOut,
}

/// Waits until the starting process of slot `id` is initialized and published.
async fn wait_published(pool: &Pool, id: SlotId, deadline: tokio::time::Instant) -> Joined {
    loop {
        let notified = pool.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match pool.lock().joined(id) {
            None => return Joined::Gone,
            Some(Some(proc)) => return Joined::Ready(proc),
            Some(None) => {}
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Joined::TimedOut;
        }
    }
}

/// A run count held on a slot. It must be given back with [`SlotGuard::release`]; if the activation future is
/// dropped half-way (the caller gave up), `Drop` gives it back, retiring the process when it may still be busy
/// with the abandoned run (dropping the last handle kills it).
struct SlotGuard<'a> {
    pool: &'a Pool,
    id: SlotId,
    retire_on_drop: bool,
    done: bool,
}

impl<'a> SlotGuard<'a> {
    fn new(pool: &'a Pool, id: SlotId, retire_on_drop: bool) -> Self {
        SlotGuard { pool, id, retire_on_drop, done: false }
    }

    fn retiring_on_drop(mut self, retire: bool) -> Self {
        self.retire_on_drop = retire;
        self
    }

    /// The slot is gone already: nothing to give back.
    fn forget(mut self) {
        self.done = true;
    }

    /// Gives the run count back without waiting for a kill (the process, if retired, dies with its last handle).
    fn release_now(mut self, retire: bool) {
        self.done = true;
        let gone = self.pool.lock().release(self.id, retire);
        self.pool.changed.notify_waiters();
        drop(gone);
    }

    /// Gives the slot back (or removes it and kills its process) and wakes waiters.
    async fn release(mut self, retire: bool) {
        self.done = true;
        let gone = self.pool.lock().release(self.id, retire);
        if let Some(p) = gone {
            p.terminate().await;
        }
        self.pool.changed.notify_waiters();
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let gone = self.pool.lock().release(self.id, self.retire_on_drop);
            self.pool.changed.notify_waiters();
            drop(gone);
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(action = %spec.name, activation = %ctx.activation_id))]
pub(super) async fn run(pool: &Pool, spec: &ActionSpec, ctx: RunContext) -> RunOutcome {
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let lease = match acquire(pool, spec, deadline).await {
        Ok(l) => l,
        Err(outcome) => return outcome,
    };
    let guard = lease.guard;
    let proc = match lease.proc {
        Some(p) => p,
        None => match RuntimeProcess::spawn(&pool.cfg, spec.kind, spec.memory_mb).await {
            Ok(p) => Arc::new(p),
            Err(e) => {
                tracing::warn!(action = %spec.name, error = %e, "cannot start runtime process");
                guard.release(true).await;
                let msg = format!("Failed to start the action runtime: {e}");
                return failed(RunStatus::WhiskError, error_value(msg), t0.elapsed().as_millis() as u64);
            }
        },
    };
    let wait_time_ms = t0.elapsed().as_millis() as u64;
    if lease.warm {
        pool.warm_starts.fetch_add(1, Ordering::Relaxed);
        return run_on(pool, spec, ctx, guard, proc, now_ms(), None, wait_time_ms).await;
    }
    pool.cold_starts.fetch_add(1, Ordering::Relaxed);
    proc.set_memory_limit_mb(spec.memory_mb);
    proc.logs().discard();
    proc.logs().configure(spec.logs_limit_bytes, spec.concurrency <= 1);
    let start_ms = now_ms();
    let init_started = Instant::now();
    let reply = proc.init(spec, &ctx).await;
    let init_time_ms = init_started.elapsed().as_millis() as u64;
    let init_error = match reply {
        Ok(r) => protocol::interpret_init(&r).err(),
        Err(e) => Some(protocol::failure_value(&e, true)),
    };
    if let Some(error) = init_error {
        let timed_out = matches!(error["error"].as_str(), Some(s) if s.contains("during initialization"));
        let logs = retire_and_collect(pool, spec, guard, &proc, !timed_out && proc.is_alive()).await;
        return RunOutcome {
            status: RunStatus::DeveloperError,
            result: error,
            logs,
            start_ms,
            end_ms: now_ms(),
            init_time_ms: Some(init_time_ms),
            wait_time_ms,
            timed_out,
            result_size: 0,
        };
    }
    // Publish the initialized process so later activations of the same key can reuse it.
    let published = {
        let mut st = pool.lock();
        match st.slots.get_mut(&guard.id) {
            Some(slot) => {
                slot.proc = Some(proc.clone());
                true
            }
            None => false,
        }
    };
    if !published {
        guard.forget();
        proc.terminate().await;
        return failed(RunStatus::WhiskError, error_value(RuntimeError::ShutDown.to_string()), wait_time_ms);
    }
    pool.changed.notify_waiters();
    run_on(pool, spec, ctx, guard, proc, start_ms, Some(init_time_ms), wait_time_ms).await
}

#[allow(clippy::too_many_arguments)]
async fn run_on(
    pool: &Pool,
    spec: &ActionSpec,
    ctx: RunContext,
    guard: SlotGuard<'_>,
    proc: Arc<RuntimeProcess>,
    start_ms: u64,
    init_time_ms: Option<u64>,
    wait_time_ms: u64,
) -> RunOutcome {
    let reply = proc.run(&ctx, spec.timeout).await;
    let (status, result, result_size, timed_out) = match reply {
        Ok(r) => {
            let (status, result) = protocol::interpret_run(&r, pool.cfg.max_result_bytes);
            (status, result, r.size, false)
        }
        Err(e) => {
            let timed_out = matches!(e, RuntimeError::Timeout(_));
            (RunStatus::DeveloperError, protocol::failure_value(&e, false), 0, timed_out)
        }
    };
    // Developer errors (crash, timeout, memory, thrown exception) leave the process in an unknown state.
    let retire = status == RunStatus::DeveloperError || !proc.is_alive();
    let logs = if retire {
        retire_and_collect(pool, spec, guard, &proc, !timed_out && proc.is_alive()).await
    } else {
        let logs = collect(pool, spec, &proc, true).await;
        guard.release(false).await;
        logs
    };
    let result = if result["error"] == protocol::MSG_EXITED && heap_exhausted(&logs) {
        error_value(protocol::memory_message(spec.memory_mb))
    } else {
        result
    };
    RunOutcome { status, result, logs, start_ms, end_ms: now_ms(), init_time_ms, wait_time_ms, timed_out, result_size }
}

/// Node aborts by itself when its heap (sized from the memory limit) is full, before the watchdog sees it.
fn heap_exhausted(logs: &[String]) -> bool {
    logs.iter().any(|l| l.contains("JavaScript heap out of memory"))
}

/// Collects the logs of a failed activation and removes the process from the pool.
/// A process that is still alive and answered gets the sentinel wait first; otherwise it is killed first
/// so its streams close.
async fn retire_and_collect(
    pool: &Pool,
    spec: &ActionSpec,
    guard: SlotGuard<'_>,
    proc: &RuntimeProcess,
    wait: bool,
) -> Vec<String> {
    let logs = if wait {
        let logs = collect(pool, spec, proc, proc.is_alive()).await;
        guard.release(true).await;
        logs
    } else {
        guard.release(true).await;
        collect(pool, spec, proc, false).await
    };
    proc.terminate().await;
    logs
}

async fn collect(pool: &Pool, spec: &ActionSpec, proc: &RuntimeProcess, alive: bool) -> Vec<String> {
    if spec.concurrency > 1 {
        let text =
            "Logs are not collected for actions with concurrency > 1: their output cannot be split by activation.";
        return vec![format_line(Utc::now(), Stream::Stderr, text)];
    }
    let wait = if alive { pool.cfg.sentinel_wait } else { DEAD_LOG_WAIT };
    proc.logs().take_activation(wait).await.into_formatted(spec.logs_limit_bytes)
}
