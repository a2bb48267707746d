//! Chart repository reads (`/index.yaml`, `/charts/<file>`, `/api/charts...`), deletion and `/health`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::archive::{check_name, check_version};
use super::{archive_file, index};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({ "healthy": true }))
}

async fn entries(state: &AppState) -> Result<Vec<(String, String, Value)>, ApiError> {
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || store.chart_list()).await??)
}

/// `GET /index.yaml`.
pub async fn index_yaml(State(state): State<AppState>) -> Result<Response, ApiError> {
    let yaml = index::index_yaml(entries(&state).await?);
    Ok(([(header::CONTENT_TYPE, "application/x-yaml")], yaml).into_response())
}

/// A download file name: `<name>-<version>.tgz` or `.tgz.prov`, plain characters only.
fn safe_file(file: &str) -> bool {
    let ok_chars = file.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    ok_chars
        && !file.starts_with('.')
        && !file.contains("..")
        && (file.ends_with(".tgz") || file.ends_with(".tgz.prov"))
}

/// `GET /charts/<name>-<version>.tgz` (and `.tgz.prov`).
pub async fn download(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, ApiError> {
    if !safe_file(&file) {
        return Err(ApiError::NotFound(format!("no chart file {file:?}")));
    }
    let path = state.charts_dir.join(&file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let ctype = if file.ends_with(".prov") { "application/pgp-signature" } else { "application/gzip" };
            Ok(([(header::CONTENT_TYPE, ctype)], bytes).into_response())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::NotFound(format!("no chart file {file:?}")))
        }
        Err(e) => Err(ApiError::Internal(format!("reading {}: {e}", path.display()))),
    }
}

/// `GET /api/charts`: every chart, versions newest first.
pub async fn list_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(index::by_name(entries(&state).await?))))
}

/// `GET /api/charts/<name>`.
pub async fn list_versions(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let mut all = index::by_name(entries(&state).await?);
    all.remove(&name).map(|v| Json(json!(v))).ok_or_else(|| ApiError::NotFound(format!("no chart named {name:?}")))
}

async fn find(state: &AppState, name: &str, version: &str) -> Result<Value, ApiError> {
    let missing = || ApiError::NotFound(format!("no chart {name} version {version}"));
    if check_name(name).is_err() || check_version(version).is_err() {
        return Err(missing());
    }
    entries(state).await?.into_iter().find(|(n, v, _)| n == name && v == version).map(|(_, _, e)| e).ok_or_else(missing)
}

/// `GET /api/charts/<name>/<version>`.
pub async fn describe(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&state, &name, &version).await?))
}

/// `HEAD /api/charts/<name>/<version>`: 200 when it exists, 404 otherwise.
pub async fn exists(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    find(&state, &name, &version).await.map(|_| StatusCode::OK)
}

/// `DELETE /api/charts/<name>/<version>`: removes the entry, the archive and its provenance file.
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if let Err(e) = find(&state, &name, &version).await {
        crate::tokens::audit_async(&state, &caller, "chart.delete", format!("{name} {version}"), "not_found").await;
        return Err(e);
    }
    let store = state.store.clone();
    let (n, v) = (name.clone(), version.clone());
    tokio::task::spawn_blocking(move || store.chart_delete(&n, &v)).await??;
    let file = archive_file(&name, &version);
    for f in [file.clone(), format!("{file}.prov")] {
        let _ = tokio::fs::remove_file(state.charts_dir.join(f)).await;
    }
    tracing::info!(chart = %name, version = %version, credential = %caller.id, "chart deleted");
    crate::tokens::audit_async(&state, &caller, "chart.delete", format!("{name} {version}"), "ok").await;
    Ok(Json(json!({ "deleted": true })))
}
