//! A minimal OpenWhisk REST client for the applier: JSON in, JSON out, errors in the API's words.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::ManifestError;

pub(super) struct Client {
    http: reqwest::Client,
    base: String,
    user: String,
    key: SecretString,
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        _ => "REQUEST",
    }
}

impl Client {
    /// `api_host` like `http://127.0.0.1:3233` (no scheme means https, as in wsk); `auth` is `uuid:key`.
    pub(super) fn new(api_host: &str, auth: &str) -> Result<Self, ManifestError> {
        let (user, key) = auth.split_once(':').ok_or_else(|| ManifestError::Invalid("auth must be uuid:key".into()))?;
        let host = api_host.trim_end_matches('/');
        let base = if host.starts_with("http://") || host.starts_with("https://") {
            host.to_string()
        } else {
            format!("https://{host}")
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(90))
            .build()
            .map_err(|source| ManifestError::Http { method: "REQUEST", path: base.clone(), source })?;
        Ok(Client { http, base: format!("{base}/api/v1"), user: user.to_string(), key: key.to_string().into() })
    }

    /// Sends a request; `Ok(None)` for 404, `Ok(Some(body))` for 2xx, `Err` otherwise.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<(StatusCode, Value)>, ManifestError> {
        let name = method_name(&method);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(self.key.expose_secret()));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|source| ManifestError::Http {
            method: name,
            path: path.to_string(),
            source: source.without_url(),
        })?;
        let status = resp.status();
        let text =
            resp.text().await.map_err(|source| ManifestError::Http { method: name, path: path.to_string(), source })?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_success() || (status == StatusCode::BAD_GATEWAY && json.get("response").is_some()) {
            return Ok(Some((status, json)));
        }
        let message =
            json.get("error").and_then(Value::as_str).map_or_else(|| text.chars().take(300).collect(), str::to_string);
        Err(ManifestError::Api { method: name, path: path.to_string(), status: status.as_u16(), message })
    }

    /// Like [`Self::call`] but a 404 is an error too.
    pub(super) async fn must(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ManifestError> {
        let name = method_name(&method);
        match self.call(method, path, body).await? {
            Some((_, v)) => Ok(v),
            None => Err(ManifestError::Api {
                method: name,
                path: path.to_string(),
                status: 404,
                message: "The requested resource does not exist.".into(),
            }),
        }
    }
}
