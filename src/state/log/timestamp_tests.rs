//! Tests of the log's time handling: formatting, and docker's
//! `--since`/`--until` forms.

use super::*;
use crate::timestamp::{civil_from_days, days_from_civil, days_in_month, from_nanos, to_nanos};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

// ---- timestamps and calendar arithmetic ----

#[test]
fn formats_a_known_instant() {
    assert_eq!(
        format_timestamp(at(1_700_000_000, 123_456_789)),
        "2023-11-14T22:13:20.123456789Z"
    );
    assert_eq!(
        format_timestamp(UNIX_EPOCH),
        "1970-01-01T00:00:00.000000000Z"
    );
    assert_eq!(
        format_timestamp(at(951_782_400, 0)),
        "2000-02-29T00:00:00.000000000Z"
    );
    assert_eq!(
        format_timestamp(at(1_798_761_599, 999_999_999)),
        "2026-12-31T23:59:59.999999999Z"
    );
}

#[test]
fn formats_times_before_the_epoch() {
    let half_second_before = UNIX_EPOCH - Duration::from_millis(500);
    assert_eq!(
        format_timestamp(half_second_before),
        "1969-12-31T23:59:59.500000000Z"
    );
    assert_eq!(
        format_timestamp(UNIX_EPOCH - Duration::from_secs(86_400 * 365)),
        "1969-01-01T00:00:00.000000000Z"
    );
}

#[test]
fn civil_conversion_round_trips_and_advances_one_day_at_a_time() {
    let mut previous = civil_from_days(-800_001);
    for days in -800_000..800_000 {
        let (year, month, day) = civil_from_days(days);
        assert_eq!(days_from_civil(year, month, day), days);
        let (py, pm, pd) = previous;
        let expected = if pd < days_in_month(py, pm) {
            (py, pm, pd + 1)
        } else if pm < 12 {
            (py, pm + 1, 1)
        } else {
            (py + 1, 1, 1)
        };
        assert_eq!((year, month, day), expected, "day {days}");
        previous = (year, month, day);
    }
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
}

#[test]
fn formatted_timestamps_parse_back() {
    for t in [
        UNIX_EPOCH,
        at(1_700_000_000, 123_456_789),
        at(4_102_444_800, 1),
        UNIX_EPOCH - Duration::new(12_345, 678),
    ] {
        let nanos = parse_datetime(&format_timestamp(t)).unwrap();
        assert_eq!(nanos, to_nanos(t));
        assert_eq!(from_nanos(nanos), Some(t));
    }
}

// ---- parse_time_bound ----

fn bound(text: &str) -> SystemTime {
    parse_time_bound(text, at(1_700_000_000, 0)).unwrap()
}

#[test]
fn parses_rfc3339_forms() {
    let t = at(1_700_000_000, 0);
    assert_eq!(bound("2023-11-14T22:13:20Z"), t);
    assert_eq!(bound("2023-11-14t22:13:20z"), t);
    assert_eq!(
        bound("2023-11-14T22:13:20.5Z"),
        at(1_700_000_000, 500_000_000)
    );
    assert_eq!(
        bound("2023-11-14T22:13:20.123456789Z"),
        at(1_700_000_000, 123_456_789)
    );
    assert_eq!(
        bound("2023-11-14T22:13:20.1234567891Z"),
        at(1_700_000_000, 123_456_789)
    );
    assert_eq!(bound("2023-11-14T23:13:20+01:00"), t);
    assert_eq!(bound("2023-11-14T17:13:20-05:00"), t);
    assert_eq!(
        bound("2023-11-14T17:43:20.25-04:30"),
        at(1_700_000_000, 250_000_000)
    );
    // Without a zone: UTC.
    assert_eq!(bound("2023-11-14T22:13:20"), t);
    assert_eq!(bound("2023-11-14T22:13"), at(1_699_999_980, 0));
    assert_eq!(bound("2023-11-14T22"), at(1_699_999_200, 0));
    assert_eq!(bound("2023-11-14T22:13+00:00"), at(1_699_999_980, 0));
}

#[test]
fn parses_dates() {
    assert_eq!(bound("2023-11-14"), at(1_699_920_000, 0));
    assert_eq!(bound("2023-11-14Z"), at(1_699_920_000, 0));
    assert_eq!(bound("2023-11-14+01:00"), at(1_699_920_000 - 3600, 0));
    assert_eq!(bound("2024-02-29"), at(1_709_164_800, 0));
    assert_eq!(
        bound("1969-12-31"),
        UNIX_EPOCH - Duration::from_secs(86_400)
    );
}

#[test]
fn parses_unix_timestamps() {
    assert_eq!(bound("1700000000"), at(1_700_000_000, 0));
    assert_eq!(bound("1700000000.5"), at(1_700_000_000, 500_000_000));
    assert_eq!(bound("1700000000.000000001"), at(1_700_000_000, 1));
    assert_eq!(bound("0"), UNIX_EPOCH);
}

#[test]
fn parses_durations_relative_to_now() {
    let now = at(1_700_000_000, 0);
    let ago = |d: Duration| now - d;
    assert_eq!(bound("10m"), ago(Duration::from_secs(600)));
    assert_eq!(bound("1h30m"), ago(Duration::from_secs(5400)));
    assert_eq!(bound("90s"), ago(Duration::from_secs(90)));
    assert_eq!(bound("500ms"), ago(Duration::from_millis(500)));
    assert_eq!(bound("1.5h"), ago(Duration::from_secs(5400)));
    assert_eq!(bound(".5s"), ago(Duration::from_millis(500)));
    assert_eq!(bound("2us"), ago(Duration::from_micros(2)));
    assert_eq!(bound("3µs"), ago(Duration::from_micros(3)));
    assert_eq!(bound("7ns"), ago(Duration::from_nanos(7)));
    assert_eq!(bound("1h1m1s1ms"), ago(Duration::from_millis(3_661_001)));
    assert_eq!(bound("+10m"), ago(Duration::from_secs(600)));
    // A negative duration points into the future, as in docker.
    assert_eq!(bound("-10m"), now + Duration::from_secs(600));
}

#[test]
fn rejects_garbage_with_a_message_naming_the_value() {
    let now = at(1_700_000_000, 0);
    for text in [
        "",
        "yesterday",
        "10x",
        "1h30",
        "h",
        "-",
        "1..5s",
        ".",
        "1.2.3",
        "1700000000.",
        "1700000000.1234567891",
        "99999999999999999999",
        "2023-13-01",
        "2023-00-10",
        "2023-02-29",
        "2023-11-31",
        "2023-11-14T",
        "2023-11-14T22:",
        "2023-11-14T22:1",
        "2023-11-14T22:13:",
        "2023-11-14T22:13:20+01",
        "2023-11-14T22:13:20+01:",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:60Z",
        "2023-11-14T22:13:20+25:00",
        "2023-11-14T22:13:20+0100",
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20Zjunk",
        "2023-11-14 22:13:20",
        "2023-1-14",
    ] {
        let err = parse_time_bound(text, now).expect_err(text);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("invalid time \"{text}\": ")),
            "{message}"
        );
        assert!(!message.ends_with('.'), "{message}");
    }
    assert_eq!(
        parse_time_bound("yesterday", now).unwrap_err().to_string(),
        "invalid time \"yesterday\": expected an RFC3339 time, a date such as 2026-11-23, \
         a Unix timestamp or a duration such as 10m"
    );
    assert_eq!(
        parse_time_bound("2023-02-29", now).unwrap_err().to_string(),
        "invalid time \"2023-02-29\": day out of range"
    );
}
