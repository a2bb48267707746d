//! Starting a runner process: its own uid and folder, clean environment, resource limits, process group, and
//! the private channel (a Unix socket the agent binds in a folder only it can enter, plus a per-process secret).

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::identity::{self, Isolation, RuntimeUser};
use super::{frame, watchdog, Channel, Protocol, RuntimeProcess};
use crate::config::PoolConfig;
use crate::error::RuntimeError;
use crate::kind::RuntimeKind;
use crate::logs::{self, LogCapture, Stream};
use crate::runners;

/// How long a runner may take to announce that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Open-file limit of a runtime process (as the OpenWhisk container ulimit).
const NOFILE_LIMIT: libc::rlim_t = 1024;
/// Log bytes a process may buffer before an activation has configured its own limit.
const DEFAULT_LOG_CAP: u64 = 10 * 1024 * 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// SIGKILL to the process group led by `pid`.
pub(crate) fn kill_group(pid: u32) {
    // a negative pid would address other groups, so reject 0 and overflow
    if pid > 1 && pid <= i32::MAX as u32 {
        // SAFETY: plain syscall on a positive process group id.
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RuntimeError + 'a {
    move |source| RuntimeError::Io { what, path: path.to_path_buf(), source }
}

/// The folder of the agent's sockets to its runtime processes: the agent's alone (0700).
pub(crate) fn sockets_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("sockets")
}

/// Creates the process folder, private to the process's user.
fn make_folder(work_dir: &Path, id: u64, kind: RuntimeKind, uid: Option<u32>) -> Result<PathBuf, RuntimeError> {
    let short = match kind {
        RuntimeKind::Nodejs20 => "node",
        RuntimeKind::Python311 => "python",
    };
    let dir = work_dir.join(format!("proc-{}-{id}-{short}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err("chmod", &dir))?;
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).map_err(io_err("chown", &dir))?;
    }
    Ok(dir)
}

/// 32 random bytes, hex: the secret every request to one runtime process carries.
fn new_secret() -> String {
    let mut buf = [0u8; 32];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, buf.len() as isize, "the kernel's random source failed");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Heap size for Node: most of the limit, leaving room for code, buffers and the runtime itself.
fn node_heap_mb(memory_mb: u64) -> u64 {
    (memory_mb * 3 / 4).max(32)
}

