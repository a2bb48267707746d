//! Activation records in the store: the changes the writer commits, newest-first listing, and bounded retention
//! (the namespace's quota at every commit, age and count in the periodic purge).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redb::ReadableTable;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::quota::{self, Usage};
use super::{Store, StoreError, ACTIVATIONS, ACTIVATION_INDEX, PENDING};
use crate::entity::Activation;

/// A rule invocation recorded durably with its trigger's fire, so a crash cannot lose it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingInvocation {
    /// The activation id it will have.
    pub activation_id: String,
    /// The namespace it runs for.
    pub caller: String,
    /// The action, fully qualified (`/ns/[pkg/]name`).
    pub action: String,
    /// Its arguments.
    pub args: Map<String, Value>,
}

/// One change the writer commits.
pub(super) enum Op {
    /// Store a finished activation and forget its pending invocation, if any.
    Finished(Arc<Activation>),
    /// Store a trigger activation together with the invocations it starts.
    Fired(Arc<Activation>, Vec<PendingInvocation>),
    /// Forget a pending invocation that cannot run.
    Forget(String),
    /// Nothing: commit what is queued before it now.
    Flush,
}

impl Op {
    /// Someone is waiting on this commit (a trigger fire before its answer or MQTT acknowledgement).
    pub(super) fn is_urgent(&self) -> bool {
        !matches!(self, Op::Finished(_))
    }

    /// The activation record it stores, if any.
    pub(super) fn record(&self) -> Option<&Arc<Activation>> {
        match self {
            Op::Finished(a) | Op::Fired(a, _) => Some(a),
            Op::Forget(_) | Op::Flush => None,
        }
    }
}

/// Filters of `GET /activations`.
#[derive(Debug, Clone, Default)]
pub struct ActivationFilter {
    /// `action`, `pkg/action` or a trigger name.
    pub name: Option<String>,
    /// Only activations that started at or after this (epoch ms).
    pub since: Option<u64>,
    /// Only activations that started at or before this (epoch ms).
    pub upto: Option<u64>,
    /// Rows to skip.
    pub skip: usize,
    /// Rows to return at most.
    pub limit: usize,
}

fn matches_name(a: &Activation, name: &str) -> bool {
    if a.name == name {
        return true;
    }
    let path = a.path();
    path.split_once('/').is_some_and(|(_, rel)| rel == name)
}

