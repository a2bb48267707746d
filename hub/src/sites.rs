//! Sites: registration (token shown once, stored hashed), listing, removal; the admin HTTP API and the CLI use it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::Utc;
use fogwhisk_wire::hub::{NewSite, SiteCreated, SiteInfo};

use crate::auth::{hash_token, new_token, Caller};
use crate::domain::{parse_tz, ParseError, SiteId};
use crate::error::{json_rejection, ApiError};
use crate::state::AppState;
use crate::store::{SiteRecord, Store, StoreError};

/// Registering or removing a site failed.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// Bad id, name or time zone.
    #[error("{0}")]
    Invalid(#[from] ParseError),
    /// The site id is taken.
    #[error("site {0:?} already exists")]
    Exists(String),
    /// No such site.
    #[error("unknown site {0:?}")]
    Unknown(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SiteError {
    fn from(e: StoreError) -> Self {
        SiteError::Store(e)
    }
}

impl From<SiteError> for ApiError {
    fn from(e: SiteError) -> Self {
        match e {
            SiteError::Invalid(p) => ApiError::bad_request("invalid_site", p.0),
            SiteError::Exists(_) => ApiError::Conflict(e.to_string()),
            SiteError::Unknown(_) => ApiError::NotFound(e.to_string()),
            SiteError::Store(s) => s.into(),
        }
    }
}

/// The public view of a stored site.
pub fn info(r: &SiteRecord) -> SiteInfo {
    SiteInfo {
        id: r.id.clone(),
        display_name: r.display_name.clone(),
        tz: r.tz.clone(),
        created_at: r.created_at.to_rfc3339(),
        last_report: r.last_report.map(|t| t.to_rfc3339()),
    }
}

/// Registers a site and returns it with its new token (the only time the token is visible).
pub fn register(store: &Store, new: &NewSite) -> Result<SiteCreated, SiteError> {
    let id = SiteId::parse(&new.id)?;
    let tz = parse_tz(&new.tz)?;
    let display_name = new.display_name.clone().unwrap_or_else(|| id.to_string());
    if display_name.trim().is_empty() || display_name.len() > 200 {
        return Err(ParseError("display_name must be 1-200 characters".into()).into());
    }
    let token = new_token();
    let record = SiteRecord {
        id: id.to_string(),
        display_name,
        tz: tz.name().to_string(),
        token_hash: hash_token(&token),
        created_at: Utc::now(),
        last_report: None,
    };
    match store.insert_site(&record) {
        Ok(()) => Ok(SiteCreated { site: info(&record), token }),
        Err(StoreError::Exists(_)) => Err(SiteError::Exists(record.id)),
        Err(e) => Err(e.into()),
    }
}

/// Removes a site (and its token); its stored aggregates are kept.
pub fn remove(store: &Store, id: &str) -> Result<(), SiteError> {
    if store.remove_site(id)? {
        Ok(())
    } else {
        Err(SiteError::Unknown(id.to_string()))
    }
}

/// `/api/v1/sites` routes (admin only, by [`crate::access::ROUTES`]).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sites", get(list).post(create)).route("/api/v1/sites/{site}", get(show).delete(delete))
}

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewSite>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<SiteCreated>), ApiError> {
    let Json(new) = body.map_err(json_rejection)?;
    let store = state.store.clone();
    let created = tokio::task::spawn_blocking(move || register(&store, &new)).await??;
    tracing::info!(site = %created.site.id, tz = %created.site.tz, "site registered");
    crate::tokens::audit_async(&state, &caller, "site.add", created.site.id.clone(), "ok").await;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<SiteInfo>>, ApiError> {
    let store = state.store.clone();
    let sites = tokio::task::spawn_blocking(move || store.list_sites()).await??;
    Ok(Json(sites.iter().map(info).collect()))
}

async fn show(State(state): State<AppState>, Path(site): Path<String>) -> Result<Json<SiteInfo>, ApiError> {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.get_site(&site)).await??;
    found.map(|r| Json(info(&r))).ok_or_else(|| ApiError::NotFound("unknown site".into()))
}

async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    let id = site.clone();
    tokio::task::spawn_blocking(move || remove(&store, &id)).await??;
    tracing::info!(site = %site, "site removed");
    crate::tokens::audit_async(&state, &caller, "site.remove", site, "ok").await;
    Ok(StatusCode::NO_CONTENT)
}
