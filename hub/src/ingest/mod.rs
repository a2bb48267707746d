//! `POST /api/v1/sites/{site}/aggregates`: validate the batch, store it whole, queue it for InfluxDB. The
//! access guard has already checked that the token is this site's own (see [`crate::access`]).

pub mod validate;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use fogwhisk_wire::{IngestResponse, RefusedBatch, RefusedRecord};

use crate::config::InfluxBackend;
use crate::error::ApiError;
use crate::influx::line;
use crate::metrics::SiteLabel;
use crate::state::AppState;
use crate::store::StoreError;
use validate::BatchError;

/// The ingest route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sites/{site}/aggregates", post(ingest))
}

fn reason_of(e: &ApiError) -> &'static str {
    match e {
        ApiError::Unauthorized(_) => "unauthorized",
        ApiError::Forbidden(_) => "forbidden",
        ApiError::NotFound(_) => "unknown_site",
        ApiError::TooLarge(_) => "too_large",
        ApiError::BadRequest { code, .. } => code,
        _ => "internal",
    }
}

#[tracing::instrument(skip_all, fields(site = %site))]
async fn ingest(State(state): State<AppState>, Path(site): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let mut refused = Vec::new();
    let result = ingest_inner(&state, &site, &headers, body, &mut refused).await;
    match result {
        Ok(r) => Json(r).into_response(),
        Err(e) => {
            if !matches!(e, ApiError::BadRequest { code: "invalid_record", .. }) {
                state.metrics.reject(reason_of(&e), 1);
            }
            tracing::info!(error = %e, "batch rejected");
            if refused.is_empty() {
                return e.into_response();
            }
            // The 400 names every refused record by index, so a site can set exactly those aside.
            let body = RefusedBatch { error: e.to_string(), code: "invalid_record".into(), records: refused };
            (axum::http::StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let max = state.settings.ingest.max_bytes;
    let too_large = || ApiError::TooLarge(format!("request body is larger than {max} bytes"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, max).await.map_err(|e| {
        let limited = std::error::Error::source(&e)
            .is_some_and(|s| s.downcast_ref::<http_body_util::LengthLimitError>().is_some());
        if limited {
            too_large()
        } else {
            ApiError::bad_request("unreadable_body", format!("could not read the request body: {e}"))
        }
    })
}

async fn ingest_inner(
    state: &AppState,
    site: &str,
    headers: &HeaderMap,
    body: Body,
    refused: &mut Vec<RefusedRecord>,
) -> Result<IngestResponse, ApiError> {
    let store = state.store.clone();
    let id = site.to_string();
    let site_rec = tokio::task::spawn_blocking(move || store.get_site(&id))
        .await??
        // Removed between the guard's check and now: the token is no longer valid.
        .ok_or_else(|| ApiError::Unauthorized("invalid credentials".into()))?;
    let bytes = read_body(state, headers, body).await?;
    let max_records = state.settings.ingest.max_records;
    let records = validate::parse_batch(&bytes, &site_rec.tz, max_records).map_err(|e| match e {
        BatchError::Malformed(_) => ApiError::bad_request("invalid_json", e.to_string()),
        BatchError::Shape(_) => ApiError::bad_request("invalid_batch", e.to_string()),
        BatchError::TooMany { .. } => ApiError::TooLarge(e.to_string()),
        BatchError::Records(ref errs) => {
            for r in errs {
                state.metrics.reject(r.reason, 1);
            }
            refused.extend(errs.iter().map(|r| RefusedRecord {
                index: r.index,
                field: r.field.clone(),
                reason: r.reason.to_string(),
                message: r.message.clone(),
            }));
            ApiError::bad_request("invalid_record", e.to_string())
        }
    })?;
    let lines: Vec<String> = if state.settings.influx.backend == InfluxBackend::None {
        Vec::new()
    } else {
        records.iter().filter_map(|r| line::render(site, r)).collect()
    };
    let now = Utc::now();
    let store = state.store.clone();
    let (site_id, recs) = (site.to_string(), records);
    let (accepted, replaced) = tokio::task::spawn_blocking(move || store.upsert_batch(&site_id, &recs, lines, now))
        .await?
        .map_err(|e| match e {
            StoreError::Missing(_) => ApiError::NotFound(format!("unknown site {site:?}")),
            other => other.into(),
        })?;
    state.queue_notify.notify_one();
    let label = SiteLabel { site: site.to_string() };
    state.metrics.ingest_batches.get_or_create(&label).inc();
    state.metrics.ingest_records.get_or_create(&label).inc_by(accepted as u64);
    tracing::info!(accepted, replaced, "batch stored");
    Ok(IngestResponse { accepted, replaced, received_at: now.to_rfc3339() })
}
