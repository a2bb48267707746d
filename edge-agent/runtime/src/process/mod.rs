//! One runtime process: spawned with a clean environment under a uid of its own, in its own process group and
//! folder, reached on a private Unix socket with a per-process secret (framed `/init` and `/run` for Fogwhisk's
//! own runners, or the HTTP action-runtime protocol), watched for memory, and ended with everything it started.

pub mod frame;
pub mod identity;
mod spawn;
mod watchdog;

pub use identity::Isolation;
pub(crate) use spawn::sockets_dir;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::PoolConfig;
use crate::error::RuntimeError;
use crate::kind::RuntimeKind;
use crate::logs::LogCapture;
use crate::protocol;
use crate::types::{ActionSpec, RunContext};

/// The header carrying the per-process secret; a runner answers nothing to a request without it.
pub const SECRET_HEADER: &str = "x-fogwhisk-secret";

/// Resolves once the process has exited (or its waiter is gone).
pub(crate) async fn wait_exit(exited: &mut watch::Receiver<bool>) {
    let _ = exited.wait_for(|e| *e).await;
}

/// How the agent speaks to a runtime process over its private socket (chosen per process at spawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Length-prefixed frames on persistent connections ([`frame`]): Fogwhisk's own runners.
    Framed,
    /// The OpenWhisk action-runtime protocol, HTTP/1.1 `POST /init` and `POST /run` (official runtime images).
    Http,
}

impl Protocol {
    /// The runner's name for it (`FOGWHISK_PROTOCOL`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Framed => "framed",
            Protocol::Http => "http",
        }
    }
}

/// The agent's end of the channel.
pub(crate) enum Channel {
    Framed(frame::FramedChannel),
    Http(reqwest::Client),
}

/// The status and body of a reply from a runtime process.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// The body, cut at the size limit of the request.
    pub body: Vec<u8>,
    /// Full size of the body as sent by the process.
    pub size: usize,
}

/// A started runtime process (see the module docs).
pub struct RuntimeProcess {
    kind: RuntimeKind,
    pid: u32,
    /// The process's own uid (None when isolation is off), and its claim, released at clean-up.
    uid: Option<u32>,
    user: std::sync::Mutex<Option<identity::RuntimeUser>>,
    socket: PathBuf,
    secret: String,
    dir: PathBuf,
    channel: Channel,
    logs: Arc<LogCapture>,
    memory_limit_mb: Arc<AtomicU64>,
    memory_killed: Arc<AtomicBool>,
    exited: watch::Receiver<bool>,
    stop: CancellationToken,
    max_result_bytes: usize,
    terminated: AtomicBool,
}

impl RuntimeProcess {
    /// Starts a runner of `kind` limited to `memory_mb` speaking the framed protocol, and waits until it listens.
    pub async fn spawn(cfg: &PoolConfig, kind: RuntimeKind, memory_mb: u64) -> Result<Self, RuntimeError> {
        spawn::spawn(cfg, kind, memory_mb, Protocol::Framed).await
    }

    /// [`RuntimeProcess::spawn`] with the protocol chosen by the caller.
    pub async fn spawn_with(
        cfg: &PoolConfig,
        kind: RuntimeKind,
        memory_mb: u64,
        protocol: Protocol,
    ) -> Result<Self, RuntimeError> {
        spawn::spawn(cfg, kind, memory_mb, protocol).await
    }

    /// The protocol the process speaks.
    pub fn protocol(&self) -> Protocol {
        match self.channel {
            Channel::Framed(_) => Protocol::Framed,
            Channel::Http(_) => Protocol::Http,
        }
    }

