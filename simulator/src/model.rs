//! The physics of the simulated sensors: deterministic pseudo-random numbers (a hash of seed,
//! device and time, no state) and the daily curves of temperature, humidity and gas.
//!
//! Every value is a pure function of the seed, the device, the datacenter and the timestamp,
//! so any reading can be recomputed exactly, in any order.

use std::f64::consts::PI;

const DAY: i64 = 86_400;

/// Hour of the day (local) at which temperature peaks and humidity bottoms out.
pub const PEAK_HOUR: f64 = 15.0;
/// Mean temperature of a datacenter's room air, °C.
pub const TEMPERATURE_MEAN: f64 = 22.0;
/// Half the daily temperature swing, °C.
pub const TEMPERATURE_SWING: f64 = 3.0;
/// Mean relative humidity, %.
pub const HUMIDITY_MEAN: f64 = 45.0;
/// Half the daily humidity swing, %.
pub const HUMIDITY_SWING: f64 = 8.0;
/// Length of the windows in which a gas spike may start, seconds.
const SPIKE_WINDOW: i64 = 600;
/// Chance that a spike starts in a given window (about 4 spikes a day per device).
const SPIKE_CHANCE: f64 = 0.03;
/// Time constant of a spike's decay, seconds.
const SPIKE_DECAY: f64 = 300.0;
/// Windows looked back for spikes still decaying (40 minutes: past that a spike is < 0.1%).
const SPIKE_LOOKBACK: i64 = 4;

/// Independent streams of randomness.
#[derive(Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stream {
    ChipId = 1,
    TemperatureOffset,
    HumidityOffset,
    GasBaseline,
    DatacenterOffset,
    DailyDrift,
    TemperatureNoise,
    HumidityNoise,
    GasNoise,
    Spike,
}

/// SplitMix64's output function: a good 64-bit mixer.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of the stream and its keys.
pub(crate) fn hash(stream: Stream, keys: &[u64]) -> u64 {
    keys.iter().fold(mix(stream as u64), |h, k| mix(h ^ k))
}

/// A number in [0, 1) from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A number in [-1, 1) from a hash.
fn symmetric(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}

/// A standard normal number from a hash (Box–Muller).
fn gaussian(h: u64) -> f64 {
    let u1 = 1.0 - unit(h); // (0, 1]
    let u2 = unit(mix(h));
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

/// The fixed traits of one simulated device.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Traits {
    pub temperature_offset: f64,
    pub humidity_offset: f64,
    pub gas_baseline: f64,
}

impl Traits {
    pub fn new(seed: u64, datacenter_id: u32, index: u64) -> Self {
        let key = [seed, datacenter_id as u64, index];
        Traits {
            temperature_offset: 1.5 * symmetric(hash(Stream::TemperatureOffset, &key)),
            humidity_offset: 3.0 * symmetric(hash(Stream::HumidityOffset, &key)),
            gas_baseline: 4.0 + 6.0 * unit(hash(Stream::GasBaseline, &key)),
        }
    }
}

/// One device's raw (unrounded) values at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Values {
    pub temperature: f64,
    pub humidity: f64,
    pub gas_perc: f64,
}

/// The values of device `index` of `datacenter_id` at `ts`, with the site's clock `utc_offset`
/// seconds ahead of UTC.
pub(crate) fn values(seed: u64, datacenter_id: u32, index: u64, traits: &Traits, ts: i64, utc_offset: i64) -> Values {
    let local = ts + utc_offset;
    let dc = datacenter_id as u64;
    let hour = local.rem_euclid(DAY) as f64 / 3600.0;
    // +1 at PEAK_HOUR, -1 twelve hours later.
    let diurnal = (2.0 * PI * (hour - PEAK_HOUR) / 24.0).cos();
    let drift = daily_drift(seed, dc, local);
    let room = 1.0 * symmetric(hash(Stream::DatacenterOffset, &[seed, dc]));
    let noise_key = [seed, dc, index, ts as u64];

    let temperature = TEMPERATURE_MEAN
        + room
        + traits.temperature_offset
        + TEMPERATURE_SWING * diurnal
        + drift
        + 0.3 * gaussian(hash(Stream::TemperatureNoise, &noise_key));
    let humidity = (HUMIDITY_MEAN + traits.humidity_offset - HUMIDITY_SWING * diurnal - 1.5 * drift
        + 1.0 * gaussian(hash(Stream::HumidityNoise, &noise_key)))
    .clamp(5.0, 95.0);
    let gas_perc =
        (traits.gas_baseline + 0.8 * gaussian(hash(Stream::GasNoise, &noise_key)) + spikes(seed, dc, index, ts))
            .clamp(0.0, 100.0);
    Values { temperature, humidity, gas_perc }
}

/// A datacenter's weather of the day: a value in [-1, 1) per local day, blended smoothly from
/// one day's noon to the next so there is no jump at midnight.
fn daily_drift(seed: u64, dc: u64, local: i64) -> f64 {
    let days = (local - DAY / 2) as f64 / DAY as f64;
    let day0 = days.floor();
    let frac = days - day0;
    let weight = (1.0 - (PI * frac).cos()) / 2.0;
    let at = |day: f64| symmetric(hash(Stream::DailyDrift, &[seed, dc, day as i64 as u64]));
    at(day0) * (1.0 - weight) + at(day0 + 1.0) * weight
}

/// Gas released by occasional events: a spike starts at a random moment of a window with
/// probability [`SPIKE_CHANCE`], jumps to 25..80 and decays exponentially.
fn spikes(seed: u64, dc: u64, index: u64, ts: i64) -> f64 {
    let window = ts.div_euclid(SPIKE_WINDOW);
    (window - SPIKE_LOOKBACK..=window)
        .map(|w| {
            let h = hash(Stream::Spike, &[seed, dc, index, w as u64]);
            if unit(h) >= SPIKE_CHANCE {
                return 0.0;
            }
            let start = w * SPIKE_WINDOW + (unit(mix(h)) * SPIKE_WINDOW as f64) as i64;
            if ts < start {
                return 0.0;
            }
            let peak = 25.0 + 55.0 * unit(mix(mix(h)));
            peak * (-((ts - start) as f64) / SPIKE_DECAY).exp()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_has_roughly_zero_mean_and_unit_spread() {
        let samples: Vec<f64> = (0..20_000u64).map(|i| gaussian(hash(Stream::GasNoise, &[i]))).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }

    #[test]
    fn drift_is_continuous_across_midnight() {
        let before = daily_drift(1, 1, 10 * DAY - 1);
        let after = daily_drift(1, 1, 10 * DAY);
        assert!((before - after).abs() < 1e-3, "{before} vs {after}");
    }
}
