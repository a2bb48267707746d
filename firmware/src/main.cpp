// Fogwhisk sensor firmware (ESP8266 NodeMCU): reads a DHT11 (temperature, humidity)
// and an MQ gas sensor (A0), and publishes one JSON message per interval on
// telemetry/<datacenter_id>/<device_fingerprint> to the site's Mosquitto, as its own broker
// user, over TLS when FW_MQTT_TLS is 1 (BearSSL, trusting only include/ca_cert.h). The message,
// topics, fingerprint, EEPROM record and TLS checks come from lib/telemetry (host-tested).
#include <Arduino.h>
#include <DHT.h>
#include <EEPROM.h>
#include <ESP8266WiFi.h>
#include <PubSubClient.h>
#include <time.h>

#include "config.h"
#include "telemetry.h"

#if FW_MQTT_TLS
#include <WiFiClientSecure.h>

#include "ca_cert.h"
#endif

namespace {

const char kOnline[] = "online";
const char kOffline[] = "offline";

#if FW_MQTT_TLS
BearSSL::WiFiClientSecure wifi;
BearSSL::X509List trust_anchors(kMqttCaCert);
#else
WiFiClient wifi;
#endif
PubSubClient mqtt(wifi);
const char* mqtt_user = FW_MQTT_USER;
DHT dht(FW_DHT_PIN, FW_DHT_TYPE);

char fingerprint[telemetry::kFingerprintLen];
char client_id[24];
char data_topic[telemetry::kTopicMax];
char status_topic[telemetry::kTopicMax];
uint16_t datacenter_id = 0;

unsigned reconnect_attempt = 0;
unsigned long last_attempt_ms = 0;
unsigned long reconnect_wait_ms = 0;  // 0: try at once
unsigned long last_publish_ms = 0;
bool published_once = false;

// Reads the datacenter id from EEPROM; false when the record is missing or corrupt.
bool load_datacenter_id() {
    uint8_t image[telemetry::kEepromSize];
    EEPROM.begin(telemetry::kEepromSize);
    for (size_t i = 0; i < telemetry::kEepromSize; ++i) image[i] = EEPROM.read(i);
    EEPROM.end();
    telemetry::EepromStatus status = telemetry::eeprom_decode(image, &datacenter_id);
    if (status != telemetry::kEepromOk) {
        Serial.printf("datacenter id: EEPROM record is %s; flash tools/set_datacenter_id first\n",
                      telemetry::eeprom_status_name(status));
        return false;
    }
    return true;
}

// Tries one broker connection; schedules the next try with exponential backoff on failure.
void try_connect(unsigned long now) {
    // Unsigned differences stay right across the millis() wrap-around (every 49.7 days).
    if (reconnect_wait_ms != 0 && now - last_attempt_ms < reconnect_wait_ms) return;
    last_attempt_ms = now;
#if FW_MQTT_TLS
    // BearSSL checks the broker certificate's dates: wait for NTP, then give it the time.
    time_t clock_now = time(nullptr);
    if (!telemetry::tls_clock_ready(static_cast<int64_t>(clock_now))) {
        reconnect_wait_ms = 1000;
        Serial.println("mqtt: waiting for NTP before TLS (certificate dates are checked)");
        return;
    }
    wifi.setX509Time(clock_now);
#endif
    Serial.printf("mqtt: connecting to %s:%d%s as %s (user %s)\n", FW_MQTT_HOST, FW_MQTT_PORT,
                  FW_MQTT_TLS ? " over TLS" : "", client_id, mqtt_user);
    // Last will: "offline", QoS 1, retained, on status/<datacenter_id>/<fingerprint>.
    if (mqtt.connect(client_id, mqtt_user, FW_MQTT_PASSWORD, status_topic, 1, true, kOffline)) {
        reconnect_attempt = 0;
        reconnect_wait_ms = 0;
        mqtt.publish(status_topic, kOnline, true);
        Serial.println("mqtt: connected");
        return;
    }
    uint32_t delay_ms = telemetry::backoff_delay_ms(reconnect_attempt, FW_BACKOFF_BASE_MS, FW_BACKOFF_MAX_MS);
    delay_ms += static_cast<uint32_t>(random(0, static_cast<long>(delay_ms / 4) + 1));
    if (reconnect_attempt < 31) ++reconnect_attempt;
    reconnect_wait_ms = delay_ms;
    Serial.printf("mqtt: failed (state %d), next try in %lu ms\n", mqtt.state(), static_cast<unsigned long>(delay_ms));
#if FW_MQTT_TLS
    char tls_error[96];
    if (wifi.getLastSSLError(tls_error, sizeof tls_error) != 0) Serial.printf("mqtt: TLS: %s\n", tls_error);
#endif
}

// Reads the sensors and publishes one message. A failed DHT read (NaN) leaves that
// field out; an unsynchronised clock leaves "ts" out (see telemetry.h).
void publish_reading() {
    telemetry::Reading r;
    r.device_fingerprint = fingerprint;
    r.datacenter_id = datacenter_id;
    r.temperature = dht.readTemperature();
    r.humidity = dht.readHumidity();
    r.gas_perc = telemetry::gas_percent_from_adc(analogRead(A0));
    r.ts = static_cast<int64_t>(time(nullptr));
    char message[telemetry::kMessageMax];
    if (telemetry::build_message(r, message, sizeof message) == 0) {
        Serial.println("publish: message did not fit");
        return;
    }
    bool ok = mqtt.publish(data_topic, message);
    Serial.printf("publish %s %s: %s\n", data_topic, ok ? "ok" : "FAILED", message);
}

}  // namespace

