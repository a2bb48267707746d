//! The scratch-space watch: every [`SCRATCH_PERIOD`] it measures the disk (and tmpfs) space each runtime process
//! fills — its folder, what its uid owns in the shared temp folders, deleted files its processes still hold
//! open — and kills a process above `max_scratch_bytes` with everything it started. Processes in the pool are
//! watched by their slot; those still starting or in `/init` (not in a slot yet) by their folder and its owner.
//!
//! Measured like `du` (allocated blocks, each inode once), as the process's own uid when it has one, since the
//! agent may lack the capabilities to read into a runtime folder (the chart grants none of the DAC ones).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::Pool;
use crate::config::SCRATCH_PERIOD;
use crate::process::{identity, Isolation, RuntimeProcess};

use identity::TEMP_DIRS;
/// A process owning more entries than this is over its limit whatever their size (an inode flood).
const MAX_ENTRIES: usize = 100_000;
/// How long a kill is remembered for the activation that ran on the process.
const KILL_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);

/// A process killed for its scratch space, remembered so the activation it ran can say why.
pub(super) struct ScratchKill {
    /// The action key of a process in a slot; `None` for one killed while starting or in `/init`.
    pub key: Option<String>,
    pub at: Instant,
}

/// The kills of the last [`KILL_MEMORY`].
#[derive(Default)]
pub(super) struct Kills(std::sync::Mutex<Vec<ScratchKill>>);

impl Kills {
    fn note(&self, key: Option<String>) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|k| k.at.elapsed() < KILL_MEMORY);
        v.push(ScratchKill { key, at: Instant::now() });
    }

    /// Whether a process of `key` was killed for its scratch space since `since`; with `cold`, a kill of a
    /// process in `/init` counts too (claimed by the first activation that asks, since its key was not known).
    pub fn since(&self, key: &str, since: Instant, cold: bool) -> bool {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if v.iter().any(|k| k.key.as_deref() == Some(key) && k.at >= since) {
            return true;
        }
        match v.iter().position(|k| cold && k.key.is_none() && k.at >= since) {
            Some(i) => {
                v.remove(i);
                true
            }
            None => false,
        }
    }
}

/// The error of an activation whose process was killed for its scratch space.
pub fn scratch_message(limit_bytes: u64) -> String {
    format!(
        "The action exceeded its scratch space limit of {} MB (files in its folder and the temp folders) \
         and was killed.",
        limit_bytes / (1024 * 1024)
    )
}

/// A process the watch measures: one of a slot, or the folder of one that is starting (and its uid).
enum Watched {
    Slot { proc: Arc<RuntimeProcess>, key: Option<String> },
    Starting { dir: PathBuf, uid: u32 },
}

/// What one measurement needs of a process.
struct Job {
    uid: Option<u32>,
    pid: u32,
    dir: PathBuf,
}

pub(super) async fn run(pool: Weak<Pool>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(SCRATCH_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(p) = pool.upgrade() else { return };
        let watched = watch_list(&p);
        if watched.is_empty() {
            continue;
        }
        let jobs: Vec<Job> = watched
            .iter()
            .map(|w| match w {
                Watched::Slot { proc, .. } => Job { uid: proc.uid(), pid: proc.pid(), dir: proc.dir().to_path_buf() },
                Watched::Starting { dir, uid } => Job { uid: Some(*uid), pid: 0, dir: dir.clone() },
            })
            .collect();
        let Ok(usage) = tokio::task::spawn_blocking(move || measure_all(&jobs)).await else {
            continue;
        };
        let limit = p.cfg.max_scratch_bytes;
        for (w, used) in watched.into_iter().zip(usage) {
            if used > limit {
                kill(&p, w, used, limit).await;
            }
        }
    }
}

/// The processes of the pool's slots, then the folders of this agent's processes that are not in a slot yet.
fn watch_list(pool: &Pool) -> Vec<Watched> {
    let mut out: Vec<Watched> = {
        let st = pool.lock();
        st.slots
            .values()
            .filter_map(|s| {
                let proc = s.proc.as_ref().filter(|p| p.is_alive())?;
                Some(Watched::Slot { proc: proc.clone(), key: s.key.clone() })
            })
            .collect()
    };
    if !matches!(pool.cfg.isolation, Isolation::Separate { .. }) {
        return out;
    }
    let known: HashSet<PathBuf> = out
        .iter()
        .filter_map(|w| match w {
            Watched::Slot { proc, .. } => Some(proc.dir().to_path_buf()),
            Watched::Starting { .. } => None,
        })
        .collect();
    let mine = format!("proc-{}-", std::process::id());
    let agent = agent_uid();
    let Ok(rd) = std::fs::read_dir(&pool.cfg.work_dir) else { return out };
    for e in rd.flatten() {
        if !e.file_name().to_string_lossy().starts_with(&mine) || known.contains(&e.path()) {
            continue;
        }
        if let Ok(meta) = e.metadata() {
            if meta.is_dir() && meta.uid() != agent {
                out.push(Watched::Starting { dir: e.path(), uid: meta.uid() });
            }
        }
    }
    out
}

