//! Unit-carrying values: durations ("250ms", "1h30m", "7d") and memory sizes ("512mb", "1g").

use crate::engine::SimDuration;
use crate::engine::time::{NS_PER_DAY, NS_PER_H, NS_PER_MIN, NS_PER_MS, NS_PER_S, NS_PER_US};

/// What a duration string must look like, for messages.
pub const DURATION_HELP: &str =
    "a duration with units such as \"250ms\", \"30s\", \"5m\", \"2h\", \"7d\" or \"1m30s\"";

/// Parses a duration: one or more `<number><unit>` pairs, units ns, us, ms, s, m, h, d.
/// Decimal numbers are allowed ("1.5s"). The result is rounded to whole nanoseconds.
pub fn parse_duration(text: &str) -> Option<SimDuration> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(SimDuration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1,
            "us" | "µs" => NS_PER_US,
            "ms" => NS_PER_MS,
            "s" => NS_PER_S,
            "m" | "min" => NS_PER_MIN,
            "h" => NS_PER_H,
            "d" => NS_PER_DAY,
            _ => return None,
        };
        total += scaled(number, scale)?;
    }
    u64::try_from(total).ok().map(SimDuration)
}

/// `number × scale` for a decimal string, exactly where the digits allow.
fn scaled(number: &str, scale: u64) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    let int_v: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_v: u128 = 0;
    let mut denom: u128 = 1;
    for c in frac.chars().take(18) {
        frac_v = frac_v * 10 + c.to_digit(10)? as u128;
        denom *= 10;
    }
    let whole = int_v.checked_mul(scale as u128)?;
    Some(whole + (frac_v * scale as u128 + denom / 2) / denom)
}

/// What a memory size must look like, for messages.
pub const MEMORY_HELP: &str =
    "a memory size such as \"256mb\", \"1gb\", \"512m\", \"2g\" or a number of megabytes";

/// A size in MB from a number and a case-insensitive unit (mb/m/mib, gb/g/gib, tb/t/tib);
/// `bare_unit_mb` is what a number without a unit means.
fn size_in_mb(text: &str, bare_unit_mb: f64) -> Option<f64> {
    let s = text.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" => bare_unit_mb,
        "mb" | "m" | "mib" => 1.0,
        "gb" | "g" | "gib" => 1024.0,
        "tb" | "t" | "tib" => 1024.0 * 1024.0,
        _ => return None,
    };
    let mb = value * factor;
    (mb.is_finite() && mb >= 0.0).then_some(mb)
}

/// Parses a memory size into MB (1 GB = 1024 MB, as Fly counts); a bare number is megabytes.
pub fn parse_memory_mb(text: &str) -> Option<u64> {
    let mb = size_in_mb(text, 1.0)?;
    (mb.fract() == 0.0 && mb < 1e12).then_some(mb as u64)
}

/// Parses a disk size in GB ("1GB", "20gb", "500mb"); a bare number is gigabytes.
pub fn parse_disk_gb(text: &str) -> Option<f64> {
    size_in_mb(text, 1024.0).map(|mb| mb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(SimDuration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(SimDuration::from_millis(1500)));
        assert_eq!(parse_duration("1m0s"), Some(SimDuration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Some(SimDuration::from_secs(5400)));
        assert_eq!(
            parse_duration("7d"),
            Some(SimDuration::from_secs(7 * 86400))
        );
        assert_eq!(parse_duration("8.5s"), Some(SimDuration::from_millis(8500)));
        assert_eq!(parse_duration("0"), Some(SimDuration::ZERO));
        assert_eq!(parse_duration("0.1ms"), Some(SimDuration(100_000)));
        for bad in ["", "5", "s", "5 parsecs", "1..5s", "-3s", "1e3s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn memory_spellings_seen_in_real_files() {
        assert_eq!(parse_memory_mb("1gb"), Some(1024));
        assert_eq!(parse_memory_mb("1GB"), Some(1024));
        assert_eq!(parse_memory_mb("512mb"), Some(512));
        assert_eq!(parse_memory_mb("512m"), Some(512));
        assert_eq!(parse_memory_mb("1g"), Some(1024));
        assert_eq!(parse_memory_mb("2048"), Some(2048));
        assert_eq!(parse_memory_mb("416gb"), Some(416 * 1024));
        assert_eq!(parse_memory_mb("lots"), None);
        assert_eq!(parse_disk_gb("20gb"), Some(20.0));
        assert_eq!(parse_disk_gb("1"), Some(1.0));
    }
}
