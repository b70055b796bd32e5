//! From a quote that was shown to the true value its report encodes: the arm, the discount step,
//! the outcome and who the shopper was — or why the quote cannot be reported.

use super::domain::{Arm, Domain, DomainVersion, Group, Segment, Tuple};
use super::Refusal;
use crate::behaviour::{current_session, Event};
use crate::experiment::Variant;
use crate::policy::{Percent, Policy};
use crate::quote::{Quote, Reason};

/// Why a quote has no report (the public reason is [`NotReportable::refusal`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotReportable {
    #[error(
        "the quote was made under policy {quote_policy}, reports use the steps of policy {policy}"
    )]
    OtherPolicy {
        quote_policy: String,
        policy: String,
    },
    #[error("policy {policy} learns from explore quotes only (reporting.interestBuckets): this quote is {reason}, not explore")]
    NotExplore { policy: String, reason: Reason },
    #[error("the quote is not part of the experiment (reason {reason}, variant none)")]
    NotInExperiment { reason: Reason },
    #[error(
        "the quote carries no interest, so it has no interest bucket (the model did not score it)"
    )]
    NoInterest,
}

impl NotReportable {
    pub fn refusal(&self) -> Refusal {
        match self {
            NotReportable::OtherPolicy { .. } => Refusal::OtherPolicy,
            NotReportable::NotExplore { .. }
            | NotReportable::NotInExperiment { .. }
            | NotReportable::NoInterest => Refusal::NotInExperiment,
        }
    }
}

/// The policy step a quote's actual discount belongs to: the largest step at or below it (exact
/// integers). A discounted quote is at least step 1, because rounding to a price ending can leave a
/// step a hair under its nominal percent (a "5 %" step at 4.99 % off is still that step's offer).
pub fn step_index(discount_minor: i64, list_minor: i64, steps: &[Percent]) -> usize {
    if discount_minor <= 0 || list_minor <= 0 {
        return 0;
    }
    let off = i128::from(discount_minor) * 1_000_000;
    let at_or_below = steps
        .iter()
        .take_while(|s| i128::from(s.ppm()) * i128::from(list_minor) <= off)
        .count();
    at_or_below.max(1)
}

/// The policy step nearest to a discount (0 = none). Explore prices are the steps rounded to the
/// nearest allowed ending (a 20 % step of 100.00 is 80.49 with `.49`/`.99` endings), so the nearest
/// step is the one the device drew — where "the largest step at or below" would call it 15 %.
pub fn nearest_step(discount_minor: i64, list_minor: i64, steps: &[Percent]) -> usize {
    if discount_minor <= 0 || list_minor <= 0 {
        return 0;
    }
    let off = i128::from(discount_minor) * 1_000_000;
    let distance = |ppm: i64| (i128::from(ppm) * i128::from(list_minor) - off).abs();
    (0..=steps.len())
        .min_by_key(|&s| distance(if s == 0 { 0 } else { steps[s - 1].ppm() }))
        .unwrap_or(0)
}

/// New or returning when the quote was issued: returning if the log holds anything (an earlier
/// session, a purchase) from before the session the quote was shown in.
pub fn segment_at(events: &[Event], at_ms: i64) -> Segment {
    let upto = events.partition_point(|e| e.at_ms() <= at_ms);
    let session = current_session(&events[..upto], at_ms);
    let start = session.first().map_or(at_ms, Event::at_ms);
    if events[..upto].iter().any(|e| e.at_ms() < start) {
        Segment::Returning
    } else {
        Segment::New
    }
}

/// The tuple a quote's report encodes, or why it cannot be reported.
pub fn tuple_for(
    policy: &Policy,
    quote: &Quote,
    converted: bool,
    events: &[Event],
) -> Result<Tuple, NotReportable> {
    if quote.policy_version != policy.version {
        return Err(NotReportable::OtherPolicy {
            quote_policy: quote.policy_version.clone(),
            policy: policy.version.clone(),
        });
    }
    let domain = Domain::for_policy(policy);
    let learning = domain.version() == DomainVersion::Learning;
    if learning && quote.reason != Reason::Explore {
        return Err(NotReportable::NotExplore {
            policy: policy.version.clone(),
            reason: quote.reason,
        });
    }
    let arm = match quote.variant {
        Variant::Control => Arm::Control,
        Variant::Treatment if learning => Arm::Explore,
        Variant::Treatment => Arm::Treatment,
        Variant::None => {
            return Err(NotReportable::NotInExperiment {
                reason: quote.reason,
            })
        }
    };
    let group = if learning {
        // Quotes in the experiment come from the model's decision, so they carry the interest.
        let Some(interest) = quote.interest else {
            return Err(NotReportable::NoInterest);
        };
        Group::Interest(domain.bucket(interest))
    } else {
        Group::Segment(segment_at(events, quote.issued_at))
    };
    let step = if learning {
        nearest_step(
            quote.discount_minor,
            quote.list_price_minor,
            &policy.discount_steps,
        )
    } else {
        step_index(
            quote.discount_minor,
            quote.list_price_minor,
            &policy.discount_steps,
        )
    };
    Ok(Tuple {
        arm,
        step,
        converted,
        group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldp::tests::policy;

    #[test]
    fn steps_are_the_largest_at_or_below_the_actual_discount() {
        let steps = &policy().discount_steps; // 5, 10, 15, 20
        assert_eq!(step_index(0, 4999, steps), 0);
        assert_eq!(step_index(250, 4999, steps), 1, "5.001 % -> 5 %");
        assert_eq!(
            step_index(249, 4999, steps),
            1,
            "4.98 %: still the 5 % offer"
        );
        assert_eq!(step_index(1000, 10000, steps), 2, "exactly 10 %");
        assert_eq!(step_index(999, 10000, steps), 1, "9.99 % -> 5 %");
        assert_eq!(step_index(1951, 10000, steps), 3, "19.51 % -> 15 %");
        assert_eq!(step_index(2000, 10000, steps), 4);
    }

    #[test]
    fn why_a_quote_is_not_reportable_reads_as_before() {
        let cases = [
            (
                NotReportable::OtherPolicy {
                    quote_policy: "a".into(),
                    policy: "b".into(),
                },
                Refusal::OtherPolicy,
                "the quote was made under policy a, reports use the steps of policy b",
            ),
            (
                NotReportable::NotExplore {
                    policy: "b".into(),
                    reason: Reason::Personalized,
                },
                Refusal::NotInExperiment,
                "policy b learns from explore quotes only (reporting.interestBuckets): this quote is personalized, not explore",
            ),
            (
                NotReportable::NotInExperiment {
                    reason: Reason::Excluded,
                },
                Refusal::NotInExperiment,
                "the quote is not part of the experiment (reason excluded, variant none)",
            ),
            (
                NotReportable::NoInterest,
                Refusal::NotInExperiment,
                "the quote carries no interest, so it has no interest bucket (the model did not score it)",
            ),
        ];
        for (why, refusal, message) in cases {
            assert_eq!(
                (why.refusal(), why.to_string().as_str()),
                (refusal, message)
            );
        }
    }
}
