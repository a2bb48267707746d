//! Request extractors that fail in OpenWhisk's error shape: Basic-auth caller, JSON bodies, query values.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's namespace.
    pub namespace: String,
}

/// Reads Basic credentials from headers, if any.
pub fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let h = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(decoded).ok()?;
    let (u, k) = s.split_once(':')?;
    Some((u.to_string(), k.to_string()))
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let (uuid, key) = basic_credentials(parts).ok_or(ApiError::Unauthorized)?;
        let namespace = state.identities.authenticate(&uuid, &key).ok_or(ApiError::Unauthorized)?;
        Ok(Caller { namespace })
    }
}

/// A namespace path segment as OpenWhisk's `EntityPath` reads it: `_`, `guest`, `/guest`, or `guest/pkg` (the
/// `namespace` field of a packaged action, which clients put back into the path as `guest%2Fpkg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsPath {
    /// The namespace (`_` alone is the caller's; as the root of a longer path it stays `_`, as in OpenWhisk).
    pub namespace: String,
    /// The package the path names, if any.
    pub package: Option<String>,
}

impl Caller {
    /// Parses a decoded namespace segment: empty parts (a leading or trailing slash) are dropped, every part must
    /// be a valid name (400), and a path deeper than `ns/pkg` names nothing (404).
    pub fn path(&self, raw: &str) -> Result<NsPath, ApiError> {
        let parts: Vec<&str> = raw.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return Err(ApiError::bad(format!("The namespace '{raw}' is not valid.")));
        }
        for p in &parts {
            if *p != "_" {
                crate::entity::name::validate_segment(p).map_err(|e| ApiError::bad(e.to_string()))?;
            }
        }
        match parts.as_slice() {
            ["_"] => Ok(NsPath { namespace: self.namespace.clone(), package: None }),
            [ns] => Ok(NsPath { namespace: ns.to_string(), package: None }),
            [ns, pkg] if *pkg != "_" => Ok(NsPath { namespace: ns.to_string(), package: Some(pkg.to_string()) }),
            _ => Err(ApiError::NotFound),
        }
    }

    /// Resolves a namespace segment that may not carry a package (every collection but actions): `_`, `ns`, `/ns`.
    pub fn resolve(&self, ns: &str) -> Result<String, ApiError> {
        match self.path(ns)? {
            NsPath { namespace, package: None } => Ok(namespace),
            NsPath { package: Some(_), .. } => Err(ApiError::NotFound),
        }
    }

    /// Resolves a namespace segment and checks the caller owns it.
    pub fn own(&self, ns: &str) -> Result<String, ApiError> {
        let ns = self.resolve(ns)?;
        if ns == self.namespace {
            Ok(ns)
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// Raw body bytes, with the body limit reported as a 413.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge("The request content exceeds the maximum allowed size.".into()))
            }
            Err(e) => Err(ApiError::bad(format!("The request content was malformed:\n{}", e.body_text()))),
        }
    }
}

/// A JSON body; an empty body counts as `{}`.
pub struct JsonBody<T>(pub T);

/// Parses JSON with OpenWhisk's malformed-content message.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(|b| b.is_ascii_whitespace()) { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad(format!("The request content was malformed:\n{e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(b) = RawBody::from_request(req, state).await?;
        parse_json(&b).map(JsonBody)
    }
}

/// Query parameters as a plain map (so bad values get our own messages).
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        Ok(QueryMap(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl QueryMap {
    /// A boolean flag read as OpenWhisk's HTTP layer reads one (any case: `true yes on 1`, `false no off 0` and
    /// an empty value), absent → `default`.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        let Some(v) = self.0.get(key) else { return Ok(default) };
        match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" | "" => Ok(false),
            _ => Err(ApiError::bad(format!(
                "The query parameter '{key}' was malformed:\n'{v}' is not a valid Boolean value"
            ))),
        }
    }

    /// A non-negative integer.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad(format!("The parameter '{key}' must be a non-negative integer, not '{v}'."))
            }),
        }
    }

    /// `skip` and `limit` of a list, checked against OpenWhisk's range.
    pub fn paging(&self, collection: &str) -> Result<(usize, usize), ApiError> {
        let skip = self.number("skip")?.unwrap_or(0) as usize;
        let limit = match self.0.get("limit") {
            None => 30,
            Some(v) => match v.parse::<i64>() {
                Ok(0) => 200,
                Ok(n) if (1..=200).contains(&n) => n as usize,
                _ => {
                    return Err(ApiError::bad(format!(
                        "The value '{v}' is not in the range of 0 to 200 for {collection}."
                    )))
                }
            },
        };
        Ok((skip, limit))
    }
}
