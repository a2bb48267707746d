//! Starting a runner process: its folder, clean environment, privilege drop, process group, port handshake.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{watchdog, RuntimeProcess};
use crate::config::PoolConfig;
use crate::error::RuntimeError;
use crate::kind::RuntimeKind;
use crate::logs::{self, LogCapture, Stream};
use crate::runners;

/// uid/gid of `nobody`, used for runtime processes when the agent runs as root.
const NOBODY: u32 = 65534;
/// How long a runner may take to announce its port.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Open-file limit of a runtime process (as the OpenWhisk container ulimit).
const NOFILE_LIMIT: libc::rlim_t = 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// SIGKILL to the process group led by `pid`.
pub(crate) fn kill_group(pid: u32) {
    // SAFETY: plain syscall; a negative pid would address other groups, so reject 0 and overflow.
    if pid > 1 && pid <= i32::MAX as u32 {
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RuntimeError + 'a {
    move |source| RuntimeError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the process folder, private to the runtime user.
fn make_folder(work_dir: &Path, kind: RuntimeKind) -> Result<PathBuf, RuntimeError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let short = match kind {
        RuntimeKind::Nodejs20 => "node",
        RuntimeKind::Python311 => "python",
    };
    let dir = work_dir.join(format!("proc-{}-{id}-{short}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err("chmod", &dir))?;
    if running_as_root() {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).map_err(io_err("chown", &dir))?;
    }
    Ok(dir)
}

/// Heap size for Node: most of the limit, leaving room for code, buffers and the runtime itself.
fn node_heap_mb(memory_mb: u64) -> u64 {
    (memory_mb * 3 / 4).max(32)
}

pub(super) async fn spawn(cfg: &PoolConfig, kind: RuntimeKind, memory_mb: u64) -> Result<RuntimeProcess, RuntimeError> {
    let runner = runners::runner_path(&cfg.work_dir, kind);
    if !runner.exists() {
        runners::write_runners(&cfg.work_dir)?;
    }
    let dir = make_folder(&cfg.work_dir, kind)?;
    // removes the folder if this future is dropped (or fails) before the process owns it
    let mut folder = FolderGuard(Some(dir.clone()));
    let binary = cfg.binary(kind).to_path_buf();
    let mut cmd = tokio::process::Command::new(&binary);
    match kind {
        RuntimeKind::Nodejs20 => cmd
            .arg(format!("--max-old-space-size={}", node_heap_mb(memory_mb)))
            .arg(&runner),
        RuntimeKind::Python311 => cmd.arg("-u").arg("-B").arg(&runner),
    };
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &dir)
        .env("LANG", "C.UTF-8")
        .env("__OW_API_HOST", &cfg.api_host)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if running_as_root() {
        // std drops supplementary groups (setgroups(0)) when a uid is set by root.
        cmd.uid(NOBODY).gid(NOBODY);
    }
    // SAFETY: the closure only calls async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            mark_inherited_fds_cloexec();
            let lim = libc::rlimit {
                rlim_cur: NOFILE_LIMIT,
                rlim_max: NOFILE_LIMIT,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            Ok(())
        });
    }
    let mut child = match spawn_on_stable_thread(cmd).await {
        Ok(c) => c,
        Err(source) => {
            return Err(RuntimeError::Spawn { binary, source });
        }
    };
    let pid = child.id().unwrap_or(0);
    let logs = Arc::new(LogCapture::new(u64::MAX / 4));
    let stop = CancellationToken::new();
    let (port_tx, port_rx) = oneshot::channel();
    let (exit_tx, exit_rx) = watch::channel(false);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(logs::pump(
            BufReader::new(out),
            Stream::Stdout,
            logs.clone(),
            Some(port_tx),
        ));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(logs::pump(BufReader::new(err), Stream::Stderr, logs.clone(), None));
    }
    tokio::spawn(async move {
        let status = child.wait().await;
        tracing::debug!(pid, ?status, "runtime process exited");
        let _ = exit_tx.send(true);
    });
    let memory_limit_mb = Arc::new(AtomicU64::new(memory_mb));
    let memory_killed = Arc::new(AtomicBool::new(false));
    tokio::spawn(watchdog::watch_memory(
        pid,
        memory_limit_mb.clone(),
        memory_killed.clone(),
        exit_rx.clone(),
        stop.clone(),
    ));
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| RuntimeError::Connection(e.to_string()))?;
    folder.0 = None;
    let mut proc = RuntimeProcess {
        kind,
        pid,
        addr: ([127, 0, 0, 1], 0).into(),
        dir,
        client,
        logs,
        memory_limit_mb,
        memory_killed,
        exited: exit_rx.clone(),
        stop,
        max_result_bytes: cfg.max_result_bytes,
        terminated: AtomicBool::new(false),
    };
    let mut exited = exit_rx;
    let port = tokio::select! {
        p = tokio::time::timeout(START_TIMEOUT, port_rx) => match p {
            Ok(Ok(port)) => port,
            Ok(Err(_)) => return Err(fail(proc, "stdout closed before the announcement").await),
            Err(_) => return Err(fail(proc, "timed out").await),
        },
        _ = super::wait_exit(&mut exited) => return Err(fail(proc, "process exited").await),
    };
    proc.addr = ([127, 0, 0, 1], port).into();
    tracing::debug!(pid, %kind, port, "runtime process listening");
    Ok(proc)
}

struct FolderGuard(Option<PathBuf>);

impl Drop for FolderGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

type SpawnJob = Box<dyn FnOnce() + Send>;

/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not the process. Tokio may retire the
/// thread an async task ran on (blocking pool, `block_in_place`), so children are forked from one thread that
/// lives as long as the agent.
async fn spawn_on_stable_thread(mut cmd: tokio::process::Command) -> std::io::Result<tokio::process::Child> {
    static SPAWNER: OnceLock<Option<std::sync::mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
        let started = std::thread::Builder::new()
            .name("fogwhisk-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            });
        started.ok().map(|_| tx)
    });
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = oneshot::channel();
    let job: SpawnJob = Box::new(move || {
        let _runtime = handle.enter();
        let _ = tx.send(cmd.spawn());
    });
    match sender {
        Some(sender) => {
            if let Err(returned) = sender.send(job) {
                // the spawner thread is gone; fork from here rather than fail
                (returned.0)();
            }
        }
        None => job(),
    }
    rx.await
        .unwrap_or_else(|_| Err(std::io::Error::other("runtime spawner thread stopped")))
}

/// Makes every descriptor above stderr close on exec, so nothing the agent (or a library in it) opened
/// without `O_CLOEXEC` reaches the action. Runs between fork and exec: raw syscalls only.
fn mark_inherited_fds_cloexec() {
    // SAFETY: close_range/fcntl only change descriptor flags of this (forked) process.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) == 0 {
            return;
        }
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur.min(65536)
        } else {
            4096
        };
        for fd in 3..top as libc::c_int {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

async fn fail(proc: RuntimeProcess, what: &str) -> RuntimeError {
    let logs = proc.logs.take_activation(Duration::from_millis(200)).await;
    let output: Vec<String> = logs.lines.iter().map(|l| l.text.clone()).take(20).collect();
    proc.terminate().await;
    RuntimeError::NoPort {
        reason: format!("{what}; output: {}", output.join(" | ")),
    }
}
