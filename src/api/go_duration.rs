//! Durations as NATS tools and NACK write them: Go's `time.ParseDuration` format, a sequence
//! of decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1m30s`.
//! The XRD's pattern admits exactly these strings; this reads their length.

use std::time::Duration;

/// The length of a Go duration without a sign, or why it is not one.
pub fn parse(text: &str) -> Result<Duration, String> {
    let wrong = || format!("{text:?} is not a duration like 30s, 2m or 1m30s");
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(wrong());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(wrong)?;
        let (number, after) = rest.split_at(number_end);
        let value: f64 = number.parse().map_err(|_| wrong())?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(wrong()),
        };
        total += value * nanos;
        rest = next;
    }
    // Go's own limit: about 292 years.
    if total > i64::MAX as f64 {
        return Err(format!("{text:?} is longer than a Go duration can be"));
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_go_reads() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("250ms", Duration::from_millis(250)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("1ns", Duration::from_nanos(1)),
            ("0s", Duration::ZERO),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in ["", "30", "s", "2 m", "1d", "-1s", "1.s.", "1m30"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
