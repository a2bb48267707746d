//! Serving the routes: `/api/<tenant>/<base path>/<path>` finds its API and operation and runs the web action.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::store;
use super::swagger::{self, Lookup};
use crate::api::error::{error_response, ApiError};
use crate::api::AppState;

pub(super) async fn serve_root(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_route(s, tenant, String::new(), method, uri, headers, body).await
}

pub(super) async fn serve(
    State(s): State<Arc<AppState>>,
    Path((tenant, path)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_route(s, tenant, path, method, uri, headers, body).await
}

/// Finds the route of `/api/<tenant>/<path>` (the longest base path first) and runs its web action.
async fn run_route(
    s: Arc<AppState>,
    tenant: String,
    path: String,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: Body,
) -> Response {
    let full = swagger::normalize_path(&path);
    let all = match store::all(&s.store) {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut apis: Vec<&store::ApiRecord> = all.iter().filter(|r| r.tenant == tenant).collect();
    apis.sort_by_key(|r| std::cmp::Reverse(r.base_path.len()));
    let mut verb_missing = false;
    for r in &apis {
        let rel = if r.base_path == "/" {
            full.clone()
        } else if full == r.base_path {
            "/".to_string()
        } else if let Some(rest) = full.strip_prefix(&format!("{}/", r.base_path)) {
            format!("/{rest}")
        } else {
            continue;
        };
        match swagger::lookup(&r.swagger, &rel, method.as_str(), &swagger::secure_keys(&r.swagger)) {
            Lookup::NoPath => continue,
            Lookup::NoVerb => verb_missing = true,
            Lookup::Found(t) => {
                let ns = if t.namespace == "_" { r.namespace.clone() } else { t.namespace.clone() };
                if let Some(k) = t.secure_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
                    headers.insert("x-require-whisk-auth", k);
                }
                // `.http` actions get the gateway path, as the gateway appends `$(request.path)` to their URL.
                let suffix = if t.response_type == "http" { full.clone() } else { String::new() };
                let rest = format!("{}.{}{suffix}", t.action, t.response_type);
                return match crate::api::web::web(
                    State(s.clone()),
                    Path((ns, t.package, rest)),
                    method,
                    uri,
                    headers,
                    body,
                )
                .await
                {
                    Ok(r) => r,
                    Err(e) => e.into_response(),
                };
            }
        }
    }
    if verb_missing && method == Method::OPTIONS {
        // CORS is enabled on every API (`x-ibm-configuration.cors`): the gateway answers the preflight itself.
        return crate::api::web::cors_preflight(&headers);
    }
    let msg = if verb_missing {
        format!("The route {full} has no operation {method}.")
    } else {
        format!("No API route matches {full}.")
    };
    error_response(StatusCode::NOT_FOUND, &msg)
}
