//! The route management API (`createApi`, `getApi`, `deleteApi`) as OpenWhisk's `core/routemgmt` actions answer it.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::store::{self, ApiRecord};
use super::swagger::{self, Target};
use crate::api::error::{error_response, ApiError};
use crate::api::AppState;
use crate::entity::name::validate_segment;

/// A management call refused as OpenWhisk's route management actions refuse it: 502 with `{error}`.
#[derive(Debug, thiserror::Error)]
pub enum MgmtError {
    /// Bad arguments, or an API or route that does not exist.
    #[error("{0}")]
    Refused(String),
    /// Authentication, storage and the like.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::store::StoreError> for MgmtError {
    fn from(e: crate::store::StoreError) -> Self {
        MgmtError::Api(e.into())
    }
}

impl IntoResponse for MgmtError {
    fn into_response(self) -> Response {
        match self {
            MgmtError::Refused(m) => error_response(StatusCode::BAD_GATEWAY, &m),
            MgmtError::Api(e) => e.into_response(),
        }
    }
}

fn refuse(m: impl Into<String>) -> MgmtError {
    MgmtError::Refused(m.into())
}

/// Serves `web/whisk.system/apimgmt/<op>`: authenticated like `require-whisk-auth` web actions, arguments from the
/// query and a JSON body (the body wins).
pub(crate) async fn manage(s: &AppState, op: &str, uri: &Uri, headers: &HeaderMap, body: Body) -> Response {
    match manage_inner(s, op, uri, headers, body).await {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn manage_inner(s: &AppState, op: &str, uri: &Uri, headers: &HeaderMap, body: Body) -> Result<Value, MgmtError> {
    let (mut parts, _) = axum::http::Request::new(()).into_parts();
    parts.headers = headers.clone();
    let (u, k) = crate::api::extract::basic_credentials(&parts).ok_or(ApiError::Unauthorized)?;
    let ns = s.identities.authenticate(&u, &k).ok_or(ApiError::Unauthorized)?;
    let mut args: Map<String, Value> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), json!(v.into_owned())))
        .collect();
    let bytes = axum::body::to_bytes(body, s.settings.limits.max_payload_bytes)
        .await
        .map_err(|_| ApiError::TooLarge("The request content exceeds the maximum allowed size.".into()))?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => args.extend(m),
            _ => return Err(ApiError::bad("The request content was malformed:\nthe body must be a JSON object").into()),
        }
    }
    let api = Mgmt { s, ns, tenant: u };
    match op.split('.').next().unwrap_or("") {
        "createApi" => api.create(&args),
        "getApi" => api.get(&args),
        "deleteApi" => api.delete(&args),
        _ => Err(ApiError::NotFound.into()),
    }
}

struct Mgmt<'a> {
    s: &'a AppState,
    ns: String,
    tenant: String,
}

fn text<'v>(m: &'v Value, key: &str) -> Option<&'v str> {
    m.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An object given as an object or as a JSON string (`wsk` sends the swagger as a string).
