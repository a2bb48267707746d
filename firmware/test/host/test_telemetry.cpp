// Host tests of lib/telemetry against firmware/test/vectors.json (turned into
// vectors_gen.h by gen_vectors.py), plus property checks (bounds, EEPROM
// round trip and corruption detection). Prints "N passed, N failed".
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"

struct MessageVector {
    const char* name;
    const char* fingerprint;
    unsigned datacenter_id;
    bool has_temperature;
    double temperature;
    bool has_humidity;
    double humidity;
    bool has_gas;
    double gas_perc;
    bool has_ts;
    long long ts;
    const char* topic;
    const char* status_topic;
    const char* message;
};
struct FingerprintVector {
    uint32_t chip_id;
    const char* fingerprint;
};
struct GasVector {
    int adc;
    const char* gas_perc;
};
struct EepromVector {
    unsigned datacenter_id;
    const char* bytes;
};
struct EepromInvalidVector {
    const char* bytes;
    const char* status;
};
struct ParseVector {
    const char* text;
    bool ok;
    unsigned datacenter_id;
};
struct BackoffVector {
    unsigned attempt;
    uint32_t base_ms;
    uint32_t max_ms;
    uint32_t delay_ms;
};

#include "vectors_gen.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int g_passed = 0;
static int g_failed = 0;

static void check(bool ok, const char* what, const char* detail) {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        printf("FAIL %s: %s\n", what, detail);
    }
}

static void check_str(const char* what, const char* got, const char* want) {
    char detail[512];
    snprintf(detail, sizeof detail, "got \"%s\", want \"%s\"", got, want);
    check(strcmp(got, want) == 0, what, detail);
}

static bool hex_to_bytes(const char* hex, uint8_t* out, size_t n) {
    if (strlen(hex) != n * 2) return false;
    for (size_t i = 0; i < n; ++i) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        char* end = NULL;
        out[i] = static_cast<uint8_t>(strtoul(pair, &end, 16));
        if (end != pair + 2) return false;
    }
    return true;
}

static telemetry::Reading reading_of(const MessageVector& v) {
    telemetry::Reading r;
    r.device_fingerprint = v.fingerprint;
    r.datacenter_id = static_cast<uint16_t>(v.datacenter_id);
    r.temperature = v.has_temperature ? v.temperature : NAN;
    r.humidity = v.has_humidity ? v.humidity : NAN;
    r.gas_perc = v.has_gas ? v.gas_perc : NAN;
    r.ts = v.has_ts ? v.ts : 0;
    return r;
}

static void test_messages() {
    for (size_t i = 0; i < COUNT(kMessages); ++i) {
        const MessageVector& v = kMessages[i];
        char what[160];
        char buf[telemetry::kMessageMax];
        telemetry::Reading r = reading_of(v);
        size_t n = telemetry::build_message(r, buf, sizeof buf);
        snprintf(what, sizeof what, "message [%s]", v.name);
        check_str(what, buf, v.message);
        check(n == strlen(v.message), what, "returned length differs from the expected message's");

        // Exactly-sized buffer works; one byte less fails cleanly with an empty string.
        size_t len = strlen(v.message);
        char* tight = static_cast<char*>(malloc(len + 1));
        snprintf(what, sizeof what, "message bounds [%s]", v.name);
        check(telemetry::build_message(r, tight, len + 1) == len && strcmp(tight, v.message) == 0, what,
              "exact-size buffer rejected");
        check(telemetry::build_message(r, tight, len) == 0 && tight[0] == '\0', what,
              "short buffer not reported");
        free(tight);

        char topic[telemetry::kTopicMax];
        telemetry::build_topic("telemetry", r.datacenter_id, v.fingerprint, topic, sizeof topic);
        snprintf(what, sizeof what, "topic [%s]", v.name);
        check_str(what, topic, v.topic);
        telemetry::build_topic("status", r.datacenter_id, v.fingerprint, topic, sizeof topic);
        snprintf(what, sizeof what, "status topic [%s]", v.name);
        check_str(what, topic, v.status_topic);
    }
}