/// The agent's uid (the owner of folders no runtime uid was given yet).
fn agent_uid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// Ends a process above its scratch space with everything its uid started, and its uid's temp files.
async fn kill(pool: &Pool, w: Watched, used: u64, limit: u64) {
    let (uid, key, proc) = match w {
        Watched::Slot { proc, key } => {
            if !proc.is_alive() {
                return;
            }
            (proc.uid(), key, Some(proc))
        }
        // still this uid's folder: its process has not been cleaned up (and its uid not handed on) meanwhile
        Watched::Starting { dir, uid } => match std::fs::metadata(&dir) {
            Ok(m) if m.uid() == uid => (Some(uid), None, None),
            _ => return,
        },
    };
    tracing::info!(?uid, used, limit, "runtime process over its scratch space limit, killing it");
    pool.scratch_kills.note(key);
    if let Some(uid) = uid {
        // everything of the uid first, then its temp files, before the uid can go to another process
        let _ = tokio::task::spawn_blocking(move || {
            identity::reap(uid, None);
            identity::as_user(uid, || identity::remove_temp_entries(uid));
        })
        .await;
    }
    if let Some(proc) = proc {
        proc.terminate().await;
    }
    pool.changed.notify_waiters();
}

/// Bytes used by each job's process (`u64::MAX` for an inode flood; 0 when it cannot be measured).
fn measure_all(jobs: &[Job]) -> Vec<u64> {
    let temp = temp_entries_by_owner();
    let pids = pids_by_uid(jobs.iter().filter_map(|j| j.uid).collect());
    jobs.iter()
        .map(|j| match j.uid {
            Some(uid) => {
                let mine = temp.get(&uid).map(Vec::as_slice).unwrap_or(&[]);
                let procs = pids.get(&uid).map(Vec::as_slice).unwrap_or(&[]);
                identity::as_user(uid, || measure(&j.dir, mine, procs)).unwrap_or(0)
            }
            None => measure(&j.dir, &[], &[j.pid]),
        })
        .collect()
}

/// Space used under `dir` and `extra` (each inode once) plus deleted regular files the `pids` hold open.
pub(crate) fn measure(dir: &Path, extra: &[PathBuf], pids: &[u32]) -> u64 {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut entries = 0usize;
    let mut bytes = 0u64;
    let mut stack: Vec<PathBuf> = std::iter::once(dir.to_path_buf()).chain(extra.iter().cloned()).collect();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        entries += 1;
        if entries > MAX_ENTRIES {
            return u64::MAX;
        }
        if seen.insert((meta.dev(), meta.ino())) {
            bytes += meta.blocks() * 512;
        }
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&path) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.flatten() {
            let deleted = std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().ends_with(" (deleted)"));
            if !deleted {
                continue;
            }
            if let Ok(meta) = std::fs::metadata(fd.path()) {
                if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                    bytes += meta.blocks() * 512;
                }
            }
        }
    }
    bytes
}

/// The top-level entries of the temp folders, by owner.
fn temp_entries_by_owner() -> HashMap<u32, Vec<PathBuf>> {
    let mut out: HashMap<u32, Vec<PathBuf>> = HashMap::new();
    for dir in TEMP_DIRS {
        let Ok(rd) = std::fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            if let Ok(meta) = e.metadata() {
                out.entry(meta.uid()).or_default().push(e.path());
            }
        }
    }
    out
}

/// The processes of each of `uids` (one scan of `/proc`).
fn pids_by_uid(uids: HashSet<u32>) -> HashMap<u32, Vec<u32>> {
    let mut out: HashMap<u32, Vec<u32>> = HashMap::new();
    if uids.is_empty() {
        return out;
    }
    let Ok(rd) = std::fs::read_dir("/proc") else { return out };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Ok(meta) = e.metadata() {
            if uids.contains(&meta.uid()) {
                out.entry(meta.uid()).or_default().push(pid);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_each_inode_once_and_stops_at_floods() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, vec![1u8; 256 * 1024]).unwrap();
        std::fs::hard_link(&f, dir.path().join("b")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c"), vec![1u8; 128 * 1024]).unwrap();
        let used = measure(dir.path(), &[], &[]);
        assert!((384 * 1024..400 * 1024 + 16 * 4096).contains(&used), "{used}");
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        assert!(measure(dir.path(), &[], &[]) < 1 << 20, "a sparse file counts what it allocates");
        let held = dir.path().join("held");
        let mut file = std::fs::File::create(&held).unwrap();
        std::io::Write::write_all(&mut file, &vec![1u8; 1 << 20]).unwrap();
        file.sync_all().unwrap();
        std::fs::remove_file(&held).unwrap();
        let empty = tempfile::tempdir().unwrap();
        assert!(measure(empty.path(), &[], &[std::process::id()]) >= 1 << 20, "a deleted file held open counts");
        drop(file);
    }
}
