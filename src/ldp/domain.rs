//! The report domain: what one report can say (arm × step × converted × group), its two versions,
//! and the encoding of a true value as an index.

use crate::policy::{Percent, Policy};
use serde::{Serialize, Serializer};
use std::fmt;

/// The report format, sent as its number (`domainVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainVersion {
    /// Version 1: arm × step × converted × segment.
    Segments = 1,
    /// Version 2 (a policy with `reporting.interestBuckets`, the learning loop): explore quotes
    /// only, step × converted × interest bucket. An explore quote's discount is drawn at random by
    /// the device (uniformly among the item's feasible prices), independently of the shopper's
    /// behaviour, so the step is sent in the clear and only (converted, bucket) — 2·B values — is
    /// randomized with ε. Within a bucket, conversion by step is then a randomized experiment,
    /// which identifies β (`pricelet_measure::fit_beta`).
    Learning = 2,
}

impl DomainVersion {
    /// The number on the wire.
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The version of a wire number; None for a number no version has.
    pub fn from_number(n: u32) -> Option<DomainVersion> {
        match n {
            1 => Some(DomainVersion::Segments),
            2 => Some(DomainVersion::Learning),
            _ => None,
        }
    }
}

impl fmt::Display for DomainVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for DomainVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.number())
    }
}

/// At most this many interest buckets (each one multiplies the domain).
pub const MAX_INTEREST_BUCKETS: usize = 8;

/// The experiment arm of a report. Explore quotes are treatment quotes; domain version 2 reports
/// them as their own arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    Control,
    Treatment,
    Explore,
}

impl Arm {
    /// The A/B arm: explore quotes are part of the treatment arm.
    pub fn experiment_arm(self) -> Arm {
        match self {
            Arm::Explore => Arm::Treatment,
            a => a,
        }
    }
}

/// New or returning shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    New,
    Returning,
}

/// Who the shopper is, coarsely: the segment (domain version 1) or the interest bucket (version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Group {
    Segment(Segment),
    /// Index of the bucket: the number of `interestBuckets` thresholds at or below the interest.
    Interest(usize),
}

/// One true (unrandomized) value of the domain. It never leaves the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tuple {
    pub arm: Arm,
    /// Index into `[0, discountSteps...]`: 0 = no discount.
    pub step: usize,
    pub converted: bool,
    pub group: Group,
}

/// The report domain of a policy: arm × step (0 and the policy's discount steps) × converted × group.
/// Encoding order: `index = ((arm · (S + 1) + step) · 2 + converted) · G + group` with no = 0,
/// yes = 1; version 1: control = 0, treatment = 1, group new = 0, returning = 1 (G = 2); version 2:
/// the explore arm only (arm = 0), group the interest bucket (G = thresholds + 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// Discounts of the steps in percent, starting with 0.
    pub steps_percent: Vec<f64>,
    /// The interest thresholds of version 2; empty for version 1.
    pub interest_buckets: Vec<f64>,
}

impl Domain {
    pub fn for_policy(policy: &Policy) -> Domain {
        let buckets = policy
            .reporting
            .as_ref()
            .and_then(|r| r.interest_buckets.clone());
        Domain {
            interest_buckets: buckets.unwrap_or_default(),
            ..Domain::from_steps(&policy.discount_steps)
        }
    }

    /// The version-1 domain of these discount steps.
    pub fn from_steps(steps: &[Percent]) -> Domain {
        let mut steps_percent = vec![0.0];
        steps_percent.extend(steps.iter().map(|s| s.0.as_percent()));
        Domain {
            steps_percent,
            interest_buckets: Vec::new(),
        }
    }

    /// Interest thresholds make the learning loop's domain; without them it is the A/B one.
    pub fn version(&self) -> DomainVersion {
        if self.interest_buckets.is_empty() {
            DomainVersion::Segments
        } else {
            DomainVersion::Learning
        }
    }

    pub fn steps(&self) -> usize {
        self.steps_percent.len()
    }

    /// Arms in the domain: control and treatment (version 1), explore only (version 2).
    pub fn arms(&self) -> usize {
        match self.version() {
            DomainVersion::Segments => 2,
            DomainVersion::Learning => 1,
        }
    }

    /// How many values a report randomizes over: the whole domain (version 1), or converted ×
    /// bucket within the report's step (version 2: the step travels in the clear).
    pub fn randomized_size(&self) -> usize {
        match self.version() {
            DomainVersion::Segments => self.size(),
            DomainVersion::Learning => 2 * self.groups(),
        }
    }

