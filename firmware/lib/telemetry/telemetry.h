// telemetry: the sensor's wire format (message, topics, fingerprint), the EEPROM
// record holding the datacenter id, small parsing helpers and the TLS checks. Portable C++11 with
// no Arduino headers, so the same code runs on the ESP8266 and in the host tests
// (firmware/test/host/test_telemetry.cpp, against firmware/test/vectors.json).
#ifndef FOGWHISK_TELEMETRY_H
#define FOGWHISK_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

namespace telemetry {

// Largest message build_message() can produce, terminating NUL included.
const size_t kMessageMax = 192;
// Largest topic build_topic() can produce, terminating NUL included.
const size_t kTopicMax = 96;
// A device fingerprint: 6 uppercase hex digits and a NUL.
const size_t kFingerprintLen = 7;
// Epoch seconds before which a clock counts as "not set yet" (2020-09-13).
const int64_t kMinValidTs = 1600000000;

// One reading cycle. A NaN (or infinite, or beyond +/-1e15) reading is left out of the message; a
// ts below kMinValidTs (NTP not synchronised yet) leaves "ts" out, so the agent
// uses its receive time.
struct Reading {
    const char* device_fingerprint;  // 6 uppercase hex digits
    uint16_t datacenter_id;
    double temperature;  // degrees Celsius
    double humidity;     // percent relative humidity
    double gas_perc;     // 0..100, see gas_percent_from_adc()
    int64_t ts;          // epoch seconds
};

// Writes `value` with exactly one decimal: tenths = round-half-away-from-zero(value * 10)
// computed in IEEE double, e.g. 48 -> "48.0", -0.04 -> "0.0", -5.25 -> "-5.3".
// Returns the length written (without NUL), or 0 when value is NaN, infinite,
// beyond +/-1e15, or `cap` is too small.
size_t format_tenths(double value, char* out, size_t cap);

// Builds the JSON message in the fixed field order
// device_fingerprint, datacenter_id, temperature, humidity, gas_perc, ts:
// {"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}
// Returns the length (without NUL), or 0 when the fingerprint is not 6 uppercase
// hex digits or `cap` is too small.
size_t build_message(const Reading& reading, char* out, size_t cap);

// Builds "<prefix>/<datacenter_id>/<fingerprint>", e.g. "telemetry/7/9A3F21" or
// "status/7/9A3F21". Returns the length, or 0 on an empty prefix, a prefix holding
// an MQTT wildcard ('+', '#'), a bad fingerprint or a too small `cap`.
size_t build_topic(const char* prefix, uint16_t datacenter_id, const char* fingerprint, char* out,
                   size_t cap);

// The fingerprint of a chip: the low 24 bits of its id as 6 uppercase hex digits
// (ESP.getChipId() 0x009A3F21 -> "9A3F21").
void fingerprint_from_chip_id(uint32_t chip_id, char out[kFingerprintLen]);

// True when `text` is exactly 6 uppercase hex digits.
bool valid_fingerprint(const char* text);

// MQ sensor: a 10-bit ADC reading (clamped to 0..1023) as a percentage, raw * 100 / 1023.
double gas_percent_from_adc(int raw);

// EEPROM record at address 0, 6 bytes:
//   [0] 'F' (0x46)  [1] 'W' (0x57)  magic
//   [2] 0x01        layout version
//   [3] id low byte [4] id high byte (little endian uint16)
//   [5] CRC-8 (polynomial 0x07, initial value 0x00, no reflection, no final xor) of bytes 0..4
const size_t kEepromSize = 6;

enum EepromStatus {
    kEepromOk = 0,
    kEepromUnset = 1,        // magic absent (erased flash reads 0xFF)
    kEepromBadVersion = 2,   // magic present, unknown layout version
    kEepromBadChecksum = 3,  // magic and version present, CRC mismatch
};

// Fills `out` with the record for `datacenter_id`.
void eeprom_encode(uint16_t datacenter_id, uint8_t out[kEepromSize]);

// Reads the record; on kEepromOk stores the id in *datacenter_id.
EepromStatus eeprom_decode(const uint8_t in[kEepromSize], uint16_t* datacenter_id);

// Name of a status: "ok", "unset", "bad_version", "bad_checksum".
const char* eeprom_status_name(EepromStatus status);

// CRC-8 as used by the EEPROM record.
uint8_t crc8(const uint8_t* data, size_t len);

// Parses a datacenter id typed on the serial console: optional surrounding spaces,
// tabs, CR or LF around 1..5 decimal digits with a value of 0..65535. Anything else
// (sign, letters, empty, overflow) is rejected.
bool parse_datacenter_id(const char* text, uint16_t* out);

// Reconnection delay before attempt number `attempt` (0-based): base_ms * 2^attempt,
// capped at max_ms (and at max_ms when the doubling would overflow).
uint32_t backoff_delay_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms);

// TLS (FW_MQTT_TLS): the number of complete PEM certificate blocks in `pem`: a line
// "-----BEGIN CERTIFICATE-----", base64 lines, a line "-----END CERTIFICATE-----" (CR LF or LF;
// other PEM blocks such as keys are skipped). 0 for NULL, an empty string, a block without its
// end or with anything but base64 inside: the sketch then refuses to connect and says why, instead
// of failing every handshake.
size_t pem_certificate_count(const char* pem);

// Whether a TLS connection may be attempted at epoch second `now`: BearSSL checks the broker's
// certificate dates against the clock, so NTP must have set it (now >= kMinValidTs).
bool tls_clock_ready(int64_t now);

}  // namespace telemetry

#endif  // FOGWHISK_TELEMETRY_H
