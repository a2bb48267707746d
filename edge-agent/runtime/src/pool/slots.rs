//! The pool's bookkeeping: one slot per live (or starting) process, the memory budget and each namespace's
//! share of it, and the choice of which process serves an activation. Pure and synchronous; the caller holds
//! the lock and does the I/O.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::config::PREWARM_MEMORY_MB;
use crate::kind::RuntimeKind;
use crate::process::RuntimeProcess;
use crate::types::{ActionSpec, PoolStats};

pub(crate) type SlotId = u64;

/// One live or starting process.
pub(crate) struct Slot {
    /// Set once the process is usable: a started stem cell, or an action process whose `/init` succeeded.
    pub proc: Option<Arc<RuntimeProcess>>,
    pub kind: RuntimeKind,
    /// The action key it is initialized for; `None` for a stem cell.
    pub key: Option<String>,
    /// The namespace whose share it is charged to (the caller's); `None` for a stem cell.
    pub namespace: Option<String>,
    pub memory_mb: u64,
    pub active: u32,
    pub max_active: u32,
    pub last_used: Instant,
}

impl Slot {
    fn ready(&self) -> Option<&Arc<RuntimeProcess>> {
        self.proc.as_ref().filter(|p| p.is_alive())
    }
    /// Evictable: started, running nothing.
    fn idle(&self) -> bool {
        self.proc.is_some() && self.active == 0
    }
}

/// What [`State::acquire`] decided.
pub(crate) enum Grant {
    /// An initialized process of the same key, its run count already taken.
    Warm(SlotId, Arc<RuntimeProcess>),
    /// A run count taken on a process of the same key that is still starting (concurrent actions):
    /// wait until it is published.
    Joined(SlotId),
    /// A slot reserved for a cold start; the process is a stem cell to init, or `None` to spawn.
    Cold(SlotId, Option<Arc<RuntimeProcess>>),
    /// Not possible now; the evicted processes (if any) should be killed, then wait for a change.
    Wait,
    /// Never possible: the action needs more memory than the whole budget.
    TooBig,
}

#[derive(Default)]
pub(crate) struct State {
    pub slots: HashMap<SlotId, Slot>,
    next: SlotId,
    pub closed: bool,
    /// Memory one namespace's processes may hold (`u64::MAX`: no share).
    pub share_mb: u64,
    /// Action key → the namespace running it and how many activations of that key are under way; filled by
    /// [`crate::Pool::run`] so [`State::acquire`] can charge new processes to the caller.
    owners: HashMap<String, (String, u32)>,
}

impl State {
    pub fn new(share_mb: u64) -> Self {
        State { share_mb, ..Default::default() }
    }

    /// One more activation of `key` for `namespace` (until [`State::disown`]).
    pub fn own(&mut self, key: &str, namespace: &str) {
        let e = self.owners.entry(key.to_string()).or_insert_with(|| (namespace.to_string(), 0));
        e.0 = namespace.to_string();
        e.1 += 1;
    }

