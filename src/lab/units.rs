//! Values with units: sizes (`8G`, `512M`), durations (`30s`, `2m`), rates (`2Gbit`).

use std::time::Duration;

/// The leading digits of `text` (trimmed; at most `max_digits` of them) as a
/// number, and what follows them.
fn number_and_unit(text: &str, max_digits: usize) -> Option<(u64, &str)> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.len() > max_digits {
        return None;
    }
    Some((num.parse().ok()?, unit))
}

/// Parse a size; a bare number means `default_unit` (e.g. MiB for memory).
/// Units are binary: K/KiB, M/MiB, G/GiB, T/TiB (a VM's "8G" disk is 8 GiB).
pub fn parse_size(text: &str, default_unit: u64) -> Option<u64> {
    let (n, unit) = number_and_unit(text, 15)?;
    let mult: u64 = match unit.trim() {
        "" => default_unit,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parse a duration: `90`, `90s`, `500ms`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (n, unit) = number_and_unit(text, 9)?;
    Some(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

/// Parse a link rate in bits per second: `2Gbit`, `500Mbit`, `10gbit`, `100kbit`.
pub fn parse_rate(text: &str) -> Option<u64> {
    let (n, unit) = number_and_unit(text, 9)?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "kbit" => 1_000,
        "mbit" => 1_000_000,
        "gbit" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `tc` spelling of a rate (tc understands `2000mbit`).
pub fn tc_rate(bps: u64) -> String {
    if bps % 1_000_000 == 0 {
        format!("{}mbit", bps / 1_000_000)
    } else {
        format!("{}kbit", bps / 1_000)
    }
}

pub fn human_size(bytes: u64) -> String {
    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;
    if bytes % G == 0 {
        format!("{}G", bytes / G)
    } else {
        format!("{}M", bytes / M)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("8G", 1, Some(8 << 30))]
    #[case("512M", 1, Some(512 << 20))]
    #[case("256", 1 << 20, Some(256 << 20))]
    #[case("2GiB", 1, Some(2 << 30))]
    #[case("8 G", 1, Some(8 << 30))]
    #[case("8X", 1, None)]
    #[case("G", 1, None)]
    #[case("-1G", 1, None)]
    #[case("99999999999999999999G", 1, None)]
    fn sizes(#[case] text: &str, #[case] unit: u64, #[case] want: Option<u64>) {
        assert_eq!(parse_size(text, unit), want);
    }

    #[rstest]
    #[case("30s", Some(Duration::from_secs(30)))]
    #[case("2m", Some(Duration::from_secs(120)))]
    #[case("500ms", Some(Duration::from_millis(500)))]
    #[case("45", Some(Duration::from_secs(45)))]
    #[case("1y", None)]
    fn durations(#[case] text: &str, #[case] want: Option<Duration>) {
        assert_eq!(parse_duration(text), want);
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("2Gbit"), Some(2_000_000_000));
        assert_eq!(parse_rate("500mbit"), Some(500_000_000));
        assert_eq!(parse_rate("2GB"), None);
        assert_eq!(tc_rate(2_000_000_000), "2000mbit");
    }
}
