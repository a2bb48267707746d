//! The typed errors of the runtime crate.

use std::path::PathBuf;

/// Everything that can go wrong below the level of an activation outcome.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A runtime kind string that this platform does not support.
    #[error("The specified runtime '{kind}' is not supported by this platform. Valid values are: {valid}")]
    UnsupportedKind { kind: String, valid: String },
    /// A file system operation on the work folder failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The work folder cannot be reached by the unprivileged runtime user.
    #[error("work folder {path} is not traversable by the runtime user (ancestor {blocked} lacks o+x)")]
    WorkDirNotAccessible { path: PathBuf, blocked: PathBuf },
    /// The uid lock folder exists but is not a folder of the agent's own user.
    #[error("uid lock folder {0} is not a folder owned by the agent's user; remove it or choose another")]
    UnsafeLockDir(PathBuf),
    /// Every uid of the range is held by a live runtime process.
    #[error("no free runtime uid in {base}..{base}+{count}: every one is held by a live runtime process")]
    NoFreeUid { base: u32, count: u32 },
    /// The interpreter binary could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The process did not announce that it listens in time or exited before doing so.
    #[error("runtime process did not announce that it listens: {reason}")]
    NoPort { reason: String },
    /// The HTTP exchange with the runtime process failed (connection refused, reset, process died).
    #[error("connection to the runtime process failed: {0}")]
    Connection(String),
    /// The request did not complete within its time limit.
    #[error("the runtime process did not answer within {0} ms")]
    Timeout(u64),
    /// The process exceeded its memory limit and was killed by the watchdog.
    #[error("the runtime process exceeded its memory limit of {0} MB")]
    MemoryExceeded(u64),
    /// The process exited while a request was under way.
    #[error("the runtime process exited unexpectedly")]
    Exited,
    /// The pool has been shut down.
    #[error("the runtime pool is shut down")]
    ShutDown,
}
