//! Fires a trigger: every linked rule is processed, active ones invoke their action non-blocking, and a trigger activation records each outcome.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::error::InvokeError;
use super::{resolve_action, Resolved};
use crate::entity::activation::new_activation_id;
use crate::entity::common::now_ms;
use crate::entity::{Activation, FullName, KeyVal, KeyValues, Outcome, Response, RuleStatus, Trigger};
use crate::state::AppState;
use crate::store::PendingInvocation;
use crate::throttle::{InFlight, RateKind};

impl AppState {
    /// Fires `trigger` for its owner; `None` when no rule is active (204).
    pub async fn fire(
        self: &Arc<Self>,
        trigger: &Trigger,
        payload: Map<String, Value>,
        headers: Map<String, Value>,
    ) -> Result<Option<String>, InvokeError> {
        let ns = trigger.namespace.clone();
        if let Err(e) = self.throttles.check_rate(RateKind::Fires, &ns, self.settings.limits.fires_per_minute) {
            self.metrics.throttle("fires_per_minute");
            return Err(InvokeError::Throttled(e.0));
        }
        let rules = trigger.rules.clone().unwrap_or_default();
        if !rules.values().any(|l| l.status == RuleStatus::Active) {
            return Ok(None);
        }
        self.metrics.fires.inc();
        let mut args = trigger.parameters.to_object();
        args.insert("__ow_headers".into(), Value::Object(headers));
        args.extend(payload.clone());
        let mut logs = Vec::new();
        let mut starts = Vec::new();
        let mut pending = Vec::new();
        for (rule_id, link) in &rules {
            let action_id = link.action.doc_id();
            if link.status != RuleStatus::Active {
                logs.push(
                    json!({"statusCode": 1, "success": false, "rule": rule_id, "action": action_id,
                        "error": format!("Rule '{rule_id}' is inactive, action '{action_id}' was not activated.")})
                    .to_string(),
                );
                continue;
            }
            let line = match self.admit_rule(&ns, &link.action.path, &link.action.name) {
                Ok((resolved, slot)) => {
                    let id = new_activation_id();
                    pending.push(PendingInvocation {
                        activation_id: id.clone(),
                        caller: ns.clone(),
                        action: format!("/{action_id}"),
                        args: args.clone(),
                    });
                    starts.push((resolved, slot, id.clone()));
                    json!({"statusCode": 0, "success": true, "activationId": id, "rule": rule_id, "action": action_id})
                }
                Err(e) => {
                    let code = if e.is_internal() { 3 } else { 1 };
                    json!({"statusCode": code, "success": false, "rule": rule_id, "action": action_id, "error": e.public_message()})
                }
            };
            logs.push(line.to_string());
        }
        let id = new_activation_id();
        let record = Activation {
            activation_id: id.clone(),
            namespace: ns.clone(),
            name: trigger.name.clone(),
            version: trigger.version.clone(),
            publish: false,
            subject: ns.clone(),
            start: now_ms(),
            end: 0,
            cause: None,
            duration: None,
            response: Response { status: Outcome::Success, result: Value::Object(payload), size: None },
            logs,
            annotations: vec![KeyVal::new("path", json!(format!("{ns}/{}", trigger.name)))],
        };
        // The fire and the invocations it starts are committed together before the fire is answered (or its
        // MQTT message acknowledged). The invocations start while the commit runs: a crash before it ends
        // loses the fire's answer, so its sender fires again, and the invocations run again (at least once).
        let commit = self.activations.queue_fired(record, pending).await?;
        for (resolved, slot, aid) in starts {
            self.start(&ns, resolved, args.clone(), aid, Some(slot));
        }
        commit.durable().await?;
        Ok(Some(id))
    }

    fn admit_rule(&self, ns: &str, path: &str, name: &str) -> Result<(Resolved, InFlight), InvokeError> {
        let (action_ns, pkg) = match path.split_once('/') {
            Some((n, p)) => (n, Some(p)),
            None => (path, None),
        };
        let fqn = FullName::new(action_ns, pkg, name).map_err(|e| InvokeError::Invalid(e.to_string()))?;
        let resolved = resolve_action(&self.store, ns, &fqn)?;
        let slot = self.admit(ns)?;
        Ok((resolved, slot))
    }
}
