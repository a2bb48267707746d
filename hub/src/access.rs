//! Who may call which route: one table ([`ROUTES`]) and the guard that applies it to every request before
//! its handler runs. A route missing from the table is refused (500), so a new route cannot be open by
//! accident. The guard puts the [`Caller`] into the request's extensions for handlers that log it.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{identify, Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, metrics).
    Public,
    /// A reader token, or nothing when `anonymous_reads` is on: aggregates and the page.
    Read,
    /// A reader, publisher or site token, or nothing when `anonymous_reads` is on: the chart repository's reads.
    ChartRead,
    /// A publisher token: chart and provenance uploads, chart deletion.
    ChartWrite,
    /// An admin token: sites, tokens, the audit log.
    Admin,
    /// The token of the site named in the path: `POST /api/v1/sites/{site}/aggregates`.
    SitePush,
    /// A catalog token: OpenWhisk's entity API on the shared catalog.
    CatalogEdit,
    /// A site or catalog token: the catalog's changes feed.
    CatalogFeed,
}

/// Every route with the access it needs (HEAD follows GET unless listed).
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/health", Access::Public),
    (Method::GET, "/metrics", Access::Public),
    (Method::GET, "/", Access::Read),
    (Method::GET, "/api/v1/aggregates", Access::Read),
    (Method::POST, "/api/v1/sites/{site}/aggregates", Access::SitePush),
    (Method::GET, "/index.yaml", Access::ChartRead),
    (Method::GET, "/charts/{file}", Access::ChartRead),
    (Method::GET, "/api/charts", Access::ChartRead),
    (Method::GET, "/api/charts/{name}", Access::ChartRead),
    (Method::GET, "/api/charts/{name}/{version}", Access::ChartRead),
    (Method::HEAD, "/api/charts/{name}/{version}", Access::ChartRead),
    (Method::POST, "/api/charts", Access::ChartWrite),
    (Method::POST, "/api/prov", Access::ChartWrite),
    (Method::DELETE, "/api/charts/{name}/{version}", Access::ChartWrite),
    (Method::GET, "/api/v1/sites", Access::Admin),
    (Method::POST, "/api/v1/sites", Access::Admin),
    (Method::GET, "/api/v1/sites/{site}", Access::Admin),
    (Method::DELETE, "/api/v1/sites/{site}", Access::Admin),
    (Method::GET, "/api/v1/tokens", Access::Admin),
    (Method::POST, "/api/v1/tokens", Access::Admin),
    (Method::POST, "/api/v1/tokens/{id}/rotate", Access::Admin),
    (Method::DELETE, "/api/v1/tokens/{id}", Access::Admin),
    (Method::GET, "/api/v1/audit", Access::Admin),
    (Method::GET, "/api/v1/catalog/_changes", Access::CatalogFeed),
    (Method::GET, "/api/v1/namespaces/{ns}/actions", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/actions/{*name}", Access::CatalogEdit),
    (Method::PUT, "/api/v1/namespaces/{ns}/actions/{*name}", Access::CatalogEdit),
    (Method::DELETE, "/api/v1/namespaces/{ns}/actions/{*name}", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/packages", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/packages/{name}", Access::CatalogEdit),
    (Method::PUT, "/api/v1/namespaces/{ns}/packages/{name}", Access::CatalogEdit),
    (Method::DELETE, "/api/v1/namespaces/{ns}/packages/{name}", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/triggers", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/triggers/{name}", Access::CatalogEdit),
    (Method::PUT, "/api/v1/namespaces/{ns}/triggers/{name}", Access::CatalogEdit),
    (Method::DELETE, "/api/v1/namespaces/{ns}/triggers/{name}", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/rules", Access::CatalogEdit),
    (Method::GET, "/api/v1/namespaces/{ns}/rules/{name}", Access::CatalogEdit),
    (Method::PUT, "/api/v1/namespaces/{ns}/rules/{name}", Access::CatalogEdit),
    (Method::DELETE, "/api/v1/namespaces/{ns}/rules/{name}", Access::CatalogEdit),
];

/// The access a route needs, if it is in the table.
pub fn access_of(method: &Method, path: &str) -> Option<Access> {
    let find = |m: &Method| ROUTES.iter().find(|(rm, rp, _)| rm == m && *rp == path).map(|(_, _, a)| *a);
    find(method).or_else(|| (method == Method::HEAD).then(|| find(&Method::GET)).flatten())
}

/// The roles an access level admits (besides anonymous reads).
pub fn roles_of(access: Access) -> &'static [Role] {
    match access {
        Access::Public => &[Role::Admin, Role::Publisher, Role::Reader, Role::Site, Role::Catalog],
        Access::Read => &[Role::Reader],
        Access::ChartRead => &[Role::Reader, Role::Publisher, Role::Site],
        Access::ChartWrite => &[Role::Publisher],
        Access::Admin => &[Role::Admin],
        Access::SitePush => &[Role::Site],
        Access::CatalogEdit => &[Role::Catalog],
        Access::CatalogFeed => &[Role::Site, Role::Catalog],
    }
}

