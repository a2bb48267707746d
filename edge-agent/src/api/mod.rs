//! The OpenWhisk REST API v1: one router per resource, merged, with CORS, body limits and JSON errors everywhere.

mod action_put;
pub mod actions;
pub mod activations;
mod dead_letters;
mod drain;
mod entities;
pub mod error;
pub mod extract;
mod info;
mod namespaces;
pub mod packages;
mod routes;
mod rules;
mod telemetry;
mod triggers;
mod web;
mod web_render;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use crate::state::AppState;
use error::{error_response, ApiError};

/// The whole API.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.settings.limits.max_body_bytes;
    Router::new()
        .merge(info::router())
        .merge(namespaces::router())
        .merge(actions::router())
        .merge(packages::router())
        .merge(triggers::router())
        .merge(rules::router())
        .merge(activations::router())
        .merge(telemetry::router())
        .merge(dead_letters::router())
        .merge(web::router())
        .merge(routes::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), drain::gate))
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn(rewrap_errors))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(format!("GET, PUT, POST, DELETE (not {method})"))
}

const ALLOW_HEADERS: &str = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent";

/// CORS as OpenWhisk's controller does it: OPTIONS answered with 200, every response allows any origin.
async fn cors(req: Request, next: Next) -> Response {
    let is_web = is_web_path(req.uri().path());
    if req.method() == Method::OPTIONS && !is_web {
        let mut r = StatusCode::OK.into_response();
        add_cors(&mut r);
        return r;
    }
    let mut r = next.run(req).await;
    if !is_web || !r.headers().contains_key("access-control-allow-origin") {
        add_cors(&mut r);
    }
    r
}

/// Web actions and API gateway routes answer as their actions say (their own CORS, errors and bodies).
fn is_web_path(path: &str) -> bool {
    path.starts_with("/api/v1/web/") || routes::is_gateway_path(path)
}

fn add_cors(r: &mut Response) {
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-allow-methods", HeaderValue::from_static("GET, DELETE, POST, PUT, HEAD"));
    h.insert("access-control-allow-headers", HeaderValue::from_static(ALLOW_HEADERS));
}

/// Turns plain-text rejections of the HTTP framework (413 from the body limit, 400s) into `{error, code}`.
async fn rewrap_errors(req: Request, next: Next) -> Response {
    let is_web = is_web_path(req.uri().path());
    let r = next.run(req).await;
    if is_web {
        return r;
    }
    let status = r.status();
    let is_json = r.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let msg = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "The request content exceeds the maximum allowed size.".to_string(),
            s => s.canonical_reason().unwrap_or("Request failed.").to_string(),
        };
        return error_response(status, &msg);
    }
    r
}
