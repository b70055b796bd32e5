//! Time: the pricer's injected clock and calendar arithmetic for local dates. Times as callers send
//! them (JSON numbers) are read by `wire::json`.

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The pricer's clock: epoch milliseconds and the shopper's UTC offset (for month, weekday, holidays).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub now_ms: i64,
    pub utc_offset_minutes: i32,
}

impl Clock {
    /// (year, month 1-12, day 1-31, weekday 0 = Monday) of the local date.
    pub fn local_date(&self) -> (i64, u32, u32, u32) {
        let local = self.now_ms + i64::from(self.utc_offset_minutes) * 60_000;
        let days = local.div_euclid(DAY_MS);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, (days + 3).rem_euclid(7) as u32)
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 -> proleptic Gregorian date.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of the clock's local day.
pub fn local_day(clock: &Clock) -> String {
    let (y, m, d, _) = clock.local_date();
    format!("{y:04}-{m:02}-{d:02}")
}

/// The largest time JavaScript's `Date` represents (±8.64e15 ms, 100 million days).
pub const MAX_EPOCH_MS: i64 = 8_640_000_000_000_000;
/// 2^53 − 1: the largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;
/// UTC offsets in use run from −12:00 to +14:00.
pub const MAX_UTC_OFFSET_MINUTES: i32 = 14 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_maths() {
        // 2026-11-29 is a Sunday.
        let c = Clock {
            now_ms: 1_795_950_000_000,
            utc_offset_minutes: 0,
        };
        let (y, m, d, wd) = c.local_date();
        assert_eq!((y, m, d), (2026, 11, 29));
        assert_eq!(wd, 6);
        assert_eq!(days_from_civil(2026, 11, 29), 1_795_950_000_000 / DAY_MS);
        for z in [-1000, 0, 19_000, 20_000, 400_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // A UTC offset moves the local date.
        let late = Clock {
            now_ms: days_from_civil(2026, 2, 28) * DAY_MS + 23 * 3_600_000,
            utc_offset_minutes: 120,
        };
        assert_eq!(late.local_date().1, 3);
    }
}
