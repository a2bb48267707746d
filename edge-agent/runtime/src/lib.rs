//! Action runtimes: processes speaking the OpenWhisk action-runtime protocol, and the warm pool that keeps them.
//!
//! # Layout
//! - [`kind`]: the runtime kinds this platform supports (`nodejs:20`, `python:3.11`).
//! - [`config`]: [`PoolConfig`], where binaries and scratch folders live and the pool's limits.
//! - [`types`]: what callers pass in ([`ActionSpec`], [`RunContext`]) and get back ([`RunOutcome`], [`PoolStats`]).
//! - [`process`]: one runtime process ([`RuntimeProcess`]): spawn with a clean environment, port handshake,
//!   memory watchdog, kill of its process group.
//! - [`logs`]: per-process stdout/stderr capture split into activations by the sentinel lines.
//! - [`protocol`]: the `/init` and `/run` request bodies and how replies map to [`RunStatus`].
//! - [`backend`]: the container backend seam ([`backend::Backend`], [`backend::Container`]); local processes
//!   are one implementation.
//! - [`pool`]: the warm pool ([`Pool`]): reuse, stem cells, memory budget, idle eviction.
//!
//! The runner programs themselves (`runtimes/nodejs/runner.js`, `runtimes/python/runner.py`) are embedded
//! with `include_str!` and written into the pool's work folder at start.

pub mod backend;
pub mod config;
pub mod error;
pub mod kind;
pub mod logs;
pub mod pool;
pub mod process;
pub mod protocol;
mod runners;
pub mod types;

pub use config::PoolConfig;
pub use error::RuntimeError;
pub use kind::{supported_kinds, RuntimeKind};
pub use pool::Pool;
pub use process::{HttpReply, Isolation, RuntimeProcess};
pub use types::{ActionSpec, PoolStats, RunContext, RunOutcome, RunStatus};
