//! A non-negative decimal as written, before any currency gives it a unit.

use super::why;
use crate::error::{quoted, Result};

/// A non-negative decimal written exactly: from a JSON number (through its shortest round-trip
/// representation, i.e. what JavaScript's `String(n)` shows) or from a decimal string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(String);

impl Decimal {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts `123`, `123.45`, `.5`, `0.50`; refuses signs, exponents, spaces, NaN, infinities.
    pub fn parse_str(s: &str) -> Result<Decimal> {
        if s.is_empty() {
            return Err(why("is empty"));
        }
        if s.len() > 40 {
            return Err(why("is longer than 40 characters"));
        }
        if s.starts_with('-') {
            return Err(why(format!("is negative: {s}")));
        }
        let mut dots = 0;
        let mut digits = 0;
        for c in s.chars() {
            match c {
                '0'..='9' => digits += 1,
                '.' => dots += 1,
                _ => {
                    return Err(why(format!(
                        "is not a plain decimal number (digits and one '.'): {}",
                        quoted(s)
                    )))
                }
            }
        }
        if dots > 1 || digits == 0 {
            return Err(why(format!("is not a plain decimal number: {}", quoted(s))));
        }
        Ok(Decimal(s.to_string()))
    }

    pub fn from_f64(v: f64) -> Result<Decimal> {
        if !v.is_finite() {
            return Err(why(format!("is not a finite number ({v})")));
        }
        if v < 0.0 {
            return Err(why(format!("is negative: {v}")));
        }
        // Rust's f64 Display is the shortest string that round-trips, never in exponent form.
        Decimal::parse_str(&format!("{}", v + 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_decimals() {
        for bad in [
            "", "-1", "1e3", "1,5", " 1", "1.2.3", ".", "NaN", "Infinity", "0x10",
        ] {
            assert!(Decimal::parse_str(bad).is_err(), "{bad:?}");
        }
        for bad in [f64::NAN, f64::INFINITY, -0.5] {
            assert!(Decimal::from_f64(bad).is_err(), "{bad}");
        }
        assert_eq!(Decimal::from_f64(-0.0).unwrap().as_str(), "0");
    }
}
