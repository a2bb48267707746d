//! Runs one primitive action in the runtime pool and turns the outcome into an OpenWhisk activation record.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use fogwhisk_runtime::{ActionSpec, RunContext, RunOutcome, RunStatus, RuntimeKind};
use serde_json::{json, Map, Value};

use super::{Lineage, Resolved};
use crate::entity::common::now_ms;
use crate::entity::{Activation, KeyVal, KeyValues, Outcome, Response};
use crate::state::AppState;

/// Stringifies a parameter for an environment value, as OpenWhisk does.
fn env_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn outcome_of(s: RunStatus) -> Outcome {
    match s {
        RunStatus::Success => Outcome::Success,
        RunStatus::ApplicationError => Outcome::ApplicationError,
        RunStatus::DeveloperError => Outcome::DeveloperError,
        RunStatus::WhiskError => Outcome::WhiskError,
    }
}

/// The annotations OpenWhisk writes on a primitive activation.
fn annotations(r: &Resolved, kind: &str, out: &RunOutcome, lineage: &Lineage) -> Vec<KeyVal> {
    let mut a = vec![
        KeyVal::new("path", json!(r.fqn.doc_id())),
        KeyVal::new("waitTime", json!(out.wait_time_ms)),
        KeyVal::new("kind", json!(kind)),
        KeyVal::new("timeout", json!(out.timed_out)),
        KeyVal::new("limits", serde_json::to_value(r.action.limits).unwrap_or_default()),
    ];
    if let Some(t) = out.init_time_ms {
        a.push(KeyVal::new("initTime", json!(t)));
    }
    if lineage.cause.is_some() {
        a.push(KeyVal::new("causedBy", json!("sequence")));
    }
    if let Some(b) = &r.binding {
        a.push(KeyVal::new("binding", json!(b)));
    }
    a
}

impl AppState {
    /// Runs a primitive action and builds its record (not stored here).
    pub(crate) async fn run_primitive(
        self: &Arc<Self>,
        caller: &str,
        r: &Resolved,
        payload: Map<String, Value>,
        id: String,
        lineage: Lineage,
    ) -> Activation {
        let action = &r.action;
        let mut args: Map<String, Value> = Map::new();
        let mut init_env = BTreeMap::new();
        for p in &r.params {
            if p.init {
                init_env.insert(p.key.clone(), env_string(&p.value));
            } else {
                args.insert(p.key.clone(), p.value.clone());
            }
        }
        args.extend(payload);
        let outcome = if action.exec.kind == crate::builtin::BUILTIN_KIND {
            let main = action.exec.main.clone().unwrap_or_default();
            self.run_builtin(caller, &main, args).await
        } else {
            self.run_runtime(caller, r, args, init_env, &id).await
        };
        let kind = RuntimeKind::from_str(&action.exec.kind)
            .map(|k| k.as_str().to_string())
            .unwrap_or_else(|_| action.exec.kind.clone());
        let elapsed = outcome.end_ms.saturating_sub(outcome.start_ms);
        self.metrics.latency.observe((elapsed + outcome.wait_time_ms) as f64 / 1000.0);
        Activation {
            activation_id: id,
            namespace: caller.to_string(),
            name: action.name.clone(),
            version: action.version.clone(),
            publish: false,
            subject: caller.to_string(),
            start: outcome.start_ms,
            end: outcome.end_ms.max(outcome.start_ms),
            cause: lineage.cause.clone(),
            duration: None,
            annotations: annotations(r, &kind, &outcome, &lineage),
            response: Response {
                status: outcome_of(outcome.status),
                result: outcome.result,
                size: Some(outcome.result_size),
            },
            logs: outcome.logs,
        }
    }

    /// Runs a runtime-kind action in the pool.
    async fn run_runtime(
        self: &Arc<Self>,
        caller: &str,
        r: &Resolved,
        args: Map<String, Value>,
        init_env: BTreeMap<String, String>,
        id: &str,
    ) -> RunOutcome {
        let action = &r.action;
        let fqn = r.fqn.to_string();
        let limits = action.limits;
        match RuntimeKind::from_str(&action.exec.kind) {
            Ok(kind) => {
                let spec = ActionSpec {
                    // Keyed by the caller too: a shared package's action invoked from B and from C runs in
                    // processes of B and of C, never one process carrying module state and keys between them.
                    key: format!("{caller}|{}@{}#{}", r.fqn.doc_id(), action.version, action.updated),
                    name: fqn.clone(),
                    kind,
                    code: action.exec.code.clone().unwrap_or_default(),
                    binary: action.exec.binary.unwrap_or(false),
                    main: action.exec.main.clone().unwrap_or_else(|| "main".into()),
                    memory_mb: limits.memory,
                    timeout: Duration::from_millis(limits.timeout),
                    logs_limit_bytes: limits.logs * 1024 * 1024,
                    concurrency: limits.concurrency,
                    init_env,
                };
                // A missing annotation counts as true (legacy actions); new ones get `false` on create.
                let provide_key =
                    action.annotations.get_value("provide-api-key").is_none_or(crate::entity::common::truthy);
                let api_key = if provide_key { self.identities.credentials(caller).map(|c| c.to_auth()) } else { None };
                let ctx = RunContext {
                    params: Value::Object(args),
                    namespace: caller.to_string(),
                    action_name: fqn.clone(),
                    action_version: action.version.clone(),
                    activation_id: id.to_string(),
                    transaction_id: crate::api::error::transaction_id(),
                    deadline_ms: now_ms() + limits.timeout,
                    api_key,
                };
                self.pool.run(&spec, ctx).await
            }
            Err(_) => unsupported(&action.exec.kind),
        }
    }
}

fn unsupported(kind: &str) -> RunOutcome {
    let now = now_ms();
    RunOutcome {
        status: RunStatus::DeveloperError,
        result: json!({"error": format!("The runtime '{kind}' is not supported by this platform.")}),
        logs: vec![],
        start_ms: now,
        end_ms: now,
        init_time_ms: None,
        wait_time_ms: 0,
        timed_out: false,
        result_size: 0,
    }
}
