//! API gateway routes served by the agent itself: the route management API `wsk api` and the npm client's `routes`
//! call (`/api/v1/web/whisk.system/apimgmt/{createApi,getApi,deleteApi}[.http]`, answered as OpenWhisk's route
//! management actions answer), and every route answering at `<api_host>/api/<tenant>/<base path>/<path>` by running
//! its web action, the method checked first.

mod gateway;
mod manage;
mod store;
mod swagger;

use std::sync::Arc;

use axum::routing::any;
use axum::Router;

pub(super) use manage::manage;

use super::AppState;

/// Routes of the gateway itself (the management API is reached through `web::web`).
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/{tenant}", any(gateway::serve_root)).route("/api/{tenant}/{*path}", any(gateway::serve))
}

/// Whether a request path is a gateway route (`/api/<tenant>/...`, anything under `/api/` but the v1 API).
pub fn is_gateway_path(path: &str) -> bool {
    path.strip_prefix("/api/").and_then(|r| r.split('/').next()).is_some_and(|t| !t.is_empty() && t != "v1")
}
