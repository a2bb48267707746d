//! The agent's settings: defaults, then a TOML file, then `FOGWHISK_EDGE_*` variables, then flags; validated once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything the agent can be configured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address of the OpenWhisk API.
    pub listen: SocketAddr,
    /// Folder of the store, keys and wskprops files.
    pub data_dir: PathBuf,
    /// This site's id (used when reporting to the hub).
    pub site_id: String,
    /// The API's public URL written to wskprops and given to actions; default `http://<listen>`.
    pub api_host: Option<String>,
    /// Log output: `text` or `json`.
    pub log_format: String,
    /// Seconds to let in-flight activations finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// System limits.
    pub limits: LimitSettings,
    /// Namespace keys (`uuid:key`); generated when absent.
    pub keys: KeySettings,
    /// Activation retention.
    pub activations: ActivationSettings,
    /// Runtime processes.
    pub pool: PoolSettings,
    /// IANA time zone of the site (days of aggregates, default alarm zone).
    pub timezone: String,
    /// The hub this site reports to.
    pub hub: HubSettings,
    /// Telemetry kept at the site.
    pub telemetry: TelemetrySettings,
    /// The MQTT broker started in-process when the site has no Mosquitto (first run).
    pub mqtt: MqttSettings,
    /// Who may report to the hub.
    pub federation: FederationSettings,
}

/// Who may call `/whisk.system/federation/push`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSettings {
    /// Namespaces allowed to push aggregates; default the one the site manifest deploys into.
    pub push_namespaces: Vec<String>,
}

impl Default for FederationSettings {
    fn default() -> Self {
        Self { push_namespaces: vec!["guest".to_string()] }
    }
}

/// The embedded MQTT broker (rumqttd).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    /// Address of the embedded broker, e.g. `127.0.0.1:1883`; none when absent (use the site's Mosquitto).
    pub embedded_broker: Option<SocketAddr>,
    /// Let anyone use the embedded broker without credentials, on any topic (before 0.2: always). Off:
    /// only the users of `<data>/mqtt-users.json` (`fogwhisk-edge devices add`), each on its own topics.
    pub allow_anonymous: bool,
}

/// Where daily aggregates go.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubSettings {
    /// Base URL of the hub; no delivery when absent (aggregates wait in the outbox).
    pub url: Option<String>,
    /// This site's bearer token at the hub (never given to actions, never logged). Prefer `token_file`:
    /// a value in the environment is readable wherever the environment is (kept for compatibility).
    pub token: Option<String>,
    /// A file holding the token (e.g. a mounted Kubernetes Secret), read at start; surrounding whitespace
    /// is ignored. Exclusive with `token`.
    pub token_file: Option<PathBuf>,
    /// Records per delivery request.
    pub batch_size: usize,
    /// First retry delay after a failed delivery, milliseconds (doubles up to a minute).
    pub retry_base_ms: u64,
    /// Accept an `http://` hub URL to a host other than loopback (the token and aggregates cross the network in clear).
    pub allow_insecure_http: bool,
}

impl std::fmt::Debug for HubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSettings")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_file", &self.token_file)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

/// Telemetry retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Days readings are kept at the site.
    pub retention_days: u32,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// System limits, OpenWhisk's defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Invocations per minute per namespace.
    pub invocations_per_minute: u32,
    /// Activations in flight per namespace.
    pub concurrent_invocations: u32,
    /// Trigger fires per minute per namespace.
    pub fires_per_minute: u32,
    /// Largest invoke or fire payload, bytes.
    pub max_payload_bytes: usize,
    /// Largest request body (action code), bytes.
    pub max_body_bytes: usize,
    /// Highest per-action concurrency.
    pub max_action_concurrency: u32,
    /// Most atomic actions in a sequence.
    pub sequence_max_length: usize,
    /// Entities (actions, packages, triggers, rules) one namespace may store.
    pub entities_per_namespace: usize,
    /// MB of entity documents (action code included) one namespace may store.
    pub entity_mb_per_namespace: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            invocations_per_minute: 120,
            concurrent_invocations: 100,
            fires_per_minute: 60,
            max_payload_bytes: 1024 * 1024,
            max_body_bytes: 48 * 1024 * 1024 + 1024 * 1024,
            max_action_concurrency: 500,
            sequence_max_length: 50,
            entities_per_namespace: 10_000,
            entity_mb_per_namespace: 512,
        }
    }
}

