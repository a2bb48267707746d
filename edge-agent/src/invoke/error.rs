//! What resolving, invoking and firing can fail with, in the domain's words. The HTTP layer (`api::error`)
//! maps each to OpenWhisk's status and message; the feeds' sink maps them to `FireError`.

use crate::store::StoreError;

/// Why an invocation or a fire did not start.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The action, package or trigger does not exist (for this caller).
    #[error("The requested resource does not exist.")]
    NotFound,
    /// It exists but the caller may not use it.
    #[error("The supplied authentication is not authorized to access this resource.")]
    Forbidden,
    /// The request itself is wrong (a name that does not parse, parameters that may not be set).
    #[error("{0}")]
    Invalid(String),
    /// A throttle of the namespace refused it (rate or concurrency).
    #[error("{0}")]
    Throttled(String),
    /// The store failed or refused (a quota).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InvokeError {
    /// Whether the platform, not the request, is at fault (a trigger's log line says `statusCode` 3, not 1).
    pub fn is_internal(&self) -> bool {
        matches!(self, InvokeError::Store(e) if !matches!(e, StoreError::Quota(_)))
    }

    /// The message a caller may see (a store failure's detail is logged, not shown).
    pub fn public_message(&self) -> String {
        if self.is_internal() {
            "An internal error occurred.".to_string()
        } else {
            self.to_string()
        }
    }
}
