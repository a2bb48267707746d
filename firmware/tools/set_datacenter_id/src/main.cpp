// set_datacenter_id: a one-off sketch that writes the datacenter id into EEPROM in the
// layout of lib/telemetry (magic, version, id, CRC-8), reads it back and verifies it.
// The id comes from -DFW_DATACENTER_ID at build time or is typed on the serial console.
#include <Arduino.h>
#include <EEPROM.h>

#include "telemetry.h"

namespace {

void show_current() {
    uint8_t image[telemetry::kEepromSize];
    for (size_t i = 0; i < telemetry::kEepromSize; ++i) image[i] = EEPROM.read(i);
    uint16_t id = 0;
    telemetry::EepromStatus status = telemetry::eeprom_decode(image, &id);
    if (status == telemetry::kEepromOk) {
        Serial.printf("current datacenter id: %u\n", id);
    } else {
        Serial.printf("current EEPROM record: %s\n", telemetry::eeprom_status_name(status));
    }
}

bool write_id(uint16_t id) {
    uint8_t image[telemetry::kEepromSize];
    telemetry::eeprom_encode(id, image);
    for (size_t i = 0; i < telemetry::kEepromSize; ++i) EEPROM.write(i, image[i]);
    if (!EEPROM.commit()) return false;
    uint8_t back[telemetry::kEepromSize];
    for (size_t i = 0; i < telemetry::kEepromSize; ++i) back[i] = EEPROM.read(i);
    uint16_t read_id = 0;
    return telemetry::eeprom_decode(back, &read_id) == telemetry::kEepromOk && read_id == id;
}

void report(uint16_t id) {
    if (write_id(id)) {
        Serial.printf("datacenter id %u written and verified; now flash the sensor firmware\n", id);
    } else {
        Serial.println("EEPROM write FAILED");
    }
}

char line[16];
size_t line_len = 0;

}  // namespace

void setup() {
    Serial.begin(115200);
    delay(200);
    EEPROM.begin(telemetry::kEepromSize);
    Serial.println();
    show_current();
#ifdef FW_DATACENTER_ID
    report(static_cast<uint16_t>(FW_DATACENTER_ID));
#else
    Serial.println("type the datacenter id (0..65535) and press Enter:");
#endif
}

void loop() {
#ifndef FW_DATACENTER_ID
    while (Serial.available() > 0) {
        char c = static_cast<char>(Serial.read());
        if (c != '\n' && c != '\r') {
            if (line_len + 1 < sizeof line) line[line_len++] = c;
            continue;
        }
        if (line_len == 0) continue;
        line[line_len] = '\0';
        line_len = 0;
        uint16_t id = 0;
        if (telemetry::parse_datacenter_id(line, &id)) {
            report(id);
        } else {
            Serial.printf("not an id: \"%s\" (expected 0..65535)\n", line);
        }
    }
#endif
    delay(10);
}
