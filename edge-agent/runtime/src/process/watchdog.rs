//! Memory watchdog: samples the resident set of a runtime process (and, when it has a uid of its own, of every
//! process of that uid: whatever the action started) from `/proc/<pid>/statm` and kills it all above the limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const PERIOD: Duration = Duration::from_millis(100);
/// Every this many periods the whole uid is summed (a scan of `/proc`); in between, the main process alone.
const GROUP_EVERY: u32 = 5;

/// What one watchdog watches.
pub(super) struct Target {
    pub pid: u32,
    pub uid: Option<u32>,
}

/// Proportional resident bytes (pages shared between them counted once in all) of every process of `uid`,
/// where it can matter: `smaps_rollup` walks a process's page tables (a millisecond for a Node.js heap), so it is
/// read only when the resident sets (from `statm`, cheap, never below the proportional sizes) exceed `limit`.
fn rss_of_user(uid: u32, limit: u64) -> u64 {
    let pids = super::identity::pids_of(uid);
    let rss: u64 = pids.iter().filter_map(|p| rss_bytes(*p)).sum();
    if rss <= limit || pids.len() < 2 {
        return rss;
    }
    pids.into_iter().filter_map(pss_bytes).sum()
}

/// Proportional set size of `pid` from `/proc/<pid>/smaps_rollup`.
fn pss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb: u64 =
        text.lines().find_map(|l| l.strip_prefix("Pss:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Resident set size of `pid` in bytes, if it is still there.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(4096) as u64)
}

pub(super) async fn watch_memory(
    target: Target,
    limit_mb: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
    mut exited: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pid = target.pid;
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = super::wait_exit(&mut exited) => return,
            _ = tick.tick() => {}
        }
        let limit = limit_mb.load(Ordering::Relaxed) * 1024 * 1024;
        n = n.wrapping_add(1);
        let rss = match target.uid {
            Some(uid) if n.is_multiple_of(GROUP_EVERY) => Some(rss_of_user(uid, limit)),
            _ => rss_bytes(pid),
        };
        if let Some(rss) = rss {
            if rss > limit && !*exited.borrow() {
                tracing::info!(pid, rss, limit, "runtime process over its memory limit, killing it");
                killed.store(true, Ordering::SeqCst);
                super::spawn::kill_group(pid);
                if let Some(uid) = target.uid {
                    super::spawn::on_spawner(move || super::identity::reap(uid, None)).await;
                }
                return;
            }
        }
    }
}
