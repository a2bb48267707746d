//! A future run in its caller's task that moves to a background task if the caller stops polling it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::task::TaskTracker;

type Job<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Polled by the caller while it waits; dropped unfinished (the caller timed out or went away), the rest
/// of the work runs on as a tracked background task, so it still ends and is recorded.
pub(crate) struct Detachable<T: Send + 'static> {
    job: Option<Job<T>>,
    tracker: TaskTracker,
}

impl<T: Send + 'static> Detachable<T> {
    pub(crate) fn new(job: impl Future<Output = T> + Send + 'static, tracker: &TaskTracker) -> Self {
        Detachable { job: Some(Box::pin(job)), tracker: tracker.clone() }
    }
}

impl<T: Send + 'static> Future for Detachable<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(job) = self.job.as_mut() else {
            panic!("Detachable polled after it finished");
        };
        let out = job.as_mut().poll(cx);
        if out.is_ready() {
            self.job = None;
        }
        out
    }
}

impl<T: Send + 'static> Drop for Detachable<T> {
    fn drop(&mut self) {
        if let (Some(job), Ok(rt)) = (self.job.take(), tokio::runtime::Handle::try_current()) {
            self.tracker.spawn_on(
                async move {
                    job.await;
                },
                &rt,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn finishes_in_the_caller_when_awaited() {
        let tracker = TaskTracker::new();
        let out = Detachable::new(async { 7 }, &tracker).await;
        assert_eq!(out, 7);
        tracker.close();
        assert!(tracker.is_empty());
    }

    #[tokio::test]
    async fn runs_to_the_end_in_the_background_when_dropped() {
        let tracker = TaskTracker::new();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let job = Detachable::new(
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                d.store(true, Ordering::SeqCst);
            },
            &tracker,
        );
        assert!(tokio::time::timeout(Duration::from_millis(5), job).await.is_err());
        assert!(!done.load(Ordering::SeqCst));
        tracker.close();
        tracker.wait().await;
        assert!(done.load(Ordering::SeqCst), "the dropped job must still finish");
    }
}
