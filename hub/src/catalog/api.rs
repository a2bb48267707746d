//! OpenWhisk's entity API for the catalog's namespaces: `GET` list and get, `PUT` (with `?overwrite=true`
//! to update; a new entity is `0.0.1`, each update bumps the patch number), `DELETE`, for actions (also
//! `pkg/name`), packages, triggers and rules under `/api/v1/namespaces/{ns}/...`; `_` is
//! `catalog.default_namespace`. Answers and errors have OpenWhisk's shapes and status codes; a write
//! replaces the revision it read, so of two concurrent writers one gets 409. No invocation here.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::doc::{build, summary, view, EntityName, Kind};
use super::{CatalogError, CatalogStore};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// OpenWhisk's message for a missing entity.
pub const NOT_FOUND: &str = "The requested resource does not exist.";
/// OpenWhisk's message for a PUT without `overwrite` on an existing entity.
pub const EXISTS: &str = "resource already exists";
/// OpenWhisk's message for a write that lost a race.
pub const CONCURRENT: &str = "Concurrent modification to resource detected.";

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Conflict => ApiError::Conflict(CONCURRENT.into()),
            CatalogError::NotFound => ApiError::NotFound(NOT_FOUND.into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The entity and changes routes (access in [`crate::access::ROUTES`]).
pub fn router() -> Router<AppState> {
    let mut r = Router::new().route("/api/v1/catalog/_changes", get(super::changes::feed));
    for kind in [Kind::Action, Kind::Package, Kind::Trigger, Kind::Rule] {
        let base = format!("/api/v1/namespaces/{{ns}}/{}", kind.collection());
        let one = if kind == Kind::Action { format!("{base}/{{*name}}") } else { format!("{base}/{{name}}") };
        r = r.route(&base, get(move |s, p, q| list(kind, s, p, q))).route(
            &one,
            get(move |s, p, q| read(kind, s, p, q))
                .put(move |s, c, p, q, b| write(kind, s, c, p, q, b))
                .delete(move |s, c, p| remove(kind, s, c, p)),
        );
    }
    r
}

type Params = Query<HashMap<String, String>>;

fn namespace(state: &AppState, ns: &str) -> String {
    if ns == "_" {
        state.settings.catalog.default_namespace.clone()
    } else {
        ns.to_string()
    }
}

/// A boolean query parameter as OpenWhisk's HTTP layer reads it.
fn flag(q: &HashMap<String, String>, key: &str) -> Result<Option<bool>, ApiError> {
    match q.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if matches!(v.as_str(), "true" | "yes" | "on" | "1") => Ok(Some(true)),
        Some(v) if matches!(v.as_str(), "false" | "no" | "off" | "0" | "") => Ok(Some(false)),
        Some(v) => Err(ApiError::bad_request("malformed_query", format!("the parameter {key}={v:?} is not a boolean"))),
    }
}

fn number(q: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, ApiError> {
    q.get(key).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| ApiError::bad_request("malformed_query", format!("the parameter {key}={v:?} is not a number")))
    })
}

fn entity(state: &AppState, kind: Kind, ns: &str, name: &str) -> Result<EntityName, ApiError> {
    EntityName::parse(&namespace(state, ns), kind, name).map_err(|e| ApiError::bad_request("invalid_name", e.0))
}

/// The live document `id` if it is a `kind`.
async fn load(state: &AppState, kind: Kind, id: &str) -> Result<Option<Value>, ApiError> {
    let doc = state.catalog.get(id).await?;
    Ok(doc.filter(|d| d["entityType"] == kind.entity_type()))
}

async fn list(
    kind: Kind,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let ns = namespace(&state, &ns);
    if !super::doc::valid_name(&ns) {
        return Err(ApiError::bad_request("invalid_name", format!("the namespace {ns:?} is not valid")));
    }
    let mut docs: Vec<Value> = state.catalog.list(&format!("{ns}/")).await?;
    docs.retain(|d| d["entityType"] == kind.entity_type());
    if flag(&q, "count")?.unwrap_or(false) {
        return Ok(Json(json!({ kind.collection(): docs.len() })));
    }
    let (skip, limit) = (number(&q, "skip", 0)?, number(&q, "limit", 30)?);
    if limit > 200 {
        return Err(ApiError::bad_request("malformed_query", "limit must be at most 200"));
    }
    let limit = if limit == 0 { 200 } else { limit };
    docs.sort_by(|a, b| b["updated"].as_i64().cmp(&a["updated"].as_i64()));
    Ok(Json(docs.iter().skip(skip).take(limit).map(summary).collect()))
}

async fn read(
    kind: Kind,
    State(state): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let name = entity(&state, kind, &ns, &name)?;
    let doc = load(&state, kind, &name.id()).await?.ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))?;
    let mut out = view(&doc, flag(&q, "code")?.unwrap_or(true));
    if kind == Kind::Package {
        let members = state.catalog.list(&format!("{}/", name.id())).await?;
        let actions: Vec<Value> = members
            .iter()
            .filter(|d| d["entityType"] == "action")
            .map(|d| json!({"name": d["name"], "version": d["version"], "annotations": d["annotations"]}))
            .collect();
        out["actions"] = json!(actions);
    }
    Ok(Json(out))
}

async fn write(
    kind: Kind,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let name = entity(&state, kind, &ns, &name)?;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("the request content was malformed: {e}")))?
    };
    if let Some(pkg) = &name.package {
        let pkg_id = format!("{}/{pkg}", name.namespace);
        let p = load(&state, Kind::Package, &pkg_id).await?.ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))?;
        if p["binding"].as_object().is_some_and(|b| !b.is_empty()) {
            return Err(ApiError::bad_request("binding", "cannot create or update an action in a package binding"));
        }
    }
    let id = name.id();
    let old = state.catalog.get(&id).await?;
    if let Some(o) = &old {
        if o["entityType"] != kind.entity_type() || !flag(&q, "overwrite")?.unwrap_or(false) {
            return Err(ApiError::Conflict(EXISTS.into()));
        }
    }
    let now = chrono::Utc::now().timestamp_millis();
    let doc = build(kind, &name, &body, old.as_ref(), now).map_err(|e| ApiError::bad_request("invalid_entity", e.0))?;
    let rev = old.as_ref().and_then(|o| o["_rev"].as_str());
    let outcome = state.catalog.put(&id, doc.clone(), rev).await;
    let label = if outcome.is_ok() { "ok" } else { "conflict" };
    crate::tokens::audit_async(&state, &caller, "catalog.put", id, label).await;
    outcome?;
    Ok(Json(view(&doc, true)))
}

async fn remove(
    kind: Kind,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let name = entity(&state, kind, &ns, &name)?;
    let id = name.id();
    let doc = load(&state, kind, &id).await?.ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))?;
    if kind == Kind::Package {
        let members = state.catalog.list(&format!("{id}/")).await?.len();
        if members > 0 {
            return Err(ApiError::Conflict(format!("Package not empty (contains {members} entities)")));
        }
    }
    let outcome = state.catalog.delete(&id, doc["_rev"].as_str().unwrap_or_default()).await;
    let label = if outcome.is_ok() { "ok" } else { "conflict" };
    crate::tokens::audit_async(&state, &caller, "catalog.delete", id, label).await;
    outcome?;
    Ok(Json(view(&doc, true)))
}