/// Keys of the built-in namespaces.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeySettings {
    /// `guest` as `uuid:key`.
    pub guest: Option<String>,
    /// `whisk.system` as `uuid:key`.
    pub whisk_system: Option<String>,
    /// A file holding `guest`'s `uuid:key`, read at start when it exists (a missing file counts as not set,
    /// so an optional Secret key can be mounted); exclusive with `guest`.
    pub guest_file: Option<PathBuf>,
    /// The same for `whisk.system`; exclusive with `whisk_system`.
    pub whisk_system_file: Option<PathBuf>,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySettings(***)")
    }
}

/// How long activations are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivationSettings {
    /// Most activations kept per namespace.
    pub keep_count: usize,
    /// Hours an activation is kept.
    pub keep_hours: u64,
    /// MB of activation records kept per namespace (the oldest go first).
    pub keep_mb: u64,
}

impl Default for ActivationSettings {
    fn default() -> Self {
        Self { keep_count: 10_000, keep_hours: 24 * 7, keep_mb: 256 }
    }
}

/// Runtime process pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSettings {
    /// Memory budget of all runtime processes, MB.
    pub user_memory_mb: u64,
    /// Seconds an idle initialized process is kept.
    pub idle_timeout_secs: u64,
    /// Node.js processes kept started ahead of need.
    pub prewarm_nodejs: usize,
    /// Python processes kept started ahead of need.
    pub prewarm_python: usize,
    /// Scratch folder of runtime processes; default a fresh temp folder.
    pub runtime_dir: Option<PathBuf>,
    /// Node.js binary; default found on PATH.
    pub node: Option<PathBuf>,
    /// Python 3 binary; default found on PATH.
    pub python: Option<PathBuf>,
    /// Accept running every runtime process under the agent's own uid when the agent cannot isolate them
    /// (not root, no CAP_SETUID/CAP_SETGID): single-tenant machines only. Without it such a start is refused.
    pub allow_shared_uid: bool,
    /// Share of `user_memory_mb` the runtime processes of one namespace may hold (0 < share <= 1).
    pub namespace_memory_share: f64,
    /// MB of scratch space (its folder, its temp files) one runtime process may fill before it is killed.
    pub max_scratch_mb: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            user_memory_mb: 2048,
            idle_timeout_secs: 600,
            prewarm_nodejs: 1,
            prewarm_python: 0,
            runtime_dir: None,
            node: None,
            python: None,
            allow_shared_uid: false,
            namespace_memory_share: 0.5,
            max_scratch_mb: 512,
        }
    }
}

impl Settings {
    /// The storage quotas of every namespace.
    pub fn quotas(&self) -> crate::store::Quotas {
        crate::store::Quotas {
            entity_count: self.limits.entities_per_namespace,
            entity_bytes: self.limits.entity_mb_per_namespace * 1024 * 1024,
            activation_count: self.activations.keep_count,
            activation_bytes: self.activations.keep_mb * 1024 * 1024,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3233".parse().expect("static address"),
            data_dir: PathBuf::from("fogwhisk-data"),
            site_id: "site".into(),
            api_host: None,
            log_format: "text".into(),
            shutdown_grace_secs: 8,
            limits: LimitSettings::default(),
            keys: KeySettings::default(),
            activations: ActivationSettings::default(),
            pool: PoolSettings::default(),
            timezone: "UTC".into(),
            hub: HubSettings {
                url: None,
                token: None,
                token_file: None,
                batch_size: 100,
                retry_base_ms: 1000,
                allow_insecure_http: false,
            },
            telemetry: TelemetrySettings::default(),
            mqtt: MqttSettings::default(),
            federation: FederationSettings::default(),
        }
    }
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Parsing failed (figment names the key and the source).
    #[error("invalid configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    /// A value is out of range.
    #[error("invalid configuration: setting '{setting}': {reason}")]
    Invalid {
        /// Dotted setting name.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Settings {
    /// Loads defaults ← `file` ← environment ← `overrides` (flags), then validates.
    pub fn load(file: Option<&Path>, overrides: Figment) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(Env::prefixed("FOGWHISK_EDGE_").split("__")).merge(overrides);
        let mut s: Settings = fig.extract().map_err(Box::new)?;
        s.read_secret_files()?;
        s.validate()?;
        Ok(s)
    }

