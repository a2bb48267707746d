//! What callers hand to the pool ([`ActionSpec`], [`RunContext`]) and what they get back ([`RunOutcome`], [`PoolStats`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::kind::RuntimeKind;

/// The action to run, as far as the runtime layer cares.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Identity for warm reuse, e.g. `guest/pkg/hello@0.0.3`: processes are only reused for the same key.
    pub key: String,
    /// Fully qualified name, e.g. `/guest/pkg/hello`.
    pub name: String,
    pub kind: RuntimeKind,
    /// Source text, or base64 of a zip when `binary`.
    pub code: String,
    pub binary: bool,
    /// Entry point name (`main` by default; `file.fn` for Node zips).
    pub main: String,
    pub memory_mb: u64,
    pub timeout: Duration,
    pub logs_limit_bytes: u64,
    /// Runs allowed at once on one process.
    pub concurrency: u32,
    /// Parameters flagged `init` (already stringified), sent in the `/init` env.
    pub init_env: BTreeMap<String, String>,
}

/// One activation's inputs.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The action's arguments (an object).
    pub params: serde_json::Value,
    pub namespace: String,
    pub action_name: String,
    pub action_version: String,
    pub activation_id: String,
    pub transaction_id: String,
    /// Epoch ms by which the activation must finish.
    pub deadline_ms: u64,
    /// Only when the action has `provide-api-key`.
    pub api_key: Option<String>,
}

/// OpenWhisk activation status (statusCode 0..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Success,
    ApplicationError,
    DeveloperError,
    WhiskError,
}

impl RunStatus {
    /// The `response.status` string of an activation record.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::ApplicationError => "application error",
            RunStatus::DeveloperError => "action developer error",
            RunStatus::WhiskError => "whisk internal error",
        }
    }

    /// The numeric `statusCode`.
    pub fn code(self) -> u8 {
        match self {
            RunStatus::Success => 0,
            RunStatus::ApplicationError => 1,
            RunStatus::DeveloperError => 2,
            RunStatus::WhiskError => 3,
        }
    }
}

/// The result of one activation.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// The action's result; on errors `{"error": ...}`.
    pub result: serde_json::Value,
    /// Formatted OpenWhisk log lines (`<timestamp padded to 30> stdout: text`).
    pub logs: Vec<String>,
    /// Epoch ms when the `/run` (or `/init` on a cold start) began.
    pub start_ms: u64,
    pub end_ms: u64,
    /// Some on a cold start: duration of `/init`.
    pub init_time_ms: Option<u64>,
    /// Time spent waiting for a process or for the memory budget.
    pub wait_time_ms: u64,
    pub timed_out: bool,
    /// Size in bytes of the result as sent by the action.
    pub result_size: usize,
}

/// Counters and gauges of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Live processes (initialized, stem cells and those starting).
    pub live: usize,
    /// Initialized processes running at least one activation.
    pub busy: usize,
    /// Initialized processes running nothing.
    pub idle: usize,
    /// Stem cells (started, not initialized).
    pub prewarmed: usize,
    pub memory_used_mb: u64,
    pub cold_starts: u64,
    pub warm_starts: u64,
}