impl Store {
    /// Reads one activation.
    pub fn get_activation(&self, id: &str) -> Result<Option<Activation>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ACTIVATIONS)?;
        let found = t.get(id)?;
        match found {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|source| StoreError::Corrupt { key: id.to_string(), source }),
            None => Ok(None),
        }
    }

    /// Activations of `namespace`, newest first, filtered; with `count_only` only their number is exact.
    pub fn list_activations(
        &self,
        namespace: &str,
        f: &ActivationFilter,
    ) -> Result<(Vec<Activation>, usize), StoreError> {
        let tx = self.db.begin_read()?;
        let index = tx.open_table(ACTIVATION_INDEX)?;
        let docs = tx.open_table(ACTIVATIONS)?;
        let lo = (namespace, f.since.unwrap_or(0), "");
        let hi = (namespace, f.upto.unwrap_or(u64::MAX - 1), "\u{10ffff}");
        let mut out = Vec::new();
        let mut matched = 0usize;
        for row in index.range(lo..=hi)?.rev() {
            let (k, _) = row?;
            let (_, _, id) = k.value();
            let Some(doc) = docs.get(id)? else { continue };
            let a: Activation = serde_json::from_slice(doc.value())
                .map_err(|source| StoreError::Corrupt { key: id.to_string(), source })?;
            if let Some(n) = &f.name {
                if !matches_name(&a, n) {
                    continue;
                }
            }
            matched += 1;
            if matched > f.skip && out.len() < f.limit {
                out.push(a);
            }
        }
        Ok((out, matched))
    }

    /// Rule invocations accepted but not finished (after a crash).
    pub fn pending_invocations(&self) -> Result<Vec<PendingInvocation>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(PENDING)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push(
                serde_json::from_slice(v.value())
                    .map_err(|source| StoreError::Corrupt { key: k.value().to_string(), source })?,
            );
        }
        Ok(out)
    }

    /// Commits `batch`; namespaces it takes past their quota lose their oldest records in the same commit.
    pub(super) fn apply(&self, batch: &[Op]) -> Result<(), StoreError> {
        let result = self.apply_within_quota(batch);
        if result.is_err() {
            self.activation_usage.forget_all();
        }
        result
    }

    fn apply_within_quota(&self, batch: &[Op]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        let mut usage: HashMap<String, Usage> = HashMap::new();
        {
            let mut docs = tx.open_table(ACTIVATIONS)?;
            let mut index = tx.open_table(ACTIVATION_INDEX)?;
            let mut pending = tx.open_table(PENDING)?;
            for op in batch {
                let a = match op {
                    Op::Finished(a) => {
                        pending.remove(a.activation_id.as_str())?;
                        a
                    }
                    Op::Fired(a, starts) => {
                        for p in starts {
                            pending.insert(p.activation_id.as_str(), to_json(p)?.as_slice())?;
                        }
                        a
                    }
                    Op::Flush => continue,
                    Op::Forget(id) => {
                        pending.remove(id.as_str())?;
                        continue;
                    }
                };
                let ns = a.namespace.as_str();
                if !usage.contains_key(ns) {
                    let known = match self.activation_usage.get(ns) {
                        Some(u) => u,
                        None => quota::scan(&docs, &index, ns)?,
                    };
                    usage.insert(ns.to_string(), known);
                }
                let doc = to_json(a.as_ref())?;
                let old = docs.insert(a.activation_id.as_str(), doc.as_slice())?.map(|v| v.value().len() as u64);
                let fresh = index.insert((ns, a.start, a.activation_id.as_str()), ())?.is_none();
                let u = usage.get_mut(ns).expect("inserted above");
                u.bytes = (u.bytes + doc.len() as u64).saturating_sub(old.unwrap_or(0));
                u.count += usize::from(old.is_none() && fresh);
            }
            for (ns, u) in usage.iter_mut() {
                let (kept, pruned) = quota::prune(&mut docs, &mut index, ns, *u, &self.quotas)?;
                if pruned > 0 {
                    tracing::debug!(namespace = %ns, pruned, "activations past the namespace's quota pruned");
                }
                *u = kept;
            }
        }
        tx.commit()?;
        for (ns, u) in usage {
            self.activation_usage.set(&ns, u);
        }
        Ok(())
    }

    /// Deletes activations beyond `keep_count` per namespace or older than `max_age`; returns how many.
    pub fn purge_activations(&self, keep_count: usize, max_age: Duration) -> Result<usize, StoreError> {
        let cutoff = crate::entity::common::now_ms().saturating_sub(max_age.as_millis() as u64);
        let mut doomed: Vec<(String, u64, String)> = Vec::new();
        {
            let tx = self.db.begin_read()?;
            let index = tx.open_table(ACTIVATION_INDEX)?;
            let mut seen: HashMap<String, usize> = HashMap::new();
            for row in index.iter()?.rev() {
                let (k, _) = row?;
                let (ns, start, id) = k.value();
                let n = seen.entry(ns.to_string()).or_default();
                *n += 1;
                if *n > keep_count || start < cutoff {
                    doomed.push((ns.to_string(), start, id.to_string()));
                }
            }
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        let tx = self.db.begin_write()?;
        let mut removed = Vec::with_capacity(doomed.len());
        {
            let mut docs = tx.open_table(ACTIVATIONS)?;
            let mut index = tx.open_table(ACTIVATION_INDEX)?;
            for (ns, start, id) in &doomed {
                index.remove((ns.as_str(), *start, id.as_str()))?;
                let bytes = docs.remove(id.as_str())?.map(|v| v.value().len() as u64);
                removed.push((ns.as_str(), bytes.unwrap_or(0)));
            }
        }
        if let Err(e) = tx.commit() {
            self.activation_usage.forget_all();
            return Err(e.into());
        }
        for (ns, bytes) in removed {
            self.activation_usage.removed(ns, bytes);
        }
        Ok(doomed.len())
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Db(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{activation::new_activation_id, KeyVal, Outcome, Response};
    use crate::store::ActivationWriter;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    fn act(ns: &str, name: &str, start: u64) -> Activation {
        Activation {
            activation_id: new_activation_id(),
            namespace: ns.into(),
            name: name.into(),
            version: "0.0.1".into(),
            publish: false,
            subject: ns.into(),
            start,
            end: start + 1,
            cause: None,
            duration: None,
            response: Response { status: Outcome::Success, result: json!({}), size: None },
            logs: vec![],
            annotations: vec![KeyVal::new("path", json!(format!("{ns}/pkg/{name}")))],
        }
    }

    #[tokio::test]
    async fn lists_newest_first_with_filters_and_purges() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let stop = CancellationToken::new();
        let (w, h) = ActivationWriter::start(store.clone(), stop.clone());
        let now = crate::entity::common::now_ms();
        for i in 0..10 {
            w.write(act("guest", if i % 2 == 0 { "even" } else { "odd" }, now + i)).await.unwrap();
        }
        w.write(act("other", "even", now)).await.unwrap();
        let all = ActivationFilter { limit: 100, ..Default::default() };
        let (rows, n) = store.list_activations("guest", &all).unwrap();
        assert_eq!(n, 10);
        assert!(rows.windows(2).all(|w| w[0].start >= w[1].start));
        let f = ActivationFilter { name: Some("pkg/even".into()), skip: 1, limit: 2, ..Default::default() };
        let (rows, n) = store.list_activations("guest", &f).unwrap();
        assert_eq!((rows.len(), n), (2, 5));
        assert_eq!(rows[0].start, now + 6);
        let f = ActivationFilter { since: Some(now + 8), limit: 100, ..Default::default() };
        assert_eq!(store.list_activations("guest", &f).unwrap().1, 2);
        assert_eq!(store.purge_activations(3, Duration::from_secs(3600)).unwrap(), 7);
        assert_eq!(store.list_activations("guest", &all).unwrap().1, 3);
        assert_eq!(store.list_activations("other", &all).unwrap().1, 1);
        stop.cancel();
        h.await.unwrap();
    }
}
