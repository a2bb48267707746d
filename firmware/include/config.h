// config.h: every setting of the sensor firmware, in one place. Each value can also be
// given with build_flags in platformio.ini (e.g. -DFW_WIFI_SSID=\"lab\") without editing
// this file. The datacenter id is NOT here: it lives in EEPROM (tools/set_datacenter_id).
#ifndef FOGWHISK_CONFIG_H
#define FOGWHISK_CONFIG_H

// --- Wi-Fi ---
#ifndef FW_WIFI_SSID
#define FW_WIFI_SSID "my-wifi"
#endif
#ifndef FW_WIFI_PASSWORD
#define FW_WIFI_PASSWORD "my-wifi-password"
#endif

// --- MQTT broker (the site's Mosquitto) ---
#ifndef FW_MQTT_HOST
#define FW_MQTT_HOST "192.168.1.10"
#endif
// TLS: 1 connects with BearSSL (WiFiClientSecure), trusting only the CA certificate in
// include/ca_cert.h (the site's ca.crt: the chart's mosquitto.tls Secret), on the TLS port.
#ifndef FW_MQTT_TLS
#define FW_MQTT_TLS 0
#endif
#ifndef FW_MQTT_PORT
#if FW_MQTT_TLS
#define FW_MQTT_PORT 8883
#else
#define FW_MQTT_PORT 1883
#endif
#endif
// Every sensor has its own broker user (a mosquitto.devices entry of the site's chart), which may
// publish only on its own topics. Empty: the user name is the device fingerprint (the chart's default).
#ifndef FW_MQTT_USER
#define FW_MQTT_USER ""
#endif
// This device's password (its passwordHash in the chart is made from it); set it per board, e.g.
// PLATFORMIO_BUILD_FLAGS='-DFW_MQTT_PASSWORD=\"...\"' pio run -e nodemcuv2 -t upload
#ifndef FW_MQTT_PASSWORD
#define FW_MQTT_PASSWORD "device-password"
#endif

// --- Topics: <prefix>/<datacenter_id>/<device_fingerprint> ---
#ifndef FW_TOPIC_PREFIX
#define FW_TOPIC_PREFIX "telemetry"
#endif
// Last will "offline" (retained) and "online" after each connect.
#ifndef FW_STATUS_PREFIX
#define FW_STATUS_PREFIX "status"
#endif

// --- Timing ---
// One message per interval; the DHT11 needs at least 1 s between reads.
#ifndef FW_PUBLISH_INTERVAL_MS
#define FW_PUBLISH_INTERVAL_MS 60000UL
#endif
// Broker reconnection: first delay, doubled after each failure up to the maximum (plus up to 25% jitter).
#ifndef FW_BACKOFF_BASE_MS
#define FW_BACKOFF_BASE_MS 1000UL
#endif
#ifndef FW_BACKOFF_MAX_MS
#define FW_BACKOFF_MAX_MS 60000UL
#endif

// --- Time: NTP gives "ts" (epoch seconds, UTC); until it answers, "ts" is left out ---
#ifndef FW_NTP_SERVER
#define FW_NTP_SERVER "pool.ntp.org"
#endif

// --- Wiring (NodeMCU pin names) ---
#ifndef FW_DHT_PIN
#define FW_DHT_PIN D2
#endif
#ifndef FW_DHT_TYPE
#define FW_DHT_TYPE DHT11
#endif
// The MQ sensor's analog output goes to A0 (0..1023 -> gas_perc 0..100).

#endif  // FOGWHISK_CONFIG_H