pub(super) async fn spawn(
    cfg: &PoolConfig,
    kind: RuntimeKind,
    memory_mb: u64,
    protocol: Protocol,
) -> Result<RuntimeProcess, RuntimeError> {
    let runner = runners::runner_path(&cfg.work_dir, kind);
    if !runner.exists() {
        runners::write_runners(&cfg.work_dir)?;
    }
    let user = match &cfg.isolation {
        Isolation::Separate { uid_base, uid_count, lock_dir } => {
            identity::prepare_lock_dir(lock_dir)?;
            Some(claim_clean_user(*uid_base, *uid_count, lock_dir).await?)
        }
        Isolation::Shared => None,
    };
    let uid = user.as_ref().map(|u| u.uid);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let dir = make_folder(&cfg.work_dir, id, kind, uid)?;
    let sockets = sockets_dir(&cfg.work_dir);
    if !sockets.is_dir() {
        std::fs::create_dir_all(&sockets).map_err(io_err("create", &sockets))?;
        runners::set_mode(&sockets, 0o700)?;
    }
    let socket = sockets.join(format!("{}-{id}.sock", std::process::id()));
    // removes the folder and socket if this future is dropped (or fails) before the process owns them
    let mut folder = FolderGuard(Some((dir.clone(), socket.clone())));
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket).map_err(io_err("bind", &socket))?;
    let listen_fd = listener.as_raw_fd();
    let secret = new_secret();
    let binary = cfg.binary(kind).to_path_buf();
    let mut cmd = tokio::process::Command::new(&binary);
    match kind {
        RuntimeKind::Nodejs20 => cmd.arg(format!("--max-old-space-size={}", node_heap_mb(memory_mb))).arg(&runner),
        RuntimeKind::Python311 => cmd.arg("-u").arg("-B").arg(&runner),
    };
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &dir)
        .env("LANG", "C.UTF-8")
        .env("__OW_API_HOST", &cfg.api_host)
        .env("FOGWHISK_LISTEN_FD", listen_fd.to_string())
        .env("FOGWHISK_SECRET", &secret)
        .env("FOGWHISK_PROTOCOL", protocol.as_str())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(uid) = uid {
        // std drops supplementary groups (setgroups(0)) when a uid is set by root.
        cmd.uid(uid).gid(uid);
    }
    let limits = Limits { nofile: NOFILE_LIMIT, fsize: cfg.max_file_bytes, nproc: uid.map(|_| cfg.max_tasks) };
    // SAFETY: the closure only calls async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            mark_inherited_fds_cloexec();
            // the one descriptor the runner gets: its listening socket
            if libc::fcntl(listen_fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            limits.apply();
            Ok(())
        });
    }
    let spawned = on_spawner(move || {
        let mut cmd = cmd;
        cmd.spawn()
    })
    .await;
    // the child holds the listening socket now; the agent only connects to its path
    drop(listener);
    let mut child = match spawned {
        Ok(c) => c,
        Err(source) => {
            return Err(RuntimeError::Spawn { binary, source });
        }
    };
    let pid = child.id().unwrap_or(0);
    let logs = Arc::new(LogCapture::new(DEFAULT_LOG_CAP));
    let stop = CancellationToken::new();
    let (port_tx, port_rx) = oneshot::channel();
    let (exit_tx, exit_rx) = watch::channel(false);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(logs::pump(BufReader::new(out), Stream::Stdout, logs.clone(), Some(port_tx)));
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
        watchdog::Target { pid, uid },
        memory_limit_mb.clone(),
        memory_killed.clone(),
        exit_rx.clone(),
        stop.clone(),
    ));
    let channel = match protocol {
        Protocol::Framed => Channel::Framed(frame::FramedChannel::new(socket.clone(), secret.clone())),
        Protocol::Http => Channel::Http(
            reqwest::Client::builder()
                .unix_socket(socket.clone())
                .pool_idle_timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| RuntimeError::Connection(e.to_string()))?,
        ),
    };
    folder.0 = None;
    let proc = RuntimeProcess {
        kind,
        pid,
        uid,
        user: std::sync::Mutex::new(user),
        socket,
        secret,
        dir,
        channel,
        logs,
        memory_limit_mb,
        memory_killed,
        exited: exit_rx.clone(),
        stop,
        max_result_bytes: cfg.max_result_bytes,
        terminated: AtomicBool::new(false),
    };
    let mut exited = exit_rx;
    tokio::select! {
        p = tokio::time::timeout(START_TIMEOUT, port_rx) => match p {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Err(fail(proc, "stdout closed before the announcement").await),
            Err(_) => return Err(fail(proc, "timed out").await),
        },
        _ = super::wait_exit(&mut exited) => return Err(fail(proc, "process exited").await),
    };
    tracing::debug!(pid, %kind, ?uid, protocol = protocol.as_str(), "runtime process listening");
    Ok(proc)
}

/// Claims a uid with no process left on it: whatever a crashed agent or a retired process left under it is
/// killed first, and a uid whose processes have not yet been reaped (they still count against its task limit)
/// is passed over for now.
async fn claim_clean_user(base: u32, count: u32, lock_dir: &Path) -> Result<RuntimeUser, RuntimeError> {
    for _ in 0..16 {
        let user = identity::claim(base, count, lock_dir)?;
        let uid = user.uid;
        let clean = on_spawner(move || identity::reap(uid, None) && identity::pids_of(uid).is_empty()).await;
        if clean {
            return Ok(user);
        }
        tracing::debug!(uid, "runtime uid still has processes being reaped; taking another");
    }
    Err(RuntimeError::NoFreeUid { base, count })
}

