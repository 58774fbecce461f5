//! Signal names as `kill -s`, `--stop-signal` and STOPSIGNAL spell them:
//! `TERM`, `SIGTERM`, `15`, `SIGRTMIN+3`, `RTMAX-1`.

use super::EngineError;

const NAMES: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

fn rt_range() -> (i32, i32) {
    (libc::SIGRTMIN(), libc::SIGRTMAX())
}

/// The signal number `text` names.
pub fn parse_signal(text: &str) -> Result<i32, EngineError> {
    let invalid = || EngineError::Invalid(format!("invalid signal: {text}"));
    let (rt_min, rt_max) = rt_range();
    if let Ok(number) = text.parse::<i32>() {
        return if (1..=rt_max).contains(&number) {
            Ok(number)
        } else {
            Err(invalid())
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, number)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*number);
    }
    // Aliases the kernel headers keep.
    match name {
        "IOT" => return Ok(6),
        "CLD" => return Ok(17),
        "POLL" => return Ok(29),
        _ => {}
    }
    let offset = |rest: &str, sign: i32| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let n: i32 = rest
            .strip_prefix(if sign > 0 { '+' } else { '-' })?
            .parse()
            .ok()?;
        Some(sign * n)
    };
    let number = if let Some(rest) = name.strip_prefix("RTMIN") {
        offset(rest, 1).map(|o| rt_min + o)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        offset(rest, -1).map(|o| rt_max + o)
    } else {
        None
    };
    match number {
        Some(n) if (rt_min..=rt_max).contains(&n) => Ok(n),
        _ => Err(invalid()),
    }
}

/// `SIGTERM` for 15; `SIGRTMIN+3` style for real-time signals.
pub fn signal_name(number: i32) -> String {
    if let Some((name, _)) = NAMES.iter().find(|(_, n)| *n == number) {
        return format!("SIG{name}");
    }
    let (rt_min, _) = rt_range();
    if number >= rt_min {
        return format!("SIGRTMIN+{}", number - rt_min);
    }
    number.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime_signals_parse() {
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("sigkill").unwrap(), 9);
        assert_eq!(parse_signal("SIGHUP").unwrap(), 1);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        assert_eq!(parse_signal("SIGRTMIN").unwrap(), libc::SIGRTMIN());
        for bad in ["", "0", "65", "SIGFOO", "RTMIN+99", "RTMIN-1", "-9"] {
            let err = parse_signal(bad).unwrap_err().to_string();
            assert!(err.contains("invalid signal"), "{bad}: {err}");
        }
    }

    #[test]
    fn numbers_print_as_names() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
    }
}
