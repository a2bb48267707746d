//! `/namespaces/{ns}/actions`: list, get, create/update, delete and invoke actions, packaged ones too.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::entities::{existing_for_put, expect, list_page, segment};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_json, Caller, QueryMap, RawBody};
use super::AppState;
use crate::entity::{Action, ActionPut, Collection, Entity, FullName, Outcome};
use crate::invoke::{check_final, resolve_action, InvokeOptions, Invoked};

/// Routes of the actions collection.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/actions", get(list))
        .route("/api/v1/namespaces/{ns}/actions/{pkg}/", get(list_package))
        .route("/api/v1/namespaces/{ns}/actions/{name}", get(get_top).put(put_top).delete(delete_top).post(invoke_top))
        .route(
            "/api/v1/namespaces/{ns}/actions/{pkg}/{name}",
            get(get_pkg).put(put_pkg).delete(delete_pkg).post(invoke_pkg),
        )
}

/// The action a request names: the namespace segment may carry the package (`guest%2Ftools`, as clients put a
/// listed action's `namespace` back into the path), or the path has one (`actions/tools/hello`), not both.
fn name_of(caller: &Caller, ns: &str, pkg: Option<&str>, name: &str) -> ApiResult<FullName> {
    let path = caller.path(ns)?;
    segment(name)?;
    if let Some(p) = pkg {
        segment(p)?;
    }
    let package = match (path.package, pkg) {
        (Some(_), Some(_)) => return Err(ApiError::NotFound),
        (from_ns, from_path) => from_ns.or(from_path.map(String::from)),
    };
    FullName::new(&path.namespace, package.as_deref(), name).map_err(|e| ApiError::bad(e.to_string()))
}

/// Writes (PUT, DELETE) need the caller's own namespace; `_` under a package is not resolved, as in OpenWhisk.
fn own_name(c: &Caller, name: &FullName) -> ApiResult<()> {
    if name.namespace == c.namespace {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

fn action_row(e: Entity) -> Option<(u64, Value)> {
    match e {
        Entity::Action(a) => Some((a.updated, row(&a))),
        _ => None,
    }
}

fn row(a: &Action) -> Value {
    json!({
        "namespace": a.namespace, "name": a.name, "version": a.version, "publish": a.publish,
        "annotations": a.annotations, "limits": a.limits,
        "exec": {"binary": a.exec.binary.unwrap_or(false)}, "updated": a.updated,
    })
}

/// An action as GET returns it (`code=false` drops the code).
pub fn action_json(a: &Action, with_code: bool) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if !with_code {
        if let Some(e) = v.get_mut("exec").and_then(Value::as_object_mut) {
            e.remove("code");
        }
    }
    v
}

async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ns): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    // `guest%2Ftools` lists the actions of package tools, as OpenWhisk's view on the entity path does.
    let path = caller.path(&ns)?;
    let ns = caller.own(&path.namespace)?;
    let prefix = match &path.package {
        Some(p) => format!("{ns}/{p}/"),
        None => format!("{ns}/"),
    };
    Ok(Json(list_page(&s.store, &prefix, "actions", &q, action_row)?))
}

async fn list_package(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ns, pkg)): Path<(String, String)>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let ns = caller.resolve(&ns)?;
    segment(&pkg)?;
    let p = match s.store.get(&format!("{ns}/{pkg}"))? {
        Some(Entity::Package(p)) if ns == caller.namespace || p.publish => p,
        Some(Entity::Package(_)) => return Err(ApiError::Forbidden),
        _ if ns != caller.namespace => return Err(ApiError::Forbidden),
        _ => return Err(ApiError::NotFound),
    };
    // A binding lists its bound package's actions, if the caller may still read that package (listPackageActions).
    let (rns, rpkg) = match &p.binding {
        Some(b) => match s.store.get(&format!("{}/{}", b.namespace, b.name))? {
            Some(Entity::Package(t)) if t.namespace == caller.namespace || t.publish => {
                (b.namespace.clone(), b.name.clone())
            }
            Some(Entity::Package(_)) => return Err(ApiError::Forbidden),
            _ => return Err(ApiError::NotFound),
        },
        None => (ns.clone(), pkg.clone()),
    };
    Ok(Json(list_page(&s.store, &format!("{rns}/{rpkg}/"), "actions", &q, action_row)?))
}

async fn get_action(s: &AppState, caller: &Caller, name: FullName, q: &QueryMap) -> ApiResult<Json<Value>> {
    // As WhiskAction.resolveActionAndMergeParameters: the action where it really lives (a binding resolved to its
    // package) with the package's and binding's parameters merged under its own.
    let r = resolve_action(&s.store, &caller.namespace, &name)?;
    let mut v = action_json(&r.action, q.flag("code", true)?);
    v["namespace"] = json!(r.fqn.path());
    v["parameters"] = json!(r.params);
    Ok(Json(v))
}

async fn get_top(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, n)): Path<(String, String)>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let name = name_of(&c, &ns, None, &n)?;
    get_action(&s, &c, name, &q).await
}

