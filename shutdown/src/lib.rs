//! The stop signal of the agent, the hub and the quickstart: ctrl-c (SIGINT) or SIGTERM; and
//! [`supervise`], which keeps a long-lived task running until that signal.

mod supervise;
pub use supervise::{supervise, Failure, Restart};

use std::future::Future;

/// Resolves on ctrl-c or SIGTERM. The handlers are installed when this is called, not when the future
/// is first polled, so a signal that arrives while a service is still starting is not fatal: it stops
/// the service once it runs. Where the handlers cannot be installed, ctrl-c alone is awaited.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_sigterm_sent_before_the_first_poll_is_caught() {
        let stop = shutdown_signal();
        // Sent before the future is polled: the default action (terminate) must not run.
        send_sigterm_to_self();
        tokio::time::timeout(Duration::from_secs(5), stop).await.expect("the signal resolves the future");
    }

    fn send_sigterm_to_self() {
        let pid = std::process::id().to_string();
        let ok = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success();
        assert!(ok);
    }
}
