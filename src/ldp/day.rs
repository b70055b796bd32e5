//! The only time a report carries: the shopper's local day, and the checks a collector makes on it.

/// Whether `s` is a real calendar day `YYYY-MM-DD` from the year 2000 on (not `2026-13-45`).
pub fn is_day(s: &str) -> bool {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (
        s[..4].parse::<i64>(),
        s[5..7].parse::<u32>(),
        s[8..].parse::<u32>(),
    ) else {
        return false;
    };
    y >= 2000
        && (1..=12).contains(&m)
        && d >= 1
        && crate::time::civil_from_days(crate::time::days_from_civil(y, m, d)) == (y, m, d)
}

/// The latest local day anywhere on Earth at `now_ms` (UTC+14): no genuine report is dated later.
pub fn latest_day(now_ms: i64) -> String {
    let (y, m, d) =
        crate::time::civil_from_days((now_ms + 14 * 3_600_000).div_euclid(crate::time::DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use crate::time::{local_day, Clock};

    #[test]
    fn local_days_follow_the_offset() {
        // 2026-11-29 23:30 UTC is already 2026-11-30 in UTC+1.
        let now = 1_795_995_000_000; // 2026-11-29T23:30:00Z
        let utc = Clock {
            now_ms: now,
            utc_offset_minutes: 0,
        };
        let plus1 = Clock {
            now_ms: now,
            utc_offset_minutes: 60,
        };
        assert_eq!(local_day(&utc), "2026-11-29");
        assert_eq!(local_day(&plus1), "2026-11-30");
    }
}
