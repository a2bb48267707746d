//! A fleet of simulated ESP8266 sensors, several per datacenter, and the messages they publish.

use std::collections::HashSet;

use crate::message::{self, Reading};
use crate::model::{self, Stream, Traits};

/// One simulated sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// 6 uppercase hex digits: the low 24 bits of [`Device::chip_id`].
    pub fingerprint: String,
    /// The simulated `ESP.getChipId()`.
    pub chip_id: u32,
    pub datacenter_id: u32,
    /// Position of the device within its datacenter (0-based).
    pub index: usize,
    traits: Traits,
}

/// One published reading: its topic, its exact payload and the values in it (rounded to one
/// decimal, as in the payload).
#[derive(Debug, Clone, PartialEq)]
pub struct SensorMessage {
    /// `telemetry/<datacenter_id>/<device_fingerprint>`.
    pub topic: String,
    /// The firmware's JSON message.
    pub payload: String,
    /// The device fingerprint.
    pub device: String,
    pub datacenter_id: u32,
    pub temperature: f64,
    pub humidity: f64,
    pub gas_perc: f64,
    /// Epoch seconds.
    pub ts: i64,
}

/// Simulated sensors, deterministic for a seed: the same seed gives the same devices, and the
/// same device and timestamp give the same reading.
#[derive(Debug, Clone)]
pub struct Fleet {
    seed: u64,
    utc_offset: i64,
    devices: Vec<Device>,
}

impl Fleet {
    /// `devices_per_dc` devices in each of `datacenters` (a repeated id counts once), with daily
    /// curves in UTC (see [`Fleet::with_utc_offset`]).
    pub fn new(seed: u64, datacenters: &[u32], devices_per_dc: usize) -> Self {
        let mut seen_dc = HashSet::new();
        let mut seen_fp = HashSet::new();
        let mut devices = Vec::new();
        for &dc in datacenters.iter().filter(|dc| seen_dc.insert(**dc)) {
            for index in 0..devices_per_dc {
                // Fingerprints are unique within a fleet: on a (rare) clash, draw again.
                let chip_id = (0u64..)
                    .map(|attempt| model::hash(Stream::ChipId, &[seed, dc as u64, index as u64, attempt]) as u32)
                    .find(|id| seen_fp.insert(message::fingerprint_from_chip_id(*id)))
                    .unwrap_or_default();
                devices.push(Device {
                    fingerprint: message::fingerprint_from_chip_id(chip_id),
                    chip_id,
                    datacenter_id: dc,
                    index,
                    traits: Traits::new(seed, dc, index as u64),
                });
            }
        }
        Fleet { seed, utc_offset: 0, devices }
    }

    /// Places the daily curves in a site clock `seconds` ahead of UTC (temperature peaks at
    /// 15:00 site time).
    pub fn with_utc_offset(mut self, seconds: i32) -> Self {
        self.utc_offset = seconds as i64;
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// One reading of every device at `ts` (epoch seconds), in device order.
    pub fn readings_at(&self, ts: i64) -> Vec<SensorMessage> {
        self.devices.iter().map(|device| self.reading(device, ts)).collect()
    }

    /// The reading of `device` at `ts`.
    pub fn reading(&self, device: &Device, ts: i64) -> SensorMessage {
        let v =
            model::values(self.seed, device.datacenter_id, device.index as u64, &device.traits, ts, self.utc_offset);
        let (temperature, humidity, gas_perc) = (tenths(v.temperature), tenths(v.humidity), tenths(v.gas_perc));
        let reading = Reading {
            device_fingerprint: &device.fingerprint,
            datacenter_id: device.datacenter_id,
            temperature: Some(temperature),
            humidity: Some(humidity),
            gas_perc: Some(gas_perc),
            ts: Some(ts),
        };
        // The fingerprint is built from a chip id, so it is always valid.
        let payload = message::format_message(&reading).unwrap_or_default();
        let topic =
            message::topic(message::TELEMETRY_PREFIX, device.datacenter_id, &device.fingerprint).unwrap_or_default();
        SensorMessage {
            topic,
            payload,
            device: device.fingerprint.clone(),
            datacenter_id: device.datacenter_id,
            temperature,
            humidity,
            gas_perc,
            ts,
        }
    }
}

/// `value` rounded to one decimal as the message shows it, without a negative zero.
fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0 + 0.0
}
