//! Namespaces and their keys (what `wskadmin user` manages), kept in `<data>/namespaces.json` (mode 0600).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

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

/// How long a cache hit may trust the table before the file is looked at again (one `stat`).
pub const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// The live table the API authenticates against. It follows the namespaces file: a hit looks at the
/// file's stamp (mtime, inode, size: one `stat`, no read) at most every [`RECHECK_EVERY`] and reloads it
/// when it changed, so a namespace deleted or a key changed by the CLI stops working within that time;
/// a miss looks at once (a namespace just created works on its first request).
pub struct Identities {
    data: PathBuf,
    inner: RwLock<(Stamp, NamespaceMap)>,
    born: Instant,
    /// When the stamp was last looked at, in milliseconds since `born`.
    checked_ms: AtomicU64,
}

impl Identities {
    /// Loads the data folder's namespaces.
    pub fn new(data: &Path) -> Result<Self, IdentityError> {
        let map = load(data)?;
        Ok(Self {
            data: data.to_path_buf(),
            inner: RwLock::new((stamp(data), map)),
            born: Instant::now(),
            checked_ms: AtomicU64::new(0),
        })
    }

    fn refresh(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        self.checked_ms.store(now, Ordering::Relaxed);
        let current = stamp(&self.data);
        let stale = self.inner.read().map(|g| g.0 != current).unwrap_or(true);
        if stale {
            match load(&self.data) {
                Ok(map) => {
                    if let Ok(mut g) = self.inner.write() {
                        *g = (current, map);
                    }
                }
                // Keep the last good table (a half-edited file must not lock everyone out), but a file
                // that is gone means no namespaces: load() returns an empty table for it.
                Err(e) => tracing::warn!(error = %e, "cannot reload namespaces"),
            }
        }
    }

    /// Looks at the file when the last look is older than [`RECHECK_EVERY`] (one thread does it).
    fn refresh_if_due(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        let last = self.checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < RECHECK_EVERY.as_millis() as u64 {
            return;
        }
        if self.checked_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.refresh();
        }
    }

    fn lookup<T>(&self, find: impl Fn(&NamespaceMap) -> Option<T>) -> Option<T> {
        self.refresh_if_due();
        if let Some(found) = self.inner.read().ok().and_then(|g| find(&g.1)) {
            return Some(found);
        }
        self.refresh();
        self.inner.read().ok().and_then(|g| find(&g.1))
    }

    /// The namespace whose credentials these are.
    pub fn authenticate(&self, uuid: &str, key: &str) -> Option<String> {
        self.lookup(|map| {
            map.iter()
                .find(|(_, c)| c.uuid == uuid && bool::from(c.key.as_bytes().ct_eq(key.as_bytes())))
                .map(|(n, _)| n.clone())
        })
    }

    /// The credentials of a namespace (to fire triggers or run feeds as their owner).
    pub fn credentials(&self, namespace: &str) -> Option<Credentials> {
        self.lookup(|map| map.get(namespace).cloned())
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

    #[test]
    fn a_cache_hit_follows_a_delete_and_a_key_change_within_the_recheck_interval() {
        let dir = tempfile::tempdir().unwrap();
        ensure_builtin(dir.path(), None, None).unwrap();
        let ids = Identities::new(dir.path()).unwrap();
        let c = create(dir.path(), "acme", None).unwrap();
        assert_eq!(ids.authenticate(&c.uuid, &c.key).as_deref(), Some("acme"));
        delete(dir.path(), "acme").unwrap();
        std::thread::sleep(RECHECK_EVERY + Duration::from_millis(20));
        assert_eq!(ids.authenticate(&c.uuid, &c.key), None, "a deleted namespace's key stops working");
        assert!(ids.credentials("acme").is_none());
        let new = Credentials { uuid: c.uuid.clone(), key: "another-secret-key".into() };
        create(dir.path(), "acme", Some(new.clone())).unwrap();
        assert_eq!(ids.authenticate(&new.uuid, &new.key).as_deref(), Some("acme"), "a miss reloads at once");
        // Same uuid, new key: the old key is refused at once (a miss), the new one works.
        assert_eq!(ids.authenticate(&c.uuid, &c.key), None);
    }
}
