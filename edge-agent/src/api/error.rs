//! The one error type of the HTTP edge: each variant maps to a status and OpenWhisk's `{error, code}` body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// OpenWhisk's message for a missing entity.
pub const NOT_FOUND: &str = "The requested resource does not exist.";
/// OpenWhisk's message for a forbidden entity.
pub const FORBIDDEN: &str = "The supplied authentication is not authorized to access this resource.";

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 401.
    #[error("The supplied authentication is invalid.")]
    Unauthorized,
    /// 403.
    #[error("{FORBIDDEN}")]
    Forbidden,
    /// 403 with a specific message (a namespace's storage quota).
    #[error("{0}")]
    ForbiddenMsg(String),
    /// 404 with OpenWhisk's default message.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// 404 with a specific message.
    #[error("{0}")]
    NotFoundMsg(String),
    /// 405.
    #[error("HTTP method not allowed, supported methods: {0}")]
    MethodNotAllowed(String),
    /// 406.
    #[error("{0}")]
    NotAcceptable(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 429.
    #[error("{0}")]
    Throttled(String),
    /// 500; the detail is logged, never returned.
    #[error("internal: {0}")]
    Internal(String),
    /// 503.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::ForbiddenMsg(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::NotFoundMsg(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Shorthand for a 400.
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    /// The message shown to the client.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "An internal error occurred.".to_string(),
            other => other.to_string(),
        }
    }
}

/// A fresh transaction id, returned as `code`.
pub fn transaction_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Builds the `{error, code}` response for a status and message.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let code = transaction_id();
    let mut r = (status, axum::Json(json!({"error": message, "code": code}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&code) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        error_response(self.status(), &self.public_message())
    }
}

impl From<crate::invoke::InvokeError> for ApiError {
    fn from(e: crate::invoke::InvokeError) -> Self {
        use crate::invoke::InvokeError as E;
        match e {
            E::NotFound => ApiError::NotFound,
            E::Forbidden => ApiError::Forbidden,
            E::Invalid(m) => ApiError::BadRequest(m),
            E::Throttled(m) => ApiError::Throttled(m),
            E::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Not 429: waiting does not help, the namespace must delete something; not 413: the request
            // itself is within its size limit.
            StoreError::Quota(q) => ApiError::ForbiddenMsg(q.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
