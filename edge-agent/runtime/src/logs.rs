//! Log capture of one runtime process: stdout/stderr lines, timestamped on arrival, split into activations
//! by the sentinel line, and formatted the OpenWhisk way.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::{oneshot, Notify};

/// The line a runtime writes to both streams after each activation and after a failed init.
pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";
/// The first stdout line of a runner, followed by its port.
pub const PORT_ANNOUNCEMENT: &str = "FOGWHISK_RUNTIME_LISTENING ";
/// Finished segments kept per stream while no activation takes them.
const MAX_QUEUED_SEGMENTS: usize = 64;
/// Longer lines are cut (the rest of the line is read and dropped).
const MAX_LINE_BYTES: usize = 256 * 1024;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// One captured line.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub stream: Stream,
    pub text: String,
    seq: u64,
}

impl LogLine {
    /// `2019-03-16T20:02:58.123456789Z stdout: hello` (timestamp padded to 30 characters).
    pub fn format(&self) -> String {
        format_line(self.at, self.stream, &self.text)
    }
}

/// Formats one OpenWhisk log line.
pub fn format_line(at: DateTime<Utc>, stream: Stream, text: &str) -> String {
    let ts = at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
    format!("{ts:<30} {}: {text}", stream.name())
}

/// The line appended when an activation's logs exceed the limit.
pub fn truncation_text(limit: u64) -> String {
    format!("Logs were truncated because the total bytes size exceeds the limit of {limit} bytes.")
}

#[derive(Default)]
struct Segment {
    lines: Vec<LogLine>,
    bytes: u64,
    truncated: bool,
}

#[derive(Default)]
struct StreamState {
    current: Segment,
    done: VecDeque<Segment>,
    eof: bool,
}

struct Inner {
    streams: [StreamState; 2],
    collect: bool,
    cap_bytes: u64,
    seq: u64,
}

/// Lines of one process waiting to be attributed to activations.
pub struct LogCapture {
    inner: Mutex<Inner>,
    changed: Notify,
}

/// The lines of one activation, in arrival order, and whether some were dropped at capture.
pub struct ActivationLogs {
    pub lines: Vec<LogLine>,
    pub truncated: bool,
}

impl ActivationLogs {
    /// Formatted lines, cut at `limit` bytes of text with the OpenWhisk truncation line.
    pub fn into_formatted(self, limit: u64) -> Vec<String> {
        let mut out = Vec::with_capacity(self.lines.len());
        let mut total = 0u64;
        let mut truncated = self.truncated;
        for line in &self.lines {
            total += line.text.len() as u64;
            if total > limit {
                truncated = true;
                break;
            }
            out.push(line.format());
        }
        if truncated {
            out.push(format_line(Utc::now(), Stream::Stderr, &truncation_text(limit)));
        }
        out
    }
}