/// The resource limits of one runtime process, set between fork and exec.
#[derive(Clone, Copy)]
struct Limits {
    nofile: libc::rlim_t,
    fsize: u64,
    /// Processes and threads of the process's own uid (only when the uid is the process's alone).
    nproc: Option<u64>,
}

impl Limits {
    /// Raw setrlimit calls only (runs in the forked child).
    fn apply(self) {
        let set = |res, v: libc::rlim_t| {
            let lim = libc::rlimit { rlim_cur: v, rlim_max: v };
            // SAFETY: setrlimit with a valid struct.
            unsafe { libc::setrlimit(res, &lim) };
        };
        set(libc::RLIMIT_NOFILE, self.nofile);
        set(libc::RLIMIT_CORE, 0);
        set(libc::RLIMIT_FSIZE, self.fsize as libc::rlim_t);
        if let Some(n) = self.nproc {
            set(libc::RLIMIT_NPROC, n as libc::rlim_t);
        }
    }
}

struct FolderGuard(Option<(PathBuf, PathBuf)>);

impl Drop for FolderGuard {
    fn drop(&mut self) {
        if let Some((dir, socket)) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Ends everything `user` started and removes the process's folder and socket. Runs on the spawner thread
/// (its credential switch must not share a thread with anything else).
pub(crate) fn clean_up(user: Option<RuntimeUser>, dir: PathBuf, socket: PathBuf) -> impl FnOnce() + Send + 'static {
    move || {
        if let Some(user) = &user {
            identity::reap(user.uid, Some(&dir));
        }
        let _ = std::fs::remove_file(&socket);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove runtime folder");
            }
        }
        drop(user);
    }
}

type SpawnJob = Box<dyn FnOnce() + Send>;

/// The one long-lived thread that forks runtime processes and switches credentials to clean up after them.
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not the process, and tokio may retire
/// the thread an async task ran on (blocking pool, `block_in_place`); and a per-thread credential switch must
/// not share its thread with other work.
fn spawner() -> Option<&'static std::sync::mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Option<std::sync::mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
            let started = std::thread::Builder::new().name("fogwhisk-spawner".into()).spawn(move || {
                for job in rx {
                    job();
                }
            });
            started.ok().map(|_| tx)
        })
        .as_ref()
}

/// Runs `job` on the spawner thread without waiting (for `Drop`).
pub(crate) fn detach_on_spawner(job: impl FnOnce() + Send + 'static) {
    match spawner() {
        Some(tx) => {
            if let Err(returned) = tx.send(Box::new(job)) {
                (returned.0)();
            }
        }
        None => job(),
    }
}

/// Runs `job` on the spawner thread (inside this tokio runtime's context) and waits for its result.
pub(crate) async fn on_spawner<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = oneshot::channel();
    detach_on_spawner(move || {
        let _runtime = handle.enter();
        let _ = tx.send(job());
    });
    rx.await.expect("the spawner thread runs every job it accepts")
}

/// Makes every descriptor above stderr close on exec, so nothing the agent (or a library in it) opened
/// without `O_CLOEXEC` reaches the action. Runs between fork and exec: raw syscalls only.
fn mark_inherited_fds_cloexec() {
    // SAFETY: close_range/fcntl only change descriptor flags of this (forked) process.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) == 0 {
            return;
        }
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 { lim.rlim_cur.min(65536) } else { 4096 };
        for fd in 3..top as libc::c_int {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

async fn fail(proc: RuntimeProcess, what: &str) -> RuntimeError {
    let logs = proc.logs.take_activation(Duration::from_millis(200)).await;
    let output: Vec<String> = logs.lines.iter().map(|l| l.text.clone()).take(20).collect();
    proc.terminate().await;
    RuntimeError::NoPort { reason: format!("{what}; output: {}", output.join(" | ")) }
}
