//! The rumqttd configuration of the embedded broker, built in code (no configuration file):
//! one MQTT 3.1.1 (rumqttd "v4") listener, anonymous, sized for a site's sensors.

use std::net::SocketAddr;

use rumqttd::{ConnectionSettings, RouterConfig, ServerSettings};

/// Most client connections the router accepts at once. rumqttd preallocates its connection
/// tables with this capacity, so it is kept to what a site needs.
pub const MAX_CONNECTIONS: usize = 1024;

/// Largest publish payload accepted, in bytes. Sensor messages are ~120 bytes; the MQTT feed
/// may carry other payloads, so this is generous.
pub const MAX_PAYLOAD_SIZE: usize = 256 * 1024;

/// Packets rumqttd reads from one connection before handing them to the router in one batch
/// (rumqttd's `max_inflight_count`). A large batch keeps a fast publisher streaming.
pub const MAX_INFLIGHT_COUNT: usize = 1000;

/// QoS 0 messages the router hands a subscriber per wake-up (QoS 1 deliveries are bounded
/// by rumqttd's own in-flight window of 100 per connection).
pub const MAX_OUTGOING_PACKET_COUNT: u64 = 500;

/// Size of one in-memory segment of a subscription's message log, and how many segments are
/// kept. Together they bound how much a slow or offline persistent subscriber can fall behind
/// (8 x 4 MiB = 32 MiB, about 250,000 sensor messages) before the oldest are dropped.
pub const MAX_SEGMENT_SIZE: usize = 4 * 1024 * 1024;
/// See [`MAX_SEGMENT_SIZE`].
pub const MAX_SEGMENT_COUNT: usize = 8;

/// Time a new connection has to send CONNECT, in milliseconds.
pub const CONNECTION_TIMEOUT_MS: u16 = 10_000;

/// The router's settings.
pub(crate) fn router() -> RouterConfig {
    RouterConfig {
        max_connections: MAX_CONNECTIONS,
        max_outgoing_packet_count: MAX_OUTGOING_PACKET_COUNT,
        max_segment_size: MAX_SEGMENT_SIZE,
        max_segment_count: MAX_SEGMENT_COUNT,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    }
}

/// The settings of the MQTT 3.1.1 listener on `listen`: plain TCP, no authentication.
pub(crate) fn listener(listen: SocketAddr) -> ServerSettings {
    ServerSettings {
        name: "fogwhisk-mqtt-v4".to_string(),
        listen,
        tls: None,
        // rumqttd sleeps this long after each accepted connection.
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: CONNECTION_TIMEOUT_MS,
            max_payload_size: MAX_PAYLOAD_SIZE,
            max_inflight_count: MAX_INFLIGHT_COUNT,
            auth: None,
            external_auth: None,
            // Subscriptions to any filter create its log on demand.
            dynamic_filters: true,
        },
    }
}
