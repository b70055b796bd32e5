//! Time: the pricer's injected clock, calendar arithmetic for local dates, and times and durations
//! as they arrive from callers (JSON numbers): whole milliseconds or minutes in a range, never a
//! float cast with `as` (which would turn NaN into 0 and 1e300 into i64::MAX).

use crate::error::{Code, Error, Result};
use crate::money::json_kind;
use serde_json::Value;

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

/// A JSON number that is a whole number a JS number holds exactly, or None.
pub fn whole_number(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    let x = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f))
            if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 =>
        {
            f as i64
        }
        _ => return None,
    };
    (x.abs() <= MAX_SAFE_INTEGER).then_some(x)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("the string {}", crate::error::quoted(s)),
        other => json_kind(other).to_string(),
    }
}

/// A whole number of milliseconds in `0..=max`, or an `invalid_argument` naming `field`.
pub fn duration_ms(v: &Value, field: &str, max: i64) -> Result<i64> {
    whole_number(v)
        .filter(|x| (0..=max).contains(x))
        .ok_or_else(|| {
            Error::at(
                Code::InvalidArgument,
                field,
                format!(
                    "`{field}` must be whole milliseconds from 0 to {max}, not {}",
                    describe(v)
                ),
            )
        })
}

/// Milliseconds since the Unix epoch (as `Date.now()` gives), or an `invalid_argument`.
pub fn epoch_ms(v: &Value, field: &str) -> Result<i64> {
    whole_number(v)
        .filter(|x| (0..=MAX_EPOCH_MS).contains(x))
        .ok_or_else(|| {
            Error::at(
                Code::InvalidArgument,
                field,
                format!(
                    "`{field}` must be whole milliseconds since the epoch (Date.now()), not {}",
                    describe(v)
                ),
            )
        })
}

/// Minutes east of UTC (`-new Date().getTimezoneOffset()`), from −840 to 840.
pub fn utc_offset_minutes(v: &Value, field: &str) -> Result<i32> {
    whole_number(v)
        .filter(|x| x.unsigned_abs() <= MAX_UTC_OFFSET_MINUTES as u64)
        .map(|x| x as i32)
        .ok_or_else(|| {
            Error::at(
                Code::InvalidArgument,
                field,
                format!(
                    "`{field}` must be whole minutes east of UTC, from -{MAX_UTC_OFFSET_MINUTES} to {MAX_UTC_OFFSET_MINUTES}, not {}",
                    describe(v)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn only_whole_numbers_in_range_pass() {
        for ok in [
            json!(0),
            json!(1_795_950_000_000i64),
            json!(1e12),
            json!(MAX_EPOCH_MS),
        ] {
            assert!(epoch_ms(&ok, "now").is_ok(), "{ok}");
        }
        for bad in [
            json!(-1),
            json!(1.5),
            json!(1e300),
            json!("5"),
            json!(null),
            json!(true),
            json!(MAX_EPOCH_MS + 1),
        ] {
            let e = epoch_ms(&bad, "now").unwrap_err();
            assert_eq!(
                (e.code, e.field.as_deref()),
                (Code::InvalidArgument, Some("now")),
                "{bad}"
            );
        }
        assert_eq!(utc_offset_minutes(&json!(-300), "o").unwrap(), -300);
        assert!(utc_offset_minutes(&json!(841), "o").is_err());
        assert!(utc_offset_minutes(&json!(60.5), "o").is_err());
        assert_eq!(duration_ms(&json!(0), "t", 10).unwrap(), 0);
        assert!(duration_ms(&json!(11), "t", 10).is_err());
        assert_eq!(
            whole_number(&json!(9007199254740992u64)),
            None,
            "2^53 is not exact in JS"
        );
    }
}
