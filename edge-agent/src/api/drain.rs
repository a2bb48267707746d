//! The API's side of a shutdown drain. Once the agent begins to stop (`AppState::stop`), requests that would
//! start new work from outside are answered 503 with OpenWhisk's `{error, code}` body: invokes
//! (`POST .../actions/{name}`), trigger fires (`POST .../triggers/{name}`) and web actions. Everything else is
//! still served until the running activations have finished, above all their own calls (the telemetry API,
//! activations, entities). While the agent runs, each such request holds a place in `AppState::tasks`, so the
//! drain waits for blocking invokes in progress exactly as for background activations.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::error_response;
use crate::state::AppState;

/// Seconds a refused client is told to wait (`Retry-After`): about a restart.
const RETRY_AFTER_SECS: &str = "5";

/// Whether a request starts new work: an invoke, a trigger fire or a web action.
pub(super) fn starts_work(method: &Method, path: &str) -> bool {
    if path.starts_with("/api/v1/web/") || super::routes::is_gateway_path(path) {
        return true;
    }
    if method != Method::POST {
        return false;
    }
    let Some(rest) = path.strip_prefix("/api/v1/namespaces/") else { return false };
    let mut parts = rest.splitn(3, '/');
    let (Some(ns), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else { return false };
    !ns.is_empty() && !name.trim_matches('/').is_empty() && (kind == "actions" || kind == "triggers")
}

/// Refuses new work while draining; otherwise tracks it until its answer is ready.
pub(super) async fn gate(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !starts_work(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    // Taken before the check: a request that passes it is waited for by the drain.
    let _running = s.tasks.token();
    if s.stop.is_cancelled() {
        let mut r = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "The agent is shutting down and takes no new invocations or trigger fires; retry shortly.",
        );
        r.headers_mut().insert("retry-after", HeaderValue::from_static(RETRY_AFTER_SECS));
        return r;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_work_is_invokes_fires_and_web_actions() {
        let post = Method::POST;
        assert!(starts_work(&post, "/api/v1/namespaces/_/actions/hello"));
        assert!(starts_work(&post, "/api/v1/namespaces/guest/actions/pkg/hello"));
        assert!(starts_work(&post, "/api/v1/namespaces/_/triggers/telemetry"));
        assert!(starts_work(&Method::GET, "/api/v1/web/guest/default/hello.json"));
        assert!(starts_work(&Method::GET, "/api/9f1c2e3a-0000-4000-8000-000000000000/hello/world"));
        assert!(!starts_work(&Method::GET, "/api/v1/namespaces"));
        assert!(!starts_work(&post, "/api/v1/namespaces/_/telemetry/readings"));
        assert!(!starts_work(&Method::GET, "/api/v1/namespaces/_/actions/hello"));
        assert!(!starts_work(&Method::PUT, "/api/v1/namespaces/_/actions/hello"));
        assert!(!starts_work(&Method::DELETE, "/api/v1/namespaces/_/triggers/t"));
        assert!(!starts_work(&post, "/api/v1/namespaces/_/rules/r"));
        assert!(!starts_work(&post, "/api/v1/namespaces/_/actions"));
        assert!(!starts_work(&post, "/api/v1/namespaces/_/actions/"));
    }
}
