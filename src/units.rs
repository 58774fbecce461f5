//! Sizes as users write them on the command line and in the environment.

/// `512`, `64k`, `1.5g`, `2GiB`, `10mb` → bytes (units are powers of 1024,
/// as docker's `RAMInBytes`); `None` for anything else or an overflow.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = value * factor;
    (bytes.is_finite() && bytes >= 0.0 && bytes <= i64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_byte_size("512"), Some(512));
        assert_eq!(parse_byte_size("64k"), Some(64 << 10));
        assert_eq!(parse_byte_size("10MB"), Some(10 << 20));
        assert_eq!(parse_byte_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_byte_size("1.5g"), Some(3 << 29));
        assert_eq!(parse_byte_size("1t"), Some(1 << 40));
        for bad in ["", "m", "1x", "-1", "1e400", "99999999999t"] {
            assert_eq!(parse_byte_size(bad), None, "{bad}");
        }
    }
}
