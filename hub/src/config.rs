//! The hub's typed, layered settings: defaults, then a TOML file, then `FOGWHISK_HUB_*` env (`__` nests), then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Settings could not be loaded or are inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or has a wrong key or value.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// The values parse but do not make sense together.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// The whole hub configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder of the durable store, the admin token file and the chart archives.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Admin token; when absent it is generated once and kept in `<data_dir>/admin-token`.
    #[serde(default)]
    pub admin_token: Option<SecretString>,
    /// Whether the page, the aggregate query and chart downloads need no credentials.
    #[serde(default = "default_true")]
    pub anonymous_reads: bool,
    /// Seconds to let in-flight requests and background tasks finish on shutdown.
    #[serde(default = "default_shutdown_secs")]
    pub shutdown_timeout_secs: u64,
    /// Logging.
    #[serde(default)]
    pub log: LogSettings,
    /// Limits of the ingest endpoint.
    #[serde(default)]
    pub ingest: IngestSettings,
    /// Where aggregates are copied to.
    #[serde(default)]
    pub influx: InfluxSettings,
    /// The Helm chart repository.
    #[serde(default)]
    pub charts: ChartSettings,
    /// The shared catalog of OpenWhisk entities (CouchDB or the embedded store).
    #[serde(default)]
    pub catalog: CatalogSettings,
}

/// Where the shared catalog lives and how the changes feed behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    /// CouchDB base URL (e.g. `http://couchdb:5984`); the embedded store when absent.
    #[serde(default)]
    pub couchdb_url: Option<String>,
    /// File holding `user:password` for CouchDB (Basic auth); read at start, never logged.
    #[serde(default)]
    pub couchdb_credentials_file: Option<PathBuf>,
    /// The database of entity documents.
    #[serde(default = "default_catalog_database")]
    pub database: String,
    /// The namespace `_` stands for in the entity API.
    #[serde(default = "default_catalog_namespace")]
    pub default_namespace: String,
    /// Longest wait of one longpoll on the changes feed, in seconds (the hub times CouchDB out itself).
    #[serde(default = "default_longpoll_secs")]
    pub longpoll_secs: u64,
    /// Timeout of one CouchDB request (other than a longpoll), in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// Log level and format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Filter in `RUST_LOG` syntax; `RUST_LOG` itself wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// One JSON object per line instead of text.
    #[serde(default)]
    pub json: bool,
}

/// Limits of `POST /api/v1/sites/{site}/aggregates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Most records in one batch.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// Largest request body in bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

/// Which InfluxDB API the writer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InfluxBackend {
    /// Keep aggregates in the hub store only.
    None,
    /// InfluxDB 1.8+ `/write?db=` (also 2.x/3.x v1 compatibility endpoints).
    V1,
    /// InfluxDB 2.x `/api/v2/write` through the `influxdb2` crate.
    V2,
}

/// InfluxDB connection and writer settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxSettings {
    /// Backend; `none` disables the writer (and its queue).
    #[serde(default = "default_backend")]
    pub backend: InfluxBackend,
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    #[serde(default = "default_influx_url")]
    pub url: String,
    /// v1: database name.
    #[serde(default = "default_name")]
    pub database: String,
    /// v1: retention policy (the database's default when absent).
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// v1: user name for basic authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// v1: password.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// v1: create the database when a write answers "database not found".
    #[serde(default = "default_true")]
    pub create_database: bool,
    /// v2: organization.
    #[serde(default = "default_name")]
    pub org: String,
    /// v2: bucket.
    #[serde(default = "default_name")]
    pub bucket: String,
    /// v2: API token.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// Most lines in one write request.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// First retry delay after a failed write, in milliseconds (doubles up to `retry_max_ms`).
    #[serde(default = "default_retry_min_ms")]
    pub retry_min_ms: u64,
    /// Longest retry delay in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// Milliseconds to wait for more lines before writing less than a full batch.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// Timeout of one write request in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// Helm chart repository settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSettings {
    /// Let an upload replace an existing version without `?force`.
    #[serde(default)]
    pub allow_overwrite: bool,
    /// Largest upload in bytes.
    #[serde(default = "default_chart_bytes")]
    pub max_upload_bytes: usize,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("hub-data")
}
const fn default_true() -> bool {
    true
}
const fn default_shutdown_secs() -> u64 {
    10
}
fn default_log_level() -> String {
    "info".into()
}
const fn default_max_records() -> usize {
    10_000
}
const fn default_max_bytes() -> usize {
    4 * 1024 * 1024
}
const fn default_backend() -> InfluxBackend {
    InfluxBackend::None
}
fn default_influx_url() -> String {
    "http://127.0.0.1:8086".into()
}
fn default_name() -> String {
    "fogwhisk".into()
}
const fn default_batch_size() -> usize {
    5_000
}
const fn default_retry_min_ms() -> u64 {
    200
}
const fn default_retry_max_ms() -> u64 {
    30_000
}
const fn default_linger_ms() -> u64 {
    20
}
const fn default_timeout_secs() -> u64 {
    10
}
fn default_catalog_database() -> String {
    "whisks".into()
}
fn default_catalog_namespace() -> String {
    "catalog".into()
}
const fn default_longpoll_secs() -> u64 {
    30
}
const fn default_chart_bytes() -> usize {
    20 * 1024 * 1024
}

