//! Who may use the embedded broker: the user file (`mqtt-users.json` in the agent's data folder,
//! 0600), its salted SHA-256 password hashes, and what each user may do (its [`Grant`]).
//!
//! Two kinds of user, the same model as the edge chart's Mosquitto ACL:
//! - a **device** (default user name: its fingerprint) may publish on
//!   `telemetry/<datacenter>/<fingerprint>` and `status/<datacenter>/<fingerprint>` and subscribe
//!   to nothing;
//! - the agent's **feed** user may subscribe to `telemetry/#` and `status/#` and publish nothing.
//!
//! Passwords are 32 random bytes (hex), generated here and shown once: high-entropy secrets, so a
//! salted SHA-256 is as good as a slow hash for them. The file is replaced atomically (write,
//! then rename) and read again at every CONNECT, so a device added while the agent runs can
//! connect at once.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The user file's name in the data folder.
pub const USERS_FILE: &str = "mqtt-users.json";

/// The feed user's name (the edge chart's `mosquitto.agentUser` default).
pub const FEED_USER: &str = "agent";

/// Why the user file could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a valid user file: {source}")]
    Format {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("user name {0:?} is not valid (1-64 of A-Z a-z 0-9 . _ -)")]
    BadUser(String),
    #[error("fingerprint {0:?} is not valid (6 hex digits, upper case, as the firmware prints it)")]
    BadFingerprint(String),
    #[error("user {0:?} already exists (rotate its password with --rotate)")]
    Exists(String),
    #[error("no user or device {0:?}")]
    Missing(String),
}

/// What a user is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// A sensor: publishes its own readings and status.
    Device { datacenter: u32, fingerprint: String },
    /// The agent's MQTT feed: subscribes to the sensors' topics.
    Feed,
}

/// One user as stored: role, salt and SHA-256(salt || password), both hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserEntry {
    #[serde(flatten)]
    pub role: Role,
    salt: String,
    sha256: String,
}

impl UserEntry {
    fn new(role: Role, password: &str) -> Self {
        let salt = hex(&random_bytes::<16>());
        let sha256 = digest(&salt, password);
        Self { role, salt, sha256 }
    }

    fn verify(&self, password: &str) -> bool {
        digest(&self.salt, password).as_bytes().ct_eq(self.sha256.as_bytes()).into()
    }
}

/// What an authenticated user may do. Patterns are MQTT filters (`+`, `#`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Topics it may publish on (also its CONNECT's last will).
    pub publish: Vec<String>,
    /// Filters its subscriptions must stay within.
    pub subscribe: Vec<String>,
}

impl Grant {
    /// The grant of a role.
    pub fn of(role: &Role) -> Self {
        match role {
            Role::Device { datacenter, fingerprint } => Self {
                publish: vec![
                    format!("telemetry/{datacenter}/{fingerprint}"),
                    format!("status/{datacenter}/{fingerprint}"),
                ],
                subscribe: Vec::new(),
            },
            Role::Feed => {
                Self { publish: Vec::new(), subscribe: vec!["telemetry/#".to_string(), "status/#".to_string()] }
            }
        }
    }

    /// Whether publishing on `topic` is allowed (a topic with wildcards never is).
    pub fn may_publish(&self, topic: &str) -> bool {
        !topic.contains(['+', '#']) && self.publish.iter().any(|p| covered(topic, p))
    }

    /// Whether subscribing to `filter` (a `$share/<group>/` prefix is looked through) is allowed.
    pub fn may_subscribe(&self, filter: &str) -> bool {
        let filter = match filter.strip_prefix("$share/").and_then(|rest| rest.split_once('/')) {
            Some((_group, inner)) => inner,
            None => filter,
        };
        self.subscribe.iter().any(|p| covered(filter, p))
    }
}

/// Whether every topic `filter` matches is matched by `pattern` (MQTT filter levels: a `#` of the
/// pattern covers the rest, `+` covers one level, a literal covers only itself).
fn covered(filter: &str, pattern: &str) -> bool {
    let mut f = filter.split('/');
    let mut p = pattern.split('/');
    loop {
        match (f.next(), p.next()) {
            (_, Some("#")) => return true,
            (None, None) => return true,
            (Some(fl), Some("+")) if fl != "#" => {}
            (Some(fl), Some(pl)) if fl == pl && fl != "+" && fl != "#" => {}
            _ => return false,
        }
    }
}

/// The user file of a data folder.
#[derive(Debug, Clone)]
pub struct Users {
    path: PathBuf,
}

