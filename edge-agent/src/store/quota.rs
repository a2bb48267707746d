//! Storage quotas per namespace: entities are refused past their count or bytes (a 403 at the API), activation
//! records past theirs are pruned oldest-first in the commit that stores new ones (an activation never fails
//! because of old records).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redb::{ReadableTable, Table};

use super::StoreError;

/// What one namespace may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Entities (actions, packages, triggers, rules) per namespace.
    pub entity_count: usize,
    /// Bytes of stored entity documents per namespace.
    pub entity_bytes: u64,
    /// Activation records kept per namespace.
    pub activation_count: usize,
    /// Bytes of activation records kept per namespace.
    pub activation_bytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            entity_count: 10_000,
            entity_bytes: 512 * 1024 * 1024,
            activation_count: 10_000,
            activation_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Why an entity write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// The namespace holds its quota of entities.
    #[error("The namespace '{namespace}' has reached its quota of {limit} entities.")]
    Count {
        /// Namespace.
        namespace: String,
        /// Its quota.
        limit: usize,
    },
    /// The write would take the namespace's stored entities past their quota of bytes.
    #[error("Storing this entity would take the namespace '{namespace}' past its quota of {limit_mb} MB of entities.")]
    Bytes {
        /// Namespace.
        namespace: String,
        /// Its quota, MB.
        limit_mb: u64,
    },
}

/// Checks that putting `size` bytes at `id` keeps its namespace within `q`; a write that does not grow the
/// namespace (an update of an entity to the same size or smaller) is always allowed.
pub(super) fn check_entity(
    table: &Table<'_, &'static str, &'static [u8]>,
    q: &Quotas,
    id: &str,
    size: u64,
) -> Result<(), StoreError> {
    let Some((namespace, _)) = id.split_once('/') else { return Ok(()) };
    let prefix = format!("{namespace}/");
    let (mut others, mut other_bytes, mut old) = (0usize, 0u64, None);
    for row in table.range(prefix.as_str()..)? {
        let (k, v) = row?;
        if !k.value().starts_with(&prefix) {
            break;
        }
        let len = v.value().len() as u64;
        if k.value() == id {
            old = Some(len);
        } else {
            others += 1;
            other_bytes += len;
        }
    }
    if old.is_none() && others + 1 > q.entity_count {
        let (namespace, limit) = (namespace.to_string(), q.entity_count);
        return Err(StoreError::Quota(QuotaExceeded::Count { namespace, limit }));
    }
    if other_bytes + size > q.entity_bytes && size > old.unwrap_or(0) {
        let (namespace, limit_mb) = (namespace.to_string(), q.entity_bytes / (1024 * 1024));
        return Err(StoreError::Quota(QuotaExceeded::Bytes { namespace, limit_mb }));
    }
    Ok(())
}

/// Records and bytes of one namespace's activations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Usage {
    pub count: usize,
    pub bytes: u64,
}

/// The activation usage of namespaces written to since the store opened (loaded by a scan on first write).
#[derive(Clone, Default)]
pub(super) struct ActivationUsage(Arc<Mutex<HashMap<String, Usage>>>);

impl ActivationUsage {
    pub fn get(&self, namespace: &str) -> Option<Usage> {
        self.lock().get(namespace).copied()
    }

    pub fn set(&self, namespace: &str, u: Usage) {
        self.lock().insert(namespace.to_string(), u);
    }

    /// After a commit that failed: what is known may be off, scan again next time.
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    /// Records removed by the purge.
    pub fn removed(&self, namespace: &str, bytes: u64) {
        if let Some(u) = self.lock().get_mut(namespace) {
            u.count = u.count.saturating_sub(1);
            u.bytes = u.bytes.saturating_sub(bytes);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Usage>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Docs<'a> = Table<'a, &'static str, &'static [u8]>;
type Index<'a> = Table<'a, (&'static str, u64, &'static str), ()>;

/// Scans the records of `namespace` in the open write transaction.
pub(super) fn scan(docs: &Docs<'_>, index: &Index<'_>, namespace: &str) -> Result<Usage, StoreError> {
    let mut u = Usage::default();
    for row in index.range((namespace, 0, "")..=(namespace, u64::MAX, "\u{10ffff}"))? {
        let (k, _) = row?;
        let (_, _, id) = k.value();
        u.count += 1;
        u.bytes += docs.get(id)?.map(|v| v.value().len() as u64).unwrap_or(0);
    }
    Ok(u)
}

/// Removes the oldest records of `namespace` until `u` is within `q` (the newest record always stays).
pub(super) fn prune(
    docs: &mut Docs<'_>,
    index: &mut Index<'_>,
    namespace: &str,
    mut u: Usage,
    q: &Quotas,
) -> Result<(Usage, usize), StoreError> {
    let over = |u: &Usage| u.count > 1 && (u.count > q.activation_count || u.bytes > q.activation_bytes);
    if !over(&u) {
        return Ok((u, 0));
    }
    let mut doomed: Vec<(u64, String)> = Vec::new();
    for row in index.range((namespace, 0, "")..=(namespace, u64::MAX, "\u{10ffff}"))? {
        if !over(&u) {
            break;
        }
        let (k, _) = row?;
        let (_, start, id) = k.value();
        u.count -= 1;
        u.bytes = u.bytes.saturating_sub(docs.get(id)?.map(|v| v.value().len() as u64).unwrap_or(0));
        doomed.push((start, id.to_string()));
    }
    for (start, id) in &doomed {
        index.remove((namespace, *start, id.as_str()))?;
        docs.remove(id.as_str())?;
    }
    Ok((u, doomed.len()))
}
