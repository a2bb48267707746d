//! `/namespaces/{ns}/packages`: packages and bindings, shared (published) packages, forced delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::entities::{check_key_values, existing_for_put, expect, list_page, next_version, segment};
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, JsonBody, QueryMap};
use super::AppState;
use crate::entity::common::now_ms;
use crate::entity::package::{BindingRef, PackagePut};
use crate::entity::{Collection, Entity, KeyVal, KeyValues, Package};

/// Routes of the packages collection.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/packages", get(list))
        .route("/api/v1/namespaces/{ns}/packages/{name}", get(get_one).put(put).delete(delete))
}

fn row(p: &Package) -> Value {
    json!({
        "namespace": p.namespace, "name": p.name, "version": p.version, "publish": p.publish,
        "annotations": p.annotations,
        "binding": p.binding.as_ref().map(|b| json!({"namespace": b.namespace, "name": b.name})).unwrap_or(json!(false)),
        "updated": p.updated,
    })
}

/// A package document as PUT and DELETE return it.
pub fn package_json(p: &Package) -> Value {
    json!({
        "namespace": p.namespace, "name": p.name, "version": p.version, "publish": p.publish,
        "parameters": p.parameters, "annotations": p.annotations, "binding": p.binding_json(), "updated": p.updated,
    })
}

async fn list(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path(ns): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let ns = c.resolve(&ns)?;
    // As OpenWhisk: the own namespace lists everything, another one its published packages (not bindings);
    // `public` is not a parameter of the controller and is ignored.
    let own = ns == c.namespace;
    let rows = list_page(&s.store, &format!("{ns}/"), "packages", &q, |e| match e {
        Entity::Package(p) if own || (p.publish && p.binding.is_none()) => Some((p.updated, row(&p))),
        _ => None,
    })?;
    Ok(Json(rows))
}

fn load(s: &AppState, id: &str) -> ApiResult<Option<Package>> {
    Ok(match s.store.get(id)? {
        Some(Entity::Package(p)) => Some(p),
        _ => None,
    })
}

/// GET of a package, or of a binding as OpenWhisk's `mergePackageWithBinding` shows it: the binding's own document
/// with the bound package's parameters merged under its own (the binding's win), and the bound package's actions.
async fn get_one(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ns = c.resolve(&ns)?;
    segment(&name)?;
    let own = ns == c.namespace;
    let found = s.store.get(&format!("{ns}/{name}"))?;
    let mut p = match found {
        Some(Entity::Package(p)) if own || (p.publish && p.binding.is_none()) => p,
        _ if !own => return Err(ApiError::Forbidden),
        other => return Err(expect(other, Collection::Packages).err().unwrap_or(ApiError::NotFound)),
    };
    let contents = match p.binding.clone() {
        Some(b) => {
            let bound = load(&s, &format!("{}/{}", b.namespace, b.name))?.ok_or(ApiError::NotFound)?;
            if bound.namespace != c.namespace && !bound.publish {
                return Err(ApiError::Forbidden);
            }
            let mut params = bound.parameters.clone();
            params.merge(&p.parameters);
            p.parameters = params;
            format!("{}/{}/", b.namespace, b.name)
        }
        None => format!("{ns}/{name}/"),
    };
    let (mut actions, mut feeds) = (Vec::new(), Vec::new());
    for e in s.store.list(&contents)? {
        if let Entity::Action(a) = e {
            // WhiskPackageAction: name, version and annotations only (no parameters, no code).
            let v = json!({"name": a.name, "version": a.version, "annotations": a.annotations});
            if a.annotations.get_value("feed").is_some() {
                feeds.push(v);
            } else {
                actions.push(v);
            }
        }
    }
    let mut v = package_json(&p);
    v["actions"] = json!(actions);
    v["feeds"] = json!(feeds);
    Ok(Json(v))
}

