//! `ApiError`: the one error type at the HTTP edge, mapped to status codes and the `{error, code}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fogwhisk_wire::ErrorBody;

use crate::store::StoreError;

/// Every error an HTTP handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request carried no usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The credentials are valid but not for this resource.
    #[error("{0}")]
    Forbidden(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The resource already exists.
    #[error("{0}")]
    Conflict(String),
    /// The request body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// The request is malformed; `code` says how.
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong and where.
        message: String,
    },
    /// Something failed inside the hub; details go to the log, not the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let error = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "internal error; see the hub's log".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = (status, Json(ErrorBody { error, code: code.to_string() })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"fogwhisk-hub\""),
            );
        }
        resp
    }
}

/// Turns axum's query-string rejections into our error shape.
pub fn query_rejection(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", e.body_text())
}

/// Turns axum's JSON rejections into our error shape.
pub fn json_rejection(e: axum::extract::rejection::JsonRejection) -> ApiError {
    ApiError::bad_request("invalid_json", e.body_text())
}
