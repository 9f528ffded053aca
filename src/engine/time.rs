//! Simulated time: integer nanoseconds, never floats.
//!
//! `SimTime` is an instant since the start of the run, `SimDuration` a span. Both are `u64`
//! nanoseconds, enough for 584 years of simulated time. Floats appear only when a time is
//! reported (seconds or milliseconds in outputs).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one microsecond, millisecond, second, minute, hour and day.
pub const NS_PER_US: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NS_PER_S: u64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const NS_PER_MIN: u64 = 60 * NS_PER_S;
/// Nanoseconds in one hour.
pub const NS_PER_H: u64 = 60 * NS_PER_MIN;
/// Nanoseconds in one day.
pub const NS_PER_DAY: u64 = 24 * NS_PER_H;

/// An instant of simulated time [ns since the start of the run].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time [ns].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any reachable instant.
    pub const NEVER: SimTime = SimTime(u64::MAX);

    /// This instant in seconds, for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NS_PER_S)
    }
    /// A span of whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NS_PER_MS)
    }
    /// A span of seconds given as a float, rounded to the nearest nanosecond (negative → 0).
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_finite() && s > 0.0 {
            SimDuration((s * NS_PER_S as f64).round().min(u64::MAX as f64) as u64)
        } else {
            SimDuration(0)
        }
    }
    /// This span in seconds, for reports and distributions.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    /// This span in milliseconds, for reports.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact spelling in the scenario format's units ("1h30m" is written "90m").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let units = [
            (NS_PER_DAY, "d"),
            (NS_PER_H, "h"),
            (NS_PER_MIN, "m"),
            (NS_PER_S, "s"),
            (NS_PER_MS, "ms"),
            (NS_PER_US, "us"),
        ];
        if ns == 0 {
            return write!(f, "0s");
        }
        for (size, unit) in units {
            if ns.is_multiple_of(size) {
                return write!(f, "{}{unit}", ns / size);
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_picks_the_largest_exact_unit() {
        assert_eq!(SimDuration::from_secs(90).to_string(), "90s");
        assert_eq!(SimDuration::from_secs(120).to_string(), "2m");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration(NS_PER_DAY * 7).to_string(), "7d");
        assert_eq!(SimDuration(1).to_string(), "1ns");
    }

    #[test]
    fn float_seconds_round_and_clamp() {
        assert_eq!(SimDuration::from_secs_f64(1.5).0, 1_500_000_000);
        assert_eq!(SimDuration::from_secs_f64(-3.0).0, 0);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN).0, 0);
    }
}
