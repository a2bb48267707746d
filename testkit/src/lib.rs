//! What the test suites of every Fogwhisk crate share: free loopback ports, the real peers they start
//! ([`mosquitto`], [`influx`], pouchdb-server in [`couch`], the hub binary in [`hub`]) and the one waiting policy ([`wait`]).

pub mod couch;
pub mod hub;
pub mod influx;
pub mod mosquitto;
pub mod wait;

pub use influx::{Influxd, Victoria};
pub use mosquitto::Mosquitto;
pub use wait::{eventually, until};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Lowest port handed out; below it are the well-known services.
const FIRST: u16 = 20_000;
/// Ports handed out, all below the kernel's ephemeral range (32768 and up).
const SPAN: u64 = 12_000;

/// A free loopback port that no outgoing connection can take between now and the moment a server
/// binds it (or binds it again after a restart), never the same twice in one process.
pub fn free_port() -> u16 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
        let n = nanos
            ^ (std::process::id() as u64).wrapping_mul(7919)
            ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(104_729);
        let port = FIRST + (n % SPAN) as u16;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_distinct_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
        assert!(ports.iter().all(|p| (FIRST..32_000).contains(p)));
        assert!(std::net::TcpListener::bind(("127.0.0.1", ports[0])).is_ok());
    }
}
