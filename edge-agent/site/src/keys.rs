//! Byte layouts of the table keys. Keys compare as bytes, so the layout decides what is contiguous.
//!
//! - series prefix: `len(ns) u16 | ns | datacenter u32 | len(metric) u16 | metric`
//! - reading: `series prefix | ts i64 (sign flipped, big endian) | device` → one day of one series
//!   is one contiguous key range, in time order.
//! - activity bucket: `len(ns) u16 | ns | bucket start ts (flipped)` → readings per 15 minutes.
//! - reported day: `len(ns) u16 | ns | YYYY-MM-DD`.

/// Width of the activity buckets. Every zone offset in use today is a multiple of 15 minutes,
/// so a bucket never straddles a local midnight.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// Longest namespace, device or metric name in bytes (OpenWhisk entity names are at most 256).
pub const MAX_NAME: usize = 256;

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Order-preserving encoding of a signed timestamp.
pub fn enc_ts(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`enc_ts`]; `b` must hold at least 8 bytes.
pub fn dec_ts(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

/// `len(ns) | ns`: the prefix of every key of one namespace.
pub fn ns_prefix(ns: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + ns.len());
    push_str(&mut v, ns);
    v
}

/// The prefix shared by all readings of one (namespace, datacenter, metric).
pub fn series_prefix(ns: &str, dc: u32, metric: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + ns.len() + metric.len() + 24);
    push_str(&mut v, ns);
    v.extend_from_slice(&dc.to_be_bytes());
    push_str(&mut v, metric);
    v
}

/// Splits a series key (without its namespace prefix) into datacenter and metric.
pub fn parse_series_tail(tail: &[u8]) -> Option<(u32, String)> {
    if tail.len() < 6 {
        return None;
    }
    let dc = u32::from_be_bytes(tail[..4].try_into().ok()?);
    let len = u16::from_be_bytes(tail[4..6].try_into().ok()?) as usize;
    let metric = std::str::from_utf8(tail.get(6..6 + len)?).ok()?;
    Some((dc, metric.to_string()))
}

/// The key of one reading.
pub fn reading_key(series: &[u8], ts: i64, device: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(series.len() + 8 + device.len());
    v.extend_from_slice(series);
    v.extend_from_slice(&enc_ts(ts));
    v.extend_from_slice(device.as_bytes());
    v
}

/// The key of the first possible reading of a series at `ts` (a range bound).
pub fn ts_bound(series: &[u8], ts: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(series.len() + 8);
    v.extend_from_slice(series);
    v.extend_from_slice(&enc_ts(ts));
    v
}

/// Start of the activity bucket holding `ts`.
pub fn bucket_of(ts: i64) -> i64 {
    ts.div_euclid(BUCKET_MS) * BUCKET_MS
}

/// The key of an activity bucket.
pub fn bucket_key(ns: &str, bucket: i64) -> Vec<u8> {
    let mut v = ns_prefix(ns);
    v.extend_from_slice(&enc_ts(bucket));
    v
}

/// The key of a reported-day mark.
pub fn day_key(ns: &str, day: chrono::NaiveDate) -> Vec<u8> {
    let mut v = ns_prefix(ns);
    v.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
    v
}

/// The smallest key greater than every key starting with `prefix` (`None` if there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_bytes() {
        let ts = [i64::MIN, -5, -1, 0, 1, 1_732_350_000_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(enc_ts(w[0]) < enc_ts(w[1]));
        }
        for t in ts {
            assert_eq!(dec_ts(&enc_ts(t)), t);
        }
    }

    #[test]
    fn series_tail_round_trips_and_prefix_end_bounds() {
        let s = series_prefix("guest", 7, "temperature");
        let ns = ns_prefix("guest");
        assert_eq!(parse_series_tail(&s[ns.len()..]), Some((7, "temperature".into())));
        let end = prefix_end(&ns).unwrap();
        assert!(s.as_slice() < end.as_slice() && s.as_slice() > ns.as_slice());
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(bucket_of(-1), -BUCKET_MS);
    }
}
