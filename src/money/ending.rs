//! The price endings a merchant allows (".99", "whole", "step:10") and rounding a target price to
//! the nearest of them.

use super::{why, Currency};
use crate::error::{quoted, Result};

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
