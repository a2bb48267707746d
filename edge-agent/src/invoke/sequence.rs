//! Runs a sequence: each component's result feeds the next; stops at the first failure; writes the sequence record.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{resolve_action, Lineage, Resolved};
use crate::entity::activation::new_activation_id;
use crate::entity::common::now_ms;
use crate::entity::{Activation, FullName, KeyVal, Outcome, Response};
use crate::state::AppState;

impl AppState {
    /// Runs the components of `seq` in order and builds the sequence's record.
    pub(crate) async fn run_sequence(
        self: &Arc<Self>,
        caller: &str,
        seq: &Resolved,
        payload: Map<String, Value>,
        id: String,
        lineage: Lineage,
    ) -> Activation {
        let start = now_ms();
        let components = seq.action.exec.components.clone().unwrap_or_default();
        let mut input = Value::Object({
            let mut m: Map<String, Value> =
                seq.params.iter().filter(|p| p.key != "_actions").map(|p| (p.key.clone(), p.value.clone())).collect();
            m.extend(payload);
            m
        });
        let mut ids = Vec::new();
        let mut duration = 0u64;
        let mut response = Response { status: Outcome::Success, result: json!({}), size: None };
        let mut end = start;
        for c in &components {
            let resolved = FullName::parse(c, caller)
                .map_err(|e| e.to_string())
                .and_then(|n| resolve_action(&self.store, caller, &n.resolve(caller)).map_err(|e| e.to_string()));
            let component = match resolved {
                Ok(r) => r,
                Err(_) => {
                    response = Response {
                        status: Outcome::ApplicationError,
                        result: json!({"error": format!("Sequence component does not exist: {c}")}),
                        size: None,
                    };
                    break;
                }
            };
            let args = match std::mem::take(&mut input) {
                Value::Object(m) => m,
                other => Map::from_iter([("value".to_string(), other)]),
            };
            let child = new_activation_id();
            let record = self
                .execute(
                    caller,
                    &component,
                    args,
                    child.clone(),
                    Lineage { cause: Some(id.clone()), conductor_step: false },
                )
                .await;
            ids.push(child);
            duration += record.end.saturating_sub(record.start).max(record.duration.unwrap_or(0));
            end = record.end.max(end);
            let failed = record.response.status != Outcome::Success || record.response.result.get("error").is_some();
            response = record.response.clone();
            if failed {
                break;
            }
            input = record.response.result;
        }
        let mut annotations = Vec::new();
        if lineage.cause.is_none() {
            annotations.push(KeyVal::new("topmost", json!(true)));
        } else {
            annotations.push(KeyVal::new("causedBy", json!("sequence")));
        }
        annotations.push(KeyVal::new("path", json!(seq.fqn.doc_id())));
        annotations.push(KeyVal::new("waitTime", json!(0)));
        annotations.push(KeyVal::new("kind", json!("sequence")));
        annotations.push(KeyVal::new("limits", serde_json::to_value(seq.action.limits).unwrap_or_default()));
        if let Some(b) = &seq.binding {
            annotations.push(KeyVal::new("binding", json!(b)));
        }
        Activation {
            activation_id: id,
            namespace: caller.to_string(),
            name: seq.action.name.clone(),
            version: seq.action.version.clone(),
            publish: false,
            subject: caller.to_string(),
            start,
            end: end.max(start),
            cause: lineage.cause,
            duration: Some(duration),
            response,
            logs: ids,
            annotations,
        }
    }
}
