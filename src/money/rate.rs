//! Exact rates (parts per million) and integer multiply-divide with a chosen rounding direction.

use super::{why, Decimal};
use crate::error::Result;

/// A non-negative rate with exactly six decimals of a unit, stored as parts per million
/// (12.5 % = 125_000 ppm). Policies write rates as percents; all margin and cap maths is integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ppm(pub i64);

impl Ppm {
    pub const ONE: Ppm = Ppm(1_000_000);

    /// Parses a percent ("12.5" or 12.5) exactly; at most 4 decimals (1 ppm).
    pub fn from_percent(d: &Decimal) -> Result<Ppm> {
        let (int_part, frac) = d.as_str().split_once('.').unwrap_or((d.as_str(), ""));
        let frac = frac.trim_end_matches('0');
        if frac.len() > 4 {
            return Err(why(format!("has more than 4 decimals: {}", d.as_str())));
        }
        if int_part.len() > 6 {
            return Err(why(format!("is too large: {}", d.as_str())));
        }
        let int: i64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| why("is not a number"))?
        };
        let mut f: i64 = 0;
        for i in 0..4 {
            f = f * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        }
        Ok(Ppm(int * 10_000 + f))
    }

    pub fn as_fraction(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    pub fn as_percent(self) -> f64 {
        self.0 as f64 / 10_000.0
    }
}

/// `value * num / den` rounded toward +inf (for floors: never below the bound).
pub fn mul_div_ceil(value: i64, num: i64, den: i64) -> i64 {
    let p = i128::from(value) * i128::from(num);
    let d = i128::from(den);
    let q = p.div_euclid(d) + i128::from(p.rem_euclid(d) != 0);
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `value * num / den` rounded toward -inf.
pub fn mul_div_floor(value: i64, num: i64, den: i64) -> i64 {
    let p = i128::from(value) * i128::from(num);
    p.div_euclid(i128::from(den))
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> Decimal {
        Decimal::from_f64(v).unwrap()
    }
    fn s(v: &str) -> Decimal {
        Decimal::parse_str(v).unwrap()
    }

    #[test]
    fn percents_are_exact_ppm() {
        assert_eq!(Ppm::from_percent(&s("12.5")), Ok(Ppm(125_000)));
        assert_eq!(Ppm::from_percent(&num(33.3333)), Ok(Ppm(333_333)));
        assert!(Ppm::from_percent(&s("1.00001")).is_err());
        assert_eq!(Ppm::from_percent(&num(100.0)), Ok(Ppm::ONE));
    }

    #[test]
    fn integer_rounding_helpers() {
        assert_eq!(mul_div_ceil(10, 1, 3), 4);
        assert_eq!(mul_div_floor(10, 1, 3), 3);
        assert_eq!(mul_div_ceil(9, 1, 3), 3);
    }
}
