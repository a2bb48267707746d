//! The pool's bookkeeping: one slot per live (or starting) process, the memory budget, and the choice of
//! which process serves an activation. Pure and synchronous; the caller holds the lock and does the I/O.

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
}

impl State {
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
        let mut idle: Vec<(Instant, SlotId)> = self
            .slots
            .iter()
            .filter(|(_, s)| s.idle())
            .map(|(id, s)| (s.last_used, *id))
            .collect();
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
        let mut st = PoolStats {
            live: self.slots.len(),
            memory_used_mb: self.used_mb(),
            ..Default::default()
        };
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
