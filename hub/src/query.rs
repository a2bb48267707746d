//! `GET /api/v1/aggregates`: stored aggregates filtered by site, datacenter, metric and day range.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use fogwhisk_wire::hub::{AggregateList, StoredAggregate};
use serde::Deserialize;

use crate::domain::{parse_day, parse_metric, SiteId};
use crate::error::{query_rejection, ApiError};
use crate::state::AppState;
use crate::store::{AggregateFilter, StoredRecord};

/// Most records one query returns.
pub const MAX_LIMIT: usize = 100_000;

/// Query-string parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateQuery {
    site: Option<String>,
    datacenter_id: Option<u32>,
    metric: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

impl AggregateQuery {
    /// Validates the parameters into a store filter.
    pub fn into_filter(self) -> Result<(AggregateFilter, usize), ApiError> {
        let bad = |m: String| ApiError::bad_request("invalid_query", m);
        if let Some(s) = &self.site {
            SiteId::parse(s).map_err(|e| bad(format!("site: {e}")))?;
        }
        if let Some(m) = &self.metric {
            parse_metric(m).map_err(|e| bad(format!("metric: {e}")))?;
        }
        let from = self.from.as_deref().map(parse_day).transpose().map_err(|e| bad(format!("from: {e}")))?;
        let to = self.to.as_deref().map(parse_day).transpose().map_err(|e| bad(format!("to: {e}")))?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(bad(format!("from ({f}) is after to ({t})")));
            }
        }
        let limit = self.limit.unwrap_or(10_000).clamp(1, MAX_LIMIT);
        let filter = AggregateFilter {
            site: self.site,
            datacenter_id: self.datacenter_id,
            metric: self.metric,
            from: from.map(|d| d.to_string()),
            to: to.map(|d| d.to_string()),
        };
        Ok((filter, limit))
    }
}

/// The wire view of a stored record.
pub fn to_wire(r: StoredRecord) -> StoredAggregate {
    StoredAggregate { site: r.site, record: r.record, received_at: r.received_at.to_rfc3339() }
}

/// The query route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/aggregates", get(list))
}

async fn list(
    State(state): State<AppState>,
    query: Result<Query<AggregateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AggregateList>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let (filter, limit) = q.into_filter()?;
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.query_aggregates(&filter, limit)).await??;
    Ok(Json(AggregateList { records: rows.into_iter().map(to_wire).collect() }))
}
