//! The one waiting policy of the suites: poll a condition until it holds or a generous limit passes
//! (the limit is only reached when something is broken; it is not a timing assertion).

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(25);

/// Polls `check` until it returns `Some`, for at most `limit`; panics naming `what` after that.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for a condition that needs no `.await`.
pub async fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    eventually(limit, what, || std::future::ready(cond().then_some(()))).await
}

/// [`until`] for synchronous code (peer launchers, drop paths).
pub fn until_blocking(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// Whether something accepts TCP connections on loopback `port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_first_value_that_holds() {
        let n = AtomicU32::new(0);
        let got = eventually(Duration::from_secs(5), "three polls", || {
            let v = n.fetch_add(1, Ordering::SeqCst);
            async move { (v >= 2).then_some(v) }
        })
        .await;
        assert_eq!(got, 2);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for never")]
    async fn gives_up_after_the_limit() {
        until(Duration::from_millis(60), "never", || false).await;
    }
}
