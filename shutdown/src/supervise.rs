//! Keeping a long-lived task alive: [`supervise`] runs it, and when it fails (returns an error or panics)
//! logs why, reports the restart (for the service's `/metrics`) and starts it again after a backoff,
//! until it ends cleanly or the service stops.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How a failed task is restarted: after `min`, doubling up to `max`; a run that lasted longer than
/// `max` counts as healthy and starts the backoff again at `min`.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// First delay.
    pub min: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Restart {
    fn default() -> Self {
        Restart { min: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

impl Restart {
    /// The delay that follows `delay` after another failure: twice as long, at most `max`.
    pub fn after(&self, delay: Duration) -> Duration {
        (delay * 2).min(self.max)
    }
}

/// Why one run of a task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It returned this error.
    Error(String),
    /// It panicked with this message.
    Panic(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "{e}"),
            Failure::Panic(m) => write!(f, "panicked: {m}"),
        }
    }
}

/// Runs `start()` as its own tokio task (so a panic is caught as its `JoinHandle` error) until it returns
/// `Ok` (its value is returned) or `stop` is cancelled (`None`). Each failure is logged, passed to
/// `on_restart` (count it in `/metrics`) and followed by a restart after the backoff. The task itself
/// must watch `stop` (or a child of it) to end on shutdown.
pub async fn supervise<T, E, F, Fut>(
    task: &str,
    policy: Restart,
    stop: CancellationToken,
    on_restart: impl Fn(&Failure),
    mut start: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut delay = policy.min;
    loop {
        let began = Instant::now();
        let failure = match tokio::spawn(start()).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => Failure::Error(e.to_string()),
            Err(j) if j.is_panic() => Failure::Panic(panic_message(j.into_panic())),
            Err(_) => return None, // aborted: the runtime is going away
        };
        if stop.is_cancelled() {
            tracing::warn!(task, error = %failure, "task failed while stopping");
            return None;
        }
        if began.elapsed() > policy.max {
            delay = policy.min;
        }
        tracing::error!(task, error = %failure, restart_in = ?delay, "task failed; restarting");
        on_restart(&failure);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return None,
        }
        delay = policy.after(delay);
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map_or_else(|| "(no message)".to_string(), |s| s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    const FAST: Restart = Restart { min: Duration::from_millis(10), max: Duration::from_millis(40) };

    #[tokio::test]
    async fn an_error_and_a_panic_are_reported_and_the_task_restarted_until_it_succeeds() {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = Mutex::new(Vec::new());
        let r = runs.clone();
        let out = supervise(
            "t",
            FAST,
            CancellationToken::new(),
            |f| seen.lock().unwrap().push(f.clone()),
            move || {
                let r = r.clone();
                async move {
                    match r.fetch_add(1, Ordering::SeqCst) {
                        0 => Err("store: disk full".to_string()),
                        1 => panic!("boom"),
                        n => Ok(n),
                    }
                }
            },
        )
        .await;
        assert_eq!(out, Some(2));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![Failure::Error("store: disk full".into()), Failure::Panic("boom".into())]
        );
    }

    #[tokio::test]
    async fn stop_ends_the_backoff() {
        let stop = CancellationToken::new();
        let s = stop.clone();
        let slow = Restart { min: Duration::from_secs(60), max: Duration::from_secs(60) };
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            supervise("t", slow, stop.clone(), move |_| s.cancel(), || async { Err::<(), _>("no") }),
        )
        .await
        .expect("stops during the backoff");
        assert_eq!(out, None);
    }
}
