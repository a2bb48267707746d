//! Credentials on requests: the admin token (Bearer or Basic `admin:<token>`) and per-site bearer tokens.

use axum::http::{header, HeaderMap};
use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::SiteRecord;

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

/// The credential a request carries.
enum Credential {
    Bearer(String),
    Basic { user: String, password: String },
}

fn credential(headers: &HeaderMap) -> Option<Credential> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credential::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, password) = text.split_once(':')?;
        return Some(Credential::Basic { user: user.to_string(), password: password.to_string() });
    }
    None
}

fn is_admin_secret(state: &AppState, candidate: &str) -> bool {
    let expected = state.admin_token.expose_secret().as_bytes();
    expected.ct_eq(candidate.as_bytes()).into()
}

/// Whether the request carries the admin token.
pub fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    match credential(headers) {
        Some(Credential::Bearer(t)) => is_admin_secret(state, &t),
        Some(Credential::Basic { user, password }) => user == "admin" && is_admin_secret(state, &password),
        None => false,
    }
}

/// 401 unless the request carries the admin token.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if is_admin(state, headers) {
        return Ok(());
    }
    let msg = if headers.contains_key(header::AUTHORIZATION) {
        "invalid admin credentials"
    } else {
        "admin credentials required (Authorization: Bearer <admin token>, or Basic admin:<admin token>)"
    };
    Err(ApiError::Unauthorized(msg.into()))
}

/// Passes when anonymous reads are allowed or the request carries the admin token.
pub fn require_reader(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.settings.anonymous_reads {
        return Ok(());
    }
    require_admin(state, headers)
}

/// Checks that the request carries `site`'s own token: 401 without a valid token, 404 for an
/// unknown site, 403 for another site's token.
pub async fn authenticate_site(state: &AppState, headers: &HeaderMap, site: &str) -> Result<SiteRecord, ApiError> {
    let token = match credential(headers) {
        Some(Credential::Bearer(t)) if !t.is_empty() => t,
        Some(_) => {
            return Err(ApiError::Unauthorized("site credentials must be 'Authorization: Bearer <site token>'".into()))
        }
        None => return Err(ApiError::Unauthorized("missing site token (Authorization: Bearer <site token>)".into())),
    };
    let hash = hash_token(&token);
    let store = state.store.clone();
    let site_id = site.to_string();
    let (record, owner) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((store.get_site(&site_id)?, store.site_for_token(&hash)?))
    })
    .await??;
    // A token of no site is 401 whether or not the site exists (no probing for site ids without a
    // token); a token of another site is 403 without naming that site (existing or not: a site's
    // token does not reveal which other sites exist).
    if let Some(record) = record {
        if record.token_hash.as_bytes().ct_eq(hash_token(&token).as_bytes()).into() {
            return Ok(record);
        }
    }
    match owner {
        Some(_) => Err(ApiError::Forbidden(format!("this token is not valid for site {site:?}"))),
        None => Err(ApiError::Unauthorized("invalid site token".into())),
    }
}
