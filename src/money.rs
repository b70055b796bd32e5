//! Exact money: integer minor units with the currency's ISO 4217 exponent, exact decimal parsing of
//! numbers and strings, exact rates, and rounding to the price endings a merchant allows.
//! No float ever holds an amount that is charged.

use crate::error::quoted;
use crate::error::{Code, Error, Result};

/// A reason a number is not an amount ("is negative: -3"): callers name the field around it.
pub(crate) fn why(reason: impl Into<String>) -> Error {
    Error::new(Code::InvalidPrice, reason)
}
use serde::Serialize;
use std::fmt;

/// The largest amount accepted, in minor units (10^15: exact in an f64 and far from i64 overflow).
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Active ISO 4217 currencies with their minor-unit exponent (ISO 4217 list, amendments to 2025).
/// Precious metals, testing and SDR codes (XAU, XTS, XDR, ...) have no minor unit and are not prices.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

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

/// One allowed price ending for a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceEnding {
    /// Any amount of minor units.
    Any,
    /// The fractional part equals `rem` (".99" in EUR: price % 100 == 99; "whole": rem 0).
    Fraction { modulus: i64, rem: i64 },
    /// Multiples of `step` minor units ("step:10" for JPY: ¥1,990 but not ¥1,995).
    Step(i64),
}

impl PriceEnding {
    /// Parses `"any"`, `"whole"`, `".99"` (exactly `exponent` digits) or `"step:N"`.
    pub fn parse(s: &str, currency: Option<Currency>) -> Result<PriceEnding> {
        if s == "any" {
            return Ok(PriceEnding::Any);
        }
        if s == "whole" {
            return Ok(match currency {
                Some(c) if c.exponent() == 0 => PriceEnding::Any,
                Some(c) => PriceEnding::Fraction {
                    modulus: c.minor_per_major(),
                    rem: 0,
                },
                None => {
                    return Err(why(
                        "\"whole\" needs a currency: list it under that currency's code",
                    ))
                }
            });
        }
        if let Some(n) = s.strip_prefix("step:") {
            return match n.parse::<i64>() {
                Ok(step) if (1..=1_000_000).contains(&step) => Ok(PriceEnding::Step(step)),
                _ => Err(why(format!(
                    "{}: the step must be a whole number of minor units from 1 to 1000000",
                    quoted(s)
                ))),
            };
        }
        if let Some(frac) = s.strip_prefix('.') {
            let c = currency.ok_or_else(|| {
                why(format!(
                    "{} needs a currency: list it under that currency's code",
                    quoted(s)
                ))
            })?;
            if frac.len() != usize::from(c.exponent()) || !frac.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(why(format!(
                    "{} does not fit {} ({} decimals): write \".{}\"-style endings with exactly {} digits, or \"whole\" / \"step:N\"",
                    quoted(s),
                    c.code(),
                    c.exponent(),
                    "9".repeat(usize::from(c.exponent()).max(1)),
                    c.exponent()
                )));
            }
            let rem: i64 = frac
                .parse()
                .map_err(|_| why(format!("{} is not a valid ending", quoted(s))))?;
            return Ok(PriceEnding::Fraction {
                modulus: c.minor_per_major(),
                rem,
            });
        }
        Err(why(format!(
            "{} is not a price ending: use \"any\", \"whole\", \".99\"-style or \"step:N\"",
            quoted(s)
        )))
    }

    fn modulus_rem(self) -> (i64, i64) {
        match self {
            PriceEnding::Any => (1, 0),
            PriceEnding::Fraction { modulus, rem } => (modulus, rem),
            PriceEnding::Step(step) => (step, 0),
        }
    }

    pub fn allows(self, minor: i64) -> bool {
        let (m, r) = self.modulus_rem();
        minor.rem_euclid(m) == r
    }

    /// Largest allowed amount <= x.
    fn at_or_below(self, x: i64) -> i64 {
        let (m, r) = self.modulus_rem();
        (x - r).div_euclid(m) * m + r
    }

    /// Smallest allowed amount >= x.
    fn at_or_above(self, x: i64) -> i64 {
        let below = self.at_or_below(x);
        if below == x {
            x
        } else {
            below + self.modulus_rem().0
        }
    }
}

