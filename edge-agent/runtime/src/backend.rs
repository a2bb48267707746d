//! The container backend seam: what starts a runtime container for a kind and memory limit, and the handle the
//! agent speaks `/init` and `/run` to over the action-runtime protocol. Local runtime processes
//! ([`LocalProcesses`]) are one implementation; Kubernetes pods (crate `fogwhisk-kube`) another.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::config::PoolConfig;
use crate::error::RuntimeError;
use crate::kind::RuntimeKind;
use crate::process::{HttpReply, Protocol, RuntimeProcess};
use crate::types::{ActionSpec, RunContext};

/// A boxed future, so the traits stay object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One started runtime container, ready for `/init` and `/run`.
pub trait Container: Send + Sync {
    /// The runtime kind it runs.
    fn kind(&self) -> RuntimeKind;
    /// `/init` for `spec` in the context of the activation `ctx`, within the action's timeout.
    fn init<'a>(&'a self, spec: &'a ActionSpec, ctx: &'a RunContext) -> BoxFuture<'a, Result<HttpReply, RuntimeError>>;
    /// `/run` with the activation `ctx`.
    fn run<'a>(&'a self, ctx: &'a RunContext, timeout: Duration) -> BoxFuture<'a, Result<HttpReply, RuntimeError>>;
    /// False once the container is known to be gone.
    fn is_alive(&self) -> bool;
    /// Stops the container and frees what it held. Idempotent.
    fn terminate(&self) -> BoxFuture<'_, ()>;
}

/// Starts runtime containers.
pub trait Backend: Send + Sync {
    /// Starts a container of `kind` limited to `memory_mb` and waits until it accepts `/init`.
    fn start<'a>(
        &'a self,
        cfg: &'a PoolConfig,
        kind: RuntimeKind,
        memory_mb: u64,
    ) -> BoxFuture<'a, Result<Box<dyn Container>, RuntimeError>>;
}

/// Today's backend: runtime processes on this host ([`RuntimeProcess`]), speaking `protocol`.
#[derive(Debug, Clone, Copy)]
pub struct LocalProcesses {
    /// How the agent talks to them: the framed protocol of our own runners, or HTTP.
    pub protocol: Protocol,
}

impl Default for LocalProcesses {
    fn default() -> Self {
        LocalProcesses { protocol: Protocol::Framed }
    }
}

impl Backend for LocalProcesses {
    fn start<'a>(
        &'a self,
        cfg: &'a PoolConfig,
        kind: RuntimeKind,
        memory_mb: u64,
    ) -> BoxFuture<'a, Result<Box<dyn Container>, RuntimeError>> {
        Box::pin(async move {
            let proc = RuntimeProcess::spawn_with(cfg, kind, memory_mb, self.protocol).await?;
            Ok(Box::new(proc) as Box<dyn Container>)
        })
    }
}

impl Container for RuntimeProcess {
    fn kind(&self) -> RuntimeKind {
        RuntimeProcess::kind(self)
    }

    fn init<'a>(&'a self, spec: &'a ActionSpec, ctx: &'a RunContext) -> BoxFuture<'a, Result<HttpReply, RuntimeError>> {
        Box::pin(RuntimeProcess::init(self, spec, ctx))
    }

    fn run<'a>(&'a self, ctx: &'a RunContext, timeout: Duration) -> BoxFuture<'a, Result<HttpReply, RuntimeError>> {
        Box::pin(RuntimeProcess::run(self, ctx, timeout))
    }

    fn is_alive(&self) -> bool {
        RuntimeProcess::is_alive(self)
    }

    fn terminate(&self) -> BoxFuture<'_, ()> {
        Box::pin(RuntimeProcess::terminate(self))
    }
}
