//! The simulator's formatter against the firmware's shared test vectors
//! (`firmware/test/vectors.json`, schema in firmware/README.md): every message and topic byte
//! for byte, and every chip id's fingerprint.

use std::path::PathBuf;

use fogwhisk_simulator::message::{
    fingerprint_from_chip_id, format_tenths, gas_percent_from_adc, topic, STATUS_PREFIX, TELEMETRY_PREFIX,
};
use fogwhisk_simulator::{format_message, Reading};
use serde_json::Value;

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../firmware/test/vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let vectors: Value = serde_json::from_str(&text).expect("vectors.json is JSON");
    assert_eq!(vectors["schema"], 1, "a vectors schema this test knows");
    vectors
}

fn opt_f64(v: &Value) -> Option<f64> {
    if v.is_null() {
        None
    } else {
        Some(v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")))
    }
}

#[test]
fn every_message_vector_formats_byte_for_byte() {
    let vectors = vectors();
    let messages = vectors["messages"].as_array().expect("messages");
    assert!(messages.len() >= 5, "expected a real set of vectors");
    for m in messages {
        let name = m["name"].as_str().unwrap();
        let input = &m["input"];
        let fingerprint = input["device_fingerprint"].as_str().unwrap();
        let datacenter_id = input["datacenter_id"].as_u64().unwrap() as u32;
        let reading = Reading {
            device_fingerprint: fingerprint,
            datacenter_id,
            temperature: opt_f64(&input["temperature"]),
            humidity: opt_f64(&input["humidity"]),
            gas_perc: opt_f64(&input["gas_perc"]),
            ts: input["ts"].as_i64(),
        };
        let message = format_message(&reading).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(message, m["message"].as_str().unwrap(), "message of vector {name:?}");
        assert_eq!(
            topic(TELEMETRY_PREFIX, datacenter_id, fingerprint).unwrap(),
            m["topic"].as_str().unwrap(),
            "topic of vector {name:?}"
        );
        assert_eq!(
            topic(STATUS_PREFIX, datacenter_id, fingerprint).unwrap(),
            m["status_topic"].as_str().unwrap(),
            "status topic of vector {name:?}"
        );
    }
}

#[test]
fn every_fingerprint_vector_matches() {
    let vectors = vectors();
    let fingerprints = vectors["fingerprints"].as_array().expect("fingerprints");
    assert!(!fingerprints.is_empty());
    for f in fingerprints {
        let chip_id = f["chip_id"].as_u64().unwrap() as u32;
        assert_eq!(fingerprint_from_chip_id(chip_id), f["fingerprint"].as_str().unwrap(), "chip id {chip_id}");
    }
}

#[test]
fn every_gas_vector_scales_and_formats_like_the_firmware() {
    let vectors = vectors();
    let gas = vectors["gas"].as_array().expect("gas");
    assert!(!gas.is_empty());
    for g in gas {
        let adc = g["adc"].as_i64().unwrap() as i32;
        let shown = format_tenths(gas_percent_from_adc(adc)).unwrap();
        assert_eq!(shown, g["gas_perc"].as_str().unwrap(), "adc {adc}");
    }
}