/// Rounds a target price, given exactly as `target_scaled / scale` minor units, to the nearest
/// amount in `[lo, hi]` that has an allowed ending. Ties go to the higher price (the smaller
/// discount). `None` when no allowed amount lies in the interval.
pub fn round_to_ending(
    target_scaled: i128,
    scale: i128,
    lo: i64,
    hi: i64,
    endings: &[PriceEnding],
) -> Option<i64> {
    if lo > hi {
        return None;
    }
    let floor_t = target_scaled
        .div_euclid(scale)
        .clamp(i128::from(lo), i128::from(hi)) as i64;
    let ceil_t = (target_scaled.div_euclid(scale)
        + i128::from(target_scaled.rem_euclid(scale) != 0))
    .clamp(i128::from(lo), i128::from(hi)) as i64;
    let mut best: Option<(i128, i64)> = None;
    for &ending in endings {
        for p in [
            ending.at_or_below(floor_t),
            ending.at_or_above(ceil_t),
            ending.at_or_above(lo),
            ending.at_or_below(hi),
        ] {
            if p < lo || p > hi {
                continue;
            }
            let dist = (i128::from(p) * scale - target_scaled).abs();
            best = match best {
                Some((d, q)) if d < dist || (d == dist && q >= p) => Some((d, q)),
                _ => Some((dist, p)),
            };
        }
    }
    best.map(|(_, p)| p)
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
    fn currency_table_is_sorted_for_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
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

    #[test]
    fn formats_major_units() {
        assert_eq!(cur("EUR").format_major(12999), "129.99");
        assert_eq!(cur("EUR").format_major(5), "0.05");
        assert_eq!(cur("JPY").format_major(1500), "1500");
        assert_eq!(cur("KWD").format_major(1234), "1.234");
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

    #[test]
    fn endings_parse_against_the_currency() {
        let eur = Some(cur("EUR"));
        assert_eq!(
            PriceEnding::parse(".99", eur),
            Ok(PriceEnding::Fraction {
                modulus: 100,
                rem: 99
            })
        );
        assert_eq!(
            PriceEnding::parse("whole", eur),
            Ok(PriceEnding::Fraction {
                modulus: 100,
                rem: 0
            })
        );
        assert_eq!(
            PriceEnding::parse("step:10", Some(cur("JPY"))),
            Ok(PriceEnding::Step(10))
        );
        assert!(PriceEnding::parse(".99", Some(cur("JPY"))).is_err());
        assert!(PriceEnding::parse(".9", eur).is_err());
        assert!(PriceEnding::parse("step:0", eur).is_err());
        assert!(PriceEnding::parse("ninety-nine", eur).is_err());
        assert_eq!(
            PriceEnding::parse(".999", Some(cur("KWD"))),
            Ok(PriceEnding::Fraction {
                modulus: 1000,
                rem: 999
            })
        );
    }

    #[test]
    fn rounds_to_nearest_allowed_ending_inside_bounds() {
        let e99 = [PriceEnding::Fraction {
            modulus: 100,
            rem: 99,
        }];
        // 10 % off 49.99 = 44.991 -> 44.99
        assert_eq!(round_to_ending(44_991, 10, 0, 4999, &e99), Some(4499));
        // target 45.60 -> nearest .99 is 45.99 (0.39 away) vs 44.99 (0.61 away)
        assert_eq!(round_to_ending(4560, 1, 0, 4999, &e99), Some(4599));
        // ...but not below the floor
        assert_eq!(round_to_ending(4420, 1, 4500, 4999, &e99), Some(4599));
        // ...nor above the upper bound
        assert_eq!(round_to_ending(4980, 1, 0, 4990, &e99), Some(4899));
        // no allowed amount in bounds
        assert_eq!(round_to_ending(4560, 1, 4500, 4598, &e99), None);
        // ties go to the higher price: 45.49 is as far from 44.99 as from 45.99
        assert_eq!(round_to_ending(4549, 1, 0, 4999, &e99), Some(4599));
        // several endings: nearest of all
        let two = [
            PriceEnding::Fraction {
                modulus: 100,
                rem: 99,
            },
            PriceEnding::Fraction {
                modulus: 100,
                rem: 49,
            },
        ];
        assert_eq!(round_to_ending(4560, 1, 0, 4999, &two), Some(4549));
        let step = [PriceEnding::Step(10)];
        assert_eq!(round_to_ending(12_345, 10, 0, 1500, &step), Some(1230));
        assert_eq!(round_to_ending(1_235, 1, 0, 1500, &step), Some(1240));
    }
}
