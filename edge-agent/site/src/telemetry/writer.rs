//! Group commit of reading writes: one thread owns reading writes and folds every request that is
//! waiting into one durable transaction, so concurrent writers share an fsync.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use redb::Database;

use super::{write_in, Reading, WriteSummary};
use crate::error::{Result, SiteError};

/// Most requests folded into one transaction.
const MAX_GROUP: usize = 512;

type Reply = Box<dyn FnOnce(Result<WriteSummary>) + Send>;

/// One validated write request.
pub(crate) struct WriteRequest {
    pub(crate) ns: String,
    pub(crate) readings: Vec<Reading>,
    pub(crate) reply: Reply,
}

/// The writer thread and the channel to it; dropping it stops and joins the thread.
pub(crate) struct Writer {
    tx: Option<Sender<WriteRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(db: Arc<Database>) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("site-telemetry-writer".into()).spawn(move || run(&db, &rx))?;
        Ok(Writer { tx: Some(tx), thread: Some(thread) })
    }

    pub(crate) fn submit(&self, req: WriteRequest) {
        let gone = |req: WriteRequest| (req.reply)(Err(SiteError::Task("the telemetry writer has stopped".into())));
        match &self.tx {
            Some(tx) => {
                if let Err(e) = tx.send(req) {
                    gone(e.0);
                }
            }
            None => gone(req),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(db: &Database, rx: &Receiver<WriteRequest>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        match apply(db, &group) {
            Ok(summaries) => {
                for (req, s) in group.into_iter().zip(summaries) {
                    (req.reply)(Ok(s));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(error = %msg, requests = group.len(), "telemetry write failed");
                for req in group {
                    (req.reply)(Err(SiteError::Task(format!("telemetry write failed: {msg}"))));
                }
            }
        }
    }
}

fn apply(db: &Database, group: &[WriteRequest]) -> Result<Vec<WriteSummary>> {
    let txn = db.begin_write()?;
    let mut out = Vec::with_capacity(group.len());
    for req in group {
        out.push(write_in(&txn, &req.ns, &req.readings)?);
    }
    txn.commit()?;
    Ok(out)
}