    /// Replaces `*_file` secret settings by the files' contents (the file settings stay, for messages).
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        fn read(setting: &'static str, path: &Path, optional: bool) -> Result<Option<String>, ConfigError> {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let v = text.trim().to_string();
                    if v.is_empty() {
                        return Err(ConfigError::Invalid { setting, reason: format!("{} is empty", path.display()) });
                    }
                    Ok(Some(v))
                }
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(ConfigError::Invalid { setting, reason: format!("cannot read {}: {e}", path.display()) }),
            }
        }
        fn exclusive(setting: &'static str, both: bool, other: &str) -> Result<(), ConfigError> {
            if both {
                return Err(ConfigError::Invalid {
                    setting,
                    reason: format!("set either {setting} or {other}, not both"),
                });
            }
            Ok(())
        }
        if let Some(f) = self.hub.token_file.clone() {
            exclusive("hub.token_file", self.hub.token.is_some(), "hub.token")?;
            self.hub.token = read("hub.token_file", &f, false)?;
        }
        if let Some(f) = self.keys.guest_file.clone() {
            exclusive("keys.guest_file", self.keys.guest.is_some(), "keys.guest")?;
            self.keys.guest = read("keys.guest_file", &f, true)?;
        }
        if let Some(f) = self.keys.whisk_system_file.clone() {
            exclusive("keys.whisk_system_file", self.keys.whisk_system.is_some(), "keys.whisk_system")?;
            self.keys.whisk_system = read("keys.whisk_system_file", &f, true)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting, reason: &str| Err(ConfigError::Invalid { setting, reason: reason.into() });
        let l = &self.limits;
        if l.invocations_per_minute == 0 {
            return bad("limits.invocations_per_minute", "must be at least 1");
        }
        if l.concurrent_invocations == 0 {
            return bad("limits.concurrent_invocations", "must be at least 1");
        }
        if l.fires_per_minute == 0 {
            return bad("limits.fires_per_minute", "must be at least 1");
        }
        if l.max_payload_bytes < 1024 {
            return bad("limits.max_payload_bytes", "must be at least 1024");
        }
        if l.max_body_bytes < l.max_payload_bytes {
            return bad("limits.max_body_bytes", "must be at least limits.max_payload_bytes");
        }
        if l.max_action_concurrency == 0 {
            return bad("limits.max_action_concurrency", "must be at least 1");
        }
        if !(1..=1000).contains(&l.sequence_max_length) {
            return bad("limits.sequence_max_length", "must be between 1 and 1000");
        }
        if self.activations.keep_count == 0 {
            return bad("activations.keep_count", "must be at least 1");
        }
        if l.entities_per_namespace == 0 {
            return bad("limits.entities_per_namespace", "must be at least 1");
        }
        if l.entity_mb_per_namespace == 0 {
            return bad("limits.entity_mb_per_namespace", "must be at least 1");
        }
        if self.activations.keep_mb == 0 {
            return bad("activations.keep_mb", "must be at least 1");
        }
        let share = self.pool.namespace_memory_share;
        if !(share > 0.0 && share <= 1.0) {
            return bad("pool.namespace_memory_share", "must be above 0 and at most 1");
        }
        if self.pool.max_scratch_mb == 0 {
            return bad("pool.max_scratch_mb", "must be at least 1");
        }
        if self.pool.user_memory_mb < 128 {
            return bad("pool.user_memory_mb", "must be at least 128");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return bad("log_format", "must be 'text' or 'json'");
        }
        if crate::entity::name::validate_segment(&self.site_id).is_err() {
            return bad("site_id", "must be a valid name (letters, digits, _ @ . & -)");
        }
        for (setting, key) in [("keys.guest", &self.keys.guest), ("keys.whisk_system", &self.keys.whisk_system)] {
            if let Some(k) = key {
                if crate::identity::Credentials::parse(k).is_err() {
                    return bad(setting, "must look like <uuid>:<secret> with a secret of at least 8 characters");
                }
            }
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return bad("timezone", "must be an IANA time zone such as Europe/Rome");
        }
        if let Some(u) = &self.hub.url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return bad("hub.url", "must start with http:// or https://");
            }
            if u.starts_with("http://") && !self.hub.allow_insecure_http && !loopback_url(u) {
                return bad(
                    "hub.url",
                    "is plain http:// to a host that is not loopback: use https://, or set hub.allow_insecure_http = true",
                );
            }
            if self.hub.token.as_deref().is_none_or(str::is_empty) {
                return bad("hub.token", "is required when hub.url is set (or hub.token_file)");
            }
        }
        if self.hub.batch_size == 0 {
            return bad("hub.batch_size", "must be at least 1");
        }
        if self.telemetry.retention_days == 0 {
            return bad("telemetry.retention_days", "must be at least 1");
        }
        if let Some(h) = &self.api_host {
            if !(h.starts_with("http://") || h.starts_with("https://")) {
                return bad("api_host", "must start with http:// or https://");
            }
        }
        Ok(())
    }
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`): plain HTTP never leaves it.
fn loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => hostport.split(':').next().unwrap_or_default(),
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_openwhisks() {
        let s = Settings::load(None, Figment::new()).unwrap();
        assert_eq!(s.listen.port(), 3233);
        assert_eq!(s.limits.invocations_per_minute, 120);
    }

    #[test]
    fn file_then_flags_and_errors_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("edge.toml");
        std::fs::write(&f, "site_id = \"torino\"\n[limits]\nfires_per_minute = 5\n").unwrap();
        let s = Settings::load(Some(&f), Figment::new()).unwrap();
        assert_eq!((s.site_id.as_str(), s.limits.fires_per_minute), ("torino", 5));
        let over = Figment::from(Serialized::default("site_id", "milano"));
        assert_eq!(Settings::load(Some(&f), over).unwrap().site_id, "milano");
        std::fs::write(&f, "[limits]\nfires_per_minute = 0\n").unwrap();
        let e = Settings::load(Some(&f), Figment::new()).unwrap_err().to_string();
        assert!(e.contains("limits.fires_per_minute"), "{e}");
        std::fs::write(&f, "[limits]\nfire_per_minute = 3\n").unwrap();
        let e = Settings::load(Some(&f), Figment::new()).unwrap_err().to_string();
        assert!(e.contains("fire_per_minute"), "{e}");
    }

    #[test]
    fn secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("hub-token");
        std::fs::write(&token, "tok-from-file\n").unwrap();
        let guest = dir.path().join("guest-key");
        let key =
            "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
        std::fs::write(&guest, key).unwrap();
        let f = dir.path().join("edge.toml");
        let text = format!(
            "[hub]\nurl = \"https://hub:8080\"\ntoken_file = {:?}\n[keys]\nguest_file = {:?}\nwhisk_system_file = {:?}\n",
            token,
            guest,
            dir.path().join("absent")
        );
        std::fs::write(&f, &text).unwrap();
        let s = Settings::load(Some(&f), Figment::new()).unwrap();
        assert_eq!(s.hub.token.as_deref(), Some("tok-from-file"));
        assert_eq!(s.keys.guest.as_deref(), Some(key));
        assert_eq!(s.keys.whisk_system, None, "a missing key file counts as not set");
        assert!(!format!("{s:?}").contains("tok-from-file"));
        // A missing token file, an empty one, or both forms at once: refused, naming the setting.
        std::fs::remove_file(&token).unwrap();
        let e = Settings::load(Some(&f), Figment::new()).unwrap_err().to_string();
        assert!(e.contains("hub.token_file") && e.contains("cannot read"), "{e}");
        std::fs::write(&token, "  \n").unwrap();
        let e = Settings::load(Some(&f), Figment::new()).unwrap_err().to_string();
        assert!(e.contains("hub.token_file") && e.contains("empty"), "{e}");
        std::fs::write(&token, "t").unwrap();
        let over = Figment::from(Serialized::default("hub.token", "inline"));
        let e = Settings::load(Some(&f), over).unwrap_err().to_string();
        assert!(e.contains("hub.token_file") && e.contains("not both"), "{e}");
    }

    #[test]
    fn plain_http_hub_only_on_loopback_unless_allowed() {
        let load = |url: &str, allow: bool| {
            let f = Figment::from(Serialized::default("hub.url", url))
                .merge(Serialized::default("hub.token", "t"))
                .merge(Serialized::default("hub.allow_insecure_http", allow));
            Settings::load(None, f).map_err(|e| e.to_string())
        };
        for ok in [
            "https://hub.example",
            "http://127.0.0.1:8080",
            "http://127.8.0.1",
            "http://localhost:80",
            "http://[::1]:8080",
        ] {
            assert!(load(ok, false).is_ok(), "{ok}");
        }
        let refused = [
            "http://hub.example:8080",
            "http://10.0.0.5",
            "http://[fd00::1]",
            "http://localhost.evil.example",
            "http://127.0.0.1@evil.example/",
        ];
        for refused in refused {
            let e = load(refused, false).unwrap_err();
            assert!(e.contains("hub.url") && e.contains("hub.allow_insecure_http"), "{refused}: {e}");
            assert!(load(refused, true).is_ok(), "{refused} allowed");
        }
    }
}