fn object_arg(v: &Value, field: &str) -> Result<Value, MgmtError> {
    match v {
        Value::Object(_) => Ok(v.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(o @ Value::Object(_)) => Ok(o),
            _ => Err(refuse(format!("{field} field cannot be parsed. Ensure it is valid JSON."))),
        },
        other => Err(refuse(format!("{field} field is {} and should be a JSON object or a JSON string.", kind(other)))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Mgmt<'_> {
    fn url(&self, r: &ApiRecord) -> String {
        let bp = if r.base_path == "/" { "" } else { r.base_path.as_str() };
        format!("{}/api/{}{bp}", self.s.api_host, r.tenant)
    }

    fn cli_value(&self, r: &ApiRecord) -> Value {
        json!({"namespace": r.namespace, "gwApiActivated": true, "tenantId": r.tenant, "gwApiUrl": self.url(r), "apidoc": r.swagger})
    }

    /// The API a `basepath` argument names: a base path (leading `/`) or an API name (`info.title`).
    fn find(&self, bp_or_name: &str) -> Result<Option<ApiRecord>, MgmtError> {
        let apis = store::of_namespace(&self.s.store, &self.ns)?;
        Ok(apis.into_iter().find(|r| matches_name(r, bp_or_name)))
    }

    fn create(&self, args: &Map<String, Value>) -> Result<Value, MgmtError> {
        let doc = object_arg(args.get("apidoc").ok_or_else(|| refuse("apidoc is required."))?, "apidoc")?;
        if text(&doc, "namespace").is_none() {
            return Err(refuse("apidoc is missing the namespace field"));
        }
        let (base_path, swagger) = match doc.get("swagger").filter(|v| !v.is_null()) {
            Some(sw) => {
                if doc.get("gatewayBasePath").is_some() {
                    return Err(refuse(
                        "swagger and gatewayBasePath are mutually exclusive and cannot be specified together.",
                    ));
                }
                let sw = object_arg(sw, "swagger")?;
                for f in ["basePath", "paths", "info"] {
                    if sw.get(f).is_none_or(Value::is_null) {
                        return Err(refuse(format!("swagger is missing the {f} field.")));
                    }
                }
                let bp = swagger::normalize_path(sw["basePath"].as_str().unwrap_or("/"));
                (bp, sw)
            }
            None => self.endpoint(&doc, args)?,
        };
        swagger::validate(&swagger).map_err(|e| refuse(format!("API creation failure: {e}")))?;
        let old = store::of_namespace(&self.s.store, &self.ns)?.into_iter().find(|r| r.base_path == base_path);
        let tenant = old.map(|o| o.tenant).unwrap_or_else(|| self.tenant.clone());
        let rec = ApiRecord { namespace: self.ns.clone(), tenant, base_path, swagger };
        store::put(&self.s.store, &rec)?;
        Ok(self.cli_value(&rec))
    }

    /// The API with one more operation, from `gatewayBasePath`, `gatewayPath`, `gatewayMethod` and `action`.
    fn endpoint(&self, doc: &Value, args: &Map<String, Value>) -> Result<(String, Value), MgmtError> {
        for f in ["gatewayBasePath", "gatewayPath", "gatewayMethod"] {
            if text(doc, f).is_none() {
                return Err(refuse(format!("apidoc is missing the {f} field")));
            }
        }
        let action =
            doc.get("action").filter(|a| a.is_object()).ok_or_else(|| refuse("apidoc is missing the action field."))?;
        for f in ["backendMethod", "backendUrl", "namespace", "name", "authkey"] {
            if text(action, f).is_none() {
                return Err(refuse(format!("action is missing the {f} field.")));
            }
        }
        let base_path = swagger::normalize_path(text(doc, "gatewayBasePath").unwrap_or("/"));
        let relpath = swagger::normalize_path(text(doc, "gatewayPath").unwrap_or("/"));
        let verb = text(doc, "gatewayMethod").unwrap_or("").to_ascii_lowercase();
        if !swagger::VERBS.contains(&verb.as_str()) {
            return Err(refuse(format!("gatewayMethod '{verb}' is not one of {}.", swagger::VERBS.join(", "))));
        }
        let rt = text(&Value::Object(args.clone()), "responsetype").unwrap_or("json").to_ascii_lowercase();
        if !swagger::RESPONSE_TYPES.contains(&rt.as_str()) {
            return Err(refuse(format!("responsetype '{rt}' is not one of {}.", swagger::RESPONSE_TYPES.join(", "))));
        }
        // `_` is the caller's namespace (updateNamespace); the name may carry a package (`pkg/action`, `/ns/pkg/action`).
        let ans = text(action, "namespace").unwrap_or("_").trim_matches('/');
        let ans = if ans == "_" { self.ns.clone() } else { ans.to_string() };
        let parts: Vec<&str> = text(action, "name").unwrap_or("").split('/').filter(|p| !p.is_empty()).collect();
        let (package, name) = match parts.as_slice() {
            [a] => ("default".to_string(), a.to_string()),
            [p, a] | [_, p, a] => (p.to_string(), a.to_string()),
            _ => return Err(refuse("action is missing the name field.")),
        };
        for seg in [ans.as_str(), package.as_str(), name.as_str()] {
            validate_segment(seg).map_err(|e| refuse(e.to_string()))?;
        }
        let secure_key = action.get("secureKey").filter(|v| !v.is_null()).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let t = Target {
            namespace: ans.clone(),
            package: package.clone(),
            action: name.clone(),
            response_type: rt.clone(),
            secure_key,
        };
        let url = format!("{}/api/v1/web/{ans}/{package}/{name}.{rt}", self.s.api_host);
        let mut sw = match store::of_namespace(&self.s.store, &self.ns)?.into_iter().find(|r| r.base_path == base_path)
        {
            Some(old) => old.swagger,
            None => swagger::base(&base_path, text(doc, "apiName")),
        };
        swagger::add_endpoint(&mut sw, &relpath, &verb, &t, &url, doc.get("pathParameters").filter(|p| p.is_array()));
        Ok((base_path, sw))
    }

    fn get(&self, args: &Map<String, Value>) -> Result<Value, MgmtError> {
        let a = Value::Object(args.clone());
        let relpath = text(&a, "relpath").map(swagger::normalize_path);
        let op = text(&a, "operation").map(str::to_ascii_lowercase);
        let number = |k: &str| match a.get(k) {
            Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        let mut apis: Vec<Value> = Vec::new();
        for mut r in store::of_namespace(&self.s.store, &self.ns)? {
            if text(&a, "basepath").is_some_and(|bp| !matches_name(&r, bp)) {
                continue;
            }
            if relpath.is_some() || op.is_some() {
                let paths = r.swagger["paths"].as_object().cloned().unwrap_or_default();
                let kept: Map<String, Value> = paths
                    .into_iter()
                    .filter(|(p, _)| relpath.as_ref().is_none_or(|want| &swagger::normalize_path(p) == want))
                    .filter_map(|(p, ops)| {
                        let ops: Map<String, Value> = ops
                            .as_object()?
                            .iter()
                            .filter(|(v, _)| op.as_ref().is_none_or(|want| *v == want))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        (!ops.is_empty()).then_some((p, Value::Object(ops)))
                    })
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                r.swagger["paths"] = Value::Object(kept);
            }
            let (ns, bp) = (r.namespace.clone(), r.base_path.clone());
            apis.push(
                json!({"id": format!("API:{ns}:{bp}"), "key": format!("{ns}:{bp}"), "value": self.cli_value(&r)}),
            );
        }
        let skip = number("skip").unwrap_or(0);
        let limit = number("limit").filter(|l| *l > 0).unwrap_or(usize::MAX);
        let apis: Vec<Value> = apis.into_iter().skip(skip).take(limit).collect();
        Ok(json!({"apis": apis}))
    }

    fn delete(&self, args: &Map<String, Value>) -> Result<Value, MgmtError> {
        let a = Value::Object(args.clone());
        let bp = text(&a, "basepath").ok_or_else(|| refuse("basepath is required."))?;
        let relpath = text(&a, "relpath").map(swagger::normalize_path);
        let op = text(&a, "operation");
        if relpath.is_none() && op.is_some() {
            return Err(refuse("When specifying an operation, the path is required."));
        }
        let mut r =
            self.find(bp)?.ok_or_else(|| refuse(format!("API deletion failure: API '{bp}' does not exist.")))?;
        match relpath {
            None => {
                store::delete(&self.s.store, &r.namespace, &r.base_path)?;
            }
            Some(rp) => {
                swagger::remove_endpoint(&mut r.swagger, &rp, op)
                    .map_err(|e| refuse(format!("API deletion failure: {e}")))?;
                if r.swagger["paths"].as_object().is_none_or(Map::is_empty) {
                    store::delete(&self.s.store, &r.namespace, &r.base_path)?;
                } else {
                    store::put(&self.s.store, &r)?;
                }
            }
        }
        Ok(json!({}))
    }
}

pub(super) fn matches_name(r: &ApiRecord, bp_or_name: &str) -> bool {
    if bp_or_name.starts_with('/') {
        swagger::normalize_path(bp_or_name) == r.base_path
    } else {
        r.swagger["info"]["title"].as_str() == Some(bp_or_name)
    }
}
