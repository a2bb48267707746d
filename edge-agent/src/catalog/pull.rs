//! The mirror task: longpolls the hub's `_changes` feed from the stored checkpoint with the site token,
//! applies each page in one transaction, resyncs on `reset` or an epoch change, and backs off while the
//! hub is unreachable. Stops when its token is cancelled.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use fogwhisk_shutdown::Restart;

use super::store::{Applied, CatalogMirror, MirrorChange};
use crate::store::StoreError;

/// Changes asked per page.
pub const PAGE_LIMIT: usize = 500;

/// A poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The hub could not be reached or answered an error status.
    #[error("catalog feed request: {0}")]
    Http(#[from] reqwest::Error),
    /// The hub's answer is not a changes page.
    #[error("catalog feed answer is malformed: {0}")]
    Malformed(&'static str),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task that applies a page panicked.
    #[error("applying a catalog page failed: {0}")]
    Apply(#[from] tokio::task::JoinError),
}

/// One parsed feed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The changes, in feed order.
    pub changes: Vec<MirrorChange>,
    /// Position after this page.
    pub last_seq: String,
    /// The hub restarted the feed from the beginning (another epoch).
    pub reset: bool,
}

/// The epoch of a position `<epoch>~<seq>` (`None` for `0`).
pub fn epoch(seq: &str) -> Option<&str> {
    seq.split_once('~').map(|(e, _)| e)
}

/// Parses `{results: [{id, deleted?, doc}], last_seq, reset?}`.
pub fn parse_page(v: &Value) -> Result<Page, PullError> {
    let last_seq = match v.get("last_seq") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(PullError::Malformed("no last_seq")),
    };
    let results = v.get("results").and_then(Value::as_array).ok_or(PullError::Malformed("no results"))?;
    let mut changes = Vec::with_capacity(results.len());
    for r in results {
        let id = r.get("id").and_then(Value::as_str).ok_or(PullError::Malformed("a change without id"))?;
        let deleted = r.get("deleted").and_then(Value::as_bool).unwrap_or(false);
        changes.push(MirrorChange { id: id.to_string(), doc: r.get("doc").cloned(), deleted });
    }
    Ok(Page { changes, last_seq, reset: v.get("reset").and_then(Value::as_bool).unwrap_or(false) })
}

/// Where and how the mirror polls.
pub struct Puller {
    /// Hub base URL, without trailing slash.
    pub url: String,
    /// The site's hub token (never logged).
    pub token: String,
    /// HTTP client (its timeout must exceed the longpoll wait).
    pub client: reqwest::Client,
    /// Longpoll wait asked of the hub, milliseconds.
    pub wait_ms: u64,
    /// The local copy.
    pub mirror: Arc<CatalogMirror>,
}

impl Puller {
    /// Polls once from the resume position and applies the answer; returns what changed.
    pub async fn poll_once(&self) -> Result<Applied, PullError> {
        let since = self.mirror.resume_from()?.unwrap_or_else(|| "0".into());
        let answer: Value = self
            .client
            .get(format!("{}/api/v1/catalog/_changes", self.url))
            .bearer_auth(&self.token)
            .query(&[
                ("since", since.as_str()),
                ("feed", "longpoll"),
                ("limit", &PAGE_LIMIT.to_string()),
                ("timeout", &self.wait_ms.to_string()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let page = parse_page(&answer)?;
        let epoch_changed = since != "0" && epoch(&since) != epoch(&page.last_seq);
        if (page.reset || epoch_changed) && !self.mirror.resyncing()? {
            tracing::warn!("the hub's catalog was reset; resyncing (the old copy serves until caught up)");
            self.mirror.begin_resync()?;
        }
        let caught_up = page.changes.len() < PAGE_LIMIT;
        let mirror = Arc::clone(&self.mirror);
        let applied =
            tokio::task::spawn_blocking(move || mirror.apply(&page.changes, &page.last_seq, caught_up)).await??;
        Ok(applied)
    }

    /// Polls until `stop`, calling `on_change` with the ids of each commit; backs off by `backoff` while
    /// polls fail.
    pub async fn run(self, stop: CancellationToken, backoff: Restart, on_change: impl Fn(&Applied) + Send) {
        let mut delay = backoff.min;
        loop {
            let outcome = tokio::select! {
                () = stop.cancelled() => return,
                r = self.poll_once() => r,
            };
            match outcome {
                Ok(applied) => {
                    delay = backoff.min;
                    if !applied.changed.is_empty() {
                        on_change(&applied);
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "catalog mirror poll failed")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = backoff.after(delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_feed_page_and_its_epoch() {
        let v = json!({"results": [
            {"seq": "e~1", "id": "lib/a", "changes": [{"rev": "1-x"}], "doc": {"_id": "lib/a", "_rev": "1-x"}},
            {"seq": "e~2", "id": "lib/b", "changes": [{"rev": "2-y"}], "deleted": true}
        ], "last_seq": "e~2", "reset": true});
        let p = parse_page(&v).unwrap();
        assert_eq!(p.last_seq, "e~2");
        assert!(p.reset);
        assert_eq!(p.changes.len(), 2);
        assert!(p.changes[1].deleted);
        assert_eq!(epoch(&p.last_seq), Some("e"));
        assert!(parse_page(&json!({"results": []})).is_err());
    }
}
