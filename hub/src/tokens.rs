//! Scoped tokens while the hub runs: create (admin, publisher, reader), rotate and revoke any token
//! (site tokens as `site:<id>`), list them, and the audit log of who changed sites, tokens and charts.
//! The admin HTTP API and the `tokens` CLI share these functions; tokens are shown once, stored hashed.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::auth::{hash_token, new_token, site_credential_id, Caller, Role, BOOTSTRAP_ADMIN};
use crate::error::{json_rejection, query_rejection, ApiError};
use crate::state::AppState;
use crate::store::{AuditEntry, CredentialRecord, Store, StoreError};

/// A token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad role or label.
    #[error("{0}")]
    Invalid(String),
    /// No such credential.
    #[error("unknown token {0:?}")]
    Unknown(String),
    /// The bootstrap admin token is configuration, not stored.
    #[error(
        "the bootstrap admin token comes from the configuration (admin_token or <data>/admin-token): change it there"
    )]
    Bootstrap,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(m) => ApiError::bad_request("invalid_token_request", m),
            TokenError::Unknown(_) => ApiError::NotFound(e.to_string()),
            TokenError::Bootstrap => ApiError::bad_request("bootstrap_token", e.to_string()),
            TokenError::Store(s) => s.into(),
        }
    }
}

/// `POST /api/v1/tokens` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// `admin`, `publisher`, `reader` or `catalog` (site tokens come with `POST /api/v1/sites`).
    pub role: String,
    /// Free text, e.g. `ci` or `grafana`.
    #[serde(default)]
    pub label: Option<String>,
}

/// A token as shown once, at creation or rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    /// Credential id.
    pub id: String,
    /// Role.
    pub role: String,
    /// The token; the only time it is visible.
    pub token: String,
}

/// A credential in listings (no token, no hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Credential id.
    pub id: String,
    /// Role.
    pub role: String,
    /// The site of a site token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Creation time (none for the bootstrap admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    /// False for a revoked site token (the site stays; rotate to issue a new one).
    pub active: bool,
}

/// Creates a scoped token.
pub fn create(store: &Store, new: &NewToken) -> Result<IssuedToken, TokenError> {
    let role = match Role::parse(&new.role) {
        Some(Role::Site) => {
            return Err(TokenError::Invalid("site tokens are issued with the site (POST /api/v1/sites)".into()))
        }
        Some(r) => r,
        None => {
            return Err(TokenError::Invalid(format!("role {:?}: use admin, publisher, reader or catalog", new.role)))
        }
    };
    if new.label.as_ref().is_some_and(|l| l.len() > 200 || l.chars().any(char::is_control)) {
        return Err(TokenError::Invalid("label must be at most 200 printable characters".into()));
    }
    let token = new_token();
    let record = CredentialRecord {
        id: format!("{}-{}", role.as_str(), &new_token()[..8]),
        role: role.as_str().into(),
        label: new.label.clone(),
        token_hash: hash_token(&token),
        created_at: Utc::now(),
        rotated_at: None,
    };
    store.insert_credential(&record)?;
    Ok(IssuedToken { id: record.id, role: record.role, token })
}

/// Issues a new token for `id` (a scoped token or `site:<id>`); the old one stops working in the same commit.
pub fn rotate(store: &Store, id: &str) -> Result<IssuedToken, TokenError> {
    if id == BOOTSTRAP_ADMIN {
        return Err(TokenError::Bootstrap);
    }
    let token = new_token();
    let hash = hash_token(&token);
    let role = if let Some(site) = id.strip_prefix("site:") {
        store.set_site_token(site, Some(&hash))?.then_some(Role::Site)
    } else {
        let role = store.list_credentials()?.into_iter().find(|c| c.id == id).map(|c| c.role);
        match role {
            Some(r) if store.rotate_credential(id, &hash, Utc::now())? => Role::parse(&r),
            _ => None,
        }
    };
    let role = role.ok_or_else(|| TokenError::Unknown(id.to_string()))?;
    Ok(IssuedToken { id: id.to_string(), role: role.as_str().into(), token })
}