fn binding_of(
    s: &AppState,
    caller: &str,
    b: Option<crate::entity::package::BindingPut>,
) -> ApiResult<Option<BindingRef>> {
    let Some(b) = b else { return Ok(None) };
    let (Some(bns), Some(bname)) = (b.namespace, b.name) else {
        return Ok(None);
    };
    let bns = if bns == "_" { caller.to_string() } else { bns };
    segment(&bns)?;
    segment(&bname)?;
    let id = format!("{bns}/{bname}");
    if matches!(s.store.get(&id)?, Some(e) if e.collection() != Collection::Packages) {
        // checkBinding's DocumentTypeMismatchException: the name is an action, trigger or rule.
        return Err(ApiError::Conflict("Cannot bind to a resource that is not a package.".into()));
    }
    match load(s, &id)? {
        Some(t) if t.binding.is_some() => Err(ApiError::bad("Cannot bind to another package binding.")),
        Some(t) if t.namespace == caller || t.publish => Ok(Some(BindingRef { namespace: bns, name: bname })),
        Some(_) => Err(ApiError::Forbidden),
        None => Err(ApiError::bad(format!("Binding references a package that does not exist: /{bns}/{bname}"))),
    }
}

async fn put(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
    q: QueryMap,
    JsonBody(body): JsonBody<PackagePut>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    if name == "default" {
        return Err(ApiError::bad("Package name 'default' is reserved."));
    }
    let overwrite = q.flag("overwrite", false)?;
    if let Some(p) = &body.parameters {
        check_key_values("parameters", p)?;
    }
    if let Some(a) = &body.annotations {
        check_key_values("annotations", a)?;
    }
    let binding = binding_of(&s, &c.namespace, body.binding.clone())?;
    let id = format!("{ns}/{name}");
    let saved = s.store.write(|tx| {
        let old = match existing_for_put(tx.get(&id)?, Collection::Packages, overwrite)? {
            Some(Entity::Package(p)) => Some(p),
            _ => None,
        };
        if matches!((&old, &binding), (Some(o), Some(_)) if o.binding.is_none()) {
            return Err(ApiError::Conflict("Resource is a package and cannot be converted into a binding.".into()));
        }
        // As OpenWhisk: given annotations replace the old ones (no merge), and the `binding` annotation is always
        // the controller's own, whatever the body says; `binding: {}` on a binding keeps it a binding.
        let mut annotations = body.annotations.or(old.as_ref().map(|o| o.annotations.clone())).unwrap_or_default();
        annotations.retain(|kv| kv.key != "binding");
        let binding = binding.or_else(|| old.as_ref().and_then(|o| o.binding.clone()));
        if let Some(b) = &binding {
            annotations.push(KeyVal::new("binding", json!({"namespace": b.namespace, "name": b.name})));
        }
        let p = Package {
            namespace: ns.clone(),
            name: name.clone(),
            version: next_version(old.as_ref().map(|o| o.version.as_str()), body.version)?,
            publish: body.publish.or(old.as_ref().map(|o| o.publish)).unwrap_or(false),
            parameters: body.parameters.or(old.as_ref().map(|o| o.parameters.clone())).unwrap_or_default(),
            annotations,
            binding,
            updated: now_ms(),
        };
        tx.put(&id, &Entity::Package(p.clone()))?;
        Ok::<_, ApiError>(p)
    })?;
    Ok(Json(package_json(&saved)))
}

async fn delete(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let force = q.flag("force", false)?;
    let id = format!("{ns}/{name}");
    let prefix = format!("{id}/");
    let contents: Vec<String> = s
        .store
        .list(&prefix)?
        .into_iter()
        .filter_map(|e| match e {
            Entity::Action(a) => Some(format!("{}/{}", a.namespace, a.name)),
            _ => None,
        })
        .collect();
    let gone = s.store.write(|tx| {
        let e = expect(tx.get(&id)?, Collection::Packages)?;
        if !contents.is_empty() && !force {
            return Err(ApiError::Conflict(format!(
                "Package not empty (contains {} entities). Set force param or delete package contents.",
                contents.len()
            )));
        }
        for a in &contents {
            tx.delete(a)?;
        }
        tx.delete(&id)?;
        Ok::<_, ApiError>(e)
    })?;
    match gone {
        Entity::Package(p) => Ok(Json(package_json(&p))),
        _ => Err(ApiError::NotFound),
    }
}

/// Parameters list helper for system packages.
pub fn params(kvs: &[(&str, Value)]) -> Vec<KeyVal> {
    kvs.iter().map(|(k, v)| KeyVal::new(k, v.clone())).collect()
}
