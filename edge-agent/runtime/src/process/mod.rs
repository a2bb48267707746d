//! One runtime process: spawned with a clean environment under a uid of its own, in its own process group and
//! folder, reached over HTTP on a private Unix socket with a per-process secret, watched for memory, and ended
//! with everything it started.

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
    client: reqwest::Client,
    logs: Arc<LogCapture>,
    memory_limit_mb: Arc<AtomicU64>,
    memory_killed: Arc<AtomicBool>,
    exited: watch::Receiver<bool>,
    stop: CancellationToken,
    max_result_bytes: usize,
    terminated: AtomicBool,
}

impl RuntimeProcess {
    /// Starts a runner of `kind` limited to `memory_mb`, and waits until it listens.
    pub async fn spawn(cfg: &PoolConfig, kind: RuntimeKind, memory_mb: u64) -> Result<Self, RuntimeError> {
        spawn::spawn(cfg, kind, memory_mb).await
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

    /// `POST /init` for `spec` in the context of the activation `ctx`, within the action's timeout.
    pub async fn init(&self, spec: &ActionSpec, ctx: &RunContext) -> Result<HttpReply, RuntimeError> {
        let body = protocol::init_body(spec, ctx);
        self.post("/init", &body, spec.timeout, usize::MAX / 2).await
    }

    /// `POST /run` with the activation `ctx`.
    pub async fn run(&self, ctx: &RunContext, timeout: Duration) -> Result<HttpReply, RuntimeError> {
        let body = protocol::run_body(ctx);
        self.post("/run", &body, timeout, self.max_result_bytes).await
    }

    /// Posts `body` to `path`; the reply body is kept up to `max_body` bytes (its full size is still counted).
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        timeout: Duration,
        max_body: usize,
    ) -> Result<HttpReply, RuntimeError> {
        let url = format!("http://runtime{path}");
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let exchange = async {
            let mut resp = self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .header(SECRET_HEADER, &self.secret)
                .body(bytes)
                .send()
                .await
                .map_err(|e| RuntimeError::Connection(e.to_string()))?;
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            let mut size = 0usize;
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| RuntimeError::Connection(e.to_string()))?
            {
                size += chunk.len();
                let room = max_body.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(HttpReply { status, body, size })
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
            Err(RuntimeError::Connection(_)) | Err(RuntimeError::Exited) if self.memory_exceeded() => {
                Err(RuntimeError::MemoryExceeded(self.memory_limit_mb()))
            }
            Err(RuntimeError::Connection(msg)) => {
                // A broken connection almost always means the process died; give its exit a moment to land.
                let mut exited = self.exited.clone();
                let died = tokio::time::timeout(Duration::from_millis(500), wait_exit(&mut exited))
                    .await
                    .is_ok();
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
