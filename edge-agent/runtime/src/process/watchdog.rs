//! Memory watchdog: samples a process's resident set from `/proc/<pid>/statm` and kills its group above the limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const PERIOD: Duration = Duration::from_millis(100);

/// Resident set size of `pid` in bytes, if it is still there.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(4096) as u64)
}

pub(super) async fn watch_memory(
    pid: u32,
    limit_mb: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
    mut exited: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = super::wait_exit(&mut exited) => return,
            _ = tick.tick() => {}
        }
        let limit = limit_mb.load(Ordering::Relaxed) * 1024 * 1024;
        if let Some(rss) = rss_bytes(pid) {
            if rss > limit && !*exited.borrow() {
                tracing::info!(pid, rss, limit, "runtime process over its memory limit, killing it");
                killed.store(true, Ordering::SeqCst);
                super::spawn::kill_group(pid);
                return;
            }
        }
    }
}
