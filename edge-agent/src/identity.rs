//! Namespaces and their keys (what `wskadmin user` manages), kept in `<data>/namespaces.json` (mode 0600).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::entity::name::validate_segment;

/// The namespace of the platform's own packages.
pub const SYSTEM_NAMESPACE: &str = "whisk.system";
/// The default user namespace.
pub const GUEST_NAMESPACE: &str = "guest";

/// A namespace's credentials: Basic auth user `uuid`, password `key`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    /// The uuid part.
    pub uuid: String,
    /// The secret part.
    pub key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.uuid)
    }
}

impl Credentials {
    /// Fresh random credentials.
    pub fn generate() -> Self {
        let key: String = rand::thread_rng().sample_iter(&Alphanumeric).take(64).map(char::from).collect();
        Self { uuid: uuid::Uuid::new_v4().to_string(), key }
    }

    /// Parses `uuid:key`.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        match s.split_once(':') {
            Some((u, k)) if !u.is_empty() && k.len() >= 8 => Ok(Self { uuid: u.into(), key: k.into() }),
            _ => Err(IdentityError::BadKey),
        }
    }

    /// `uuid:key`, as wskprops `AUTH` holds it.
    pub fn to_auth(&self) -> String {
        format!("{}:{}", self.uuid, self.key)
    }
}

/// Namespace management failures.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A key is not `uuid:key` with a secret of 8 characters or more.
    #[error("a namespace key must look like <uuid>:<secret> with a secret of at least 8 characters")]
    BadKey,
    /// The namespace name is invalid.
    #[error("invalid namespace name: {0}")]
    BadName(#[from] crate::entity::name::NameError),
    /// The namespace exists already.
    #[error("namespace '{0}' already exists")]
    Exists(String),
    /// No such namespace.
    #[error("namespace '{0}' does not exist")]
    Missing(String),
    /// The namespace is built in.
    #[error("namespace '{0}' is built in and cannot be deleted")]
    BuiltIn(String),
    /// Another namespace uses that uuid.
    #[error("that uuid is already used by namespace '{0}'")]
    UuidInUse(String),
    /// Reading or writing the file failed.
    #[error("namespaces file {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("namespaces file {path} is corrupt: {source}")]
    Corrupt {
        /// File.
        path: String,
        /// Cause.
        source: serde_json::Error,
    },
}

/// The namespaces file's content.
pub type NamespaceMap = BTreeMap<String, Credentials>;

fn file_of(data: &Path) -> PathBuf {
    data.join("namespaces.json")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io { path: path.display().to_string(), source }
}

