//! Per-namespace throttles: invocations and trigger fires per minute, activations in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which per-minute budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKind {
    /// Action invocations.
    Invocations,
    /// Trigger fires.
    Fires,
}

/// A refused request: the message OpenWhisk gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Throttled(pub String);

const WINDOW: Duration = Duration::from_secs(60);

/// Counters shared by every request.
#[derive(Default)]
pub struct Throttles {
    windows: Mutex<HashMap<(RateKind, String), VecDeque<Instant>>>,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

/// Holds one in-flight slot until dropped.
pub struct InFlight {
    namespace: String,
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut m) = self.counts.lock() {
            if let Some(n) = m.get_mut(&self.namespace) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

impl Throttles {
    /// Counts one request against the last minute's budget, or refuses it.
    pub fn check_rate(&self, kind: RateKind, namespace: &str, allowed: u32) -> Result<(), Throttled> {
        self.check_rate_at(kind, namespace, allowed, Instant::now())
    }

    fn check_rate_at(&self, kind: RateKind, namespace: &str, allowed: u32, now: Instant) -> Result<(), Throttled> {
        let mut m = self.windows.lock().map_err(|_| Throttled("throttle state poisoned".into()))?;
        let q = m.entry((kind, namespace.to_string())).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() as u32 >= allowed {
            return Err(Throttled(format!(
                "Too many requests in the last minute (count: {}, allowed: {allowed}).",
                q.len() + 1
            )));
        }
        q.push_back(now);
        Ok(())
    }

    /// Takes one in-flight slot for `namespace`, or refuses.
    pub fn enter(&self, namespace: &str, allowed: u32) -> Result<InFlight, Throttled> {
        let mut m = self.in_flight.lock().map_err(|_| Throttled("throttle state poisoned".into()))?;
        let n = m.entry(namespace.to_string()).or_default();
        if *n >= allowed {
            return Err(Throttled(format!(
                "Too many concurrent requests in flight (count: {}, allowed: {allowed}).",
                *n + 1
            )));
        }
        *n += 1;
        Ok(InFlight { namespace: namespace.to_string(), counts: self.in_flight.clone() })
    }

    /// Activations in flight for a namespace.
    pub fn in_flight(&self, namespace: &str) -> u32 {
        self.in_flight.lock().ok().and_then(|m| m.get(namespace).copied()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_window_slides() {
        let t = Throttles::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            t.check_rate_at(RateKind::Fires, "guest", 3, t0).unwrap();
        }
        let e = t.check_rate_at(RateKind::Fires, "guest", 3, t0).unwrap_err();
        assert!(e.0.contains("count: 4, allowed: 3"), "{e}");
        t.check_rate_at(RateKind::Invocations, "guest", 3, t0).unwrap();
        t.check_rate_at(RateKind::Fires, "other", 3, t0).unwrap();
        t.check_rate_at(RateKind::Fires, "guest", 3, t0 + WINDOW).unwrap();
    }

    #[test]
    fn in_flight_slots_are_released() {
        let t = Throttles::default();
        let a = t.enter("guest", 2).unwrap();
        let _b = t.enter("guest", 2).unwrap();
        assert!(t.enter("guest", 2).is_err());
        drop(a);
        assert_eq!(t.in_flight("guest"), 1);
        assert!(t.enter("guest", 2).is_ok());
    }
}
