//! A currency and its amounts: looking up an ISO 4217 code, reading a decimal into exact minor units
//! and writing minor units back as a decimal.

use super::iso4217::CURRENCIES;
use super::{why, Decimal, MAX_MINOR};
use crate::error::{quoted, Code, Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An active ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// Looks up an ISO 4217 code (upper case, as ISO writes it).
    pub fn from_code(code: &str) -> Result<Currency> {
        CURRENCIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .map(|i| Currency { code: CURRENCIES[i].0, exponent: CURRENCIES[i].1 })
            .map_err(|_| {
                Error::at(
                    Code::UnknownCurrency,
                    "currency",
                    format!(
                        "unknown currency {}: use an active ISO 4217 code in upper case, such as \"EUR\", \"USD\" or \"JPY\"",
                        quoted(code)
                    ),
                )
            })
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Number of decimal digits of the minor unit (JPY 0, EUR 2, KWD 3).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// 10^exponent: minor units per major unit.
    pub fn minor_per_major(&self) -> i64 {
        10i64.pow(u32::from(self.exponent))
    }

    /// Major units as a float, for display only.
    pub fn to_major_f64(&self, minor: i64) -> f64 {
        minor as f64 / self.minor_per_major() as f64
    }

    /// Parses an amount in major units (a JSON number or a decimal string) into exact minor units.
    pub fn parse_major(&self, value: &Decimal) -> Result<i64> {
        let digits = value.as_str();
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(why("is not a number"));
        }
        // Trailing zeros beyond the exponent change nothing, so "12.50" for JPY is refused but
        // "12.00" is exactly 12.
        let significant = frac_part.trim_end_matches('0');
        let exp = usize::from(self.exponent);
        if significant.len() > exp {
            return Err(why(format!(
                "has more decimals than {} allows ({}): {digits}",
                self.code, self.exponent
            )));
        }
        let mut minor: i64 = 0;
        let push = |acc: i64, d: u8| -> Option<i64> {
            acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        };
        for &b in int_part.as_bytes() {
            minor = push(minor, b).ok_or_else(|| why("is too large"))?;
        }
        let frac = significant.as_bytes();
        for i in 0..exp {
            minor =
                push(minor, *frac.get(i).unwrap_or(&b'0')).ok_or_else(|| why("is too large"))?;
        }
        if minor > MAX_MINOR {
            return Err(why(format!(
                "is too large (the maximum is {} minor units)",
                MAX_MINOR
            )));
        }
        Ok(minor)
    }

    /// Formats minor units as a plain decimal string in major units ("129.99", "1500", "1.250").
    pub fn format_major(&self, minor: i64) -> String {
        let exp = usize::from(self.exponent);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let unit = 10u64.pow(exp as u32);
        format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = exp)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

/// Read back from a quote the engine wrote: an active ISO 4217 code, as it writes them.
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Currency, D::Error> {
        let code = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
        Currency::from_code(&code).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::from_code(c).unwrap()
    }
    fn num(v: f64) -> Decimal {
        Decimal::from_f64(v).unwrap()
    }
    fn s(v: &str) -> Decimal {
        Decimal::parse_str(v).unwrap()
    }

    #[test]
    fn exponents_follow_iso_4217() {
        for (code, exp) in [
            ("JPY", 0),
            ("KRW", 0),
            ("CLP", 0),
            ("EUR", 2),
            ("USD", 2),
            ("KWD", 3),
            ("BHD", 3),
            ("TND", 3),
            ("CLF", 4),
        ] {
            assert_eq!(cur(code).exponent(), exp, "{code}");
        }
        for bad in ["XAU", "XTS", "eur", "EURO", "", "HRK"] {
            assert_eq!(
                Currency::from_code(bad).unwrap_err().code,
                Code::UnknownCurrency,
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_numbers_and_strings_exactly() {
        assert_eq!(cur("EUR").parse_major(&num(129.99)), Ok(12999));
        assert_eq!(cur("EUR").parse_major(&s("129.99")), Ok(12999));
        assert!(cur("EUR")
            .parse_major(&num(0.1 + 0.2))
            .unwrap_err()
            .message
            .contains("more decimals"));
        assert_eq!(cur("EUR").parse_major(&num(1.1)), Ok(110));
        assert_eq!(cur("EUR").parse_major(&s(".5")), Ok(50));
        assert_eq!(cur("EUR").parse_major(&s("10.50")), Ok(1050));
        assert_eq!(cur("JPY").parse_major(&num(1500.0)), Ok(1500));
        assert_eq!(cur("JPY").parse_major(&s("1500.00")), Ok(1500));
        assert!(cur("JPY").parse_major(&s("1500.5")).is_err());
        assert_eq!(cur("KWD").parse_major(&s("1.234")), Ok(1234));
        assert!(cur("KWD").parse_major(&s("1.2345")).is_err());
        assert!(cur("EUR").parse_major(&s("10.005")).is_err());
        assert_eq!(cur("EUR").parse_major(&num(0.0)), Ok(0));
        assert!(cur("EUR").parse_major(&s("99999999999999999999")).is_err());
        assert!(cur("EUR").parse_major(&s("10000000000000.01")).is_err());
        assert_eq!(
            cur("EUR").parse_major(&s("10000000000000.00")),
            Ok(MAX_MINOR)
        );
    }

    #[test]
    fn formats_major_units() {
        assert_eq!(cur("EUR").format_major(12999), "129.99");
        assert_eq!(cur("EUR").format_major(5), "0.05");
        assert_eq!(cur("JPY").format_major(1500), "1500");
        assert_eq!(cur("KWD").format_major(1234), "1.234");
    }
}
