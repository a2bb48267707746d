//! The durable InfluxDB write queue: one row per accepted batch (its line-protocol lines), in arrival
//! order, removed once written; `meta["queue_lines"]` counts the lines waiting.

use redb::{Durability, ReadableTable};

use super::{Store, StoreError, META, QUEUE};

const LINES: &str = "queue_lines";

/// One queued chunk of lines and when it was queued.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedLine {
    /// Queue position (increasing).
    pub seq: u64,
    /// When it was queued, milliseconds since the Unix epoch.
    pub queued_ms: i64,
    /// Number of lines in `lines`.
    pub count: u64,
    /// InfluxDB line protocol, lines separated by `\n`.
    pub lines: String,
}

fn encode(queued_ms: i64, count: u64, lines: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + lines.len());
    v.extend_from_slice(&queued_ms.to_be_bytes());
    v.extend_from_slice(&count.to_be_bytes());
    v.extend_from_slice(lines.as_bytes());
    v
}

fn decode(seq: u64, bytes: &[u8]) -> QueuedLine {
    let word = |i: usize| {
        let mut b = [0u8; 8];
        if let Some(s) = bytes.get(i..i + 8) {
            b.copy_from_slice(s);
        }
        b
    };
    QueuedLine {
        seq,
        queued_ms: i64::from_be_bytes(word(0)),
        count: u64::from_be_bytes(word(8)),
        lines: String::from_utf8_lossy(bytes.get(16..).unwrap_or_default()).into_owned(),
    }
}

/// The line count of an encoded row, without copying its lines.
fn count_of(bytes: &[u8]) -> u64 {
    bytes.get(8..16).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Appends lines as one queue row inside an open write transaction.
pub(crate) fn push_lines(txn: &redb::WriteTransaction, queued_ms: i64, lines: Vec<String>) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut q = txn.open_table(QUEUE)?;
    let next = match q.last()? {
        Some((k, _)) => k.value() + 1,
        None => 0,
    };
    let count = lines.len() as u64;
    q.insert(next, encode(queued_ms, count, &lines.join("\n")).as_slice())?;
    let mut meta = txn.open_table(META)?;
    let before = meta.get(LINES)?.map_or(0, |v| v.value());
    meta.insert(LINES, before + count)?;
    Ok(())
}

impl Store {
    /// Rows from the head of the queue, oldest first, holding at most `max_lines` lines
    /// (but always at least one row when the queue is not empty).
    pub fn queue_peek(&self, max_lines: usize) -> Result<Vec<QueuedLine>, StoreError> {
        let txn = self.db().begin_read()?;
        let q = txn.open_table(QUEUE)?;
        let (mut out, mut lines) = (Vec::new(), 0u64);
        for row in q.iter()? {
            let (k, v) = row?;
            let item = decode(k.value(), v.value());
            if !out.is_empty() && lines + item.count > max_lines as u64 {
                break;
            }
            lines += item.count;
            out.push(item);
        }
        Ok(out)
    }

    /// Removes written rows (every row with `seq <= last_seq`). Made durable lazily while more rows
    /// wait (a lost acknowledgement only means a re-send, which InfluxDB deduplicates), and at once
    /// when the queue becomes empty.
    pub fn queue_ack(&self, last_seq: u64) -> Result<(), StoreError> {
        let mut txn = self.db().begin_write()?;
        let empty = {
            let mut q = txn.open_table(QUEUE)?;
            let mut removed = 0u64;
            q.retain_in(..=last_seq, |_, v| {
                removed += count_of(v);
                false
            })?;
            let empty = q.first()?.is_none();
            let mut meta = txn.open_table(META)?;
            let before = meta.get(LINES)?.map_or(0, |v| v.value());
            meta.insert(LINES, if empty { 0 } else { before.saturating_sub(removed) })?;
            empty
        };
        if !empty {
            txn.set_durability(Durability::None);
        }
        txn.commit()?;
        Ok(())
    }

    /// Number of lines waiting, and when the oldest was queued (ms since epoch).
    pub fn queue_status(&self) -> Result<(u64, Option<i64>), StoreError> {
        let txn = self.db().begin_read()?;
        let q = txn.open_table(QUEUE)?;
        let oldest = q.first()?.map(|(k, v)| decode(k.value(), v.value()).queued_ms);
        let lines = txn.open_table(META)?.get(LINES)?.map_or(0, |v| v.value());
        Ok((lines, oldest))
    }
}
