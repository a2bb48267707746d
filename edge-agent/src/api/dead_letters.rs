//! `/namespaces/whisk.system/federation/dead-letters`: the outbox's dead-letter list for the site's operator
//! (the `whisk.system` key): list, re-queue at the end of the outbox, drop. `fogwhisk-edge dead-letters` calls it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Caller;
use super::AppState;
use crate::identity::SYSTEM_NAMESPACE;

/// Routes of the dead-letter API.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/namespaces/{ns}/federation/dead-letters", get(list))
        .route("/api/v1/namespaces/{ns}/federation/dead-letters/{seq}/requeue", post(requeue))
        .route("/api/v1/namespaces/{ns}/federation/dead-letters/{seq}", delete(drop_one))
}

/// Only the system namespace's own key (the operator's) reaches dead letters.
fn operator(c: &Caller, ns: &str) -> ApiResult<()> {
    let ns = c.own(ns)?;
    if ns != SYSTEM_NAMESPACE {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

fn seqs(raw: &str) -> ApiResult<Option<Vec<u64>>> {
    if raw == "all" {
        return Ok(None);
    }
    raw.parse::<u64>()
        .map(|s| Some(vec![s]))
        .map_err(|_| ApiError::bad(format!("'{raw}' is not a dead letter's sequence number (or 'all').")))
}

async fn list(State(s): State<Arc<AppState>>, c: Caller, Path(ns): Path<String>) -> ApiResult<Json<Value>> {
    operator(&c, &ns)?;
    let letters = s.site.run_blocking(|st| st.dead_letters()).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({ "dead_letters": letters })))
}

/// What the operator does with chosen dead letters.
#[derive(Clone, Copy)]
enum Operation {
    Requeue,
    Drop,
}

async fn requeue(s: State<Arc<AppState>>, c: Caller, p: Path<(String, String)>) -> ApiResult<Json<Value>> {
    operate(s, c, p, Operation::Requeue).await
}

async fn drop_one(s: State<Arc<AppState>>, c: Caller, p: Path<(String, String)>) -> ApiResult<Json<Value>> {
    operate(s, c, p, Operation::Drop).await
}

/// Re-queues (at the end of the outbox) or drops one dead letter or `all`; 404 for an unknown one.
async fn operate(
    State(s): State<Arc<AppState>>,
    c: Caller,
    Path((ns, seq)): Path<(String, String)>,
    op: Operation,
) -> ApiResult<Json<Value>> {
    operator(&c, &ns)?;
    let chosen = seqs(&seq)?;
    let n = s
        .site
        .run_blocking(move |st| match op {
            Operation::Requeue => st.dead_letters_requeue(chosen.as_deref()),
            Operation::Drop => st.dead_letters_drop(chosen.as_deref()),
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if n == 0 && seq != "all" {
        return Err(ApiError::NotFoundMsg(format!("No dead letter {seq}.")));
    }
    let (field, done) = match op {
        Operation::Requeue => ("requeued", "re-queued"),
        Operation::Drop => ("dropped", "dropped"),
    };
    tracing::info!(seq = %seq, count = n, "dead letters {done} by the operator");
    Ok(Json(json!({ field: n })))
}