    /// Splits a domain index into the clear step (version 2) and the index that is randomized.
    pub fn split(&self, index: usize) -> (Option<usize>, usize) {
        match self.version() {
            DomainVersion::Segments => (None, index),
            DomainVersion::Learning => {
                let block = self.randomized_size();
                (Some(index / block), index % block)
            }
        }
    }

    /// Values of the last coordinate: segments (version 1) or interest buckets (version 2).
    pub fn groups(&self) -> usize {
        match self.version() {
            DomainVersion::Segments => 2,
            DomainVersion::Learning => self.interest_buckets.len() + 1,
        }
    }

    pub fn size(&self) -> usize {
        self.arms() * self.steps() * 2 * self.groups()
    }

    /// The bucket of an interest: how many thresholds are at or below it.
    pub fn bucket(&self, interest: f64) -> usize {
        self.interest_buckets
            .iter()
            .take_while(|t| **t <= interest)
            .count()
    }

    pub fn encode(&self, t: &Tuple) -> usize {
        let arm = match t.arm {
            Arm::Control | Arm::Explore => 0,
            Arm::Treatment => 1,
        };
        let group = match t.group {
            Group::Segment(s) => usize::from(s == Segment::Returning),
            Group::Interest(b) => b,
        };
        ((arm * self.steps() + t.step) * 2 + usize::from(t.converted)) * self.groups() + group
    }

    pub fn decode(&self, index: usize) -> Tuple {
        let g = index % self.groups();
        let rest = index / self.groups();
        let converted = rest % 2 == 1;
        let rest = rest / 2;
        let (arm, group) = match self.version() {
            DomainVersion::Segments => (
                if rest / self.steps() == 0 {
                    Arm::Control
                } else {
                    Arm::Treatment
                },
                Group::Segment(if g == 1 {
                    Segment::Returning
                } else {
                    Segment::New
                }),
            ),
            DomainVersion::Learning => (Arm::Explore, Group::Interest(g)),
        };
        Tuple {
            arm,
            step: rest % self.steps(),
            converted,
            group,
        }
    }

    /// What a report's `domain` field says: the values of each coordinate, in encoding order.
    pub fn description(&self) -> String {
        let steps: Vec<String> = self.steps_percent.iter().map(|s| format!("{s}")).collect();
        match self.version() {
            DomainVersion::Segments => format!(
                "arm=control,treatment;step%={};converted=no,yes;segment=new,returning",
                steps.join(",")
            ),
            DomainVersion::Learning => format!(
                "arm=explore;step%={};converted=no,yes;interest={}",
                steps.join(","),
                self.bucket_names().join(",")
            ),
        }
    }

    /// The interest buckets as ranges, e.g. `0-0.1`, `0.1-0.3`, `0.3-1`.
    pub fn bucket_names(&self) -> Vec<String> {
        let mut edges = vec![0.0];
        edges.extend(&self.interest_buckets);
        edges.push(1.0);
        edges
            .windows(2)
            .map(|w| format!("{}-{}", w[0], w[1]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldp::tests::policy;

    #[test]
    fn the_encoding_is_a_bijection() {
        let d = Domain::for_policy(&policy());
        assert_eq!(d.size(), 40);
        for i in 0..d.size() {
            assert_eq!(d.encode(&d.decode(i)), i);
        }
        assert_eq!(
            d.description(),
            "arm=control,treatment;step%=0,5,10,15,20;converted=no,yes;segment=new,returning"
        );
    }

    #[test]
    fn the_learning_domain_is_version_2_and_sent_as_its_number() {
        let learning = Policy::from_json_str(include_str!("../../policy/learning.json")).unwrap();
        let d = Domain::for_policy(&learning);
        assert_eq!(d.version(), DomainVersion::Learning);
        assert_eq!(
            Domain::for_policy(&policy()).version(),
            DomainVersion::Segments
        );
        for i in 0..d.size() {
            assert_eq!(d.encode(&d.decode(i)), i);
        }
        for v in [DomainVersion::Segments, DomainVersion::Learning] {
            assert_eq!(DomainVersion::from_number(v.number()), Some(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), v.to_string());
        }
        assert_eq!(DomainVersion::from_number(3), None);
    }
}
