//! Copying aggregates to InfluxDB: line protocol, the v1 and v2 backends, the background writer, backfill.

pub mod line;
pub mod sink;
pub mod writer;

pub use sink::{build_sink, LineSink, WriteError};
pub use writer::{run_writer, Writer, WriterConfig};