static void test_rejections() {
    char buf[telemetry::kMessageMax];
    telemetry::Reading r = {"9a3f21", 7, 21.4, 48.0, 12.5, 1732350000};
    check(telemetry::build_message(r, buf, sizeof buf) == 0, "lowercase fingerprint", "accepted");
    r.device_fingerprint = "9A3F2";
    check(telemetry::build_message(r, buf, sizeof buf) == 0, "short fingerprint", "accepted");
    r.device_fingerprint = "9A3F21A";
    check(telemetry::build_message(r, buf, sizeof buf) == 0, "long fingerprint", "accepted");
    r.device_fingerprint = "9A3F21";
    r.temperature = INFINITY;
    r.humidity = 1e300;
    telemetry::build_message(r, buf, sizeof buf);
    check_str("infinite and huge readings left out", buf,
              "{\"device_fingerprint\":\"9A3F21\",\"datacenter_id\":7,\"gas_perc\":12.5,\"ts\":1732350000}");
    char topic[telemetry::kTopicMax];
    check(telemetry::build_topic("", 7, "9A3F21", topic, sizeof topic) == 0, "empty topic prefix", "accepted");
    check(telemetry::build_topic("tele/+", 7, "9A3F21", topic, sizeof topic) == 0, "wildcard prefix", "accepted");
    check(telemetry::build_topic("tele/#", 7, "9A3F21", topic, sizeof topic) == 0, "wildcard prefix", "accepted");
    check(telemetry::build_topic("telemetry", 7, "9A3F21", topic, 18) == 0, "short topic buffer", "accepted");
    check(telemetry::format_tenths(NAN, buf, sizeof buf) == 0 && buf[0] == '\0', "format NaN", "not rejected");
}

static void test_fingerprints_and_gas() {
    for (size_t i = 0; i < COUNT(kFingerprints); ++i) {
        char fp[telemetry::kFingerprintLen];
        telemetry::fingerprint_from_chip_id(kFingerprints[i].chip_id, fp);
        char what[64];
        snprintf(what, sizeof what, "fingerprint of chip 0x%08lX", static_cast<unsigned long>(kFingerprints[i].chip_id));
        check_str(what, fp, kFingerprints[i].fingerprint);
        check(telemetry::valid_fingerprint(fp), what, "not a valid fingerprint");
    }
    for (size_t i = 0; i < COUNT(kGas); ++i) {
        char out[16];
        telemetry::format_tenths(telemetry::gas_percent_from_adc(kGas[i].adc), out, sizeof out);
        char what[64];
        snprintf(what, sizeof what, "gas_perc of adc %d", kGas[i].adc);
        check_str(what, out, kGas[i].gas_perc);
    }
}

