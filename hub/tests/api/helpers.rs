//! `spawn_app()` on port 0 with a temp data folder, and small request helpers.

use std::time::Duration;

use fogwhisk_hub::config::{InfluxBackend, Settings};
use fogwhisk_hub::startup::Application;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The admin token every test app uses.
pub const ADMIN: &str = "test-admin-token-0123456789";

/// A hub running inside the test process.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Data folder (kept until the test ends).
    pub data: std::sync::Arc<tempfile::TempDir>,
    token: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test app: port 0, a temp data folder, the test admin token, no InfluxDB.
pub fn test_settings(data: &std::path::Path) -> Settings {
    let mut s = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.to_path_buf(),
        admin_token: Some(ADMIN.to_string().into()),
        ..Default::default()
    };
    s.influx.retry_min_ms = 50;
    s.influx.retry_max_ms = 500;
    s.shutdown_timeout_secs = 5;
    s
}

/// Starts a hub with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a hub after `configure` adjusts the test settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data = std::sync::Arc::new(tempfile::tempdir().unwrap());
    spawn_app_in(data, configure).await
}

/// Starts a hub on an existing data folder.
pub async fn spawn_app_in(data: std::sync::Arc<tempfile::TempDir>, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(data.path());
    configure(&mut settings);
    settings.validate().unwrap();
    let app = Application::build(settings).await.expect("hub builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let token = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp { base, client: reqwest::Client::new(), data, token, handle: Some(handle) }
}

/// Settings tweak: write to InfluxDB 1.x at `url`, database `db`.
pub fn influx_v1(url: String, db: &'static str) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.influx.backend = InfluxBackend::V1;
        s.influx.url = url;
        s.influx.database = db.into();
    }
}

impl TestApp {
    /// Stops the hub and waits until every task has finished.
    pub async fn stop(mut self) {
        self.token.cancel();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(20), handle).await.expect("hub stops in time").unwrap().unwrap();
    }

    /// Registers a site through the admin API; returns its token.
    pub async fn add_site(&self, id: &str, tz: &str) -> String {
        let resp = self
            .client
            .post(format!("{}/api/v1/sites", self.base))
            .bearer_auth(ADMIN)
            .json(&json!({"id": id, "tz": tz, "display_name": format!("Site {id}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "registering {id}");
        let body: Value = resp.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    /// Creates a scoped token (`admin`, `publisher`, `reader`) through the admin API; returns the token.
    pub async fn token(&self, role: &str) -> String {
        let resp = self
            .client
            .post(format!("{}/api/v1/tokens", self.base))
            .bearer_auth(ADMIN)
            .json(&json!({"role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "creating a {role} token");
        resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    /// Posts a batch body (any JSON) as `site` with `token`.
    pub async fn post_batch(&self, site: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/sites/{site}/aggregates", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// GET with admin credentials, returning JSON (reads are anonymous in the test settings; admin routes need admin).
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.client.get(format!("{}{path}", self.base)).bearer_auth(ADMIN).send().await.unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap()
    }
}

/// One aggregate record as JSON.
pub fn record(dc: u32, metric: &str, day: &str, tz: &str, mean: f64) -> Value {
    json!({"datacenter_id": dc, "metric": metric, "day": day, "tz": tz,
           "count": 96, "min": mean - 2.0, "max": mean + 3.0, "mean": mean, "median": mean - 0.5})
}

pub use fogwhisk_testkit::eventually;
