//! The randomizers (OUE, GRR) and the report that leaves the device. Its JSON form is read and
//! written in `wire::report`.

use super::domain::{Domain, DomainVersion};
use crate::policy::Mechanism;
use crate::random::{below, uniform, Random};

/// The randomized content of a report, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// OUE: the indices of the bits that are 1.
    Bits(Vec<usize>),
    /// GRR: the reported value.
    Value(usize),
}

/// Randomizes the true value `index` of a domain of `size` values with ε.
pub fn randomize<R: Random + ?Sized>(
    index: usize,
    size: usize,
    mechanism: Mechanism,
    epsilon: f64,
    rng: &mut R,
) -> Payload {
    let (p, q) = mechanism.probabilities(epsilon, size);
    match mechanism {
        Mechanism::Oue => Payload::Bits(
            (0..size)
                .filter(|&j| uniform(rng) < if j == index { p } else { q })
                .collect(),
        ),
        Mechanism::Grr => {
            if uniform(rng) < p {
                Payload::Value(index)
            } else {
                let other = below(rng, size - 1);
                Payload::Value(if other >= index { other + 1 } else { other })
            }
        }
    }
}

/// What a report carries, as sent: its kind is the report's mechanism. A received report's bits
/// are checked against the expected domain only when read ([`Report::payload`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Randomized {
    /// OUE: one character `0`/`1` per randomized value, in encoding order.
    Bits(String),
    /// GRR: the reported value's index.
    Value(usize),
}

impl Randomized {
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Randomized::Bits(_) => Mechanism::Oue,
            Randomized::Value(_) => Mechanism::Grr,
        }
    }
}

/// What leaves the device: nothing else. No identifier, no item, no time finer than the local day.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The shopper's local day, `YYYY-MM-DD`.
    pub day: String,
    /// ε of this report.
    pub epsilon: f64,
    /// The domain's values in encoding order ([`Domain::description`]).
    pub domain: String,
    pub domain_version: DomainVersion,
    /// Version 2: the explore quote's discount step, in the clear (drawn at random by the device).
    pub step: Option<usize>,
    pub randomized: Randomized,
}

impl Report {
    pub fn new(day: String, domain: &Domain, epsilon: f64, payload: &Payload) -> Report {
        let randomized = match payload {
            Payload::Bits(ones) => {
                let mut s = vec![b'0'; domain.randomized_size()];
                for &j in ones {
                    s[j] = b'1';
                }
                Randomized::Bits(String::from_utf8(s).unwrap_or_default())
            }
            Payload::Value(v) => Randomized::Value(*v),
        };
        Report {
            day,
            epsilon,
            domain: domain.description(),
            domain_version: domain.version(),
            step: None,
            randomized,
        }
    }

    /// The report of the true value `index`: randomized with ε over the domain's randomized values
    /// (version 2: within the step, which is sent as it is).
    pub fn randomized<R: Random + ?Sized>(
        day: String,
        domain: &Domain,
        index: usize,
        mechanism: Mechanism,
        epsilon: f64,
        rng: &mut R,
    ) -> Report {
        let (step, local) = domain.split(index);
        let payload = randomize(local, domain.randomized_size(), mechanism, epsilon, rng);
        Report {
            step,
            ..Report::new(day, domain, epsilon, &payload)
        }
    }

    /// The randomizer the report was made with: the kind of what it carries.
    pub fn mechanism(&self) -> Mechanism {
        self.randomized.mechanism()
    }

    /// The payload, checked against a domain of `size` values.
    pub fn payload(&self, size: usize) -> crate::Result<Payload> {
        match &self.randomized {
            Randomized::Bits(bits) => {
                if bits.len() != size || !bits.bytes().all(|b| b == b'0' || b == b'1') {
                    return Err(invalid(format!(
                        "`bits` must be {size} characters of 0 and 1 (one per domain value)"
                    )));
                }
                Ok(Payload::Bits(
                    bits.bytes()
                        .enumerate()
                        .filter(|(_, b)| *b == b'1')
                        .map(|(j, _)| j)
                        .collect(),
                ))
            }
            Randomized::Value(v) if *v < size => Ok(Payload::Value(*v)),
            Randomized::Value(v) => Err(invalid(format!(
                "`value` {v} is outside the domain (0 to {})",
                size - 1
            ))),
        }
    }
}

/// A report that does not fit: `invalid_report`.
fn invalid(message: String) -> crate::Error {
    crate::Error::new(crate::Code::InvalidReport, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldp::tests::{policy, seeded};

    #[test]
    fn grr_never_reports_out_of_range_and_keeps_the_truth_at_rate_p() {
        let mut rng = seeded(3);
        let (p, _) = Mechanism::Grr.probabilities(2.0, 40);
        let n = 100_000;
        let mut kept = 0;
        for _ in 0..n {
            match randomize(7, 40, Mechanism::Grr, 2.0, &mut rng) {
                Payload::Value(v) => {
                    assert!(v < 40);
                    kept += usize::from(v == 7);
                }
                Payload::Bits(_) => unreachable!(),
            }
        }
        let rate = kept as f64 / n as f64;
        assert!(
            (rate - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(),
            "{rate} vs {p}"
        );
    }

    #[test]
    fn report_payloads_round_trip_and_bad_ones_are_named() {
        let d = Domain::for_policy(&policy());
        let r = Report::new("2026-11-29".into(), &d, 2.0, &Payload::Bits(vec![0, 39]));
        assert_eq!(r.mechanism(), Mechanism::Oue);
        assert_eq!(r.payload(40), Ok(Payload::Bits(vec![0, 39])));
        assert!(r.payload(41).is_err());
        let mut bad = r.clone();
        bad.randomized = Randomized::Bits("01x".into());
        assert!(bad
            .payload(3)
            .unwrap_err()
            .message
            .contains("characters of 0 and 1"));
        let g = Report::new("2026-11-29".into(), &d, 2.0, &Payload::Value(40));
        assert_eq!(g.mechanism(), Mechanism::Grr);
        assert!(g
            .payload(40)
            .unwrap_err()
            .message
            .contains("outside the domain"));
    }
}
