//! Where line protocol goes: InfluxDB 1.x `/write` (reqwest) or 2.x `/api/v2/write` (the `influxdb2` crate).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::{InfluxBackend, InfluxSettings};

/// A write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// InfluxDB is unreachable or busy: keep the lines and retry later.
    #[error("InfluxDB unavailable: {0}")]
    Transient(String),
    /// InfluxDB refused the lines themselves (HTTP 400): retrying cannot help.
    #[error("InfluxDB refused the batch: {0}")]
    Rejected(String),
}

/// Boxed future returned by [`LineSink::write`].
pub type WriteFuture<'a> = Pin<Box<dyn Future<Output = Result<(), WriteError>> + Send + 'a>>;

/// Something that accepts newline-separated line protocol.
pub trait LineSink: Send + Sync {
    /// Writes one batch (lines joined by `\n`).
    fn write(&self, body: String) -> WriteFuture<'_>;
    /// Where the lines go, for logs.
    fn describe(&self) -> String;
}

/// The sink the settings ask for; `None` for `backend = "none"`.
pub fn build_sink(s: &InfluxSettings) -> Option<Arc<dyn LineSink>> {
    match s.backend {
        InfluxBackend::None => None,
        InfluxBackend::V1 => Some(Arc::new(V1Sink::new(s))),
        InfluxBackend::V2 => Some(Arc::new(V2Sink::new(s))),
    }
}

fn classify(status: u16, text: String) -> WriteError {
    if status == 400 {
        WriteError::Rejected(text)
    } else {
        WriteError::Transient(format!("HTTP {status}: {}", text.trim()))
    }
}

/// InfluxDB 1.8+ v1 write API.
pub struct V1Sink {
    http: reqwest::Client,
    settings: InfluxSettings,
}

impl V1Sink {
    /// A sink for `settings` (backend v1).
    pub fn new(settings: &InfluxSettings) -> Self {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(settings.timeout_secs)).build().unwrap_or_default();
        V1Sink { http, settings: settings.clone() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.url.trim_end_matches('/'))
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.settings.username {
            Some(u) => req.basic_auth(u, self.settings.password.as_ref().map(|p| p.expose_secret().to_string())),
            None => req,
        }
    }

    async fn post_write(&self, body: &str) -> Result<(u16, String), WriteError> {
        let mut query = vec![("db", self.settings.database.as_str()), ("precision", "ns")];
        if let Some(rp) = &self.settings.retention_policy {
            query.push(("rp", rp));
        }
        let req = self.auth(self.http.post(self.url("/write")).query(&query).body(body.to_string()));
        let resp = req.send().await.map_err(|e| WriteError::Transient(e.to_string()))?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await.unwrap_or_default()))
    }

    async fn create_database(&self) -> Result<(), WriteError> {
        let q = format!("CREATE DATABASE \"{}\"", self.settings.database.replace('"', "\\\""));
        let req = self.auth(self.http.post(self.url("/query")).form(&[("q", q)]));
        let resp = req.send().await.map_err(|e| WriteError::Transient(e.to_string()))?;
        if resp.status().is_success() {
            tracing::info!(database = %self.settings.database, "created InfluxDB database");
            Ok(())
        } else {
            let status = resp.status().as_u16();
            Err(WriteError::Transient(format!("CREATE DATABASE answered HTTP {status}")))
        }
    }

    async fn write_v1(&self, body: String) -> Result<(), WriteError> {
        let (mut status, mut text) = self.post_write(&body).await?;
        if status == 404 && text.contains("database not found") && self.settings.create_database {
            self.create_database().await?;
            (status, text) = self.post_write(&body).await?;
        }
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(classify(status, text))
        }
    }
}

impl LineSink for V1Sink {
    fn write(&self, body: String) -> WriteFuture<'_> {
        Box::pin(self.write_v1(body))
    }

    fn describe(&self) -> String {
        format!("InfluxDB v1 {} db={}", self.settings.url, self.settings.database)
    }
}

/// InfluxDB 2.x `/api/v2/write` through the `influxdb2` crate.
pub struct V2Sink {
    client: influxdb2::Client,
    settings: InfluxSettings,
}

impl V2Sink {
    /// A sink for `settings` (backend v2).
    pub fn new(settings: &InfluxSettings) -> Self {
        let token = settings.token.as_ref().map(|t| t.expose_secret().to_string()).unwrap_or_default();
        let client = influxdb2::Client::new(settings.url.clone(), settings.org.clone(), token);
        V2Sink { client, settings: settings.clone() }
    }

    async fn write_v2(&self, body: String) -> Result<(), WriteError> {
        let timeout = Duration::from_secs(self.settings.timeout_secs);
        let write = self.client.write_line_protocol(&self.settings.org, &self.settings.bucket, body);
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(WriteError::Transient(format!("no answer within {timeout:?}"))),
            Ok(Ok(())) => Ok(()),
            Ok(Err(influxdb2::RequestError::Http { status, text })) => Err(classify(status.as_u16(), text)),
            Ok(Err(e)) => Err(WriteError::Transient(e.to_string())),
        }
    }
}

impl LineSink for V2Sink {
    fn write(&self, body: String) -> WriteFuture<'_> {
        Box::pin(self.write_v2(body))
    }

    fn describe(&self) -> String {
        format!("InfluxDB v2 {} org={} bucket={}", self.settings.url, self.settings.org, self.settings.bucket)
    }
}
