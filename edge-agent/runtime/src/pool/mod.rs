//! The warm pool: starts runtime processes, inits them for an action, reuses them for the same action key,
//! keeps prewarmed stem cells, enforces the memory budget and each namespace's share of it, evicts idle
//! processes and kills those above their scratch space.

mod activation;
mod maintenance;
mod scratch;
mod slots;

pub use scratch::scratch_message;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::PoolConfig;
use crate::error::RuntimeError;
use crate::process::Isolation;
use crate::runners;
use crate::types::{ActionSpec, PoolStats, RunContext, RunOutcome, RunStatus};
use slots::State;

/// A pool of runtime processes shared by all activations of one agent.
pub struct Pool {
    cfg: PoolConfig,
    state: Mutex<State>,
    /// Signalled whenever a process frees up or leaves, so waiters for capacity re-check.
    changed: Notify,
    /// Wakes the maintenance task to top up stem cells.
    refill: Arc<Notify>,
    cold_starts: AtomicU64,
    warm_starts: AtomicU64,
    /// Processes the scratch watch killed lately, by action key.
    scratch_kills: scratch::Kills,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Pool {
    /// Prepares the work folder, writes the runner programs, and starts the maintenance task
    /// (idle eviction and prewarm).
    pub async fn start(cfg: PoolConfig) -> Result<Arc<Pool>, RuntimeError> {
        prepare_work_dir(&cfg.work_dir, &cfg.isolation)?;
        runners::write_runners(&cfg.work_dir)?;
        let pool = Arc::new(Pool {
            state: Mutex::new(State::new(cfg.namespace_memory_mb())),
            changed: Notify::new(),
            refill: Arc::new(Notify::new()),
            cold_starts: AtomicU64::new(0),
            warm_starts: AtomicU64::new(0),
            scratch_kills: scratch::Kills::default(),
            stop: CancellationToken::new(),
            task: Mutex::new(None),
            cfg,
        });
        let (weak, stop) = (Arc::downgrade(&pool), pool.stop.clone());
        let handle = tokio::spawn(async move {
            tokio::join!(maintenance::run(weak.clone(), stop.clone()), scratch::run(weak, stop));
        });
        *pool.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        pool.refill.notify_one();
        Ok(pool)
    }

    /// The configuration the pool was started with.
    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    /// Runs one activation of `spec` for `ctx.namespace`, whose share of the memory budget any new process is
    /// charged to. Never panics: every failure becomes an outcome.
    pub async fn run(&self, spec: &ActionSpec, ctx: RunContext) -> RunOutcome {
        let _owner = Owner::new(self, &spec.key, &ctx.namespace);
        let started = Instant::now();
        let mut outcome = activation::run(self, spec, ctx).await;
        if outcome.status == RunStatus::DeveloperError
            && outcome.result["error"] == crate::protocol::MSG_EXITED
            && self.scratch_kills.since(&spec.key, started, outcome.init_time_ms.is_some())
        {
            outcome.result = crate::protocol::error_value(scratch_message(self.cfg.max_scratch_bytes));
        }
        outcome
    }

    /// Memory held by the processes charged to `namespace` (idle ones included).
    pub fn namespace_memory_mb(&self, namespace: &str) -> u64 {
        self.lock().namespace_mb(namespace)
    }

    pub fn stats(&self) -> PoolStats {
        let mut st = self.lock().stats();
        st.cold_starts = self.cold_starts.load(Ordering::Relaxed);
        st.warm_starts = self.warm_starts.load(Ordering::Relaxed);
        st
    }

    /// Stops the maintenance task, kills every process (busy ones too) and removes their folders.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let procs: Vec<_> = {
            let mut st = self.lock();
            st.closed = true;
            st.slots.drain().filter_map(|(_, s)| s.proc).collect()
        };
        self.changed.notify_waiters();
        for p in procs {
            p.terminate().await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks `key` as run for a namespace while an activation of it is under way.
struct Owner<'a> {
    pool: &'a Pool,
    key: &'a str,
}

impl<'a> Owner<'a> {
    fn new(pool: &'a Pool, key: &'a str, namespace: &str) -> Self {
        pool.lock().own(key, namespace);
        Owner { pool, key }
    }
}

impl Drop for Owner<'_> {
    fn drop(&mut self) {
        self.pool.lock().disown(self.key);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Creates the work folder and the agent's private socket folder in it. With isolation on, runtime processes
/// run under uids of their own, so the work folder must be traversable (not listable) by them.
fn prepare_work_dir(dir: &Path, isolation: &Isolation) -> Result<(), RuntimeError> {
    let sockets = crate::process::sockets_dir(dir);
    std::fs::create_dir_all(&sockets).map_err(|source| RuntimeError::Io {
        what: "create",
        path: sockets.clone(),
        source,
    })?;
    runners::set_mode(&sockets, 0o700)?;
    let Isolation::Separate { lock_dir, .. } = isolation else {
        return Ok(());
    };
    crate::process::identity::prepare_lock_dir(lock_dir)?;
    runners::set_mode(dir, 0o711)?;
    let abs = std::fs::canonicalize(dir).map_err(|source| RuntimeError::Io {
        what: "resolve",
        path: dir.to_path_buf(),
        source,
    })?;
    for ancestor in abs.ancestors().skip(1) {
        let meta = std::fs::metadata(ancestor).map_err(|source| RuntimeError::Io {
            what: "stat",
            path: ancestor.to_path_buf(),
            source,
        })?;
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(RuntimeError::WorkDirNotAccessible { path: abs.clone(), blocked: ancestor.to_path_buf() });
        }
    }
    Ok(())
}
