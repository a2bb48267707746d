#!/usr/bin/env bash
# Host tests of the ESP8266 firmware's portable code (firmware/lib/telemetry) against
# firmware/test/vectors.json: builds with g++ (no PlatformIO, no Arduino headers),
# once with the warnings and flags of an embedded build and once with sanitizers,
# then runs the tests (the TLS checks on certificates openssl makes). Last line: "N passed, N failed".
# Needs g++, python3 and openssl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fw="$root/firmware"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT

for tool in g++ python3 openssl; do
    command -v "$tool" >/dev/null || { echo "check-firmware: $tool is required" >&2; echo "0 passed, 1 failed"; exit 1; }
done

python3 "$fw/test/host/gen_vectors.py" "$fw/test/vectors.json" "$build/vectors_gen.h"

warn=(-std=gnu++11 -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion -pedantic)

# 1. The library alone, as the ESP8266 toolchain builds it: no exceptions, no RTTI, 32-bit-safe code.
g++ "${warn[@]}" -fno-exceptions -fno-rtti -Os -c "$fw/lib/telemetry/telemetry.cpp" -o "$build/telemetry_embedded.o"

# 2. Library + tests with address and undefined-behaviour sanitizers.
g++ "${warn[@]}" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
    -I "$fw/lib/telemetry" -I "$build" \
    "$fw/lib/telemetry/telemetry.cpp" "$fw/test/host/test_telemetry.cpp" -o "$build/test_telemetry"

# 3. PEM inputs of the TLS checks, as openssl writes them: a CA, a bundle of two CAs and a key, CR LF.
for name in ca other; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$build/$name.key" \
        -out "$build/$name.crt" -days 2 -subj "/CN=fogwhisk-test-$name" 2>/dev/null
done
cat "$build/ca.crt" "$build/other.key" "$build/other.crt" > "$build/bundle.pem"
sed 's/$/\r/' "$build/ca.crt" > "$build/crlf.pem"

"$build/test_telemetry" "$build/ca.crt" "$build/bundle.pem" "$build/crlf.pem"
