//! Runs a conductor action: it is asked which action runs next (`{action, params, state}`) until it answers
//! without one; its `params` are then the result. The record looks like a sequence's, with `conductor: true`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{resolve_action, Lineage, Resolved};
use crate::entity::activation::new_activation_id;
use crate::entity::common::now_ms;
use crate::entity::{Activation, FullName, KeyVal, Outcome, Response};
use crate::state::AppState;

fn object(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

fn failed(a: &Activation) -> bool {
    a.response.status != Outcome::Success || a.response.result.get("error").is_some()
}

impl AppState {
    /// Drives the conductor `r` and builds the composition's record.
    pub(crate) async fn run_conductor(
        self: &Arc<Self>,
        caller: &str,
        r: &Resolved,
        payload: Map<String, Value>,
        id: String,
        lineage: Lineage,
    ) -> Activation {
        let start = now_ms();
        let step = Lineage { cause: Some(id.clone()), conductor_step: true };
        let component = Lineage { cause: Some(id.clone()), conductor_step: false };
        let mut params = payload;
        let mut ids = Vec::new();
        let mut duration = 0u64;
        let limit = self.settings.limits.sequence_max_length * 2 + 1;
        let response = loop {
            let cid = new_activation_id();
            let rec = self.execute(caller, r, params.clone(), cid.clone(), step.clone()).await;
            ids.push(cid);
            duration += rec.end.saturating_sub(rec.start);
            if failed(&rec) {
                break rec.response;
            }
            let out = &rec.response.result;
            let Some(next) = out.get("action").and_then(Value::as_str) else {
                let result = Value::Object(object(out.get("params")));
                break Response { status: Outcome::Success, result, size: None };
            };
            if ids.len() >= limit {
                break Response {
                    status: Outcome::ApplicationError,
                    result: json!({"error": "The conductor action exceeded the allowed number of steps."}),
                    size: None,
                };
            }
            let state = object(out.get("state"));
            let resolved = FullName::parse(next, caller)
                .map_err(|e| e.to_string())
                .and_then(|n| resolve_action(&self.store, caller, &n.resolve(caller)).map_err(|e| e.to_string()));
            let target = match resolved {
                Ok(t) => t,
                Err(e) => {
                    break Response {
                        status: Outcome::ApplicationError,
                        result: json!({"error": format!("Failed to resolve action with name '{next}': {e}")}),
                        size: None,
                    }
                }
            };
            let aid = new_activation_id();
            let done = self.execute(caller, &target, object(out.get("params")), aid.clone(), component.clone()).await;
            ids.push(aid);
            duration += done.end.saturating_sub(done.start).max(done.duration.unwrap_or(0));
            if failed(&done) {
                break done.response;
            }
            params = object(Some(&done.response.result));
            params.extend(state);
        };
        let mut annotations = vec![KeyVal::new(
            if lineage.cause.is_none() { "topmost" } else { "causedBy" },
            if lineage.cause.is_none() { json!(true) } else { json!("sequence") },
        )];
        annotations.push(KeyVal::new("path", json!(r.fqn.doc_id())));
        annotations.push(KeyVal::new("waitTime", json!(0)));
        annotations.push(KeyVal::new("kind", json!("sequence")));
        annotations.push(KeyVal::new("conductor", json!(true)));
        annotations.push(KeyVal::new("limits", serde_json::to_value(r.action.limits).unwrap_or_default()));
        Activation {
            activation_id: id,
            namespace: caller.to_string(),
            name: r.action.name.clone(),
            version: r.action.version.clone(),
            publish: false,
            subject: caller.to_string(),
            start,
            end: now_ms().max(start),
            cause: lineage.cause,
            duration: Some(duration),
            response,
            logs: ids,
            annotations,
        }
    }
}
