//! The operator's client for dead letters: calls a running agent's dead-letter API
//! (`/api/v1/namespaces/whisk.system/federation/dead-letters`) with the `whisk.system` key, so the list
//! can be read, re-queued and dropped while the agent keeps delivering (its store is open exclusively).

use reqwest::Method;
use serde_json::Value;

/// A dead-letter call failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Bad arguments (API host, key).
    #[error("{0}")]
    Invalid(String),
    /// The agent could not be reached.
    #[error("cannot reach the agent at {host}: {source} (is `fogwhisk-edge serve` running?)")]
    Unreachable {
        /// API host.
        host: String,
        /// The transport error (without the URL's credentials).
        source: reqwest::Error,
    },
    /// The agent answered with an error.
    #[error("the agent answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's `error` text.
        message: String,
    },
}

/// A client of one agent, authenticated as `whisk.system` (`uuid:key`).
pub struct Operator {
    http: reqwest::Client,
    base: String,
    user: String,
    key: String,
}

impl Operator {
    /// `api_host` like `http://127.0.0.1:3233` (no scheme means https, as in wsk).
    pub fn new(api_host: &str, auth: &str) -> Result<Self, OperatorError> {
        let (user, key) = auth.split_once(':').ok_or_else(|| OperatorError::Invalid("auth must be uuid:key".into()))?;
        let host = api_host.trim_end_matches('/');
        let host = if host.contains("://") { host.to_string() } else { format!("https://{host}") };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| OperatorError::Invalid(format!("HTTP client: {e}")))?;
        let base = format!("{host}/api/v1/namespaces/whisk.system/federation/dead-letters");
        Ok(Operator { http, base, user: user.into(), key: key.into() })
    }

    async fn call(&self, method: Method, suffix: &str) -> Result<Value, OperatorError> {
        let resp = self
            .http
            .request(method, format!("{}{suffix}", self.base))
            .basic_auth(&self.user, Some(&self.key))
            .send()
            .await
            .map_err(|e| OperatorError::Unreachable { host: self.base.clone(), source: e.without_url() })?;
        let status = resp.status();
        let json: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let message = json.get("error").and_then(Value::as_str).unwrap_or("no error text").to_string();
        Err(OperatorError::Api { status: status.as_u16(), message })
    }

    /// The dead letters, oldest first (each with `seq`, `reason`, `record`, `enqueued_ms`, `dead_ms`).
    pub async fn list(&self) -> Result<Vec<Value>, OperatorError> {
        let v = self.call(Method::GET, "").await?;
        Ok(v["dead_letters"].as_array().cloned().unwrap_or_default())
    }

    /// Puts dead letter `id` (a sequence number, or `all`) back at the end of the outbox; returns how many.
    pub async fn requeue(&self, id: &str) -> Result<u64, OperatorError> {
        let v = self.call(Method::POST, &format!("/{id}/requeue")).await?;
        Ok(v["requeued"].as_u64().unwrap_or(0))
    }

    /// Deletes dead letter `id` (or `all`) for good; returns how many.
    pub async fn drop(&self, id: &str) -> Result<u64, OperatorError> {
        let v = self.call(Method::DELETE, &format!("/{id}")).await?;
        Ok(v["dropped"].as_u64().unwrap_or(0))
    }
}
