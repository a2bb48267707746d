//! Site data of a Fogwhisk edge agent, kept in one durable redb file `<data>/site.redb`.
//!
//! # Layout
//! - [`store`]: opens the file, owns the tables and the shared handle ([`SiteStore`]).
//! - [`keys`]: byte layouts of the table keys (chosen so one day of one series is contiguous).
//! - [`telemetry`]: readings (`write`, retention) and per-day statistics (`daily_stats`).
//! - [`reported`]: which days were reported, `pending_days`, and `enqueue` (outbox + marks in one transaction).
//! - [`outbox`]: the durable FIFO of aggregate records and the task that delivers it to the hub.
//! - [`manifest`]: parses the wskdeploy manifest in `actions/` and applies it through the OpenWhisk REST API.
//! - [`error`]: the typed errors of all of the above.

pub mod error;
pub mod keys;
pub mod manifest;
pub mod outbox;
pub mod reported;
pub mod store;
pub mod telemetry;

pub use error::{ReadingField, SiteError};
pub use outbox::{spawn_delivery, DeadLetter, DeliveryConfig, HubTarget, OutboxStats};
pub use store::SiteStore;
pub use telemetry::{DayStat, Reading, WriteSummary};
