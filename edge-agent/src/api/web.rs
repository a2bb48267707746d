//! Web actions: `/api/v1/web/{ns}/{pkg}/{action}.{ext}` without API keys, with OpenWhisk's input and output conventions.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::entity::{FullName, KeyValues, Outcome};
use crate::invoke::{resolve_action, InvokeOptions, Invoked};

const EXTENSIONS: [&str; 5] = ["json", "html", "http", "svg", "text"];

/// Routes of web actions.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/web/{ns}/{pkg}/{*rest}", any(web))
}

fn split_rest(rest: &str) -> ApiResult<(String, String, String)> {
    let (first, path) = match rest.split_once('/') {
        Some((f, p)) => (f, format!("/{p}")),
        None => (rest, String::new()),
    };
    // As upstream (extensions not enforced): an unknown suffix is part of the action name, served as `.http`.
    match first.rsplit_once('.') {
        Some((name, ext)) if EXTENSIONS.contains(&ext) => Ok((name.into(), ext.into(), path)),
        _ => Ok((first.into(), "http".into(), path)),
    }
}

fn is_text(ct: &str) -> bool {
    ct.starts_with("text/") || ct.contains("xml") || ct.contains("x-www-form-urlencoded") || ct.contains("json")
}

pub(super) async fn web(
    State(s): State<Arc<AppState>>,
    Path((ns, pkg, rest)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    // Nothing of the body is read until the action is resolved and the caller authorized: an unknown or
    // protected action answers at once, however large the body announced (issue 9: 50 concurrent 49 MB
    // bodies must not be buffered). The body itself is then read up to the payload limit only.
    if ns == "whisk.system" && pkg == "apimgmt" {
        // The route management actions of `wsk api` and the npm client's `routes`, served by the agent itself.
        return Ok(super::routes::manage(&s, &rest, &uri, &headers, body).await);
    }
    let (name, ext, ow_path) = split_rest(&rest)?;
    let package = if pkg == "default" { None } else { Some(pkg.as_str()) };
    let fqn = FullName::new(&ns, package, &name).map_err(|_| ApiError::NotFound)?;
    let r = resolve_action(&s.store, &ns, &fqn).map_err(|_| ApiError::NotFound)?;
    let ann = &r.action.annotations;
    if !ann.is_truthy("web-export") {
        return Err(ApiError::NotFound);
    }
    if method == Method::OPTIONS && !ann.is_truthy("web-custom-options") {
        return Ok(cors_preflight(&headers));
    }
    let user = check_auth(&s, ann.get_value("require-whisk-auth"), &headers)?;
    let body = read_limited(body, &headers, s.settings.limits.max_payload_bytes).await?;
    let raw = ann.is_truthy("raw-http");
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut args: Map<String, Value> = Map::new();
    let query = uri.query().unwrap_or("");
    if raw {
        args.insert("__ow_query".into(), json!(query));
        if !body.is_empty() {
            args.insert("__ow_body".into(), body_value(&body, &ct, true));
        }
    } else {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            args.insert(k.into_owned(), json!(v.into_owned()));
        }
        if !body.is_empty() {
            if ct.contains("json") {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(m)) => args.extend(m),
                    _ => {
                        args.insert("__ow_body".into(), body_value(&body, &ct, false));
                    }
                }
            } else if ct.contains("x-www-form-urlencoded") {
                for (k, v) in form_urlencoded::parse(&body) {
                    args.insert(k.into_owned(), json!(v.into_owned()));
                }
            } else {
                args.insert("__ow_body".into(), body_value(&body, &ct, false));
            }
        }
    }
    let reserved = |k: &str| k.starts_with("__ow_") && !(raw && (k == "__ow_body" || k == "__ow_query"));
    let body_keys_reserved = args.keys().any(|k| reserved(k) && k != "__ow_body");
    let final_clash = ann.is_truthy("final") && args.keys().any(|k| r.params.iter().any(|p| &p.key == k));
    if body_keys_reserved || final_clash {
        return Err(ApiError::bad("Request defines parameters that are not allowed (e.g., reserved properties)."));
    }
    let hdrs: Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| *k != "authorization")
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), json!(v.to_str().unwrap_or(""))))
        .collect();
    args.insert("__ow_method".into(), json!(method.as_str().to_ascii_lowercase()));
    args.insert("__ow_headers".into(), Value::Object(hdrs));
    args.insert("__ow_path".into(), json!(ow_path));
    if let Some(u) = user {
        args.insert("__ow_user".into(), json!(u));
    }
    let opts = InvokeOptions { blocking: true, wait: Duration::from_secs(60) };
    match s.invoke(&ns, r, args, opts).await? {
        Invoked::Pending(id) => {
            let resp =
                (StatusCode::ACCEPTED, Json(json!({"error": "Response not yet ready.", "code": id}))).into_response();
            Ok(super::actions::with_id(resp, &id))
        }
        Invoked::Done(a) => {
            let result = match a.response.status {
                Outcome::Success => a.response.result.clone(),
                Outcome::ApplicationError => a.response.result.get("error").cloned().unwrap_or(Value::Null),
                _ => return Err(ApiError::bad("There was an error processing your request.")),
            };
            super::web_render::render(&ext, result)
        }
    }
}

/// Reads a web action's body, at most `limit` bytes (OpenWhisk's activation payload limit, 1 MB by default):
/// a larger `content-length` is refused before any byte is read, a longer body (chunked) once it passes the limit.
async fn read_limited(body: Body, headers: &HeaderMap, limit: usize) -> ApiResult<Bytes> {
    let too_large = |n: String| ApiError::TooLarge(format!("Request larger than allowed: {n} > {limit} bytes."));
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > limit as u64) {
        return Err(too_large(n.to_string()));
    }
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::with_capacity(announced.unwrap_or(0) as usize);
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(|e| ApiError::bad(format!("The request content was malformed:\n{e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large((buf.len() + chunk.len()).to_string()));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn body_value(body: &[u8], ct: &str, raw: bool) -> Value {
    if is_text(ct) && !(raw && ct.contains("json")) {
        if let Ok(s) = std::str::from_utf8(body) {
            return json!(s);
        }
    }
    json!(base64::engine::general_purpose::STANDARD.encode(body))
}

/// Checks `require-whisk-auth`; the authenticated namespace, when credentials were required.
fn check_auth(s: &AppState, require: Option<&Value>, headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(req) = require else { return Ok(None) };
    match req {
        Value::Bool(false) | Value::Null => Ok(None),
        Value::Bool(true) => {
            let (mut parts, _) = axum::http::Request::new(()).into_parts();
            parts.headers = headers.clone();
            let (u, k) = super::extract::basic_credentials(&parts).ok_or(ApiError::Unauthorized)?;
            s.identities.authenticate(&u, &k).map(Some).ok_or(ApiError::Unauthorized)
        }
        other => {
            let want = match other {
                Value::String(x) => x.clone(),
                v => v.to_string(),
            };
            let got = headers.get("x-require-whisk-auth").and_then(|v| v.to_str().ok());
            if got == Some(want.as_str()) {
                Ok(None)
            } else {
                Err(ApiError::Unauthorized)
            }
        }
    }
}

pub(super) fn cors_preflight(headers: &HeaderMap) -> Response {
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-allow-methods", HeaderValue::from_static("OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"));
    if let Some(req) = headers.get("access-control-request-headers") {
        h.insert(HeaderName::from_static("access-control-allow-headers"), req.clone());
    }
    r
}