    pub fn disown(&mut self, key: &str) {
        if let Some(e) = self.owners.get_mut(key) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                self.owners.remove(key);
            }
        }
    }

    /// Memory held by the processes charged to `namespace`.
    pub fn namespace_mb(&self, namespace: &str) -> u64 {
        self.slots.values().filter(|s| s.namespace.as_deref() == Some(namespace)).map(|s| s.memory_mb).sum()
    }

    /// Whether `namespace` may take `need_mb` more, evicting its own idle processes (least recently used first)
    /// if that makes it fit. A namespace holding nothing may always start one process, even above its share.
    fn fit_share(&mut self, namespace: &str, need_mb: u64, evicted: &mut Vec<Arc<RuntimeProcess>>) -> bool {
        let held = self.namespace_mb(namespace);
        if held == 0 || held + need_mb <= self.share_mb {
            return true;
        }
        let own_idle = |s: &Slot| s.namespace.as_deref() == Some(namespace) && s.idle();
        let idle_mb: u64 = self.slots.values().filter(|s| own_idle(s)).map(|s| s.memory_mb).sum();
        let busy_mb = held - idle_mb;
        if busy_mb > 0 && busy_mb + need_mb > self.share_mb {
            return false;
        }
        let mut idle: Vec<(Instant, SlotId)> =
            self.slots.iter().filter(|(_, s)| own_idle(s)).map(|(id, s)| (s.last_used, *id)).collect();
        idle.sort();
        for (_, id) in idle {
            let held = self.namespace_mb(namespace);
            if held == 0 || held + need_mb <= self.share_mb {
                break;
            }
            if let Some(proc) = self.slots.remove(&id).and_then(|s| s.proc) {
                evicted.push(proc);
            }
        }
        true
    }

    pub fn used_mb(&self) -> u64 {
        self.slots.values().map(|s| s.memory_mb).sum()
    }

    pub fn insert(&mut self, slot: Slot) -> SlotId {
        self.next += 1;
        self.slots.insert(self.next, slot);
        self.next
    }

    /// Picks or reserves a process for `spec` within `budget_mb`; evicted idle processes are pushed to `evicted`.
    pub fn acquire(&mut self, spec: &ActionSpec, budget_mb: u64, evicted: &mut Vec<Arc<RuntimeProcess>>) -> Grant {
        let max_active = spec.concurrency.max(1);
        // 1. warm: same key, room for one more run; pack runs onto the busiest, then the most recently used.
        let warm = self
            .slots
            .iter()
            .filter(|(_, s)| {
                s.key.as_deref() == Some(spec.key.as_str()) && s.ready().is_some() && s.active < s.max_active
            })
            .max_by_key(|(_, s)| (s.active, s.last_used))
            .map(|(id, _)| *id);
        if let Some(id) = warm {
            let slot = self.slots.get_mut(&id).expect("slot chosen above");
            slot.active += 1;
            slot.last_used = Instant::now();
            return Grant::Warm(id, slot.proc.clone().expect("ready slot has a process"));
        }
        // 1b. concurrent actions join a process of their key that is still being initialized.
        let starting = self
            .slots
            .iter()
            .filter(|(_, s)| s.key.as_deref() == Some(spec.key.as_str()) && s.proc.is_none() && s.active < s.max_active)
            .map(|(id, _)| *id)
            .next();
        if let Some(id) = starting {
            let slot = self.slots.get_mut(&id).expect("slot chosen above");
            slot.active += 1;
            return Grant::Joined(id);
        }
        // Beyond this point the activation needs memory of its own: within its namespace's share first.
        let namespace = self.owners.get(&spec.key).map(|(ns, _)| ns.clone());
        if let Some(ns) = &namespace {
            if !self.fit_share(ns, spec.memory_mb, evicted) {
                return Grant::Wait;
            }
        }
        // 2. a stem cell of that kind whose heap was sized for at least this much memory.
        let stem = self
            .slots
            .iter()
            .filter(|(_, s)| s.key.is_none() && s.kind == spec.kind && s.active == 0 && s.ready().is_some())
            .filter(|(_, s)| spec.memory_mb <= PREWARM_MEMORY_MB && s.memory_mb >= spec.memory_mb)
            .map(|(id, _)| *id)
            .next();
        if let Some(id) = stem {
            let slot = self.slots.get_mut(&id).expect("slot chosen above");
            slot.key = Some(spec.key.clone());
            slot.namespace = namespace;
            slot.memory_mb = spec.memory_mb;
            slot.max_active = max_active;
            slot.active = 1;
            slot.last_used = Instant::now();
            return Grant::Cold(id, slot.proc.take());
        }
        // 3. a new process, evicting idle ones (least recently used first) if the budget is full.
        if spec.memory_mb > budget_mb {
            return Grant::TooBig;
        }
        if !self.make_room(spec.memory_mb, budget_mb, evicted) {
            return Grant::Wait;
        }
        let id = self.insert(Slot {
            proc: None,
            kind: spec.kind,
            key: Some(spec.key.clone()),
            namespace,
            memory_mb: spec.memory_mb,
            active: 1,
            max_active,
            last_used: Instant::now(),
        });
        Grant::Cold(id, None)
    }

    /// Evicts idle processes until `need_mb` fits; evicts nothing if even all of them would not be enough.
    pub fn make_room(&mut self, need_mb: u64, budget_mb: u64, evicted: &mut Vec<Arc<RuntimeProcess>>) -> bool {
        let used = self.used_mb();
        if used + need_mb <= budget_mb {
            return true;
        }
        let idle_mb: u64 = self.slots.values().filter(|s| s.idle()).map(|s| s.memory_mb).sum();
        if used - idle_mb + need_mb > budget_mb {
            return false;
        }
        let mut idle: Vec<(Instant, SlotId)> =
            self.slots.iter().filter(|(_, s)| s.idle()).map(|(id, s)| (s.last_used, *id)).collect();
        idle.sort();
        for (_, id) in idle {
            if self.used_mb() + need_mb <= budget_mb {
                break;
            }
            if let Some(proc) = self.slots.remove(&id).and_then(|s| s.proc) {
                evicted.push(proc);
            }
        }
        true
    }

    /// Ends one run on slot `id`; with `retire` (or a dead process) the slot is removed and its process returned.
    pub fn release(&mut self, id: SlotId, retire: bool) -> Option<Arc<RuntimeProcess>> {
        let slot = self.slots.get_mut(&id)?;
        slot.active = slot.active.saturating_sub(1);
        slot.last_used = Instant::now();
        let dead = slot.proc.as_ref().is_some_and(|p| !p.is_alive());
        if retire || dead {
            return self.slots.remove(&id).and_then(|s| s.proc);
        }
        None
    }

    /// For a joined run: `Some(Some(proc))` once published, `Some(None)` while starting, `None` if the slot is gone.
    pub fn joined(&self, id: SlotId) -> Option<Option<Arc<RuntimeProcess>>> {
        self.slots.get(&id).map(|s| s.proc.clone())
    }

    pub fn stats(&self) -> PoolStats {
        let mut st = PoolStats { live: self.slots.len(), memory_used_mb: self.used_mb(), ..Default::default() };
        for s in self.slots.values() {
            match (&s.key, s.active) {
                (None, _) => st.prewarmed += 1,
                (Some(_), 0) => st.idle += 1,
                (Some(_), _) => st.busy += 1,
            }
        }
        st
    }
}
