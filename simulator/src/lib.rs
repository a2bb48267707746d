//! Simulated ESP8266 sensors for Fogwhisk: a fleet of devices per datacenter with realistic,
//! deterministic daily curves, publishing exactly the firmware's MQTT message.
//!
//! # Layout
//! - [`message`]: the wire format (JSON message, topics, fingerprints), byte for byte as the
//!   firmware (`firmware/lib/telemetry`) writes it.
//! - `model`: deterministic noise and the temperature, humidity and gas curves.
//! - [`fleet`]: devices and their readings ([`Fleet`], [`SensorMessage`]).
//! - [`publish`]: the MQTT connections ([`Publisher`]: one shared, or one per device with its own
//!   user, [`DeviceLogin`]), [`publish_backfill`] and [`run_live`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), fogwhisk_simulator::PublishError> {
//! use fogwhisk_simulator::{publish_backfill, Fleet, Publisher};
//! let fleet = Fleet::new(42, &[1, 2], 3);
//! let mut publisher = Publisher::connect("mqtt://127.0.0.1:1883", "simulator").await?;
//! let now = fogwhisk_simulator::now_ts();
//! publish_backfill(&mut publisher, &fleet, now - 3 * 86_400, now, 900, |done, total| {
//!     eprintln!("{done}/{total}");
//! })
//! .await?;
//! publisher.disconnect().await;
//! # Ok(()) }
//! ```

pub mod fleet;
pub mod message;
mod model;
pub mod publish;

pub use fleet::{Device, Fleet, SensorMessage};
pub use message::{format_message, FormatError, Reading};
pub use model::{HUMIDITY_MEAN, HUMIDITY_SWING, PEAK_HOUR, TEMPERATURE_MEAN, TEMPERATURE_SWING};
pub use publish::{now_ts, publish_backfill, run_live, BrokerUrl, DeviceLogin, PublishError, Publisher};
pub use rumqttc::QoS;