macro_rules! default_from_serde {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                serde_json::from_str("{}").expect("all fields have defaults")
            }
        }
    )*};
}
default_from_serde!(Settings, LogSettings, IngestSettings, InfluxSettings, ChartSettings, CatalogSettings);

/// Values given as command-line flags; they override every other source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlagOverrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--admin-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// `--influx-backend` and `--influx-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub influx: Option<InfluxFlagOverrides>,
}

/// Flag overrides of the `influx` table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InfluxFlagOverrides {
    /// `--influx-backend`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<InfluxBackend>,
    /// `--influx-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Settings {
    /// Loads settings: defaults, then `file` (if given), then `FOGWHISK_HUB_*` env, then `flags`; then validates.
    pub fn load(file: Option<&Path>, flags: &FlagOverrides) -> Result<Settings, ConfigError> {
        let mut fig = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            fig = fig.merge(Toml::file(path));
        }
        let settings: Settings = fig
            .merge(Env::prefixed("FOGWHISK_HUB_").split("__").filter(|k| k.as_str() != "config"))
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.ingest.max_records == 0 || self.ingest.max_bytes == 0 {
            return bad("ingest.max_records and ingest.max_bytes must be positive");
        }
        if self.influx.batch_size == 0 {
            return bad("influx.batch_size must be positive");
        }
        if self.influx.retry_min_ms == 0 || self.influx.retry_max_ms < self.influx.retry_min_ms {
            return bad("influx.retry_min_ms must be positive and at most influx.retry_max_ms");
        }
        if self.influx.backend != InfluxBackend::None && reqwest::Url::parse(&self.influx.url).is_err() {
            return Err(ConfigError::Invalid(format!("influx.url {:?} is not a URL", self.influx.url)));
        }
        if self.influx.backend == InfluxBackend::V2 && self.influx.token.is_none() {
            return bad("influx.backend = \"v2\" needs influx.token");
        }
        if let Some(url) = &self.catalog.couchdb_url {
            let Ok(parsed) = reqwest::Url::parse(url).map_err(drop).and_then(|u| {
                if matches!(u.scheme(), "http" | "https") {
                    Ok(u)
                } else {
                    Err(())
                }
            }) else {
                return bad("catalog.couchdb_url is not an http(s) URL");
            };
            if parsed.password().is_some() {
                return bad("catalog.couchdb_url must not hold a password: put user:password in catalog.couchdb_credentials_file");
            }
        }
        if self.catalog.database.is_empty()
            || !self.catalog.database.starts_with(|c: char| c.is_ascii_lowercase())
            || !self
                .catalog
                .database
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_$()+-/".contains(c))
        {
            return bad("catalog.database must be a CouchDB database name (a-z first, then a-z 0-9 _$()+-/)");
        }
        if self.catalog.longpoll_secs == 0 || self.catalog.timeout_secs == 0 {
            return bad("catalog.longpoll_secs and catalog.timeout_secs must be positive");
        }
        if self.admin_token.as_ref().is_some_and(|t| secrecy::ExposeSecret::expose_secret(t).len() < 16) {
            return bad("admin_token must be at least 16 characters");
        }
        Ok(())
    }
}
