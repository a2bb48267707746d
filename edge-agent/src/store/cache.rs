//! Decoded entities kept in memory for reads (an invocation resolves its action on every call); any entity
//! write invalidates them all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::entity::Entity;

/// Most entities kept; past it the cache starts over.
const CAPACITY: usize = 4096;

/// Larger documents (actions with big code or archives) are read from the store each time, so the
/// cache stays small (a few MB at most) and idle memory stays low.
pub(crate) const MAX_CACHED_BYTES: usize = 64 * 1024;

/// Entities by id, each tagged with the write generation it was read in.
#[derive(Default)]
pub(crate) struct EntityCache {
    generation: AtomicU64,
    docs: Mutex<HashMap<String, (u64, Option<Entity>)>>,
}

impl EntityCache {
    /// The current generation: take it before reading the store, give it back to [`EntityCache::put`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A cached read (`Some(None)`: known absent), valid only if no write finished since it was read.
    pub(crate) fn get(&self, id: &str) -> Option<Option<Entity>> {
        let now = self.generation();
        let docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        docs.get(id).filter(|(g, _)| *g == now).map(|(_, e)| e.clone())
    }

    /// Keeps what a read that started in `generation` found.
    pub(crate) fn put(&self, id: &str, generation: u64, e: Option<Entity>) {
        let mut docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        if docs.len() >= CAPACITY {
            docs.clear();
        }
        docs.insert(id.to_string(), (generation, e));
    }

    /// Called after every committed entity write: everything read before it is stale.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.docs.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
