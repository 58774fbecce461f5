//! RFC 3339 timestamps without a date crate: image `created` fields, the
//! container records' start and finish times, log lines. A leaf module that
//! every layer below `cmd` may use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2024-05-01T12:34:56Z` (whole seconds, UTC).
pub fn format_rfc3339_utc(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days.into());
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats `t` as RFC3339 UTC with all nine fractional digits, so that
/// timestamps line up in `logs -t` output.
pub fn format_rfc3339_nanos(t: SystemTime) -> String {
    let nanos = to_nanos(t);
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let in_day = secs.rem_euclid(SECS_PER_DAY);
    let (hour, minute, second) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
    let fraction = nanos.rem_euclid(NANOS_PER_SEC);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:09}Z")
}

/// The `SystemTime` of an RFC 3339 timestamp; `None` when malformed.
pub fn parse_rfc3339_time(s: &str) -> Option<SystemTime> {
    let (secs, nanos) = parse_rfc3339(s)?;
    let since_epoch = std::time::Duration::new(secs.unsigned_abs(), nanos);
    if secs >= 0 {
        UNIX_EPOCH.checked_add(since_epoch)
    } else {
        UNIX_EPOCH.checked_sub(std::time::Duration::from_secs(secs.unsigned_abs()))
    }
}

/// Seconds and nanoseconds since the epoch of an RFC 3339 timestamp
/// (`2024-05-01T12:34:56.123456789+02:00`); `None` when malformed. The
/// result orders timestamps correctly across offsets and precisions.
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if part.bytes().all(|x| x.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let off = oh * 3600 + om * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year.into(), month.into(), day.into()) as i64;
    Some((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        nanos,
    ))
}

/// Nanoseconds in a second and seconds in a day, for the calendar maths.
pub const NANOS_PER_SEC: i128 = 1_000_000_000;
pub const SECS_PER_DAY: i128 = 86_400;

/// A Go duration (`300ms`, `1m30s`, `2h`, `1.5s`), as docker's duration
/// flags take it; a bare `0` is zero. `None` when malformed or negative.
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    if text == "0" {
        return Some(std::time::Duration::ZERO);
    }
    let nanos = parse_go_duration_nanos(text)?;
    u64::try_from(nanos)
        .ok()
        .map(std::time::Duration::from_nanos)
}

/// A Go duration (`90s`, `1h30m`, `1.5h`, `500ms`, `-10m`) in nanoseconds.
pub fn parse_go_duration_nanos(text: &str) -> Option<i128> {
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

/// Nanoseconds in the decimal fraction `digits` (ASCII digits; "5" is half a
/// second). Digits past nanoseconds are dropped, as Go does.
pub fn scale_fraction(digits: &[u8]) -> i128 {
    let padded = digits.iter().copied().chain(std::iter::repeat(b'0'));
    padded.take(9).fold(0, |n, d| n * 10 + i128::from(d - b'0'))
}

pub fn days_in_month(year: i128, month: i128) -> i128 {
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
pub fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (year.div_euclid(400), year.rem_euclid(400));
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 0000-03-01, where era 0 starts, is 719468 days before the epoch.
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(days: i128) -> (i128, i128, i128) {
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
pub fn to_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

pub fn from_nanos(nanos: i128) -> Option<SystemTime> {
    let magnitude = nanos.unsigned_abs();
    let secs = u64::try_from(magnitude / NANOS_PER_SEC as u128).ok()?;
    let span = Duration::new(secs, (magnitude % NANOS_PER_SEC as u128) as u32);
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(span)
    } else {
        UNIX_EPOCH.checked_sub(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(format_rfc3339_utc(t), "2024-02-29T12:34:56Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format_rfc3339_utc(t), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "5", "5x", "s", "1m-3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn nanosecond_times_round_trip() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let text = format_rfc3339_nanos(t);
        assert_eq!(text, "2023-11-14T22:13:20.123456789Z");
        assert_eq!(parse_rfc3339_time(&text), Some(t));
    }

    #[test]
    fn parses_what_it_formats_and_other_offsets() {
        for secs in [0u64, 951_782_400, 1_709_210_096, 4_102_444_800] {
            let s = format_rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(parse_rfc3339(&s), Some((secs as i64, 0)), "{s}");
        }
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56+02:00"),
            Some((1_709_210_096, 0))
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.5Z"),
            Some((1_709_210_096, 500_000_000))
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.1234567891Z"),
            Some((1_709_210_096, 123_456_789))
        );
        for bad in [
            "",
            "2024-02-29",
            "2024-02-29T12:34:56",
            "2024-13-01T00:00:00Z",
            "x024-02-29T12:34:56Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