async fn get_pkg(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, p, n)): Path<(String, String, String)>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let name = name_of(&c, &ns, Some(&p), &n)?;
    get_action(&s, &c, name, &q).await
}

async fn put_action(s: &AppState, c: &Caller, name: FullName, q: &QueryMap, body: &[u8]) -> ApiResult<Json<Value>> {
    own_name(c, &name)?;
    let put: ActionPut = parse_json(body)?;
    let overwrite = q.flag("overwrite", false)?;
    s.check_action_package(&name)?;
    let id = name.doc_id();
    let saved = s.store.write(|tx| {
        let old = existing_for_put(tx.get(&id)?, Collection::Actions, overwrite)?;
        let old = match old {
            Some(Entity::Action(a)) => Some(a),
            _ => None,
        };
        let action = s.action_from_put(&c.namespace, &name, old.as_ref(), put)?;
        tx.put(&id, &Entity::Action(action.clone()))?;
        Ok::<_, ApiError>(action)
    })?;
    Ok(Json(action_json(&saved, true)))
}

async fn put_top(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, n)): Path<(String, String)>,
    q: QueryMap,
    RawBody(b): RawBody,
) -> ApiResult<Json<Value>> {
    let name = name_of(&c, &ns, None, &n)?;
    put_action(&s, &c, name, &q, &b).await
}

async fn put_pkg(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, p, n)): Path<(String, String, String)>,
    q: QueryMap,
    RawBody(b): RawBody,
) -> ApiResult<Json<Value>> {
    let name = name_of(&c, &ns, Some(&p), &n)?;
    put_action(&s, &c, name, &q, &b).await
}

async fn delete_action(s: &AppState, c: &Caller, name: FullName) -> ApiResult<Json<Value>> {
    own_name(c, &name)?;
    s.check_action_package(&name)?;
    let id = name.doc_id();
    let gone = s.store.write(|tx| {
        let e = expect(tx.get(&id)?, Collection::Actions)?;
        tx.delete(&id)?;
        Ok::<_, ApiError>(e)
    })?;
    match gone {
        Entity::Action(a) => Ok(Json(action_json(&a, true))),
        _ => Err(ApiError::NotFound),
    }
}

async fn delete_top(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, n)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let name = name_of(&c, &ns, None, &n)?;
    delete_action(&s, &c, name).await
}

async fn delete_pkg(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, p, n)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let name = name_of(&c, &ns, Some(&p), &n)?;
    delete_action(&s, &c, name).await
}

/// Parses an invoke or fire body: a JSON object within the payload limit.
pub fn payload(s: &AppState, body: &[u8]) -> ApiResult<Map<String, Value>> {
    let max = s.settings.limits.max_payload_bytes;
    if body.len() > max {
        return Err(ApiError::TooLarge(format!("Request larger than allowed: {} > {max} bytes.", body.len())));
    }
    match parse_json::<Value>(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad("The request content was malformed:\nthe body must be a JSON object")),
    }
}

fn wait_of(q: &QueryMap) -> ApiResult<Duration> {
    const MSG: &str = "Timeout must be number of milliseconds up to 60000.";
    match q.0.get("timeout") {
        None => Ok(Duration::from_millis(60_000)),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if (1..=60_000).contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(ApiError::bad(MSG)),
        },
    }
}

/// Adds the `x-openwhisk-activation-id` header OpenWhisk puts on invoke and fire answers.
pub(crate) fn with_id(mut r: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("x-openwhisk-activation-id", v);
    }
    r
}

async fn invoke(s: Arc<AppState>, c: Caller, name: FullName, q: QueryMap, body: &[u8]) -> ApiResult<Response> {
    let blocking = q.flag("blocking", false)?;
    let result_only = q.flag("result", false)?;
    let wait = wait_of(&q)?;
    let args = payload(&s, body)?;
    let r = resolve_action(&s.store, &c.namespace, &name)?;
    check_final(&r, &args)?;
    match s.invoke(&c.namespace, r, args, InvokeOptions { blocking, wait }).await? {
        Invoked::Pending(id) => {
            Ok(with_id((StatusCode::ACCEPTED, Json(json!({"activationId": id}))).into_response(), &id))
        }
        Invoked::Done(a) => {
            let status = match a.response.status {
                Outcome::Success => StatusCode::OK,
                Outcome::ApplicationError | Outcome::DeveloperError => StatusCode::BAD_GATEWAY,
                Outcome::WhiskError => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body =
                if result_only || a.response.result.is_array() { a.response.result.clone() } else { a.to_full_json() };
            Ok(with_id((status, Json(body)).into_response(), &a.activation_id))
        }
    }
}

async fn invoke_top(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, n)): Path<(String, String)>,
    q: QueryMap,
    RawBody(b): RawBody,
) -> ApiResult<Response> {
    let name = name_of(&c, &ns, None, &n)?;
    invoke(s, c, name, q, &b).await
}

async fn invoke_pkg(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, p, n)): Path<(String, String, String)>,
    q: QueryMap,
    RawBody(b): RawBody,
) -> ApiResult<Response> {
    let name = name_of(&c, &ns, Some(&p), &n)?;
    invoke(s, c, name, q, &b).await
}