/// Reads the namespaces of a data folder (empty when the file does not exist).
pub fn load(data: &Path) -> Result<NamespaceMap, IdentityError> {
    let path = file_of(data);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|source| IdentityError::Corrupt { path: path.display().to_string(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NamespaceMap::new()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Writes a private file atomically (temp file, fsync, rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path)
}

/// Writes the namespaces file.
pub fn save(data: &Path, map: &NamespaceMap) -> Result<(), IdentityError> {
    let path = file_of(data);
    let bytes = serde_json::to_vec_pretty(map).expect("credentials serialize");
    write_private(&path, &bytes).map_err(io_err(&path))
}

/// Adds a namespace with the given or fresh credentials.
pub fn create(data: &Path, name: &str, creds: Option<Credentials>) -> Result<Credentials, IdentityError> {
    validate_segment(name)?;
    let mut map = load(data)?;
    if map.contains_key(name) {
        return Err(IdentityError::Exists(name.into()));
    }
    let creds = creds.unwrap_or_else(Credentials::generate);
    if let Some((other, _)) = map.iter().find(|(_, c)| c.uuid == creds.uuid) {
        return Err(IdentityError::UuidInUse(other.clone()));
    }
    map.insert(name.into(), creds.clone());
    save(data, &map)?;
    Ok(creds)
}

/// Removes a namespace (not the built-in ones).
pub fn delete(data: &Path, name: &str) -> Result<(), IdentityError> {
    if name == GUEST_NAMESPACE || name == SYSTEM_NAMESPACE {
        return Err(IdentityError::BuiltIn(name.into()));
    }
    let mut map = load(data)?;
    map.remove(name).ok_or_else(|| IdentityError::Missing(name.into()))?;
    save(data, &map)
}

/// Makes sure `guest` and `whisk.system` exist, with configured keys when given.
pub fn ensure_builtin(
    data: &Path,
    guest: Option<Credentials>,
    system: Option<Credentials>,
) -> Result<NamespaceMap, IdentityError> {
    let mut map = load(data)?;
    let mut changed = false;
    for (name, given) in [(GUEST_NAMESPACE, guest), (SYSTEM_NAMESPACE, system)] {
        match (map.get(name), given) {
            (Some(old), Some(new)) if *old != new => {
                map.insert(name.into(), new);
                changed = true;
            }
            (None, given) => {
                map.insert(name.into(), given.unwrap_or_else(Credentials::generate));
                changed = true;
            }
            _ => {}
        }
    }
    if changed {
        save(data, &map)?;
    }
    Ok(map)
}

/// What identifies one version of the namespaces file: every save renames a new file into place, so the
/// inode changes even when two saves fall in the same mtime tick.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(data: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(file_of(data)).ok()?;
    Some((m.modified().ok()?, m.ino(), m.len()))
}

/// The live table the API authenticates against; reloads the file when another process changed it.
pub struct Identities {
    data: PathBuf,
    inner: RwLock<(Stamp, NamespaceMap)>,
}

impl Identities {
    /// Loads the data folder's namespaces.
    pub fn new(data: &Path) -> Result<Self, IdentityError> {
        let map = load(data)?;
        Ok(Self { data: data.to_path_buf(), inner: RwLock::new((stamp(data), map)) })
    }

    fn refresh(&self) {
        let mtime = stamp(&self.data);
        let stale = self.inner.read().map(|g| g.0 != mtime).unwrap_or(true);
        if stale {
            match load(&self.data) {
                Ok(map) => {
                    if let Ok(mut g) = self.inner.write() {
                        *g = (mtime, map);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot reload namespaces"),
            }
        }
    }

    /// The namespace whose credentials these are.
    pub fn authenticate(&self, uuid: &str, key: &str) -> Option<String> {
        let find = |map: &NamespaceMap| {
            map.iter()
                .find(|(_, c)| c.uuid == uuid && bool::from(c.key.as_bytes().ct_eq(key.as_bytes())))
                .map(|(n, _)| n.clone())
        };
        if let Some(ns) = self.inner.read().ok().and_then(|g| find(&g.1)) {
            return Some(ns);
        }
        self.refresh();
        self.inner.read().ok().and_then(|g| find(&g.1))
    }

    /// The credentials of a namespace (to fire triggers or run feeds as their owner).
    pub fn credentials(&self, namespace: &str) -> Option<Credentials> {
        let found = self.inner.read().ok().and_then(|g| g.1.get(namespace).cloned());
        found.or_else(|| {
            self.refresh();
            self.inner.read().ok().and_then(|g| g.1.get(namespace).cloned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_authenticate_delete() {
        let dir = tempfile::tempdir().unwrap();
        let map = ensure_builtin(dir.path(), None, None).unwrap();
        assert_eq!(map.len(), 2);
        let ids = Identities::new(dir.path()).unwrap();
        let g = &map[GUEST_NAMESPACE];
        assert_eq!(ids.authenticate(&g.uuid, &g.key).as_deref(), Some(GUEST_NAMESPACE));
        assert_eq!(ids.authenticate(&g.uuid, "wrong"), None);
        let c = create(dir.path(), "acme", None).unwrap();
        assert_eq!(ids.authenticate(&c.uuid, &c.key).as_deref(), Some("acme"));
        assert!(matches!(create(dir.path(), "acme", None), Err(IdentityError::Exists(_))));
        assert!(matches!(delete(dir.path(), GUEST_NAMESPACE), Err(IdentityError::BuiltIn(_))));
        delete(dir.path(), "acme").unwrap();
        let mode = fs::metadata(file_of(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(format!("{c:?}").contains("***") && !format!("{c:?}").contains(&c.key));
    }
}
