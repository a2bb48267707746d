//! Builds an action document from a PUT body: exec and kind checks, limits ranges, sequence validation, merging onto the old version.

use std::collections::HashSet;
use std::str::FromStr;

use fogwhisk_runtime::{supported_kinds, RuntimeKind};
use serde_json::json;

use super::entities::{check_key_values, merge_annotations, next_version};
use super::error::ApiError;
use crate::entity::action::{is_binary_code, ExecPut, LimitsPut};
use crate::entity::common::now_ms;
use crate::entity::{Action, ActionPut, Entity, Exec, FullName, KeyVal, KeyValues, Limits};
use crate::state::AppState;

fn malformed(msg: String) -> ApiError {
    ApiError::bad(format!("The request content was malformed:\n{msg}"))
}

fn apply_limits(base: Limits, put: Option<LimitsPut>, max_concurrency: u32) -> Result<Limits, ApiError> {
    let Some(p) = put else { return Ok(base) };
    let l = Limits {
        timeout: p.timeout.unwrap_or(base.timeout),
        memory: p.memory.unwrap_or(base.memory),
        logs: p.logs.unwrap_or(base.logs),
        concurrency: p.concurrency.unwrap_or(base.concurrency),
    };
    if !(100..=300_000).contains(&l.timeout) {
        return Err(malformed(format!("timeout {} ms is outside the allowed range of 100 to 300000 ms", l.timeout)));
    }
    if !(128..=512).contains(&l.memory) {
        return Err(malformed(format!("memory {} MB is outside the allowed range of 128 to 512 MB", l.memory)));
    }
    if l.logs > 10 {
        return Err(malformed(format!("logs {} MB is outside the allowed range of 0 to 10 MB", l.logs)));
    }
    if l.concurrency < 1 || l.concurrency > max_concurrency {
        return Err(malformed(format!(
            "concurrency {} is outside the allowed range of 1 to {max_concurrency}",
            l.concurrency
        )));
    }
    Ok(l)
}

fn unsupported_kind(kind: &str) -> ApiError {
    let mut valid: Vec<&str> = supported_kinds().to_vec();
    valid.extend(["nodejs:default", "python:default", "sequence"]);
    ApiError::bad(format!(
        "The specified runtime '{kind}' is not supported by this platform. Valid values are: {}.",
        valid.join(", ")
    ))
}

impl AppState {
    fn build_exec(&self, caller: &str, me: &FullName, e: ExecPut) -> Result<Exec, ApiError> {
        if e.kind == "sequence" {
            let comps = e.components.unwrap_or_default();
            if comps.is_empty() {
                return Err(ApiError::bad("No component specified for the sequence."));
            }
            let mut resolved = Vec::new();
            for c in &comps {
                let n = FullName::parse(c, caller).map_err(|_| ApiError::bad("Sequence component does not exist."))?;
                resolved.push(n.resolve(caller).to_string());
            }
            let atoms = self.count_atoms(caller, me, &resolved, &mut HashSet::new())?;
            if atoms > self.settings.limits.sequence_max_length {
                return Err(ApiError::bad("Too many actions in the sequence."));
            }
            return Ok(Exec { kind: e.kind, components: Some(resolved), ..Default::default() });
        }
        let kind = RuntimeKind::from_str(&e.kind).map_err(|_| unsupported_kind(&e.kind))?;
        let code = e.code.filter(|c| !c.trim().is_empty()).ok_or_else(|| malformed("exec.code is missing".into()))?;
        let binary = is_binary_code(&code);
        Ok(Exec {
            kind: kind.as_str().into(),
            binary: Some(binary),
            code: Some(code),
            main: e.main,
            ..Default::default()
        })
    }

    /// Counts the atomic actions under sequence `comps`, refusing missing components and cycles.
    fn count_atoms(
        &self,
        caller: &str,
        me: &FullName,
        comps: &[String],
        seen: &mut HashSet<String>,
    ) -> Result<usize, ApiError> {
        let mut n = 0;
        for c in comps {
            let name = FullName::parse(c, caller).map_err(|_| ApiError::bad("Sequence component does not exist."))?;
            if name.doc_id() == me.doc_id() {
                return Err(ApiError::bad("Sequence may not refer to itself."));
            }
            let r = crate::invoke::resolve_action(&self.store, caller, &name)
                .map_err(|_| ApiError::bad("Sequence component does not exist."))?;
            match r.action.exec.components {
                Some(inner) if r.action.exec.is_sequence() => {
                    if !seen.insert(r.fqn.doc_id()) {
                        return Err(ApiError::bad("Sequence may not refer to itself."));
                    }
                    n += self.count_atoms(caller, me, &inner, seen)?;
                }
                _ => n += 1,
            }
        }
        Ok(n)
    }

    /// The new action document for `name` from `put`, given the old one (if overwriting).
    pub(crate) fn action_from_put(
        &self,
        caller: &str,
        name: &FullName,
        old: Option<&Action>,
        put: ActionPut,
    ) -> Result<Action, ApiError> {
        let max_c = self.settings.limits.max_action_concurrency;
        if let Some(p) = &put.parameters {
            check_key_values("parameters", p)?;
        }
        if let Some(a) = &put.annotations {
            check_key_values("annotations", a)?;
        }
        let exec = match (put.exec, old) {
            (Some(e), _) => self.build_exec(caller, name, e)?,
            (None, Some(o)) => o.exec.clone(),
            (None, None) => return Err(ApiError::bad("exec undefined")),
        };
        let base_limits = old.map(|o| o.limits).unwrap_or_default();
        let limits = apply_limits(base_limits, put.limits, max_c)?;
        let mut parameters = match (put.parameters, old) {
            (Some(p), _) => p,
            (None, Some(o)) => o.parameters.clone(),
            (None, None) => vec![],
        };
        if exec.is_sequence() {
            let comps = exec.components.clone().unwrap_or_default();
            parameters.retain(|p| p.key != "_actions");
            parameters.push(KeyVal::new("_actions", json!(comps)));
        }
        let mut annotations = merge_annotations(
            old.map(|o| o.annotations.as_slice()).unwrap_or(&[]),
            put.annotations,
            put.del_annotations,
        );
        annotations.set("exec", json!(if exec.is_sequence() { "sequence" } else { exec.kind.as_str() }));
        if old.is_none() && annotations.get_value("provide-api-key").is_none() {
            annotations.push(KeyVal::new("provide-api-key", json!(false)));
        }
        Ok(Action {
            namespace: name.path(),
            name: name.name.clone(),
            version: next_version(old.map(|o| o.version.as_str()), put.version)?,
            publish: put.publish.or(old.map(|o| o.publish)).unwrap_or(false),
            exec,
            parameters,
            limits,
            annotations,
            updated: now_ms(),
        })
    }

    /// Checks the package an action is put into: it must exist and not be a binding.
    pub(crate) fn check_action_package(&self, name: &FullName) -> Result<(), ApiError> {
        let Some(pkg) = name.package_name() else { return Ok(()) };
        match self.store.get(&pkg.doc_id())? {
            Some(Entity::Package(p)) if p.binding.is_some() => {
                Err(ApiError::bad("Operation not permitted on package binding."))
            }
            Some(Entity::Package(_)) => Ok(()),
            _ => Err(ApiError::NotFound),
        }
    }
}
