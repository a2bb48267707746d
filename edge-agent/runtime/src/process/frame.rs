//! The framed channel to Fogwhisk's own runners: `/init` and `/run` as length-prefixed frames on persistent
//! Unix-socket connections, the per-process secret sent once when a connection opens.
//!
//! A frame is `length: u32 BE` (of all that follows) · `type: u8` · `id: u32 BE` · payload.
//! - `HELLO` (agent → runner, first frame of every connection): payload = the secret. A connection whose first
//!   frame is anything else, or another secret, is closed unanswered.
//! - `INIT`, `RUN` (agent → runner): payload = the JSON body the HTTP protocol posts to `/init` and `/run`.
//! - `REPLY` (runner → agent): `status: u16 BE` · the JSON body the HTTP protocol would answer; same `id`.
//!
//! One request is in flight per connection; concurrent runs of one process use several connections (idle ones
//! are kept for reuse). A connection whose exchange did not complete (timeout, dropped future, oversized reply)
//! is closed, never reused, so a stream is never read out of step.

use std::path::PathBuf;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::HttpReply;
use crate::error::RuntimeError;

pub const HELLO: u8 = 1;
pub const INIT: u8 = 2;
pub const RUN: u8 = 3;
pub const REPLY: u8 = 0x81;

/// Bytes of `type` and `id` after the length.
const HEAD: usize = 5;
/// A reply's status field.
const STATUS: usize = 2;
/// Idle connections kept per process (more are closed after use).
const MAX_IDLE: usize = 64;

/// Frame type of a protocol path (`/init`, `/run`).
pub fn frame_type(path: &str) -> Option<u8> {
    match path {
        "/init" => Some(INIT),
        "/run" => Some(RUN),
        _ => None,
    }
}

/// Appends a frame header to `buf` with a zero length; [`finish`] sets the length once the payload is written.
pub fn begin(buf: &mut Vec<u8>, kind: u8, id: u32) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0, kind]);
    buf.extend_from_slice(&id.to_be_bytes());
    at
}

/// Sets the length of the frame begun at `at` to everything written after its length field.
pub fn finish(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at - 4) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// The agent's end of the framed channel to one runtime process.
pub struct FramedChannel {
    socket: PathBuf,
    secret: String,
    idle: Mutex<Vec<UnixStream>>,
}

impl FramedChannel {
    pub fn new(socket: PathBuf, secret: String) -> Self {
        FramedChannel { socket, secret, idle: Mutex::new(Vec::new()) }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<UnixStream>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one request frame of `kind` whose payload `write_payload` appends, and reads its reply; the reply
    /// body is kept up to `max_body` bytes, its full size counted. Cancel-safe: a dropped exchange drops its
    /// connection.
    pub async fn exchange(
        &self,
        kind: u8,
        write_payload: impl FnOnce(&mut Vec<u8>),
        max_body: usize,
    ) -> Result<HttpReply, RuntimeError> {
        let conn = self.idle().pop();
        let mut buf = Vec::with_capacity(512);
        let mut conn = match conn {
            Some(c) => c,
            None => {
                let c = UnixStream::connect(&self.socket).await.map_err(conn_err)?;
                let at = begin(&mut buf, HELLO, 0);
                buf.extend_from_slice(self.secret.as_bytes());
                finish(&mut buf, at);
                c
            }
        };
        let at = begin(&mut buf, kind, 0);
        write_payload(&mut buf);
        finish(&mut buf, at);
        conn.write_all(&buf).await.map_err(conn_err)?;
        let (reply, whole) = read_reply(&mut conn, buf, max_body).await?;
        if whole {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        Ok(reply)
    }
}

fn conn_err(e: std::io::Error) -> RuntimeError {
    RuntimeError::Connection(e.to_string())
}

/// Reads one `REPLY` frame (reusing `buf`); true when the whole frame was read and the connection can be reused.
async fn read_reply(
    conn: &mut UnixStream,
    mut buf: Vec<u8>,
    max_body: usize,
) -> Result<(HttpReply, bool), RuntimeError> {
    buf.clear();
    let want_head = 4 + HEAD + STATUS;
    while buf.len() < want_head {
        if conn.read_buf(&mut buf).await.map_err(conn_err)? == 0 {
            return Err(RuntimeError::Connection("the runtime process closed the connection".into()));
        }
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if buf[4] != REPLY || len < HEAD + STATUS {
        return Err(RuntimeError::Connection(format!("unexpected frame type {} of length {len}", buf[4])));
    }
    let status = u16::from_be_bytes([buf[9], buf[10]]);
    let size = len - HEAD - STATUS;
    let keep = size.min(max_body);
    let end = want_head + keep;
    // grows as the body arrives: a length field alone never makes the agent reserve much
    buf.reserve(end.saturating_sub(buf.len()).min(64 * 1024));
    while buf.len() < end {
        if conn.read_buf(&mut buf).await.map_err(conn_err)? == 0 {
            return Err(RuntimeError::Connection("the runtime process closed the connection".into()));
        }
    }
    // a second frame cannot follow (one request in flight), so anything read beyond `end` is this frame's
    let whole = keep == size && buf.len() == end;
    buf.truncate(end);
    let body = buf.split_off(want_head);
    Ok((HttpReply { status, body, size }, whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length() {
        let mut buf = Vec::new();
        let at = begin(&mut buf, RUN, 7);
        buf.extend_from_slice(b"{}");
        finish(&mut buf, at);
        assert_eq!(buf, [0, 0, 0, 7, RUN, 0, 0, 0, 7, b'{', b'}']);
        assert_eq!(frame_type("/run"), Some(RUN));
        assert_eq!(frame_type("/other"), None);
    }
}