impl Users {
    /// The user file in `data_dir` (it need not exist yet: then nobody may connect).
    pub fn in_dir(data_dir: &Path) -> Self {
        Self { path: data_dir.join(USERS_FILE) }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every user (name → entry); none when the file does not exist.
    pub fn load(&self) -> Result<BTreeMap<String, UserEntry>, UsersError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => return Err(UsersError::Io { path: self.path.clone(), source }),
        };
        serde_json::from_str(&text).map_err(|source| UsersError::Format { path: self.path.clone(), source })
    }

    /// The grant of `user` when `password` is its password (reads the file).
    pub fn authenticate(&self, user: &str, password: &str) -> Result<Option<Grant>, UsersError> {
        Ok(self.load()?.get(user).filter(|e| e.verify(password)).map(|e| Grant::of(&e.role)))
    }

    /// Adds a device (user name default: its fingerprint) with a new password, which is returned
    /// and stored only hashed. An existing user is refused unless `rotate`, which replaces it.
    pub fn add_device(
        &self,
        datacenter: u32,
        fingerprint: &str,
        user: Option<&str>,
        rotate: bool,
    ) -> Result<(String, String), UsersError> {
        if !(fingerprint.len() == 6 && fingerprint.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))) {
            return Err(UsersError::BadFingerprint(fingerprint.to_string()));
        }
        let user = user.unwrap_or(fingerprint).to_string();
        let role = Role::Device { datacenter, fingerprint: fingerprint.to_string() };
        let password = self.set(&user, role, rotate)?;
        Ok((user, password))
    }

    /// The feed user's password: `Some` with a new one if the feed user did not exist (or
    /// `rotate`), `None` when it exists already.
    pub fn ensure_feed(&self, rotate: bool) -> Result<Option<String>, UsersError> {
        if !rotate && self.load()?.contains_key(FEED_USER) {
            return Ok(None);
        }
        self.set(FEED_USER, Role::Feed, true).map(Some)
    }

    /// Removes a user, by name or by a device's fingerprint; returns the user name.
    pub fn remove(&self, name: &str) -> Result<String, UsersError> {
        let mut users = self.load()?;
        let key = if users.contains_key(name) {
            name.to_string()
        } else {
            users
                .iter()
                .find(|(_, e)| matches!(&e.role, Role::Device { fingerprint, .. } if fingerprint == name))
                .map(|(k, _)| k.clone())
                .ok_or_else(|| UsersError::Missing(name.to_string()))?
        };
        users.remove(&key);
        self.save(&users)?;
        Ok(key)
    }

    fn set(&self, user: &str, role: Role, replace: bool) -> Result<String, UsersError> {
        if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(UsersError::BadUser(user.to_string()));
        }
        let mut users = self.load()?;
        if !replace && users.contains_key(user) {
            return Err(UsersError::Exists(user.to_string()));
        }
        let password = hex(&random_bytes::<32>());
        users.insert(user.to_string(), UserEntry::new(role, &password));
        self.save(&users)?;
        Ok(password)
    }

    /// Writes the file atomically with mode 0600.
    fn save(&self, users: &BTreeMap<String, UserEntry>) -> Result<(), UsersError> {
        let io_err = |source| UsersError::Io { path: self.path.clone(), source };
        let text = serde_json::to_vec_pretty(users)
            .map_err(|source| UsersError::Format { path: self.path.clone(), source })?;
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
        file.write_all(&text).and_then(|()| file.sync_all()).map_err(io_err)?;
        std::fs::rename(&tmp, &self.path).map_err(io_err)
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(password.as_bytes());
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_stay_within_their_grant() {
        let device = Grant::of(&Role::Device { datacenter: 1, fingerprint: "9A3F21".into() });
        assert!(device.may_publish("telemetry/1/9A3F21"));
        assert!(device.may_publish("status/1/9A3F21"));
        for t in ["telemetry/1/000000", "telemetry/2/9A3F21", "telemetry/1/9A3F21/x", "telemetry/1/+", "telemetry/#"] {
            assert!(!device.may_publish(t), "{t}");
        }
        assert!(!device.may_subscribe("telemetry/1/9A3F21"));
        let feed = Grant::of(&Role::Feed);
        for f in ["telemetry/#", "telemetry/+/+", "status/1/9A3F21", "$share/g/telemetry/#"] {
            assert!(feed.may_subscribe(f), "{f}");
        }
        for f in ["#", "+/1/9A3F21", "other/#", "$share/g/#", "telemetryx/#"] {
            assert!(!feed.may_subscribe(f), "{f}");
        }
        assert!(!feed.may_publish("telemetry/1/9A3F21"));
    }
}
