//! The simulated readings: determinism, realistic ranges, daily curves, gas spikes, unique
//! fingerprints and messages that carry exactly the values they claim.

use std::collections::HashSet;

use fogwhisk_simulator::message::{fingerprint_from_chip_id, valid_fingerprint};
use fogwhisk_simulator::{format_message, Fleet, Reading};

/// 2024-11-23 00:00:00 UTC.
const MIDNIGHT: i64 = 1_732_320_000;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

#[test]
fn same_seed_same_devices_and_readings_in_any_order() {
    let a = Fleet::new(7, &[1, 2], 4);
    let b = Fleet::new(7, &[1, 2], 4);
    assert_eq!(a.devices(), b.devices());
    let forward: Vec<_> = (0..50).map(|i| a.readings_at(MIDNIGHT + i * 900)).collect();
    let backward: Vec<_> = (0..50).rev().map(|i| b.readings_at(MIDNIGHT + i * 900)).collect();
    assert_eq!(forward, backward.into_iter().rev().collect::<Vec<_>>());
}

#[test]
fn another_seed_gives_other_devices_and_values() {
    let a = Fleet::new(1, &[1], 3);
    let b = Fleet::new(2, &[1], 3);
    let fa: HashSet<_> = a.devices().iter().map(|d| d.fingerprint.clone()).collect();
    let fb: HashSet<_> = b.devices().iter().map(|d| d.fingerprint.clone()).collect();
    assert!(fa.is_disjoint(&fb), "{fa:?} {fb:?}");
    assert_ne!(a.readings_at(MIDNIGHT)[0].temperature, b.readings_at(MIDNIGHT)[0].temperature);
}

#[test]
fn devices_per_datacenter_with_unique_valid_fingerprints() {
    let fleet = Fleet::new(42, &[1, 2, 3, 2], 50);
    assert_eq!(fleet.devices().len(), 150, "a repeated datacenter counts once");
    let mut seen = HashSet::new();
    for device in fleet.devices() {
        assert!(valid_fingerprint(&device.fingerprint), "{}", device.fingerprint);
        assert_eq!(device.fingerprint, fingerprint_from_chip_id(device.chip_id));
        assert!(seen.insert(device.fingerprint.clone()), "duplicate {}", device.fingerprint);
    }
    for dc in [1, 2, 3] {
        let indexes: Vec<_> = fleet.devices().iter().filter(|d| d.datacenter_id == dc).map(|d| d.index).collect();
        assert_eq!(indexes, (0..50).collect::<Vec<_>>());
    }
}

