//! The sensor's wire format, byte for byte as the ESP8266 firmware writes it
//! (`firmware/lib/telemetry`): the JSON message, its topics and the device fingerprint.

use std::fmt::Write as _;

/// Epoch seconds before which a sensor's clock counts as "not set yet" (2020-09-13); such a
/// `ts` is left out of the message, so the agent uses its receive time (as the firmware does).
pub const MIN_VALID_TS: i64 = 1_600_000_000;

/// Topic prefix of readings: `telemetry/<datacenter_id>/<device_fingerprint>`.
pub const TELEMETRY_PREFIX: &str = "telemetry";

/// Topic prefix of a device's retained online/offline status (the firmware's last will).
pub const STATUS_PREFIX: &str = "status";

/// Largest magnitude a reading may have (the firmware's limit, so value x 10 fits an integer).
const MAX_MAGNITUDE: f64 = 1e15;

/// One reading cycle of a sensor. A `None` (or non-finite) reading is left out of the message,
/// as the firmware leaves out a failed DHT11 or MQ read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading<'a> {
    /// 6 uppercase hex digits.
    pub device_fingerprint: &'a str,
    pub datacenter_id: u32,
    /// Degrees Celsius.
    pub temperature: Option<f64>,
    /// Percent relative humidity.
    pub humidity: Option<f64>,
    /// 0..100.
    pub gas_perc: Option<f64>,
    /// Epoch seconds; left out when `None` or before [`MIN_VALID_TS`].
    pub ts: Option<i64>,
}

/// Why a message or topic cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("device fingerprint {0:?} is not 6 uppercase hex digits")]
    BadFingerprint(String),
    #[error("topic prefix {0:?} is empty or holds an MQTT wildcard")]
    BadPrefix(String),
}

/// True when `text` is exactly 6 uppercase hex digits.
pub fn valid_fingerprint(text: &str) -> bool {
    text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// The fingerprint of a chip: the low 24 bits of its id as 6 uppercase hex digits
/// (`ESP.getChipId()` 0x009A3F21 gives "9A3F21").
pub fn fingerprint_from_chip_id(chip_id: u32) -> String {
    format!("{:06X}", chip_id & 0x00FF_FFFF)
}

/// The MQ sensor's 10-bit ADC reading (clamped to 0..1023) as a percentage, raw x 100 / 1023,
/// as the firmware computes `gas_perc`.
pub fn gas_percent_from_adc(raw: i32) -> f64 {
    raw.clamp(0, 1023) as f64 * 100.0 / 1023.0
}

/// `value` with exactly one decimal, rounding half away from zero in IEEE double
/// (48 gives "48.0", -0.04 gives "0.0", -5.25 gives "-5.3"); `None` when not finite or too large.
pub fn format_tenths(value: f64) -> Option<String> {
    if !value.is_finite() || value.abs() > MAX_MAGNITUDE {
        return None;
    }
    // f64::round rounds half away from zero, like the firmware's llround.
    let tenths = (value * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    let magnitude = tenths.unsigned_abs();
    Some(format!("{sign}{}.{}", magnitude / 10, magnitude % 10))
}

/// The JSON message in the firmware's fixed field order (device_fingerprint, datacenter_id,
/// temperature, humidity, gas_perc, ts), e.g.
/// `{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}`.
pub fn format_message(reading: &Reading<'_>) -> Result<String, FormatError> {
    if !valid_fingerprint(reading.device_fingerprint) {
        return Err(FormatError::BadFingerprint(reading.device_fingerprint.to_string()));
    }
    let mut out = String::with_capacity(128);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r#"{{"device_fingerprint":"{}","datacenter_id":{}"#,
        reading.device_fingerprint, reading.datacenter_id
    );
    let metrics =
        [("temperature", reading.temperature), ("humidity", reading.humidity), ("gas_perc", reading.gas_perc)];
    for (name, value) in metrics {
        if let Some(text) = value.and_then(format_tenths) {
            let _ = write!(out, r#","{name}":{text}"#);
        }
    }
    if let Some(ts) = reading.ts.filter(|ts| *ts >= MIN_VALID_TS) {
        let _ = write!(out, r#","ts":{ts}"#);
    }
    out.push('}');
    Ok(out)
}

/// `<prefix>/<datacenter_id>/<fingerprint>`, e.g. `telemetry/7/9A3F21` or `status/7/9A3F21`.
pub fn topic(prefix: &str, datacenter_id: u32, fingerprint: &str) -> Result<String, FormatError> {
    if prefix.is_empty() || prefix.contains(['+', '#']) {
        return Err(FormatError::BadPrefix(prefix.to_string()));
    }
    if !valid_fingerprint(fingerprint) {
        return Err(FormatError::BadFingerprint(fingerprint.to_string()));
    }
    Ok(format!("{prefix}/{datacenter_id}/{fingerprint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(fp: &str) -> Reading<'_> {
        Reading {
            device_fingerprint: fp,
            datacenter_id: 7,
            temperature: Some(21.4),
            humidity: Some(48.0),
            gas_perc: Some(12.5),
            ts: Some(1_732_350_000),
        }
    }

    #[test]
    fn architecture_example() {
        assert_eq!(
            format_message(&reading("9A3F21")).unwrap(),
            r#"{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":21.4,"humidity":48.0,"gas_perc":12.5,"ts":1732350000}"#
        );
    }

    #[test]
    fn tenths_round_half_away_from_zero_without_negative_zero() {
        assert_eq!(format_tenths(2.25).as_deref(), Some("2.3"));
        assert_eq!(format_tenths(-5.25).as_deref(), Some("-5.3"));
        assert_eq!(format_tenths(-0.04).as_deref(), Some("0.0"));
        assert_eq!(format_tenths(-0.05).as_deref(), Some("-0.1"));
        assert_eq!(format_tenths(99.95).as_deref(), Some("100.0"));
        assert_eq!(format_tenths(f64::NAN), None);
        assert_eq!(format_tenths(f64::INFINITY), None);
        assert_eq!(format_tenths(2e15), None);
    }

    #[test]
    fn bad_fingerprints_and_prefixes_are_rejected() {
        for fp in ["9a3f21", "9A3F2", "9A3F210", "9A3G21", ""] {
            assert_eq!(format_message(&reading(fp)), Err(FormatError::BadFingerprint(fp.to_string())));
            assert!(topic("telemetry", 1, fp).is_err());
        }
        for prefix in ["", "tele/+", "#"] {
            assert_eq!(topic(prefix, 1, "ABCDEF"), Err(FormatError::BadPrefix(prefix.to_string())));
        }
        assert_eq!(topic("telemetry", 7, "9A3F21").unwrap(), "telemetry/7/9A3F21");
    }

    #[test]
    fn early_or_missing_ts_and_missing_readings_are_left_out() {
        let mut r = reading("C0FFEE");
        r.ts = Some(MIN_VALID_TS - 1);
        r.humidity = None;
        r.temperature = Some(f64::NAN);
        assert_eq!(format_message(&r).unwrap(), r#"{"device_fingerprint":"C0FFEE","datacenter_id":7,"gas_perc":12.5}"#);
    }
}
