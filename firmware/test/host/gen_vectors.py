"""Turns firmware/test/vectors.json into a C++ header for the host tests.

Usage: python3 gen_vectors.py VECTORS_JSON OUTPUT_HEADER
A missing reading (JSON null) becomes has_x = false; every string is emitted as a
C string literal (the vectors are ASCII only, checked here).
"""

import json
import sys


def c_str(text: str) -> str:
    if not text.isascii():
        raise SystemExit(f"vectors must be ASCII: {text!r}")
    return json.dumps(text)  # JSON escapes (\" \\ \n \r \t) are valid C escapes


def c_double(value) -> str:
    if value is None:
        return "0.0"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SystemExit(f"not a number: {value!r}")
    return repr(float(value))  # shortest repr: parses back to the same double


def opt(value, render) -> str:
    return f"{'true' if value is not None else 'false'}, {render(value)}"


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        v = json.load(f)
    if v.get("schema") != 1:
        raise SystemExit(f"{src}: unsupported schema {v.get('schema')!r}")
    out = ["// Generated from vectors.json by gen_vectors.py: do not edit.", "#pragma once", ""]

    out.append("static const MessageVector kMessages[] = {")
    for m in v["messages"]:
        i = m["input"]
        ts = i.get("ts")
        out.append(
            "    {"
            + ", ".join(
                [
                    c_str(m["name"]),
                    c_str(i["device_fingerprint"]),
                    str(int(i["datacenter_id"])) + "u",
                    opt(i.get("temperature"), c_double),
                    opt(i.get("humidity"), c_double),
                    opt(i.get("gas_perc"), c_double),
                    opt(ts, lambda t: "0LL" if t is None else f"{int(t)}LL"),
                    c_str(m["topic"]),
                    c_str(m["status_topic"]),
                    c_str(m["message"]),
                ]
            )
            + "},"
        )
    out.append("};")

    out.append("static const FingerprintVector kFingerprints[] = {")
    for f_ in v["fingerprints"]:
        out.append(f"    {{{int(f_['chip_id'])}u, {c_str(f_['fingerprint'])}}},")
    out.append("};")

    out.append("static const GasVector kGas[] = {")
    for g in v["gas"]:
        out.append(f"    {{{int(g['adc'])}, {c_str(g['gas_perc'])}}},")
    out.append("};")

    out.append("static const EepromVector kEeprom[] = {")
    for e in v["eeprom"]:
        out.append(f"    {{{int(e['datacenter_id'])}u, {c_str(e['bytes'])}}},")
    out.append("};")

    out.append("static const EepromInvalidVector kEepromInvalid[] = {")
    for e in v["eeprom_invalid"]:
        out.append(f"    {{{c_str(e['bytes'])}, {c_str(e['status'])}}},")
    out.append("};")

    out.append("static const ParseVector kParse[] = {")
    for p in v["parse_datacenter_id"]:
        dc = p["datacenter_id"]
        out.append(f"    {{{c_str(p['text'])}, {opt(dc, lambda x: '0u' if x is None else f'{int(x)}u')}}},")
    out.append("};")

    out.append("static const BackoffVector kBackoff[] = {")
    for b in v["backoff"]:
        out.append(f"    {{{int(b['attempt'])}u, {int(b['base_ms'])}u, {int(b['max_ms'])}u, {int(b['delay_ms'])}u}},")
    out.append("};")

    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
