//! Times as the log and `skiff logs` write them: RFC3339 timestamps (parsed
//! and formatted here, with the calendar arithmetic, to avoid a date crate)
//! and docker's `--since`/`--until` values.

use std::time::SystemTime;

use super::LogError;
pub use crate::timestamp::format_rfc3339_nanos as format_timestamp;
use crate::timestamp::parse_go_duration_nanos as parse_duration;
pub(super) use crate::timestamp::{
    NANOS_PER_SEC, SECS_PER_DAY, days_from_civil, days_in_month, from_nanos, scale_fraction,
    to_nanos,
};

const BAD_FORMAT: &str = "expected an RFC3339 time, a date such as 2026-11-23, \
                          a Unix timestamp or a duration such as 10m";

/// Parses docker's `--since`/`--until` values: an RFC3339 time (minutes,
/// seconds and zone optional), a date, a Unix timestamp with optional
/// fraction, or a Go duration meaning `now` minus that. A time without a zone
/// is taken as UTC: skiff does not read the local time zone database.
pub fn parse_time_bound(text: &str, now: SystemTime) -> Result<SystemTime, LogError> {
    let invalid = |reason| LogError::InvalidTime {
        value: text.to_string(),
        reason,
    };
    let starts_with_year = text
        .get(..4)
        .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
        && text.as_bytes().get(4) == Some(&b'-');
    let nanos = if starts_with_year {
        parse_datetime(text).map_err(invalid)?
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        parse_unix(text).map_err(invalid)?
    } else {
        let ago = parse_duration(text).ok_or_else(|| invalid(BAD_FORMAT))?;
        to_nanos(now)
            .checked_sub(ago)
            .ok_or_else(|| invalid("time out of range"))?
    };
    from_nanos(nanos).ok_or_else(|| invalid("time out of range"))
}

/// `seconds[.fraction]` since the epoch, as nanoseconds.
fn parse_unix(text: &str) -> Result<i128, &'static str> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    if whole.is_empty() || fraction.is_empty() || fraction.contains('.') {
        return Err(BAD_FORMAT);
    }
    if fraction.len() > 9 {
        return Err("expected at most nine fractional digits");
    }
    let secs: i128 = whole.parse().map_err(|_| "time out of range")?;
    let nanos = secs.checked_mul(NANOS_PER_SEC).ok_or("time out of range")?;
    Ok(nanos + scale_fraction(fraction.as_bytes()))
}

/// `YYYY-MM-DD[Thh[:mm[:ss[.frac]]]][Z|±hh:mm]` as nanoseconds since the
/// epoch. Used both for log entries and for `--since` values.
pub(super) fn parse_datetime(text: &str) -> Result<i128, &'static str> {
    let s = &mut text.as_bytes();
    let year = number(s, 4).ok_or(BAD_FORMAT)?;
    let month = number_after(s, b'-').ok_or(BAD_FORMAT)?;
    let day = number_after(s, b'-').ok_or(BAD_FORMAT)?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    let (mut hour, mut minute, mut second, mut fraction) = (0, 0, 0, 0);
    if eat(s, b'T') || eat(s, b't') {
        hour = number(s, 2).ok_or(BAD_FORMAT)?;
        if let Some(m) = number_after(s, b':') {
            minute = m;
            if let Some(sec) = number_after(s, b':') {
                second = sec;
                if eat(s, b'.') {
                    let len = s.iter().take_while(|b| b.is_ascii_digit()).count();
                    if len == 0 {
                        return Err(BAD_FORMAT);
                    }
                    fraction = scale_fraction(&s[..len]);
                    *s = &s[len..];
                }
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let offset = match s.first().copied() {
        Some(b'Z' | b'z') => {
            *s = &s[1..];
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            *s = &s[1..];
            let hours = number(s, 2).ok_or(BAD_FORMAT)?;
            let minutes = number_after(s, b':').ok_or(BAD_FORMAT)?;
            if hours > 23 || minutes > 59 {
                return Err("zone offset out of range");
            }
            let offset = hours * 3600 + minutes * 60;
            if sign == b'-' { -offset } else { offset }
        }
        _ => 0,
    };
    if !s.is_empty() {
        return Err(BAD_FORMAT);
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
    Ok(secs * NANOS_PER_SEC + fraction)
}

/// Consumes `byte` if `s` starts with it.
fn eat(s: &mut &[u8], byte: u8) -> bool {
    let found = s.first() == Some(&byte);
    if found {
        *s = &s[1..];
    }
    found
}

/// Consumes exactly `width` decimal digits.
fn number(s: &mut &[u8], width: usize) -> Option<i128> {
    let digits = s
        .get(..width)
        .filter(|d| d.iter().all(u8::is_ascii_digit))?;
    *s = &s[width..];
    Some(digits.iter().fold(0, |n, d| n * 10 + i128::from(d - b'0')))
}

/// Consumes `sep` followed by two digits, or nothing if they are not there
/// (so that a dangling separator is left over and rejected).
fn number_after(s: &mut &[u8], sep: u8) -> Option<i128> {
    let mut rest = *s;
    if !eat(&mut rest, sep) {
        return None;
    }
    let n = number(&mut rest, 2)?;
    *s = rest;
    Some(n)
}

#[cfg(test)]
#[path = "timestamp_tests.rs"]
mod tests;
