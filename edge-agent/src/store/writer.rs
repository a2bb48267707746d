//! The activation writer: queued records committed in groups (finished ones linger briefly for company),
//! readable by id while they wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

use super::activations::{Op, PendingInvocation};
use super::{Store, StoreError};
use crate::entity::Activation;

type Pending = (Op, oneshot::Sender<Result<(), String>>);

/// Writes activations in groups: many concurrent records share one durable commit.
#[derive(Clone)]
pub struct ActivationWriter {
    tx: mpsc::Sender<Pending>,
    uncommitted: Uncommitted,
    /// Woken when an urgent change is queued, ending a linger.
    urgent: Arc<Notify>,
}

/// Records queued and not committed yet, by activation id.
type Uncommitted = Arc<Mutex<HashMap<String, Arc<Activation>>>>;

fn lock(u: &Uncommitted) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Activation>>> {
    u.lock().unwrap_or_else(|e| e.into_inner())
}

/// Most records in one commit.
const MAX_BATCH: usize = 512;

/// How long finished records wait for company before their commit. Nobody waits on them (callers have
/// their answer already), and one commit for several records leaves the CPU to running activations.
const LINGER: Duration = Duration::from_millis(5);

impl ActivationWriter {
    /// Starts the writer task; it drains what is queued and stops when `stop` is cancelled.
    pub fn start(store: Store, stop: CancellationToken) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Pending>(4096);
        let uncommitted = Uncommitted::default();
        let waiting = uncommitted.clone();
        let urgent = Arc::new(Notify::new());
        let hurry = urgent.clone();
        let handle = tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    m = rx.recv() => m,
                    _ = stop.cancelled() => { rx.close(); rx.recv().await }
                };
                let Some(first) = first else { break };
                if !first.0.is_urgent() && !stop.is_cancelled() {
                    // Linger without waking for each record; an urgent change or the stop cuts it short.
                    tokio::select! {
                        _ = tokio::time::sleep(LINGER) => {}
                        _ = hurry.notified() => {}
                        _ = stop.cancelled() => {}
                    }
                }
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let (records, acks): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let s = store.clone();
                let ids: Vec<String> =
                    records.iter().filter_map(|o| o.record()).map(|a| a.activation_id.clone()).collect();
                let result = tokio::task::spawn_blocking(move || s.apply(&records))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                if let Err(e) = &result {
                    tracing::error!(error = %e, records = ids.len(), "cannot store activations");
                }
                let mut w = lock(&waiting);
                ids.iter().for_each(|id| {
                    w.remove(id);
                });
                drop(w);
                for ack in acks {
                    let _ = ack.send(result.clone());
                }
            }
            tracing::debug!("activation writer stopped");
        });
        (Self { tx, uncommitted, urgent }, handle)
    }

    /// Queues a change; the answer resolves once it is committed.
    async fn queue(&self, op: Op) -> Result<Commit, StoreError> {
        let (ack, done) = oneshot::channel();
        let urgent = op.is_urgent();
        let record = op.record().cloned();
        if let Some(a) = &record {
            lock(&self.uncommitted).insert(a.activation_id.clone(), a.clone());
        }
        if self.tx.send((op, ack)).await.is_err() {
            if let Some(a) = record {
                lock(&self.uncommitted).remove(&a.activation_id);
            }
            return Err(StoreError::Db("activation writer stopped".into()));
        }
        if urgent {
            self.urgent.notify_one();
        }
        Ok(Commit(done))
    }

    /// Commits every record queued so far (when there is one) before returning: listings see them all.
    pub async fn flush(&self) -> Result<(), StoreError> {
        if lock(&self.uncommitted).is_empty() {
            return Ok(());
        }
        self.queue(Op::Flush).await?.durable().await
    }

    /// A record queued and not committed yet (a blocking caller may ask for it at once).
    pub fn uncommitted(&self, id: &str) -> Option<Activation> {
        lock(&self.uncommitted).get(id).map(|a| Activation::clone(a))
    }

    /// Stores a finished activation durably (and forgets its pending invocation); returns once committed.
    pub async fn write(&self, a: Activation) -> Result<(), StoreError> {
        self.queue(Op::Finished(Arc::new(a))).await?.durable().await
    }

    /// Queues a finished activation (and forgets its pending invocation) without waiting for its commit:
    /// the writer commits everything queued before it stops.
    pub async fn record(&self, a: Activation) -> Result<(), StoreError> {
        self.queue(Op::Finished(Arc::new(a))).await.map(drop)
    }

    /// Queues a trigger activation and the rule invocations it starts, to be committed together (at once,
    /// not lingering); the invocations may start while the commit runs.
    pub async fn queue_fired(&self, a: Activation, starts: Vec<PendingInvocation>) -> Result<Commit, StoreError> {
        self.queue(Op::Fired(Arc::new(a), starts)).await
    }

    /// Forgets a pending invocation that cannot run any more.
    pub async fn forget_pending(&self, id: String) -> Result<(), StoreError> {
        self.queue(Op::Forget(id)).await?.durable().await
    }
}

/// A queued change of the activation writer, until it is committed.
#[must_use = "a queued change is only known durable once awaited"]
pub struct Commit(oneshot::Receiver<Result<(), String>>);

impl Commit {
    /// Waits until the change is durable.
    pub async fn durable(self) -> Result<(), StoreError> {
        self.0.await.map_err(|_| StoreError::Db("activation writer stopped".into()))?.map_err(StoreError::Db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{activation::new_activation_id, Outcome, Response};

    fn act() -> Activation {
        Activation {
            activation_id: new_activation_id(),
            namespace: "guest".into(),
            name: "a".into(),
            version: "0.0.1".into(),
            publish: false,
            subject: "guest".into(),
            start: 1,
            end: 2,
            cause: None,
            duration: None,
            response: Response { status: Outcome::Success, result: serde_json::json!({}), size: None },
            logs: vec![],
            annotations: vec![],
        }
    }

    #[tokio::test]
    async fn a_queued_record_is_readable_before_and_after_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let stop = CancellationToken::new();
        let (w, h) = ActivationWriter::start(store.clone(), stop.clone());
        let a = act();
        w.record(a.clone()).await.unwrap();
        let early = w.uncommitted(&a.activation_id).or(store.get_activation(&a.activation_id).unwrap());
        assert_eq!(early.map(|x| x.activation_id), Some(a.activation_id.clone()));
        // An urgent change commits at once, and everything queued before it with it.
        w.forget_pending("nothing".into()).await.unwrap();
        assert!(w.uncommitted(&a.activation_id).is_none());
        assert_eq!(store.get_activation(&a.activation_id).unwrap().map(|x| x.activation_id), Some(a.activation_id));
        // A flush (before a listing) commits what is queued without waiting for the linger.
        let b = act();
        w.record(b.clone()).await.unwrap();
        w.flush().await.unwrap();
        assert!(store.get_activation(&b.activation_id).unwrap().is_some());
        stop.cancel();
        h.await.unwrap();
    }

    #[tokio::test]
    async fn records_queued_before_stop_are_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let stop = CancellationToken::new();
        let (w, h) = ActivationWriter::start(store.clone(), stop.clone());
        let ids: Vec<String> = (0..20).map(|_| act()).map(|a| a.activation_id).collect();
        for id in &ids {
            let mut a = act();
            a.activation_id = id.clone();
            w.record(a).await.unwrap();
        }
        stop.cancel();
        h.await.unwrap();
        for id in &ids {
            assert!(store.get_activation(id).unwrap().is_some(), "{id} lost at stop");
        }
    }
}
