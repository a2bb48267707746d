//! `/namespaces/{ns}/rules`: rules linking a trigger to an action; their status lives on the trigger.

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
use crate::entity::trigger::{RefPut, RulePut};
use crate::entity::{Collection, Entity, FullName, PathName, Rule, RuleLink, RuleStatus};
use crate::invoke::resolve_action;
use crate::store::EntityTx;

/// Routes of the rules collection.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/rules", get(list))
        .route("/api/v1/namespaces/{ns}/rules/{name}", get(get_one).put(put).delete(delete).post(set_status))
}

fn rule_json(r: &Rule, status: RuleStatus) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["status"] = json!(status);
    v
}

fn status_in(tx: &EntityTx<'_>, r: &Rule) -> Result<Option<RuleStatus>, ApiError> {
    let id = format!("{}/{}", r.namespace, r.name);
    Ok(match tx.get(&r.trigger.doc_id())? {
        Some(Entity::Trigger(t)) => t.rules.and_then(|m| m.get(&id).map(|l| l.status)),
        _ => None,
    })
}

fn relink(tx: &mut EntityTx<'_>, trigger: &PathName, rule_id: &str, link: Option<RuleLink>) -> Result<bool, ApiError> {
    let Some(Entity::Trigger(mut t)) = tx.get(&trigger.doc_id())? else { return Ok(false) };
    let mut rules = t.rules.take().unwrap_or_default();
    match link {
        Some(l) => rules.insert(rule_id.to_string(), l),
        None => rules.remove(rule_id),
    };
    t.rules = Some(rules);
    tx.put(&trigger.doc_id(), &Entity::Trigger(t))?;
    Ok(true)
}

async fn list(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path(ns): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let ns = c.own(&ns)?;
    let rows = list_page(&s.store, &format!("{ns}/"), "rules", &q, |e| match e {
        Entity::Rule(r) => Some((
            r.updated,
            json!({"namespace": r.namespace, "name": r.name, "version": r.version,
            "publish": r.publish, "annotations": r.annotations, "trigger": r.trigger, "action": r.action,
            "updated": r.updated}),
        )),
        _ => None,
    })?;
    Ok(Json(rows))
}

fn load(tx: &EntityTx<'_>, id: &str) -> Result<Rule, ApiError> {
    match expect(tx.get(id)?, Collection::Rules)? {
        Entity::Rule(r) => Ok(r),
        _ => Err(ApiError::NotFound),
    }
}

async fn get_one(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let id = format!("{ns}/{name}");
    // A read-only use of a write transaction keeps the rule and its trigger consistent.
    let v = s.store.write(|tx| {
        let r = load(tx, &id)?;
        let st = status_in(tx, &r)?.unwrap_or(RuleStatus::Inactive);
        Ok::<_, ApiError>(rule_json(&r, st))
    })?;
    Ok(Json(v))
}

fn path_name(r: &RefPut, caller: &str) -> ApiResult<FullName> {
    let n = match r {
        RefPut::Name(s) => FullName::parse(s, caller),
        RefPut::PathName(p) => FullName::parse(&format!("/{}", p.doc_id()), caller),
    };
    n.map(|n| n.resolve(caller)).map_err(|_| ApiError::bad("rule requires a valid trigger and a valid action"))
}

fn pn(n: &FullName) -> PathName {
    PathName { path: n.path(), name: n.name.clone() }
}

async fn put(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
    q: QueryMap,
    JsonBody(body): JsonBody<RulePut>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let overwrite = q.flag("overwrite", false)?;
    if let Some(a) = &body.annotations {
        check_key_values("annotations", a)?;
    }
    let trigger = body.trigger.as_ref().map(|t| path_name(t, &ns)).transpose()?;
    let action = body.action.as_ref().map(|a| path_name(a, &ns)).transpose()?;
    if let Some(t) = &trigger {
        if t.namespace != ns || t.package.is_some() {
            return Err(ApiError::bad("rule requires a valid trigger and a valid action"));
        }
    }
    if let Some(a) = &action {
        resolve_action(&s.store, &ns, a).map_err(|e| match e {
            crate::invoke::InvokeError::Forbidden => ApiError::Forbidden,
            _ => ApiError::bad(format!("The action '{a}' does not exist.")),
        })?;
    }
    let id = format!("{ns}/{name}");
    let v = s.store.write(|tx| {
        let old = match existing_for_put(tx.get(&id)?, Collection::Rules, overwrite)? {
            Some(Entity::Rule(r)) => Some(r),
            _ => None,
        };
        let (trigger, action) = match (trigger, action, &old) {
            (Some(t), Some(a), _) => (pn(&t), pn(&a)),
            (t, a, Some(o)) => {
                (t.map(|t| pn(&t)).unwrap_or(o.trigger.clone()), a.map(|a| pn(&a)).unwrap_or(o.action.clone()))
            }
            _ => return Err(ApiError::bad("rule requires a valid trigger and a valid action")),
        };
        if !matches!(tx.get(&trigger.doc_id())?, Some(Entity::Trigger(_))) {
            return Err(ApiError::bad(format!("The trigger '/{}' does not exist.", trigger.doc_id())));
        }
        let status = match &old {
            Some(o) => status_in(tx, o)?.unwrap_or(RuleStatus::Active),
            None => RuleStatus::Active,
        };
        if let Some(o) = &old {
            relink(tx, &o.trigger, &id, None)?;
        }
        let r = Rule {
            namespace: ns.clone(),
            name: name.clone(),
            version: next_version(old.as_ref().map(|o| o.version.as_str()), body.version)?,
            publish: body.publish.or(old.as_ref().map(|o| o.publish)).unwrap_or(false),
            // As OpenWhisk: given annotations replace the old ones.
            annotations: body.annotations.or(old.as_ref().map(|o| o.annotations.clone())).unwrap_or_default(),
            trigger: trigger.clone(),
            action: action.clone(),
            updated: now_ms(),
        };
        relink(tx, &trigger, &id, Some(RuleLink { action, status }))?;
        tx.put(&id, &Entity::Rule(r.clone()))?;
        Ok(rule_json(&r, status))
    })?;
    Ok(Json(v))
}

async fn delete(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let id = format!("{ns}/{name}");
    let v = s.store.write(|tx| {
        let r = load(tx, &id)?;
        let st = status_in(tx, &r)?.unwrap_or(RuleStatus::Inactive);
        relink(tx, &r.trigger, &id, None)?;
        tx.delete(&id)?;
        Ok::<_, ApiError>(rule_json(&r, st))
    })?;
    Ok(Json(v))
}

async fn set_status(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<RulePut>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let status = match body.status.as_deref() {
        Some("active") => RuleStatus::Active,
        Some("inactive") => RuleStatus::Inactive,
        _ => return Err(ApiError::bad("Rule state change must be either 'active' or 'inactive'.")),
    };
    let id = format!("{ns}/{name}");
    let v = s.store.write(|tx| {
        let r = load(tx, &id)?;
        if !relink(tx, &r.trigger, &id, Some(RuleLink { action: r.action.clone(), status }))? {
            return Err(ApiError::NotFoundMsg("Only rules with existing triggers can be activated".into()));
        }
        Ok::<_, ApiError>(rule_json(&r, status))
    })?;
    Ok(Json(v))
}
