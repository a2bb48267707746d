//! Identities follow the namespaces file while the agent runs: a namespace deleted with the CLI, or its
//! key changed (deleted and created again with `--key`), stops working within a second.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{bin, Agent};

fn cli(a: &Agent, args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).arg("--data").arg(&a.data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The status of listing the actions of namespace `_` with `key` (`uuid:key`).
async fn status_with(a: &Agent, key: &str) -> u16 {
    let (u, k) = key.split_once(':').unwrap();
    let r = a.http.get(a.url("actions")).basic_auth(u, Some(k)).send().await.unwrap();
    r.status().as_u16()
}

/// Polls until `key` gets `want`, for at most one second; returns how long it took.
async fn within_a_second(a: &Agent, key: &str, want: u16, what: &str) -> Duration {
    let start = Instant::now();
    loop {
        let got = status_with(a, key).await;
        if got == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(1), "{what}: still {got} after 1 s (want {want})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_deleted_namespace_or_a_changed_key_stops_working_within_a_second() {
    let a = Agent::spawn(None, &[]).await;
    let key = cli(&a, &["namespaces", "create", "acme"]).lines().last().unwrap().trim().to_string();
    assert_eq!(status_with(&a, &key).await, 200, "a new namespace's key works");
    // Keep the entry hot in the cache: the hit path is what used to never refresh.
    for _ in 0..5 {
        assert_eq!(status_with(&a, &key).await, 200);
    }

    cli(&a, &["namespaces", "delete", "acme"]);
    let took = within_a_second(&a, &key, 401, "deleted namespace").await;
    eprintln!("deleted namespace refused after {took:?}");
    // And it stays refused.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_with(&a, &key).await, 401);

    // A key change: same uuid, new secret.
    let uuid = key.split_once(':').unwrap().0;
    let old = format!("{uuid}:first-secret-0123456789");
    let new = format!("{uuid}:second-secret-0123456789");
    cli(&a, &["namespaces", "create", "acme", "--key", &old]);
    within_a_second(&a, &old, 200, "recreated namespace").await;
    for _ in 0..5 {
        assert_eq!(status_with(&a, &old).await, 200);
    }
    cli(&a, &["namespaces", "delete", "acme"]);
    cli(&a, &["namespaces", "create", "acme", "--key", &new]);
    within_a_second(&a, &old, 401, "the old key after a key change").await;
    within_a_second(&a, &new, 200, "the new key after a key change").await;

    // The built-in guest key was never disturbed.
    assert_eq!(status_with(&a, &format!("{}:{}", a.auth.0, a.auth.1)).await, 200);
}
