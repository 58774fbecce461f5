//! Go's `time.ParseDuration` (`1m30s`, `1.5h`, `300ms`), what
//! HEALTHCHECK's duration flags are written in. The parser checks them so
//! a bad value fails with its line; the executor converts them with
//! `parse_duration`.

use std::time::Duration;

/// A Go duration string as a `Duration`; `None` if malformed or negative.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * nanos_per;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total.round() as u64))
}

/// docker's rule for HEALTHCHECK durations: valid, and 0 (the default)
/// or at least 1ms.
pub(crate) fn check(flag: &str, value: &str) -> Result<(), String> {
    match parse_duration(value) {
        None => Err(format!("time: invalid duration \"{value}\" (--{flag})")),
        Some(d) if !d.is_zero() && d < Duration::from_millis(1) => {
            Err(format!("Interval \"{flag}\" cannot be less than 1ms"))
        }
        Some(_) => Ok(()),
    }
}
