//! `/namespaces/{ns}/triggers`: triggers (with feed annotations) and firing them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::actions::{payload, with_id};
use super::entities::{check_key_values, existing_for_put, expect, list_page, next_version, segment};
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, JsonBody, QueryMap, RawBody};
use super::AppState;
use crate::entity::common::now_ms;
use crate::entity::trigger::TriggerPut;
use crate::entity::{Collection, Entity, FullName, KeyValues, Trigger};

/// Routes of the triggers collection.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/triggers", get(list))
        .route("/api/v1/namespaces/{ns}/triggers/{name}", get(get_one).put(put).delete(delete).post(fire))
}

fn row(t: &Trigger) -> Value {
    json!({"namespace": t.namespace, "name": t.name, "version": t.version, "publish": t.publish,
        "annotations": t.annotations, "updated": t.updated})
}

async fn list(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path(ns): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let ns = c.own(&ns)?;
    let rows = list_page(&s.store, &format!("{ns}/"), "triggers", &q, |e| match e {
        Entity::Trigger(t) => Some((t.updated, row(&t))),
        _ => None,
    })?;
    Ok(Json(rows))
}

fn load(s: &AppState, c: &Caller, ns: &str, name: &str) -> ApiResult<Trigger> {
    segment(name)?;
    let ns = c.own(ns)?;
    match expect(s.store.get(&format!("{ns}/{name}"))?, Collection::Triggers)? {
        Entity::Trigger(t) => Ok(t),
        _ => Err(ApiError::NotFound),
    }
}

async fn get_one(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(serde_json::to_value(load(&s, &c, &ns, &name)?).unwrap_or_default()))
}

async fn put(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
    q: QueryMap,
    JsonBody(body): JsonBody<TriggerPut>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let overwrite = q.flag("overwrite", false)?;
    if let Some(a) = &body.annotations {
        check_key_values("annotations", a)?;
        if let Some(feed) = a.get_value("feed") {
            let ok = feed.as_str().is_some_and(|f| FullName::parse(f, &ns).is_ok());
            if !ok {
                return Err(ApiError::bad("Feed name is not valid"));
            }
        }
    }
    if let Some(p) = &body.parameters {
        check_key_values("parameters", p)?;
    }
    let id = format!("{ns}/{name}");
    let saved = s.store.write(|tx| {
        let old = match existing_for_put(tx.get(&id)?, Collection::Triggers, overwrite)? {
            Some(Entity::Trigger(t)) => Some(t),
            _ => None,
        };
        let t = Trigger {
            namespace: ns.clone(),
            name: name.clone(),
            version: next_version(old.as_ref().map(|o| o.version.as_str()), body.version)?,
            publish: body.publish.or(old.as_ref().map(|o| o.publish)).unwrap_or(false),
            // As OpenWhisk: given annotations replace the old ones.
            annotations: body.annotations.or(old.as_ref().map(|o| o.annotations.clone())).unwrap_or_default(),
            parameters: body.parameters.or(old.as_ref().map(|o| o.parameters.clone())).unwrap_or_default(),
            limits: Default::default(),
            rules: old.and_then(|o| o.rules),
            updated: now_ms(),
        };
        tx.put(&id, &Entity::Trigger(t.clone()))?;
        Ok::<_, ApiError>(t)
    })?;
    Ok(Json(serde_json::to_value(saved).unwrap_or_default()))
}

async fn delete(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    segment(&name)?;
    let ns = c.own(&ns)?;
    let id = format!("{ns}/{name}");
    let gone = s.store.write(|tx| {
        let e = expect(tx.get(&id)?, Collection::Triggers)?;
        tx.delete(&id)?;
        Ok::<_, ApiError>(e)
    })?;
    Ok(Json(match gone {
        Entity::Trigger(t) => serde_json::to_value(t).unwrap_or_default(),
        _ => json!({}),
    }))
}

async fn fire(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let t = load(&s, &c, &ns, &name)?;
    let args = payload(&s, &body)?;
    // Request headers reach the rules' actions as OpenWhisk passes them, minus the caller's credentials.
    let hdrs: Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| *k != "authorization")
        .map(|(k, v)| (k.as_str().to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    match s.fire(&t, args, hdrs).await? {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(id) => Ok(with_id((StatusCode::ACCEPTED, Json(json!({"activationId": id}))).into_response(), &id)),
    }
}