/// Decides one request: the caller when allowed (None for an anonymous read), else 401 or 403.
pub fn decide(
    access: Access,
    caller: Option<Caller>,
    anonymous_reads: bool,
    path_site: Option<&str>,
) -> Result<Option<Caller>, ApiError> {
    if access == Access::Public || (anonymous_reads && matches!(access, Access::Read | Access::ChartRead)) {
        return Ok(caller);
    }
    let Some(caller) = caller else {
        return Err(ApiError::Unauthorized(format!(
            "credentials required (Authorization: Bearer <{} token>, or Basic with the token as password)",
            roles_of(access).iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ")
        )));
    };
    if !roles_of(access).contains(&caller.role) {
        return Err(ApiError::Forbidden(format!("a {} token may not do this", caller.role.as_str())));
    }
    if access == Access::SitePush && caller.site.as_deref() != path_site {
        // Not naming the token's own site, nor whether the requested one exists.
        return Err(ApiError::Forbidden(format!("this token is not valid for site {:?}", path_site.unwrap_or(""))));
    }
    Ok(Some(caller))
}

/// The guard: looks the matched route up in [`ROUTES`], identifies the caller and applies [`decide`].
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(path) = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return ApiError::Internal("request without a matched route reached the access guard".into()).into_response();
    };
    let Some(access) = access_of(&parts.method, &path) else {
        if ROUTES.iter().any(|(_, p, _)| *p == path) {
            // A known route, a method it does not serve: no handler runs.
            let body = fogwhisk_wire::ErrorBody {
                error: format!("{} is not allowed on {path}", parts.method),
                code: "method_not_allowed".into(),
            };
            return (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
        }
        return ApiError::Internal(format!("{} {path} is missing from the access table", parts.method)).into_response();
    };
    let path_site = if access == Access::SitePush {
        RawPathParams::from_request_parts(&mut parts, &state)
            .await
            .ok()
            .and_then(|p| p.iter().find(|(k, _)| *k == "site").map(|(_, v)| v.to_string()))
    } else {
        None
    };
    let mut who = None;
    let decided = match identify(&state, &parts.headers).await {
        Ok(caller) => {
            who = caller.as_ref().map(|c| c.id.clone());
            decide(access, caller, state.settings.anonymous_reads, path_site.as_deref())
        }
        Err(e) => match access {
            Access::Public => Ok(None),
            Access::Read | Access::ChartRead if state.settings.anonymous_reads => Ok(None),
            _ => Err(e),
        },
    };
    match decided {
        Ok(caller) => {
            let mut req = Request::from_parts(parts, body);
            if let Some(c) = caller {
                req.extensions_mut().insert(c);
            }
            next.run(req).await
        }
        Err(e) => {
            if access == Access::SitePush {
                let reason = if matches!(e, ApiError::Forbidden(_)) { "forbidden" } else { "unauthorized" };
                state.metrics.reject(reason, 1);
            }
            let who = who.as_deref().unwrap_or("-");
            tracing::info!(method = %parts.method, route = %path, credential = who, error = %e, "request refused");
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, site: Option<&str>) -> Option<Caller> {
        Some(Caller { id: "x".into(), role, site: site.map(String::from) })
    }

    #[test]
    fn each_role_does_its_job_only() {
        use Access::*;
        let cases = [
            (Admin, Role::Admin, true),
            (Admin, Role::Publisher, false),
            (Admin, Role::Reader, false),
            (Admin, Role::Site, false),
            (ChartWrite, Role::Publisher, true),
            (ChartWrite, Role::Admin, false),
            (ChartWrite, Role::Reader, false),
            (ChartWrite, Role::Site, false),
            (ChartRead, Role::Site, true),
            (ChartRead, Role::Reader, true),
            (ChartRead, Role::Admin, false),
            (Read, Role::Reader, true),
            (Read, Role::Site, false),
            (Read, Role::Publisher, false),
            (SitePush, Role::Admin, false),
            (SitePush, Role::Publisher, false),
            (CatalogEdit, Role::Catalog, true),
            (CatalogEdit, Role::Admin, false),
            (CatalogEdit, Role::Site, false),
            (CatalogEdit, Role::Reader, false),
            (CatalogFeed, Role::Site, true),
            (CatalogFeed, Role::Catalog, true),
            (CatalogFeed, Role::Reader, false),
            (Admin, Role::Catalog, false),
            (ChartWrite, Role::Catalog, false),
        ];
        for (access, role, ok) in cases {
            let got = decide(access, caller(role, Some("a")), false, Some("a"));
            assert_eq!(got.is_ok(), ok, "{access:?} as {role:?}");
        }
        assert!(decide(SitePush, caller(Role::Site, Some("a")), false, Some("a")).is_ok());
        assert!(matches!(
            decide(SitePush, caller(Role::Site, Some("a")), false, Some("b")),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(decide(ChartWrite, None, true, None), Err(ApiError::Unauthorized(_))));
        assert!(decide(Read, None, true, None).is_ok());
        assert!(matches!(decide(Read, None, false, None), Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn every_table_entry_is_unique() {
        for (i, (m, p, _)) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[i + 1..].iter().any(|(m2, p2, _)| m2 == m && p2 == p), "{m} {p} twice");
        }
        assert_eq!(access_of(&Method::HEAD, "/index.yaml"), Some(Access::ChartRead));
        assert_eq!(access_of(&Method::PUT, "/api/charts"), None);
    }
}