/// Revokes `id`: a scoped token is deleted; a site token is cleared (the site stays, unable to push
/// until its token is rotated).
pub fn revoke(store: &Store, id: &str) -> Result<(), TokenError> {
    if id == BOOTSTRAP_ADMIN {
        return Err(TokenError::Bootstrap);
    }
    let found = match id.strip_prefix("site:") {
        Some(site) => store.set_site_token(site, None)?,
        None => store.revoke_credential(id)?,
    };
    found.then_some(()).ok_or_else(|| TokenError::Unknown(id.to_string()))
}

/// Every credential: the bootstrap admin, scoped tokens, then site tokens.
pub fn list(store: &Store) -> Result<Vec<TokenInfo>, TokenError> {
    let mut out = vec![TokenInfo {
        id: BOOTSTRAP_ADMIN.into(),
        role: Role::Admin.as_str().into(),
        site: None,
        label: Some("bootstrap (configuration)".into()),
        created_at: None,
        rotated_at: None,
        active: true,
    }];
    out.extend(store.list_credentials()?.into_iter().map(|c| TokenInfo {
        id: c.id,
        role: c.role,
        site: None,
        label: c.label,
        created_at: Some(c.created_at.to_rfc3339()),
        rotated_at: c.rotated_at.map(|t| t.to_rfc3339()),
        active: true,
    }));
    out.extend(store.list_sites()?.into_iter().map(|s| TokenInfo {
        id: site_credential_id(&s.id),
        role: Role::Site.as_str().into(),
        active: !s.token_hash.is_empty(),
        site: Some(s.id),
        label: None,
        created_at: Some(s.created_at.to_rfc3339()),
        rotated_at: None,
    }));
    Ok(out)
}

/// Records who did what (tracing target `audit`, and the store's audit table). A store failure is
/// logged, never fails the operation it records.
pub fn audit(store: &Store, credential: &str, action: &str, target: &str, outcome: &str) {
    tracing::info!(target: "audit", credential, action, object = target, outcome, "audit");
    let entry = AuditEntry {
        seq: 0,
        at: Utc::now(),
        credential: credential.into(),
        action: action.into(),
        target: target.into(),
        outcome: outcome.into(),
    };
    if let Err(e) = store.audit_append(&entry) {
        tracing::error!(error = %e, action, "audit entry not stored");
    }
}

/// The same from an async handler.
pub async fn audit_async(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: String,
    outcome: &'static str,
) {
    let (store, id) = (state.store.clone(), caller.id.clone());
    let _ = tokio::task::spawn_blocking(move || audit(&store, &id, action, &target, outcome)).await;
}

/// `/api/v1/tokens` and `/api/v1/audit` routes (admin only, by [`crate::access::ROUTES`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list_route).post(create_route))
        .route("/api/v1/tokens/{id}/rotate", post(rotate_route))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_route))
        .route("/api/v1/audit", get(audit_route))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TokenError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

async fn list_route(State(state): State<AppState>) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let store = state.store.clone();
    Ok(Json(blocking(move || list(&store)).await?))
}

async fn create_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let Json(new) = body.map_err(json_rejection)?;
    let store = state.store.clone();
    let issued = blocking(move || create(&store, &new)).await?;
    audit_async(&state, &caller, "token.create", issued.id.clone(), "ok").await;
    Ok((StatusCode::CREATED, Json(issued)))
}

async fn rotate_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<IssuedToken>, ApiError> {
    let store = state.store.clone();
    let target = id.clone();
    let issued = blocking(move || rotate(&store, &target)).await?;
    audit_async(&state, &caller, "token.rotate", id, "ok").await;
    Ok(Json(issued))
}

async fn revoke_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    let target = id.clone();
    blocking(move || revoke(&store, &target)).await?;
    audit_async(&state, &caller, "token.revoke", id, "ok").await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/audit?limit=N` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit_route(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let store = state.store.clone();
    Ok(Json(blocking(move || Ok(store.audit_recent(limit)?)).await?))
}
