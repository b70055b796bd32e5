//! JSON values as callers send them, read into the core's exact types: whole numbers a JS number
//! holds exactly (never a float cast with `as`, which turns NaN into 0 and 1e300 into i64::MAX),
//! times and durations in a range, decimal amounts, and the words errors use for a value's kind.

use crate::error::{quoted, Code, Error, Result};
use crate::money::{why, Decimal};
use crate::time::{MAX_EPOCH_MS, MAX_SAFE_INTEGER, MAX_UTC_OFFSET_MINUTES};
use serde_json::Value;

/// How an error names a JSON value's kind ("a boolean", "an object").
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An amount in major units as JSON: a non-negative number or a plain decimal string.
pub fn decimal(v: &Value) -> Result<Decimal> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Decimal::parse_str(&u.to_string())
            } else if let Some(i) = n.as_i64() {
                Err(why(format!("is negative: {i}")))
            } else {
                Decimal::from_f64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Decimal::parse_str(s.trim_start_matches('+')),
        Value::Null => Err(why("is missing (null)")),
        other => Err(why(format!(
            "must be a number or a decimal string, not {}",
            kind(other)
        ))),
    }
}

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
        Value::String(s) => format!("the string {}", quoted(s)),
        other => kind(other).to_string(),
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

    #[test]
    fn amounts_are_non_negative_numbers_or_decimal_strings() {
        assert_eq!(decimal(&json!("129.99")).unwrap().as_str(), "129.99");
        assert_eq!(decimal(&json!(12)).unwrap().as_str(), "12");
        assert!(decimal(&json!(true)).is_err());
        assert!(decimal(&json!(-3)).is_err());
        assert!(decimal(&json!(null)).is_err());
    }
}