static void test_eeprom() {
    for (size_t i = 0; i < COUNT(kEeprom); ++i) {
        const EepromVector& v = kEeprom[i];
        uint8_t want[telemetry::kEepromSize];
        uint8_t got[telemetry::kEepromSize];
        char what[64];
        snprintf(what, sizeof what, "eeprom image of id %u", v.datacenter_id);
        check(hex_to_bytes(v.bytes, want, sizeof want), what, "vector is not 6 hex bytes");
        telemetry::eeprom_encode(static_cast<uint16_t>(v.datacenter_id), got);
        check(memcmp(got, want, sizeof got) == 0, what, v.bytes);
        uint16_t id = 0;
        check(telemetry::eeprom_decode(want, &id) == telemetry::kEepromOk && id == v.datacenter_id, what,
              "image does not decode to its id");
    }
    for (size_t i = 0; i < COUNT(kEepromInvalid); ++i) {
        uint8_t img[telemetry::kEepromSize];
        uint16_t id = 4242;
        char what[64];
        snprintf(what, sizeof what, "eeprom image %s", kEepromInvalid[i].bytes);
        check(hex_to_bytes(kEepromInvalid[i].bytes, img, sizeof img), what, "vector is not 6 hex bytes");
        check_str(what, telemetry::eeprom_status_name(telemetry::eeprom_decode(img, &id)), kEepromInvalid[i].status);
        check(id == 4242, what, "id written although the image is invalid");
    }
    // Every id round-trips; every single-bit flip of a valid image is rejected.
    int roundtrip_bad = 0;
    int flips_missed = 0;
    for (uint32_t id = 0; id <= 0xFFFF; ++id) {
        uint8_t img[telemetry::kEepromSize];
        telemetry::eeprom_encode(static_cast<uint16_t>(id), img);
        uint16_t back = 0;
        if (telemetry::eeprom_decode(img, &back) != telemetry::kEepromOk || back != id) ++roundtrip_bad;
        if (id % 257 != 0) continue;
        for (size_t bit = 0; bit < telemetry::kEepromSize * 8; ++bit) {
            img[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
            if (telemetry::eeprom_decode(img, &back) == telemetry::kEepromOk) ++flips_missed;
            img[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        }
    }
    check(roundtrip_bad == 0, "eeprom round trip of all 65536 ids", "some ids did not round-trip");
    check(flips_missed == 0, "eeprom single-bit corruption detected", "a flipped bit decoded as valid");
}

static void test_parse_and_backoff() {
    for (size_t i = 0; i < COUNT(kParse); ++i) {
        const ParseVector& v = kParse[i];
        uint16_t id = 4242;
        bool ok = telemetry::parse_datacenter_id(v.text, &id);
        char what[64];
        snprintf(what, sizeof what, "parse_datacenter_id(\"%s\")", v.text);
        char detail[96];
        snprintf(detail, sizeof detail, "got ok=%d id=%u, want ok=%d id=%u", ok, id, v.ok, v.datacenter_id);
        check(ok == v.ok && (ok ? id == v.datacenter_id : id == 4242), what, detail);
    }
    for (size_t i = 0; i < COUNT(kBackoff); ++i) {
        const BackoffVector& v = kBackoff[i];
        uint32_t got = telemetry::backoff_delay_ms(v.attempt, v.base_ms, v.max_ms);
        char what[64];
        snprintf(what, sizeof what, "backoff attempt %u", v.attempt);
        char detail[64];
        snprintf(detail, sizeof detail, "got %lu, want %lu", static_cast<unsigned long>(got),
                 static_cast<unsigned long>(v.delay_ms));
        check(got == v.delay_ms, what, detail);
    }
}

// Reads a whole (small) file into a NUL-terminated heap buffer; NULL when it cannot.
static char* read_file(const char* path) {
    FILE* f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char* buf = static_cast<char*>(calloc(1, 65536));
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf != NULL) buf[n] = '\0';
    return buf;
}

static void check_count(const char* what, const char* pem, size_t want) {
    size_t got = telemetry::pem_certificate_count(pem);
    char detail[64];
    snprintf(detail, sizeof detail, "got %lu, want %lu", static_cast<unsigned long>(got),
             static_cast<unsigned long>(want));
    check(got == want, what, detail);
}

// `ca_path`: a CA certificate openssl made (check-firmware.sh); `bundle_path`: two certificates
// and a private key, as a CA bundle with a stray key would be; `crlf_path`: the CA with CR LF lines.
static void test_tls(const char* ca_path, const char* bundle_path, const char* crlf_path) {
    char* ca = read_file(ca_path);
    char* bundle = read_file(bundle_path);
    char* crlf = read_file(crlf_path);
    check(ca != NULL && bundle != NULL && crlf != NULL, "tls: openssl's PEM files readable", ca_path);
    if (ca == NULL || bundle == NULL || crlf == NULL) return;
    check_count("tls: openssl's CA certificate is one PEM certificate", ca, 1);
    check_count("tls: a bundle of two certificates and a key counts the two certificates", bundle, 2);
    check_count("tls: CR LF line ends are accepted", crlf, 1);
    check_count("tls: NULL holds no certificate", NULL, 0);
    check_count("tls: the empty placeholder holds no certificate", "", 0);
    check_count("tls: text without a PEM block", "paste ca.crt here\n", 0);
    // Cut the CA before its end marker, and spoil one base64 character.
    char* cut = strstr(ca, "-----END CERTIFICATE-----");
    check(cut != NULL, "tls: the CA has an end marker", ca_path);
    if (cut != NULL) {
        char saved = *cut;
        *cut = '\0';
        check_count("tls: a certificate without its end marker is refused", ca, 0);
        *cut = saved;
    }
    char* body = strchr(ca, '\n');
    if (body != NULL) {
        char saved = body[3];
        body[3] = '*';
        check_count("tls: a non-base64 character inside the block is refused", ca, 0);
        body[3] = saved;
    }
    check_count("tls: an empty certificate block is refused",
                "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 0);
    check_count("tls: a private key alone is not a certificate",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0);
    check(!telemetry::tls_clock_ready(0) && !telemetry::tls_clock_ready(telemetry::kMinValidTs - 1) &&
              telemetry::tls_clock_ready(telemetry::kMinValidTs) && telemetry::tls_clock_ready(1732350000),
          "tls: connect only once NTP set the clock (certificate dates)", "tls_clock_ready");
    free(ca);
    free(bundle);
    free(crlf);
}

int main(int argc, char** argv) {
    test_messages();
    test_rejections();
    test_fingerprints_and_gas();
    test_eeprom();
    test_parse_and_backoff();
    if (argc == 4) {
        test_tls(argv[1], argv[2], argv[3]);
    } else {
        check(false, "tls: PEM files given (test_telemetry CA BUNDLE CRLF)", "run through scripts/check-firmware.sh");
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
