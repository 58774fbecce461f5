//! Times as the log and `skiff logs` write them: RFC3339 timestamps (parsed
//! and formatted here, with the calendar arithmetic, to avoid a date crate)
//! and docker's `--since`/`--until` values.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::LogError;

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: i128 = 86_400;
const BAD_FORMAT: &str = "expected an RFC3339 time, a date such as 2026-11-23, \
                          a Unix timestamp or a duration such as 10m";

/// Formats `t` as RFC3339 UTC with all nine fractional digits, so that
/// timestamps line up in `logs -t` output.
pub fn format_timestamp(t: SystemTime) -> String {
    let nanos = to_nanos(t);
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let in_day = secs.rem_euclid(SECS_PER_DAY);
    let (hour, minute, second) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
    let fraction = nanos.rem_euclid(NANOS_PER_SEC);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:09}Z")
}

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

/// Nanoseconds in the decimal fraction `digits` (ASCII digits; "5" is half a
/// second). Digits past nanoseconds are dropped, as Go does.
fn scale_fraction(digits: &[u8]) -> i128 {
    let padded = digits.iter().copied().chain(std::iter::repeat(b'0'));
    padded.take(9).fold(0, |n, d| n * 10 + i128::from(d - b'0'))
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

/// A Go duration (`90s`, `1h30m`, `1.5h`, `500ms`, `-10m`) in nanoseconds.
fn parse_duration(text: &str) -> Option<i128> {
    const UNITS: [(&str, i128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", NANOS_PER_SEC),
        ("m", 60 * NANOS_PER_SEC),
        ("h", 3600 * NANOS_PER_SEC),
    ];
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (whole, fraction) = rest[..len].split_once('.').unwrap_or((&rest[..len], ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let (unit, per_unit) = UNITS
            .iter()
            .find(|(unit, _)| rest[len..].starts_with(unit))?;
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let part = scale_fraction(fraction.as_bytes()) * per_unit / NANOS_PER_SEC;
        total = total.checked_add(whole.checked_mul(*per_unit)?.checked_add(part)?)?;
        rest = &rest[len + unit.len()..];
    }
    Some(sign * total)
}

pub(super) fn days_in_month(year: i128, month: i128) -> i128 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Years are counted
/// from March, so that the leap day falls at the end of a year, in 400-year
/// eras of exactly 146097 days.
pub(super) fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (year.div_euclid(400), year.rem_euclid(400));
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 0000-03-01, where era 0 starts, is 719468 days before the epoch.
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub(super) fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let days = days + 719_468;
    let (era, day_of_era) = (days.div_euclid(146_097), days.rem_euclid(146_097));
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = (march_month + 2) % 12 + 1;
    (era * 400 + year_of_era + i128::from(month <= 2), month, day)
}

/// Nanoseconds since the epoch, negative before it. A SystemTime spans at
/// most i64 seconds, far inside i128 nanoseconds, so the casts cannot wrap.
pub(super) fn to_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

pub(super) fn from_nanos(nanos: i128) -> Option<SystemTime> {
    let magnitude = nanos.unsigned_abs();
    let secs = u64::try_from(magnitude / NANOS_PER_SEC as u128).ok()?;
    let span = Duration::new(secs, (magnitude % NANOS_PER_SEC as u128) as u32);
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(span)
    } else {
        UNIX_EPOCH.checked_sub(span)
    }
}
