//! [`PoolConfig`]: where the interpreters and scratch folders are, and the pool's limits.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kind::RuntimeKind;
use crate::process::Isolation;

/// Settings of a [`crate::Pool`] (and of a single [`crate::RuntimeProcess`]).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Scratch folder: runner scripts plus one sub-folder per process (removed when the process ends).
    /// With isolation on, every ancestor must be traversable by others (o+x), since the runtime processes
    /// run under uids of their own; keep it outside the agent's 0700 data folder.
    pub work_dir: PathBuf,
    /// Node.js 20 interpreter.
    pub node_bin: PathBuf,
    /// Python 3.11 interpreter.
    pub python_bin: PathBuf,
    /// Exported as `__OW_API_HOST` at process start.
    pub api_host: String,
    /// Budget for all live processes (sum of their action memory limits).
    pub user_memory_mb: u64,
    /// Share of `user_memory_mb` the processes of one namespace (the caller's) may hold, 0 < share <= 1.
    /// A namespace at its share waits for one of its own processes, as it would for the whole budget.
    pub namespace_memory_share: f64,
    /// Idle initialized processes are evicted after this long.
    pub idle_timeout: Duration,
    /// Stem-cell processes kept started but not initialized, per kind.
    pub prewarm: Vec<(RuntimeKind, usize)>,
    /// Largest result accepted from `/run`.
    pub max_result_bytes: usize,
    /// How long to wait for the log sentinels after `/run` returned.
    pub sentinel_wait: Duration,
    /// How runtime processes are kept apart from the agent and each other (detected by default).
    pub isolation: Isolation,
    /// Largest file a runtime process may write (`RLIMIT_FSIZE`).
    pub max_file_bytes: u64,
    /// Processes and threads of one runtime process's uid (`RLIMIT_NPROC`, with isolation on).
    pub max_tasks: u64,
    /// Disk (and tmpfs) space one runtime process may fill: its folder, what its uid owns in the temp folders,
    /// and deleted files it holds open. Measured every [`SCRATCH_PERIOD`]; a process above it is killed.
    pub max_scratch_bytes: u64,
}

/// How often the scratch space of every runtime process is measured.
pub const SCRATCH_PERIOD: Duration = Duration::from_millis(250);

/// Memory charged to the budget for a stem cell (its heap is sized for this).
pub const PREWARM_MEMORY_MB: u64 = 256;

impl PoolConfig {
    /// Defaults, with `node` and `python3.11`/`python3` looked up on `PATH`.
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        PoolConfig {
            work_dir: work_dir.into(),
            node_bin: find_on_path(&["node", "nodejs"]).unwrap_or_else(|| PathBuf::from("/usr/bin/node")),
            python_bin: find_on_path(&["python3.11", "python3"]).unwrap_or_else(|| PathBuf::from("/usr/bin/python3")),
            api_host: "http://127.0.0.1:3233".to_string(),
            user_memory_mb: 2048,
            namespace_memory_share: 0.5,
            idle_timeout: Duration::from_secs(600),
            prewarm: vec![(RuntimeKind::Nodejs20, 1)],
            max_result_bytes: 1024 * 1024,
            sentinel_wait: Duration::from_secs(2),
            isolation: Isolation::detect(),
            max_file_bytes: 256 * 1024 * 1024,
            max_tasks: 256,
            max_scratch_bytes: 512 * 1024 * 1024,
        }
    }

    /// Memory the processes of one namespace may hold: its share of the budget, at least one MB.
    pub fn namespace_memory_mb(&self) -> u64 {
        let share = self.namespace_memory_share;
        let share = if share.is_finite() { share.clamp(0.0, 1.0) } else { 1.0 };
        ((self.user_memory_mb as f64 * share) as u64).max(1)
    }

    /// The interpreter for `kind`.
    pub fn binary(&self, kind: RuntimeKind) -> &Path {
        match kind {
            RuntimeKind::Nodejs20 => &self.node_bin,
            RuntimeKind::Python311 => &self.python_bin,
        }
    }
}

/// First executable file named one of `names` in a `PATH` folder. Version-manager shims (pyenv, nvm, asdf)
/// are skipped: they are scripts that need the caller's environment and home, which runtime processes do not get.
fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let text = dir.to_string_lossy();
            if text.contains("/shims")
                || text.contains("/.pyenv/")
                || text.contains("/.nvm/")
                || text.contains("/.asdf/")
            {
                continue;
            }
            let candidate = dir.join(name);
            if let Ok(meta) = std::fs::metadata(&candidate) {
                if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                    return Some(candidate);
                }
            }
        }
    }
    None
}
