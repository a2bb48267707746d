//! Credentials on requests: who a bearer or Basic token belongs to. The bootstrap admin token (from the
//! settings or `<data>/admin-token`), scoped tokens (admin, publisher, reader) and site tokens are all
//! looked up by SHA-256 hash on every request, so a rotated or revoked token stops working at once.
//! What each role may do is decided in [`crate::access`].

use axum::http::{header, HeaderMap};
use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// Credential id of the configured admin token.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// A new random token: 32 bytes, hex.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of a token, hex; what the store keeps (tokens are random, so no salt or stretching is needed).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a credential is for; each has exactly one job (see [`crate::access::ROUTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sites, tokens and the audit log.
    Admin,
    /// Uploads and deletes charts (and reads the repository).
    Publisher,
    /// Reads charts, aggregates and the page.
    Reader,
    /// Pushes its own site's aggregates and pulls charts (and the catalog's changes feed).
    Site,
    /// Edits the shared catalog (the entity API) and reads its changes feed.
    Catalog,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Publisher => "publisher",
            Role::Reader => "reader",
            Role::Site => "site",
            Role::Catalog => "catalog",
        }
    }

    /// Parses a stored or requested role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "publisher" => Some(Role::Publisher),
            "reader" => Some(Role::Reader),
            "site" => Some(Role::Site),
            "catalog" => Some(Role::Catalog),
            _ => None,
        }
    }
}

/// The authenticated caller of a request (put into the request's extensions by the access guard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Credential id (`admin`, `publisher-3fa9c2d1`, `site:torino`); logged, never the token.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// For a site token, the site.
    pub site: Option<String>,
}

/// Credential id of a site's token.
pub fn site_credential_id(site: &str) -> String {
    format!("site:{site}")
}

/// The token a request carries: a bearer token, or the password of Basic auth (the user name is not
/// checked: Helm and curl need one, `admin`, `site` or anything).
fn presented_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ApiError::Unauthorized("invalid credentials".into());
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        text.split_once(':').ok_or_else(bad)?.1.to_string()
    } else {
        return Err(bad());
    };
    if token.is_empty() {
        return Err(bad());
    }
    Ok(Some(token))
}

/// Who the request's credential belongs to: `None` without credentials; one and the same 401 for any
/// token that is no live credential (unknown, revoked, rotated away, of a removed site).
pub async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let Some(token) = presented_token(headers)? else {
        return Ok(None);
    };
    let admin = state.admin_token.expose_secret().as_bytes();
    if bool::from(admin.ct_eq(token.as_bytes())) {
        return Ok(Some(Caller { id: BOOTSTRAP_ADMIN.into(), role: Role::Admin, site: None }));
    }
    let hash = hash_token(&token);
    let store = state.store.clone();
    let (cred, site) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((store.credential_for_hash(&hash)?, store.site_for_token(&hash)?))
    })
    .await??;
    if let Some(c) = cred {
        if let Some(role) = Role::parse(&c.role).filter(|r| *r != Role::Site) {
            return Ok(Some(Caller { id: c.id, role, site: None }));
        }
    }
    if let Some(site) = site {
        return Ok(Some(Caller { id: site_credential_id(&site), role: Role::Site, site: Some(site) }));
    }
    Err(ApiError::Unauthorized("invalid credentials".into()))
}
