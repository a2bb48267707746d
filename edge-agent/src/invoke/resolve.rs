//! Finds the action a caller names (directly, in a package, or through a binding) and checks the caller may use it.

use super::error::InvokeError;
use crate::entity::{Action, Entity, FullName, KeyVal, KeyValues, Package};
use crate::store::Store;

/// An action ready to run, with the parameters it inherits.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The action document.
    pub action: Action,
    /// Where the action really lives.
    pub fqn: FullName,
    /// Parameters: package ← binding ← action.
    pub params: Vec<KeyVal>,
    /// `ns/binding` when reached through a binding.
    pub binding: Option<String>,
}

fn load_package(store: &Store, ns: &str, name: &str) -> Result<Option<Package>, InvokeError> {
    match store.get(&format!("{ns}/{name}"))? {
        Some(Entity::Package(p)) => Ok(Some(p)),
        _ => Ok(None),
    }
}

fn load_action(store: &Store, id: &str) -> Result<Action, InvokeError> {
    match store.get(id)? {
        Some(Entity::Action(a)) => Ok(a),
        _ => Err(InvokeError::NotFound),
    }
}

/// Resolves `name` (namespace already resolved) for `caller`; 403 when the caller may not use it.
pub fn resolve_action(store: &Store, caller: &str, name: &FullName) -> Result<Resolved, InvokeError> {
    let own = name.namespace == caller;
    let Some(pkg_name) = &name.package else {
        if !own {
            return Err(InvokeError::Forbidden);
        }
        let action = load_action(store, &name.doc_id())?;
        let params = action.parameters.clone();
        return Ok(Resolved { action, fqn: name.clone(), params, binding: None });
    };
    let pkg = match load_package(store, &name.namespace, pkg_name)? {
        Some(p) if own || (p.publish && p.binding.is_none()) => p,
        Some(_) => return Err(InvokeError::Forbidden),
        None if own => return Err(InvokeError::NotFound),
        None => return Err(InvokeError::Forbidden),
    };
    match &pkg.binding {
        None => {
            let action = load_action(store, &name.doc_id())?;
            let mut params = pkg.parameters.clone();
            params.merge(&action.parameters);
            Ok(Resolved { action, fqn: name.clone(), params, binding: None })
        }
        Some(b) => {
            let bound = load_package(store, &b.namespace, &b.name)?.ok_or(InvokeError::NotFound)?;
            if bound.namespace != caller && !bound.publish {
                return Err(InvokeError::Forbidden);
            }
            let fqn =
                FullName { namespace: b.namespace.clone(), package: Some(b.name.clone()), name: name.name.clone() };
            let action = load_action(store, &fqn.doc_id())?;
            let mut params = bound.parameters.clone();
            params.merge(&pkg.parameters);
            params.merge(&action.parameters);
            Ok(Resolved { action, fqn, params, binding: Some(format!("{}/{}", name.namespace, pkg_name)) })
        }
    }
}

/// Checks a request body against a `final` action's parameters.
pub fn check_final(r: &Resolved, payload: &serde_json::Map<String, serde_json::Value>) -> Result<(), InvokeError> {
    if r.action.annotations.is_truthy("final") && payload.keys().any(|k| r.params.iter().any(|p| &p.key == k)) {
        return Err(InvokeError::Invalid(String::from(
            "Request defines parameters that are not allowed (e.g., reserved properties).",
        )));
    }
    Ok(())
}
