//! Validating a policy: every field checked, and a bad one named with what it must be.

use super::*;
use crate::error::quoted;

impl Policy {
    pub(crate) fn validated(mut self) -> Result<Policy> {
        let bad = |field: &str, msg: String| {
            Err(Error::at(
                Code::InvalidPolicy,
                field,
                format!("invalid policy: `{field}` {msg}"),
            ))
        };
        let count = |field: &str, n: usize| limits::check_count(field, n, limits::MAX_POLICY_RULES);
        if self.version.trim().is_empty() {
            return bad("version", "must be a non-empty string".into());
        }
        limits::check_str("version", &self.version, limits::MAX_NAME_LEN)?;
        count("discountSteps", self.discount_steps.len())?;
        for (i, s) in self.discount_steps.iter().enumerate() {
            if s.ppm() == 0 || s.ppm() >= Ppm::ONE.0 {
                return bad(
                    &format!("discountSteps[{i}]"),
                    "must be above 0 and below 100".into(),
                );
            }
            if i > 0 && *s <= self.discount_steps[i - 1] {
                return bad(
                    &format!("discountSteps[{i}]"),
                    "must be larger than the step before it (ascending, no duplicates)".into(),
                );
            }
        }
        count("caps.categoryPercent", self.caps.category_percent.len())?;
        if self.margin.min_margin_percent.0 >= Ppm::ONE {
            return bad("margin.minMarginPercent", "must be below 100".into());
        }
        count("exclusions.categories", self.exclusions.categories.len())?;
        count("exclusions.itemIds", self.exclusions.item_ids.len())?;
        count("exclusions.tags", self.exclusions.tags.len())?;
        // Categories and tags match the catalog's without regard to case, so two names that differ
        // only by case would be one rule said twice (possibly with two values): refused.
        for (field, names) in [
            (
                "caps.categoryPercent",
                self.caps.category_percent.keys().collect::<Vec<_>>(),
            ),
            (
                "exclusions.categories",
                self.exclusions.categories.iter().collect(),
            ),
            ("exclusions.tags", self.exclusions.tags.iter().collect()),
        ] {
            for (i, a) in names.iter().enumerate() {
                if let Some(b) = names[..i].iter().find(|b| same_name(a, b)) {
                    return bad(
                        field,
                        format!("{} and {} differ only by case; names match the catalog without regard to case, so give each once", quoted(b), quoted(a)),
                    );
                }
            }
        }
        count("priceEndings", self.price_endings.len())?;
        let mut endings = BTreeMap::new();
        for (code, list) in &self.price_endings {
            let field = format!("priceEndings.{code}");
            let currency = if code == "default" {
                None
            } else {
                Some(Currency::from_code(code).map_err(|_| {
                    Error::at(Code::InvalidPolicy, field.clone(), format!("invalid policy: `{field}`: {} is not an ISO 4217 currency code (or \"default\")", quoted(code)))
                })?)
            };
            if list.is_empty() {
                return bad(
                    &field,
                    "must list at least one ending (use [\"any\"] to allow every price)".into(),
                );
            }
            count(&field, list.len())?;
            let parsed = list
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    PriceEnding::parse(s, currency).map_err(|e| {
                        let f = format!("{field}[{i}]");
                        Error::at(
                            Code::InvalidPolicy,
                            f.clone(),
                            format!("invalid policy: `{f}` {e}"),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            endings.insert(code.clone(), parsed);
        }
        if !endings.contains_key("default") {
            return bad(
                "priceEndings.default",
                "is required: the endings for currencies not listed (e.g. [\"any\"])".into(),
            );
        }
        self.endings = endings;
        self.strategy = self.strategy_doc.checked()?;
        match &self.strategy {
            Strategy::Tiers { tiers } => {
                count("strategy.tiers", tiers.len())?;
                if tiers.is_empty() {
                    return bad("strategy.tiers", "must have at least one tier".into());
                }
                for (i, t) in tiers.iter().enumerate() {
                    let f = format!("strategy.tiers[{i}].interestBelow");
                    if !(t.interest_below.is_finite()
                        && t.interest_below > 0.0
                        && t.interest_below <= 1.0)
                    {
                        return bad(&f, "must be a probability above 0 and at most 1".into());
                    }
                    if i > 0 && t.interest_below <= tiers[i - 1].interest_below {
                        return bad(
                            &f,
                            "must be larger than the tier before it (ascending)".into(),
                        );
                    }
                }
            }
            Strategy::Linear { slope_percent, .. } => {
                if !(slope_percent.is_finite() && (0.0..=1000.0).contains(slope_percent)) {
                    return bad(
                        "strategy.slopePercent",
                        "must be a number from 0 to 1000".into(),
                    );
                }
            }
            Strategy::ExpectedProfit { beta } => {
                if !(beta.is_finite() && (0.0..=100.0).contains(beta)) {
                    return bad(
                        "strategy.beta",
                        "must be a number from 0 to 100 (logit change per unit of discount)".into(),
                    );
                }
            }
        }
        let ms_ok = |x: i64, min: i64| (min..=WEEK_MS).contains(&x);
        if !ms_ok(self.stability.ttl_ms, 0) {
            return bad(
                "stability.ttlMs",
                "must be whole milliseconds from 0 to one week".into(),
            );
        }
        if !ms_ok(self.quote_ttl_ms, 1000) {
            return bad(
                "quoteTtlMs",
                "must be whole milliseconds from 1000 to one week".into(),
            );
        }
        if !ms_ok(self.experiment.exploration_window_ms, 60_000) {
            return bad(
                "experiment.explorationWindowMs",
                "must be whole milliseconds from 60000 to one week".into(),
            );
        }
        if self.experiment.offer_step_percent.ppm() == 0
            || self.experiment.offer_step_percent.0 >= Ppm::ONE
        {
            return bad(
                "experiment.offerStepPercent",
                "must be above 0 and below 100".into(),
            );
        }
        count("disclosure.labels", self.disclosure.labels.len())?;
        for (k, label) in &self.disclosure.labels {
            limits::check_str(
                &format!("disclosure.labels.{k}"),
                label,
                limits::MAX_TEXT_LEN,
            )?;
        }
        if !self.disclosure.labels.is_empty()
            && !self
                .disclosure
                .labels
                .contains_key(&self.disclosure.jurisdiction)
        {
            return bad(
                "disclosure.jurisdiction",
                format!(
                    "{} has no entry in disclosure.labels",
                    quoted(&self.disclosure.jurisdiction)
                ),
            );
        }
        if !(1..=3650).contains(&self.privacy.retention_days) {
            return bad("privacy.retentionDays", "must be from 1 to 3650".into());
        }
        if self.privacy.purchase_history_days > 3650 {
            return bad("privacy.purchaseHistoryDays", "must be at most 3650".into());
        }
        if self.max_quantity_per_order == 0 {
            return bad("maxQuantityPerOrder", "must be at least 1".into());
        }
        if let Some(prev) = &self.previous_version {
            if prev.version == self.version || prev.version.is_empty() {
                return bad(
                    "previousVersion.version",
                    "must name the policy version this one replaces".into(),
                );
            }
            if !(0..=crate::time::MAX_EPOCH_MS).contains(&prev.accept_until) {
                return bad(
                    "previousVersion.acceptUntil",
                    "must be a time in ms since the epoch".into(),
                );
            }
        }
        if self.max_spread_percent.is_some_and(|s| s.ppm() == 0) {
            return bad(
                "maxSpreadPercent",
                "must be above 0 (leave it out for no spread limit)".into(),
            );
        }
        if let Some(r) = &self.reporting {
            if !(r.epsilon.is_finite() && r.epsilon > 0.0 && r.epsilon <= 10.0) {
                return bad(
                    "reporting.epsilon",
                    "must be a number above 0 and at most 10 (the privacy loss ε of one report)"
                        .into(),
                );
            }
            if !(r.daily_epsilon.is_finite() && r.daily_epsilon >= r.epsilon) {
                return bad(
                    "reporting.dailyEpsilon",
                    format!(
                        "must be a number at least reporting.epsilon ({}): the ε a device may spend per day",
                        r.epsilon
                    ),
                );
            }
            if let Some(b) = &r.interest_buckets {
                let f = "reporting.interestBuckets";
                if b.is_empty() || b.len() > crate::ldp::MAX_INTEREST_BUCKETS - 1 {
                    return bad(f, format!("must list 1 to {} interest thresholds (leave it out for domain version 1)", crate::ldp::MAX_INTEREST_BUCKETS - 1));
                }
                for (i, t) in b.iter().enumerate() {
                    if !(t.is_finite() && *t > 0.0 && *t < 1.0) || (i > 0 && *t <= b[i - 1]) {
                        return bad(
                            &format!("{f}[{i}]"),
                            "must be a probability above 0 and below 1, larger than the threshold before it".into(),
                        );
                    }
                }
            }
        }
        if let Some(l) = &self.learning {
            let beta = match self.strategy {
                Strategy::ExpectedProfit { beta } => beta,
                _ => {
                    return bad(
                        "learning",
                        "needs the expectedProfit strategy: the loop learns its β".into(),
                    )
                }
            };
            if self
                .reporting
                .as_ref()
                .is_none_or(|r| r.interest_buckets.is_none())
            {
                return bad("learning", "needs `reporting.interestBuckets`: β is estimated from explore reports per interest bucket (domain version 2)".into());
            }
            if self.experiment.exploration_percent.ppm() == 0 {
                return bad("learning", "needs `experiment.explorationPercent` above 0: β is learned from the randomized explore quotes".into());
            }
            let range = |x: f64| x.is_finite() && (0.0..=100.0).contains(&x);
            if !(range(l.beta_min) && range(l.beta_max) && l.beta_min <= l.beta_max) {
                return bad(
                    "learning.betaMax",
                    "and `learning.betaMin` must be numbers from 0 to 100 with betaMin ≤ betaMax"
                        .into(),
                );
            }
            if !(l.beta_min..=l.beta_max).contains(&beta) {
                return bad(
                    "strategy.beta",
                    format!(
                        "must lie in the learning range [{}, {}]",
                        l.beta_min, l.beta_max
                    ),
                );
            }
            // A step as large as the whole range bounds nothing, and an interval wider than the
            // range cannot tell any two of its β apart: both must stay inside the range to mean
            // something (a range of width 0 pins β, so any positive value is moot there).
            let span = l.beta_max - l.beta_min;
            let within = |x: f64| x.is_finite() && x > 0.0 && (span == 0.0 || x <= span);
            if !within(l.max_beta_step) {
                return bad(
                    "learning.maxBetaStep",
                    format!("must be a number above 0 and at most betaMax − betaMin = {span}: a larger step is no bound on β"),
                );
            }
            if !within(l.max_interval_width) {
                return bad(
                    "learning.maxIntervalWidth",
                    format!("must be a number above 0 and at most betaMax − betaMin = {span}: a wider interval cannot tell any two β of the learning range apart"),
                );
            }
            if l.min_reports == 0 {
                return bad("learning.minReports", "must be at least 1".into());
            }
            if !(self.quote_ttl_ms..=WEEK_MS).contains(&l.grace_ms) {
                return bad("learning.graceMs", "must be whole milliseconds from quoteTtlMs to one week: quotes of a replaced version must verify until they expire".into());
            }
        }
        Ok(self)
    }
}
