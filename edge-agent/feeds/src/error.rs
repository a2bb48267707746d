//! Typed errors of the feeds: what a lifecycle call returns and what a trigger sink may answer.

/// Why a feed lifecycle call failed. The agent maps it to the feed action's failed result.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The caller's parameters are wrong (the agent answers 400 with this message in `{error}`).
    #[error("{0}")]
    BadRequest(String),
    /// The trigger has no subscription or schedule in this feed.
    #[error("{0}")]
    NotFound(String),
    /// Storage or task failure inside the feed (the agent answers 500; the message is for logs).
    #[error("{0}")]
    Internal(String),
}

impl From<redb::Error> for FeedError {
    fn from(e: redb::Error) -> Self {
        FeedError::Internal(format!("feed store: {e}"))
    }
}

macro_rules! redb_into_feed_error {
    ($($t:ty),*) => {$(
        impl From<$t> for FeedError {
            fn from(e: $t) -> Self { FeedError::from(redb::Error::from(e)) }
        }
    )*};
}
redb_into_feed_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// What a [`crate::TriggerSink`] answers when a fire could not be recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FireError {
    /// The trigger does not exist any more: the feed forgets its subscription or schedule.
    #[error("trigger not found: {0}")]
    NotFound(String),
    /// The trigger exists but is disabled: the feed pauses the subscription or schedule.
    #[error("trigger disabled: {0}")]
    Disabled(String),
    /// Fire rate limit reached: retried later with backoff.
    #[error("trigger fires throttled")]
    Throttled,
    /// The agent cannot record the fire right now (store busy, shutting down): retried later.
    #[error("agent unavailable: {0}")]
    Unavailable(String),
    /// This particular payload is refused for good (for example too large): it is dropped and counted.
    #[error("fire rejected: {0}")]
    Rejected(String),
}