#[test]
fn every_message_is_the_firmware_format_of_its_own_values() {
    let fleet = Fleet::new(3, &[7, 12], 3);
    for ts in (0..2 * DAY).step_by(600).map(|o| MIDNIGHT + o) {
        for m in fleet.readings_at(ts) {
            assert_eq!(m.topic, format!("telemetry/{}/{}", m.datacenter_id, m.device));
            let expected = format_message(&Reading {
                device_fingerprint: &m.device,
                datacenter_id: m.datacenter_id,
                temperature: Some(m.temperature),
                humidity: Some(m.humidity),
                gas_perc: Some(m.gas_perc),
                ts: Some(ts),
            })
            .unwrap();
            assert_eq!(m.payload, expected);
            assert!(m.payload.starts_with(&format!(
                r#"{{"device_fingerprint":"{}","datacenter_id":{},"temperature":"#,
                m.device, m.datacenter_id
            )));
            assert!(m.payload.ends_with(&format!(r#","ts":{ts}}}"#)));
            // Values carry one decimal, exactly what the payload shows.
            for v in [m.temperature, m.humidity, m.gas_perc] {
                assert!(((v * 10.0).round() - v * 10.0).abs() < 1e-6, "{v}");
            }
        }
    }
}

/// Readings of every device every 10 minutes over two weeks.
fn two_weeks(fleet: &Fleet) -> Vec<fogwhisk_simulator::SensorMessage> {
    (0..14 * DAY).step_by(600).flat_map(|o| fleet.readings_at(MIDNIGHT + o)).collect()
}

#[test]
fn values_stay_in_realistic_ranges() {
    let fleet = Fleet::new(42, &[1, 2], 3);
    let all = two_weeks(&fleet);
    let range = |f: fn(&fogwhisk_simulator::SensorMessage) -> f64| {
        all.iter().map(f).fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let (t_lo, t_hi) = range(|m| m.temperature);
    let (h_lo, h_hi) = range(|m| m.humidity);
    let (g_lo, g_hi) = range(|m| m.gas_perc);
    assert!(t_lo > 14.0 && t_hi < 30.0, "temperature {t_lo}..{t_hi}");
    assert!(t_hi - t_lo > 5.0, "temperature should swing daily: {t_lo}..{t_hi}");
    assert!(h_lo >= 5.0 && h_hi <= 95.0 && h_lo < 40.0 && h_hi > 50.0, "humidity {h_lo}..{h_hi}");
    assert!((0.0..=100.0).contains(&g_lo) && (0.0..=100.0).contains(&g_hi), "gas {g_lo}..{g_hi}");
    let mean_t = all.iter().map(|m| m.temperature).sum::<f64>() / all.len() as f64;
    let mean_h = all.iter().map(|m| m.humidity).sum::<f64>() / all.len() as f64;
    assert!((mean_t - 22.0).abs() < 1.5, "mean temperature {mean_t}");
    assert!((mean_h - 45.0).abs() < 3.0, "mean humidity {mean_h}");
}

#[test]
fn temperature_peaks_mid_afternoon_and_humidity_is_inverse() {
    let fleet = Fleet::new(42, &[1], 3);
    let at_hour = |hour: i64| {
        let readings: Vec<_> = (0..14).flat_map(|d| fleet.readings_at(MIDNIGHT + d * DAY + hour * HOUR)).collect();
        let n = readings.len() as f64;
        (readings.iter().map(|m| m.temperature).sum::<f64>() / n, readings.iter().map(|m| m.humidity).sum::<f64>() / n)
    };
    let (t15, h15) = at_hour(15);
    let (t3, h3) = at_hour(3);
    let (t9, _) = at_hour(9);
    assert!(t15 - t3 > 4.0, "afternoon {t15} vs night {t3}");
    assert!(t15 > t9 && t9 > t3, "{t3} < {t9} < {t15}");
    assert!(h3 - h15 > 10.0, "humidity night {h3} vs afternoon {h15}");
}

#[test]
fn utc_offset_moves_the_peak_to_site_time() {
    // A site 3 hours ahead of UTC peaks at 12:00 UTC.
    let utc = Fleet::new(5, &[1], 2);
    let ahead = Fleet::new(5, &[1], 2).with_utc_offset(3 * 3600);
    let mean_t = |fleet: &Fleet, hour: i64| {
        (0..14).flat_map(|d| fleet.readings_at(MIDNIGHT + d * DAY + hour * HOUR)).map(|m| m.temperature).sum::<f64>()
    };
    assert!(mean_t(&ahead, 12) > mean_t(&utc, 12) + 10.0);
    assert!(mean_t(&ahead, 12) > mean_t(&ahead, 15));
}

#[test]
fn gas_has_a_low_baseline_and_occasional_spikes() {
    let fleet = Fleet::new(42, &[1, 2], 3);
    for device in fleet.devices() {
        let mut gas: Vec<f64> =
            (0..14 * DAY).step_by(60).map(|o| fleet.reading(device, MIDNIGHT + o).gas_perc).collect();
        let spikes = gas.windows(2).filter(|w| w[0] < 20.0 && w[1] >= 20.0).count();
        gas.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = gas[gas.len() / 2];
        assert!((2.0..=12.0).contains(&median), "{}: median gas {median}", device.fingerprint);
        assert!(gas[gas.len() - 1] > 25.0, "{}: no spike in two weeks", device.fingerprint);
        // About four a day: between one and ten a day over two weeks.
        assert!((14..=140).contains(&spikes), "{}: {spikes} spikes in two weeks", device.fingerprint);
    }
}

#[test]
fn readings_change_smoothly_within_noise() {
    let fleet = Fleet::new(9, &[1], 1);
    let device = &fleet.devices()[0];
    for o in (0..3 * DAY).step_by(300) {
        let a = fleet.reading(device, MIDNIGHT + o);
        let b = fleet.reading(device, MIDNIGHT + o + 300);
        assert!((a.temperature - b.temperature).abs() < 2.5, "jump at {o}: {} -> {}", a.temperature, b.temperature);
        assert!((a.humidity - b.humidity).abs() < 7.0, "jump at {o}: {} -> {}", a.humidity, b.humidity);
    }
}