void setup() {
    Serial.begin(115200);
    Serial.println();
    telemetry::fingerprint_from_chip_id(ESP.getChipId(), fingerprint);
    Serial.printf("fogwhisk sensor %s\n", fingerprint);
    while (!load_datacenter_id()) delay(10000);
    if (mqtt_user[0] == '\0') mqtt_user = fingerprint;  // the chart's default user name
#if FW_MQTT_TLS
    while (telemetry::pem_certificate_count(kMqttCaCert) == 0) {
        Serial.println("tls: include/ca_cert.h holds no PEM certificate; paste the site's ca.crt there");
        delay(10000);
    }
    wifi.setTrustAnchors(&trust_anchors);
#endif

    telemetry::build_topic(FW_TOPIC_PREFIX, datacenter_id, fingerprint, data_topic, sizeof data_topic);
    telemetry::build_topic(FW_STATUS_PREFIX, datacenter_id, fingerprint, status_topic, sizeof status_topic);
    snprintf(client_id, sizeof client_id, "fogwhisk-%s", fingerprint);
    Serial.printf("datacenter %u, publishing on %s\n", datacenter_id, data_topic);
    randomSeed(ESP.getChipId() ^ micros());

    dht.begin();
    WiFi.mode(WIFI_STA);
    WiFi.setAutoReconnect(true);
    WiFi.begin(FW_WIFI_SSID, FW_WIFI_PASSWORD);
    configTime(0, 0, FW_NTP_SERVER);  // UTC; time(nullptr) is epoch seconds once NTP answers
    mqtt.setServer(FW_MQTT_HOST, FW_MQTT_PORT);
    mqtt.setBufferSize(telemetry::kMessageMax + telemetry::kTopicMax + 16);
}

void loop() {
    unsigned long now = millis();
    if (WiFi.status() != WL_CONNECTED) {
        delay(100);  // the SDK reconnects Wi-Fi by itself (setAutoReconnect)
        return;
    }
    if (!mqtt.connected()) {
        try_connect(now);
    } else {
        mqtt.loop();
        if (!published_once || now - last_publish_ms >= FW_PUBLISH_INTERVAL_MS) {
            published_once = true;
            last_publish_ms = now;
            publish_reading();
        }
    }
    delay(10);
}
