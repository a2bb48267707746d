//! The Helm chart repository: chartmuseum's HTTP API over the charts folder and the store's chart index.
//!
//! Archives live in `<data>/charts/<name>-<version>.tgz` (and `.tgz.prov`); file names are built only
//! from validated names and semantic versions, so nothing can be written outside that folder.

pub mod archive;
mod index;
mod prov;
mod read;
mod upload;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::config::Settings;
use crate::state::AppState;

/// Chart repository routes.
pub fn router(settings: &Settings) -> Router<AppState> {
    Router::new()
        .route("/index.yaml", get(read::index_yaml))
        .route("/charts/{file}", get(read::download))
        .route("/health", get(read::health))
        .route("/api/charts", get(read::list_all).post(upload::upload_chart))
        .route("/api/prov", post(upload::upload_prov))
        .route("/api/charts/{name}", get(read::list_versions))
        .route("/api/charts/{name}/{version}", get(read::describe).head(read::exists).delete(read::delete))
        .layer(DefaultBodyLimit::max(settings.charts.max_upload_bytes))
}

/// File name of a chart archive.
pub(crate) fn archive_file(name: &str, version: &str) -> String {
    format!("{name}-{version}.tgz")
}
