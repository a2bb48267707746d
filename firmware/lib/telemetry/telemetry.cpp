// telemetry: implementation of the sensor's wire format and EEPROM record (see telemetry.h).
// No heap, no printf, no locale: the bytes are the same on the ESP8266 and on the host.
#include "telemetry.h"

#include <math.h>
#include <string.h>

namespace telemetry {

namespace {

// Appends text to a bounded buffer, tracking overflow; the buffer stays NUL-terminated.
class Writer {
   public:
    Writer(char* out, size_t cap) : out_(out), cap_(cap), len_(0), ok_(cap > 0) {
        if (ok_) out_[0] = '\0';
    }

    void str(const char* s) {
        while (*s) ch(*s++);
    }

    void ch(char c) {
        if (!ok_ || len_ + 1 >= cap_) {
            ok_ = false;
            return;
        }
        out_[len_++] = c;
        out_[len_] = '\0';
    }

    void uint(uint64_t v) {
        char digits[21];
        size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) ch(digits[--n]);
    }

    void sint(int64_t v) {
        if (v < 0) {
            ch('-');
            uint(static_cast<uint64_t>(-(v + 1)) + 1);
        } else {
            uint(static_cast<uint64_t>(v));
        }
    }

    // Returns the length, or 0 (and an empty string) after an overflow.
    size_t finish() {
        if (!ok_) {
            if (cap_ > 0) out_[0] = '\0';
            return 0;
        }
        return len_;
    }

   private:
    char* out_;
    size_t cap_;
    size_t len_;
    bool ok_;
};

// Finite and small enough for value * 10 to fit a long long.
bool usable(double v) { return !isnan(v) && !isinf(v) && fabs(v) <= 1e15; }

void tenths(Writer& w, double value) {
    // llround rounds half away from zero, like Rust's f64::round.
    long long t = llround(value * 10.0);
    if (t < 0) {
        w.ch('-');
        t = -t;
    }
    w.uint(static_cast<uint64_t>(t / 10));
    w.ch('.');
    w.ch(static_cast<char>('0' + t % 10));
}

void field(Writer& w, const char* name, double value) {
    if (!usable(value)) return;
    w.str(",\"");
    w.str(name);
    w.str("\":");
    tenths(w, value);
}

const uint8_t kMagic0 = 0x46;  // 'F'
const uint8_t kMagic1 = 0x57;  // 'W'
const uint8_t kLayoutVersion = 0x01;

}  // namespace

size_t format_tenths(double value, char* out, size_t cap) {
    if (!usable(value)) {
        if (cap > 0) out[0] = '\0';
        return 0;
    }
    Writer w(out, cap);
    tenths(w, value);
    return w.finish();
}

bool valid_fingerprint(const char* text) {
    if (text == NULL) return false;
    for (size_t i = 0; i < kFingerprintLen - 1; ++i) {
        char c = text[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
        if (!hex) return false;
    }
    return text[kFingerprintLen - 1] == '\0';
}

size_t build_message(const Reading& r, char* out, size_t cap) {
    if (!valid_fingerprint(r.device_fingerprint)) {
        if (cap > 0) out[0] = '\0';
        return 0;
    }
    Writer w(out, cap);
    w.str("{\"device_fingerprint\":\"");
    w.str(r.device_fingerprint);
    w.str("\",\"datacenter_id\":");
    w.uint(r.datacenter_id);
    field(w, "temperature", r.temperature);
    field(w, "humidity", r.humidity);
    field(w, "gas_perc", r.gas_perc);
    if (r.ts >= kMinValidTs) {
        w.str(",\"ts\":");
        w.sint(r.ts);
    }
    w.ch('}');
    return w.finish();
}

size_t build_topic(const char* prefix, uint16_t datacenter_id, const char* fingerprint, char* out,
                   size_t cap) {
    bool bad_prefix = prefix == NULL || prefix[0] == '\0' || strchr(prefix, '+') != NULL ||
                      strchr(prefix, '#') != NULL;
    if (bad_prefix || !valid_fingerprint(fingerprint)) {
        if (cap > 0) out[0] = '\0';
        return 0;
    }
    Writer w(out, cap);
    w.str(prefix);
    w.ch('/');
    w.uint(datacenter_id);
    w.ch('/');
    w.str(fingerprint);
    return w.finish();
}

void fingerprint_from_chip_id(uint32_t chip_id, char out[kFingerprintLen]) {
    static const char kHex[] = "0123456789ABCDEF";
    uint32_t v = chip_id & 0xFFFFFFu;
    for (int i = 5; i >= 0; --i) {
        out[i] = kHex[v & 0xF];
        v >>= 4;
    }
    out[6] = '\0';
}

double gas_percent_from_adc(int raw) {
    if (raw < 0) raw = 0;
    if (raw > 1023) raw = 1023;
    return raw * 100.0 / 1023.0;
}

uint8_t crc8(const uint8_t* data, size_t len) {
    uint8_t crc = 0x00;
    for (size_t i = 0; i < len; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x80) ? static_cast<uint8_t>((crc << 1) ^ 0x07) : static_cast<uint8_t>(crc << 1);
        }
    }
    return crc;
}

