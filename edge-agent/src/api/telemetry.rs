//! `/namespaces/{ns}/telemetry`: the site's telemetry API for actions (write readings, per-day statistics).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use fogwhisk_site::{Reading, SiteError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{parse_json, Caller, QueryMap, RawBody};
use super::AppState;

/// Routes of the telemetry API.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/telemetry/readings", post(write))
        .route("/api/v1/namespaces/{ns}/telemetry/daily", get(daily))
}

/// Body of `POST .../telemetry/readings`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingsBody {
    readings: Vec<Reading>,
}

fn site_error(e: SiteError) -> ApiError {
    match e {
        SiteError::InvalidReading { .. } | SiteError::InvalidRange { .. } | SiteError::InvalidNamespace(_) => {
            ApiError::bad(e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

async fn write(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path(ns): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let ns = c.own(&ns)?;
    let max = s.settings.limits.max_payload_bytes;
    if body.len() > max {
        return Err(ApiError::TooLarge(format!("Request larger than allowed: {} > {max} bytes.", body.len())));
    }
    let b: ReadingsBody = parse_json(&body)?;
    let summary = s.site.write_async(&ns, b.readings).await.map_err(site_error)?;
    Ok(Json(json!({
        "written": summary.written,
        "duplicates": summary.duplicates,
        "duplicate_indexes": summary.duplicate_indexes,
    })))
}

fn day(q: &QueryMap, key: &str) -> ApiResult<Option<NaiveDate>> {
    q.0.get(key)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| ApiError::bad(format!("The parameter '{key}' must be a day as YYYY-MM-DD, not '{v}'.")))
        })
        .transpose()
}

async fn daily(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path(ns): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let ns = c.own(&ns)?;
    let tz_name = q.0.get("tz").cloned().unwrap_or_else(|| s.settings.timezone.clone());
    let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| ApiError::bad(format!("Unknown time zone '{tz_name}'.")))?;
    if q.flag("pending", false)? {
        let max_days = q.number("max_days")?.unwrap_or(7).clamp(1, 366) as usize;
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        let records =
            s.site.run_blocking(move |st| st.pending_records(&ns, tz, today, max_days)).await.map_err(site_error)?;
        return Ok(Json(json!({ "records": records })));
    }
    let (Some(from), Some(to)) = (day(&q, "from")?, day(&q, "to")?) else {
        return Err(ApiError::bad("Give 'from' and 'to' days (YYYY-MM-DD), or 'pending=true'."));
    };
    let days = s.site.run_blocking(move |st| st.daily_stats(&ns, from, to, tz)).await.map_err(site_error)?;
    let records: Vec<_> = days.iter().map(|d| d.to_record(tz)).collect();
    Ok(Json(json!({ "records": records })))
}