impl LogCapture {
    pub fn new(cap_bytes: u64) -> Self {
        LogCapture {
            inner: Mutex::new(Inner {
                streams: [StreamState::default(), StreamState::default()],
                collect: true,
                cap_bytes,
                seq: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the per-activation capture limit and whether lines are kept at all (not for concurrent actions).
    pub fn configure(&self, cap_bytes: u64, collect: bool) {
        let mut inner = self.lock();
        inner.cap_bytes = cap_bytes;
        inner.collect = collect;
    }

    fn push(&self, stream: Stream, text: String) {
        let mut inner = self.lock();
        let (collect, cap) = (inner.collect, inner.cap_bytes);
        inner.seq += 1;
        let seq = inner.seq;
        let state = &mut inner.streams[stream.index()];
        if text == SENTINEL {
            let seg = std::mem::take(&mut state.current);
            if collect {
                // Segments nobody took yet (an action can print sentinels itself) stay within one cap in all.
                let mut queued: u64 = state.done.iter().map(|d| d.bytes).sum();
                while queued + seg.bytes > cap && !state.done.is_empty() {
                    queued -= state.done.pop_front().map(|d| d.bytes).unwrap_or(0);
                }
                if state.done.len() >= MAX_QUEUED_SEGMENTS {
                    state.done.pop_front();
                }
                state.done.push_back(seg);
            }
            drop(inner);
            self.changed.notify_waiters();
            return;
        }
        if !collect {
            return;
        }
        let seg = &mut state.current;
        // Keep one line past the cap so formatting can tell the limit was crossed.
        if seg.bytes > cap {
            seg.truncated = true;
            return;
        }
        seg.bytes += text.len() as u64;
        seg.lines.push(LogLine { at: Utc::now(), stream, text, seq });
    }

    fn end(&self, stream: Stream) {
        self.lock().streams[stream.index()].eof = true;
        self.changed.notify_waiters();
    }

    /// The next activation's lines: waits up to `wait` until both streams delivered a sentinel (or closed),
    /// then takes the completed segment of each stream (or whatever arrived so far).
    pub async fn take_activation(&self, wait: Duration) -> ActivationLogs {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inner = self.lock();
                if inner.streams.iter().all(|s| !s.done.is_empty() || s.eof) {
                    break;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let mut inner = self.lock();
        let mut lines = Vec::new();
        let mut truncated = false;
        for state in inner.streams.iter_mut() {
            let seg = state.done.pop_front().unwrap_or_else(|| std::mem::take(&mut state.current));
            truncated |= seg.truncated;
            lines.extend(seg.lines);
        }
        lines.sort_by_key(|l| (l.at, l.seq));
        ActivationLogs { lines, truncated }
    }

    /// Drops everything captured so far.
    pub fn discard(&self) {
        let mut inner = self.lock();
        for s in inner.streams.iter_mut() {
            s.current = Segment::default();
            s.done.clear();
        }
    }
}

/// Reads `reader` line by line into `capture` until EOF. On stdout, the port announcement is sent to `port_tx`.
pub(crate) async fn pump<R: AsyncBufRead + Unpin>(
    mut reader: R,
    stream: Stream,
    capture: std::sync::Arc<LogCapture>,
    mut port_tx: Option<oneshot::Sender<u16>>,
) {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read_line_capped(&mut reader, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(rest) = text.strip_prefix(PORT_ANNOUNCEMENT) {
            if let Some(tx) = port_tx.take() {
                if let Ok(port) = rest.trim().parse::<u16>() {
                    let _ = tx.send(port);
                    continue;
                }
            }
        }
        capture.push(stream, text.to_string());
    }
    capture.end(stream);
}

/// Reads one line (with its newline) keeping at most [`MAX_LINE_BYTES`]; returns bytes consumed.
async fn read_line_capped<R: AsyncBufRead + Unpin>(reader: &mut R, out: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(consumed);
        }
        let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if found {
            return Ok(consumed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn formats_openwhisk_line() {
        let at = DateTime::parse_from_rfc3339("2019-03-16T20:02:58.123456789Z").unwrap().with_timezone(&Utc);
        assert_eq!(format_line(at, Stream::Stdout, "hello"), "2019-03-16T20:02:58.123456789Z stdout: hello");
        let at = DateTime::parse_from_rfc3339("2019-03-16T20:02:58Z").unwrap().with_timezone(&Utc);
        assert_eq!(format_line(at, Stream::Stderr, "x"), "2019-03-16T20:02:58.000000000Z stderr: x");
    }

    #[tokio::test]
    async fn splits_by_sentinel_and_truncates() {
        let cap = Arc::new(LogCapture::new(1000));
        let out = format!("PORT\na\nb\n{SENTINEL}\nnext\n{SENTINEL}\n");
        let err = format!("e1\n{SENTINEL}\n{SENTINEL}\n");
        pump(out.as_bytes(), Stream::Stdout, cap.clone(), None).await;
        pump(err.as_bytes(), Stream::Stderr, cap.clone(), None).await;
        let first = cap.take_activation(Duration::from_millis(10)).await;
        let texts: Vec<_> = first.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["PORT", "a", "b", "e1"]);
        let second = cap.take_activation(Duration::from_millis(10)).await;
        assert_eq!(second.lines.len(), 1);
        let formatted = second.into_formatted(2);
        assert_eq!(formatted.len(), 1);
        assert!(formatted[0]
            .ends_with("stderr: Logs were truncated because the total bytes size exceeds the limit of 2 bytes."));
    }
}