    /// The Unix socket the process serves the protocol on (in a folder only the agent can enter).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The uid the process runs as, when isolation is on.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn kind(&self) -> RuntimeKind {
        self.kind
    }

    /// The process's own folder (its cwd and HOME).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Memory limit enforced by the watchdog.
    pub fn memory_limit_mb(&self) -> u64 {
        self.memory_limit_mb.load(Ordering::Relaxed)
    }

    /// Changes the watchdog limit (a stem cell taking on an action with a smaller limit).
    pub fn set_memory_limit_mb(&self, mb: u64) {
        self.memory_limit_mb.store(mb, Ordering::Relaxed);
    }

    /// True once the watchdog killed the process for exceeding its memory limit.
    pub fn memory_exceeded(&self) -> bool {
        self.memory_killed.load(Ordering::SeqCst)
    }

    pub fn is_alive(&self) -> bool {
        !*self.exited.borrow()
    }

    /// The process's captured output.
    pub fn logs(&self) -> &Arc<LogCapture> {
        &self.logs
    }

    /// `/init` for `spec` in the context of the activation `ctx`, within the action's timeout.
    pub async fn init(&self, spec: &ActionSpec, ctx: &RunContext) -> Result<HttpReply, RuntimeError> {
        let body = protocol::init_body(spec, ctx);
        self.post("/init", &body, spec.timeout, usize::MAX / 2).await
    }

    /// `/run` with the activation `ctx`.
    pub async fn run(&self, ctx: &RunContext, timeout: Duration) -> Result<HttpReply, RuntimeError> {
        self.send("/run", |buf| protocol::write_run_body(ctx, buf), timeout, self.max_result_bytes).await
    }

    /// Sends `body` to `path` (`/init` or `/run`); the reply body is kept up to `max_body` bytes (its full size
    /// is still counted).
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        timeout: Duration,
        max_body: usize,
    ) -> Result<HttpReply, RuntimeError> {
        let write = |buf: &mut Vec<u8>| {
            let _ = serde_json::to_writer(buf, body);
        };
        self.send(path, write, timeout, max_body).await
    }

    async fn send(
        &self,
        path: &str,
        write_body: impl FnOnce(&mut Vec<u8>),
        timeout: Duration,
        max_body: usize,
    ) -> Result<HttpReply, RuntimeError> {
        let exchange = async {
            match &self.channel {
                Channel::Framed(ch) => {
                    let kind = frame::frame_type(path)
                        .ok_or_else(|| RuntimeError::Connection(format!("no frame type for {path}")))?;
                    ch.exchange(kind, write_body, max_body).await
                }
                Channel::Http(client) => {
                    let mut bytes = Vec::with_capacity(512);
                    write_body(&mut bytes);
                    http_exchange(client, &self.secret, path, bytes, max_body).await
                }
            }
        };
        let mut exited = self.exited.clone();
        let result = tokio::select! {
            r = tokio::time::timeout(timeout, exchange) => match r {
                Ok(r) => r,
                Err(_) => Err(RuntimeError::Timeout(timeout.as_millis() as u64)),
            },
            _ = wait_exit(&mut exited) => Err(RuntimeError::Exited),
        };
        match result {
            Err(RuntimeError::Connection(_) | RuntimeError::Exited) if self.memory_exceeded() => {
                Err(RuntimeError::MemoryExceeded(self.memory_limit_mb()))
            }
            Err(RuntimeError::Connection(msg)) => {
                // A broken connection almost always means the process died; give its exit a moment to land.
                let mut exited = self.exited.clone();
                let died = tokio::time::timeout(Duration::from_millis(500), wait_exit(&mut exited)).await.is_ok();
                if self.memory_exceeded() {
                    Err(RuntimeError::MemoryExceeded(self.memory_limit_mb()))
                } else if died {
                    Err(RuntimeError::Exited)
                } else {
                    Err(RuntimeError::Connection(msg))
                }
            }
            other => other,
        }
    }

    /// Kills the process group and everything else the process's uid started, waits for the exit and removes
    /// the folder and socket. Idempotent.
    pub async fn terminate(&self) {
        if self.terminated.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.is_alive() {
            spawn::kill_group(self.pid);
        }
        let mut exited = self.exited.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), wait_exit(&mut exited)).await;
        self.stop.cancel();
        let user = self.user_for_cleanup();
        spawn::on_spawner(spawn::clean_up(user, self.dir.clone(), self.socket.clone())).await;
    }

    /// Takes the uid claim out for the clean-up (the claim is released once its processes are gone).
    fn user_for_cleanup(&self) -> Option<identity::RuntimeUser> {
        self.user.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Kills the process (see [`RuntimeProcess::terminate`]).
    pub async fn kill(self) {
        self.terminate().await;
    }
}

/// One HTTP `POST` of the action-runtime protocol, the secret in [`SECRET_HEADER`].
async fn http_exchange(
    client: &reqwest::Client,
    secret: &str,
    path: &str,
    bytes: Vec<u8>,
    max_body: usize,
) -> Result<HttpReply, RuntimeError> {
    let mut resp = client
        .post(format!("http://runtime{path}"))
        .header("content-type", "application/json")
        .header(SECRET_HEADER, secret)
        .body(bytes)
        .send()
        .await
        .map_err(|e| RuntimeError::Connection(e.to_string()))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let mut size = 0usize;
    while let Some(chunk) = resp.chunk().await.map_err(|e| RuntimeError::Connection(e.to_string()))? {
        size += chunk.len();
        let room = max_body.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(HttpReply { status, body, size })
}

impl Drop for RuntimeProcess {
    fn drop(&mut self) {
        if !self.terminated.swap(true, Ordering::SeqCst) {
            if self.is_alive() {
                spawn::kill_group(self.pid);
            }
            self.stop.cancel();
            spawn::detach_on_spawner(spawn::clean_up(self.user_for_cleanup(), self.dir.clone(), self.socket.clone()));
        }
    }
}