void eeprom_encode(uint16_t datacenter_id, uint8_t out[kEepromSize]) {
    out[0] = kMagic0;
    out[1] = kMagic1;
    out[2] = kLayoutVersion;
    out[3] = static_cast<uint8_t>(datacenter_id & 0xFF);
    out[4] = static_cast<uint8_t>(datacenter_id >> 8);
    out[5] = crc8(out, kEepromSize - 1);
}

EepromStatus eeprom_decode(const uint8_t in[kEepromSize], uint16_t* datacenter_id) {
    if (in[0] != kMagic0 || in[1] != kMagic1) return kEepromUnset;
    if (in[2] != kLayoutVersion) return kEepromBadVersion;
    if (crc8(in, kEepromSize - 1) != in[5]) return kEepromBadChecksum;
    *datacenter_id = static_cast<uint16_t>(in[3] | (in[4] << 8));
    return kEepromOk;
}

const char* eeprom_status_name(EepromStatus status) {
    switch (status) {
        case kEepromOk:
            return "ok";
        case kEepromUnset:
            return "unset";
        case kEepromBadVersion:
            return "bad_version";
        case kEepromBadChecksum:
            return "bad_checksum";
    }
    return "unknown";
}

bool parse_datacenter_id(const char* text, uint16_t* out) {
    if (text == NULL) return false;
    const char* p = text;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') ++p;
    uint32_t value = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        value = value * 10 + static_cast<uint32_t>(*p - '0');
        if (++digits > 5 || value > 65535u) return false;
        ++p;
    }
    if (digits == 0) return false;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') ++p;
    if (*p != '\0') return false;
    *out = static_cast<uint16_t>(value);
    return true;
}

uint32_t backoff_delay_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms) {
    uint64_t delay = base_ms;
    for (unsigned i = 0; i < attempt && delay < max_ms; ++i) delay *= 2;
    return delay > max_ms ? max_ms : static_cast<uint32_t>(delay);
}

namespace {

// The line starting at `p` (without its LF or CR LF) as [p, *end); returns the start of the next line.
const char* line_at(const char* p, const char** end) {
    const char* e = p;
    while (*e != '\0' && *e != '\n') ++e;
    const char* next = (*e == '\n') ? e + 1 : e;
    if (e > p && e[-1] == '\r') --e;
    *end = e;
    return next;
}

bool line_is(const char* p, const char* end, const char* text) {
    size_t n = strlen(text);
    return static_cast<size_t>(end - p) == n && memcmp(p, text, n) == 0;
}

bool base64_line(const char* p, const char* end) {
    if (p == end) return false;
    for (; p < end; ++p) {
        char ch = *p;
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '+' || ch == '/' || ch == '=';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

size_t pem_certificate_count(const char* pem) {
    static const char kBegin[] = "-----BEGIN CERTIFICATE-----";
    static const char kEnd[] = "-----END CERTIFICATE-----";
    if (pem == NULL) return 0;
    size_t count = 0;
    const char* p = pem;
    while (*p != '\0') {
        const char* end;
        const char* next = line_at(p, &end);
        if (!line_is(p, end, kBegin)) {
            p = next;
            continue;
        }
        // Inside a certificate block: base64 lines up to the end marker.
        size_t body_lines = 0;
        bool closed = false;
        p = next;
        while (*p != '\0') {
            next = line_at(p, &end);
            if (line_is(p, end, kEnd)) {
                closed = true;
                p = next;
                break;
            }
            if (!base64_line(p, end)) return 0;
            ++body_lines;
            p = next;
        }
        if (!closed || body_lines == 0) return 0;
        ++count;
    }
    return count;
}

bool tls_clock_ready(int64_t now) { return now >= kMinValidTs; }

}  // namespace telemetry
