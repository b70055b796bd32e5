//! Revisions the engine makes to a merchant's policy: the learning loop's new β.

use super::{Policy, PreviousVersion};
use crate::error::Result;

impl Policy {
    /// This policy with `strategy.beta` = `beta`, named `version`, replacing `previous`; every
    /// other field stays the merchant's.
    pub fn with_beta(
        &self,
        beta: f64,
        version: String,
        previous: Option<PreviousVersion>,
    ) -> Result<Policy> {
        let mut next = self.clone();
        next.version = version;
        next.strategy_doc.beta = Some(beta);
        next.previous_version = previous;
        // Through the merchant's entry point, so a revision meets every check a written policy
        // does (size included) and fails with the same messages.
        Policy::from_json(&next.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use crate::policy::Strategy;

    const NOW: i64 = 1_795_950_160_000;

    fn learning() -> Policy {
        Policy::from_json_str(include_str!("../../policy/learning.json")).unwrap()
    }

    fn replacing(p: &Policy) -> Option<PreviousVersion> {
        Some(PreviousVersion {
            version: p.version.clone(),
            accept_until: NOW,
        })
    }

    #[test]
    fn a_new_beta_changes_beta_version_and_previous_version_only() {
        let p = learning();
        let next = p.with_beta(6.5, "next".into(), replacing(&p)).unwrap();
        assert_eq!(next.strategy(), &Strategy::ExpectedProfit { beta: 6.5 });
        assert_eq!(next.version, "next");
        assert_eq!(next.previous_version, replacing(&p));
        let strip = |mut v: serde_json::Value| {
            for k in ["version", "previousVersion", "strategy"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        assert_eq!(strip(next.to_json()), strip(p.to_json()));
        // What it returns is what reading its own document gives.
        assert_eq!(Policy::from_json(&next.to_json()).unwrap(), next);
    }

    #[test]
    fn a_revision_is_refused_where_a_written_policy_would_be() {
        let p = learning();
        let field = |beta: f64, version: &str, previous: Option<PreviousVersion>| {
            let e = p.with_beta(beta, version.into(), previous).unwrap_err();
            assert_eq!(e.code, Code::InvalidPolicy, "{e}");
            e.field
        };
        // Outside learning's [betaMin, betaMax] = [0, 12].
        assert_eq!(
            field(12.5, "next", replacing(&p)).as_deref(),
            Some("strategy.beta")
        );
        assert_eq!(
            field(f64::NAN, "next", replacing(&p)).as_deref(),
            Some("strategy.beta")
        );
        assert_eq!(field(6.0, " ", None).as_deref(), Some("version"));
        assert_eq!(
            field(6.0, &p.version, replacing(&p)).as_deref(),
            Some("previousVersion.version")
        );
        // Only the expectedProfit strategy has a β.
        let mut tiers = Policy::default_policy().to_json();
        tiers["strategy"] =
            serde_json::json!({"type": "tiers", "tiers": [{"interestBelow": 1, "percent": 5}]});
        let tiers = Policy::from_json(&tiers).unwrap();
        let e = tiers.with_beta(4.0, "next".into(), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("strategy.beta"), "{e}");
    }
}
