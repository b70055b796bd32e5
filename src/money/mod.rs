//! Exact money: integer minor units with the currency's ISO 4217 exponent, exact decimal parsing of
//! numbers and strings, exact rates, and rounding to the price endings a merchant allows.
//! No float ever holds an amount that is charged.

mod currency;
mod decimal;
mod ending;
mod iso4217;
mod rate;

pub use currency::Currency;
pub use decimal::Decimal;
pub use ending::{round_to_ending, PriceEnding};
pub use rate::{mul_div_ceil, mul_div_floor, Ppm};

use crate::error::{Code, Error};

/// A reason a number is not an amount ("is negative: -3"): callers name the field around it.
pub(crate) fn why(reason: impl Into<String>) -> Error {
    Error::new(Code::InvalidPrice, reason)
}

/// The largest amount accepted, in minor units (10^15: exact in an f64 and far from i64 overflow).
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;
