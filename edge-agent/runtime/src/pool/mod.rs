//! The warm pool: starts runtime processes, inits them for an action, reuses them for the same action key,
//! keeps prewarmed stem cells, enforces the memory budget and evicts idle processes.

mod activation;
mod maintenance;
mod slots;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::PoolConfig;
use crate::error::RuntimeError;
use crate::process::Isolation;
use crate::runners;
use crate::types::{ActionSpec, PoolStats, RunContext, RunOutcome};
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
            cfg,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            refill: Arc::new(Notify::new()),
            cold_starts: AtomicU64::new(0),
            warm_starts: AtomicU64::new(0),
            stop: CancellationToken::new(),
            task: Mutex::new(None),
        });
        let handle = tokio::spawn(maintenance::run(Arc::downgrade(&pool), pool.stop.clone()));
        *pool.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        pool.refill.notify_one();
        Ok(pool)
    }

    /// The configuration the pool was started with.
    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    /// Runs one activation of `spec`. Never panics: every failure becomes an outcome.
    pub async fn run(&self, spec: &ActionSpec, ctx: RunContext) -> RunOutcome {
        activation::run(self, spec, ctx).await
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
            return Err(RuntimeError::WorkDirNotAccessible {
                path: abs.clone(),
                blocked: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}
