//! `POST /api/charts` (raw body or multipart `chart`/`prov`) and `POST /api/prov`. A released version
//! (stored now or ever before) is immutable: uploading it again is a 409, `?force` included, unless
//! `charts.allow_overwrite` is on (then `?force` replaces it). Every upload is audited with its credential.

use std::collections::HashMap;
use std::path::Path;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::{Extension, Json};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::archive::{inspect, ArchiveError};
use super::{archive_file, prov};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::OutcomeLabel;
use crate::state::AppState;
use crate::store::StoreError;

/// Serializes uploads so "exists?" and "write" cannot interleave.
static UPLOAD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Params = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

/// The parts of an upload request.
struct Parts {
    chart: Option<Bytes>,
    prov: Option<Bytes>,
}

fn body_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("upload too large: {text}"))
    } else {
        ApiError::bad_request("invalid_upload", text)
    }
}

async fn read_parts(state: &AppState, req: Request, raw_field: &str) -> Result<Parts, ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| body_error(e.status(), e.body_text()))?;
        return Ok(if raw_field == "chart" {
            Parts { chart: Some(bytes), prov: None }
        } else {
            Parts { chart: None, prov: Some(bytes) }
        });
    }
    let mut form = Multipart::from_request(req, state).await.map_err(|e| body_error(e.status(), e.body_text()))?;
    let mut parts = Parts { chart: None, prov: None };
    while let Some(field) = form.next_field().await.map_err(|e| body_error(e.status(), e.body_text()))? {
        let name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| body_error(e.status(), e.body_text()))?;
        match name.as_str() {
            "chart" => parts.chart = Some(data),
            "prov" => parts.prov = Some(data),
            other => {
                return Err(ApiError::bad_request(
                    "invalid_upload",
                    format!("unexpected form field {other:?} (use \"chart\" and \"prov\")"),
                ))
            }
        }
    }
    Ok(parts)
}

fn invalid(e: ArchiveError) -> ApiError {
    ApiError::bad_request("invalid_chart", e.to_string())
}

/// Writes `bytes` to `dir/file` through a temporary file and a rename.
fn write_atomic(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), ApiError> {
    let tmp = dir.join(format!(".{file}.{}.tmp", std::process::id()));
    let io = |e: std::io::Error| ApiError::Internal(format!("writing {file}: {e}"));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, dir.join(file)).map_err(io)
}

fn immutable(what: &str, state: &AppState) -> ApiError {
    let how = if state.settings.charts.allow_overwrite {
        "send ?force to replace it"
    } else {
        "released versions are immutable: publish a new version (charts.allow_overwrite is off)"
    };
    ApiError::Conflict(format!("{what} already exists; {how}"))
}

fn save_chart(state: &AppState, caller: &Caller, bytes: &[u8], overwrite: bool) -> Result<Value, ApiError> {
    let meta = match inspect(bytes) {
        Ok(m) => m,
        Err(e) => {
            crate::tokens::audit(&state.store, &caller.id, "chart.upload", "(invalid archive)", "refused");
            return Err(invalid(e));
        }
    };
    let target = format!("{} {}", meta.name, meta.version);
    let replaced = state.store.chart_released(&meta.name, &meta.version)?;
    if replaced && !overwrite {
        crate::tokens::audit(&state.store, &caller.id, "chart.upload", &target, "conflict");
        return Err(immutable(&format!("chart {} version {}", meta.name, meta.version), state));
    }
    let file = archive_file(&meta.name, &meta.version);
    write_atomic(&state.charts_dir, &file, bytes)?;
    let mut entry = meta.metadata;
    entry.insert("urls".into(), json!([format!("charts/{file}")]));
    entry.insert("created".into(), json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)));
    entry.insert("digest".into(), json!(hex::encode(Sha256::digest(bytes))));
    let entry = Value::Object(entry);
    match state.store.chart_put(&meta.name, &meta.version, &entry, true) {
        Ok(()) => {
            let outcome = if replaced { "replaced" } else { "ok" };
            crate::tokens::audit(&state.store, &caller.id, "chart.upload", &target, outcome);
            Ok(entry)
        }
        Err(e @ StoreError::Exists(_)) => Err(ApiError::Conflict(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

fn save_prov(state: &AppState, caller: &Caller, bytes: &[u8], overwrite: bool) -> Result<(), ApiError> {
    let (name, version) = match prov::chart_of(bytes) {
        Ok(nv) => nv,
        Err(e) => {
            crate::tokens::audit(&state.store, &caller.id, "prov.upload", "(invalid provenance)", "refused");
            return Err(invalid(e));
        }
    };
    let target = format!("{name} {version}");
    let file = format!("{}.prov", archive_file(&name, &version));
    let replaced = state.charts_dir.join(&file).exists();
    if replaced && !overwrite {
        crate::tokens::audit(&state.store, &caller.id, "prov.upload", &target, "conflict");
        return Err(immutable(&format!("provenance file {file}"), state));
    }
    write_atomic(&state.charts_dir, &file, bytes)?;
    crate::tokens::audit(&state.store, &caller.id, "prov.upload", &target, if replaced { "replaced" } else { "ok" });
    Ok(())
}

/// Whether this upload may replace a released version: `?force` and `charts.allow_overwrite` both.
fn overwrite(state: &AppState, params: Params) -> bool {
    let force =
        params.ok().is_some_and(|Query(p)| p.get("force").is_some_and(|v| v.is_empty() || v == "true" || v == "1"));
    force && state.settings.charts.allow_overwrite
}

fn count(state: &AppState, r: &Result<(StatusCode, Json<Value>), ApiError>) {
    let outcome = match r {
        Ok(_) => "stored",
        Err(ApiError::Conflict(_)) => "conflict",
        Err(_) => "rejected",
    };
    state.metrics.chart_uploads.get_or_create(&OutcomeLabel { outcome: outcome.into() }).inc();
}

/// `POST /api/charts`: a chart archive as the raw body, or multipart fields `chart` and optionally `prov`.
pub async fn upload_chart(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Params,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let result = async {
        let force = overwrite(&state, params);
        let parts = read_parts(&state, req, "chart").await?;
        let _guard = UPLOAD_LOCK.lock().await;
        let st = state.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(chart) = &parts.chart {
                let entry = save_chart(&st, &caller, chart, force)?;
                tracing::info!(chart = %entry["name"], version = %entry["version"], credential = %caller.id, "chart stored");
            }
            if let Some(p) = &parts.prov {
                save_prov(&st, &caller, p, force)?;
            }
            if parts.chart.is_none() && parts.prov.is_none() {
                return Err(ApiError::bad_request(
                    "invalid_upload",
                    "no chart in the request (raw body, or multipart field \"chart\")",
                ));
            }
            Ok((StatusCode::CREATED, Json(json!({ "saved": true }))))
        })
        .await?
    }
    .await;
    count(&state, &result);
    result
}

/// `POST /api/prov`: a provenance file as the raw body or multipart field `prov`.
pub async fn upload_prov(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Params,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let force = overwrite(&state, params);
    let parts = read_parts(&state, req, "prov").await?;
    let Some(p) = parts.prov else {
        return Err(ApiError::bad_request(
            "invalid_upload",
            "no provenance file in the request (raw body, or multipart field \"prov\")",
        ));
    };
    let _guard = UPLOAD_LOCK.lock().await;
    let st = state.clone();
    tokio::task::spawn_blocking(move || save_prov(&st, &caller, &p, force)).await??;
    Ok((StatusCode::CREATED, Json(json!({ "saved": true }))))
}
