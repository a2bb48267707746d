//! `GET /api/v1/catalog/_changes?since=&feed=longpoll&limit=&timeout=`: the catalog's changes feed for
//! sites (site token; sites never hold CouchDB credentials), in CouchDB's shape
//! `{results: [{seq, id, changes: [{rev}], deleted?, doc}], last_seq}`, always with documents.
//! Positions are opaque strings `<epoch>~<backend seq>`: a `since` of another epoch (the database was
//! recreated, or another store) restarts the feed from the beginning and says `"reset": true`, so the
//! site drops what it holds and resyncs. A longpoll waiting when the hub stops answers at once, empty.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::CatalogStore;
use crate::error::ApiError;
use crate::state::AppState;

/// Most changes in one answer.
pub const MAX_LIMIT: usize = 10_000;

/// The backend's position as a string (CouchDB 2+ strings, PouchDB and the embedded store numbers).
fn raw(seq: &Value) -> String {
    match seq {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits a position given by a site: `None` for the start (absent or `0`), else (epoch, backend seq).
pub fn parse_since(since: Option<&str>) -> Result<Option<(&str, &str)>, ApiError> {
    match since {
        None | Some("0" | "") => Ok(None),
        Some(s) => s.split_once('~').filter(|(e, r)| !e.is_empty() && !r.is_empty()).map(Some).ok_or_else(|| {
            ApiError::bad_request("invalid_since", "since must be 0 or a last_seq or seq from this feed")
        }),
    }
}

/// The feed handler.
pub async fn feed(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let longpoll = match q.get("feed").map(String::as_str) {
        None | Some("normal") => false,
        Some("longpoll") => true,
        Some(other) => {
            return Err(ApiError::bad_request("invalid_feed", format!("feed={other:?}: use normal or longpoll")))
        }
    };
    let limit = match q.get("limit") {
        None => 1000,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_request("malformed_query", format!("limit must be 1..={MAX_LIMIT}")))?,
    };
    let most = Duration::from_secs(state.settings.catalog.longpoll_secs);
    let wait = match (longpoll, q.get("timeout")) {
        (false, _) => Duration::ZERO,
        (true, None) => most,
        (true, Some(v)) => v
            .parse::<u64>()
            .map(|ms| Duration::from_millis(ms).min(most))
            .map_err(|_| ApiError::bad_request("malformed_query", "timeout must be milliseconds"))?,
    };
    let epoch = state.catalog.epoch().await?;
    let given = parse_since(q.get("since").map(String::as_str))?;
    let (since, reset) = match given {
        Some((e, r)) if e == epoch => (Some(r), false),
        Some(_) => (None, true),
        None => (None, false),
    };
    let wait = if reset { Duration::ZERO } else { wait };
    let page = tokio::select! {
        page = state.catalog.changes(since, limit, wait) => page?,
        // The hub is stopping: answer "nothing yet" so the site polls again (after the restart, or
        // another replica).
        () = state.stopping.cancelled(), if !wait.is_zero() => {
            super::ChangesPage { results: vec![], last_seq: since.map_or(serde_json::json!(0), |s| serde_json::json!(s)) }
        }
    };
    let wrap = |seq: &Value| json!(format!("{epoch}~{}", raw(seq)));
    let results: Vec<Value> = page
        .results
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            v["seq"] = wrap(&c.seq);
            v
        })
        .collect();
    let mut out = json!({"results": results, "last_seq": wrap(&page.last_seq)});
    if reset {
        out["reset"] = json!(true);
    }
    Ok(Json(out))
}
