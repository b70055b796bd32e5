//! Measuring discounts without raw data (docs/measurement.md), on the device's side: reports carry
//! nothing beyond their fields, the daily budget and consent stop reports, and simulated devices'
//! reports recover their rates. The spread limit is in tests/spread.rs; the randomizers'
//! statistics in tests/ldp.rs.

mod common;

use common::devices::*;
use common::{clock, NOW};
use pricelet::ldp::{self, Domain, Segment};
use pricelet::JsonPricer;
use pricelet::{Clock, Consent, Pricer, Quote};
use pricelet_lab::rng::Rng as SplitMix64;
use pricelet_measure as aggregate;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------------
// The randomizers deliver their ε.

fn shown_quote(p: &mut Pricer) -> Quote {
    hesitant(p, -120_000);
    p.price_for(&sneaker(), &clock(0)).unwrap()
}

#[test]
fn a_report_has_exactly_the_listed_fields() {
    for (mechanism, payload_key) in [("oue", "bits"), ("grr", "value")] {
        let mut p = pricer(
            reporting(2.0, 8.0, mechanism),
            Consent::Granted,
            false,
            "shopper-schema-7",
            None,
        );
        let q = shown_quote(&mut p);
        assert!(q.variant == "control" || q.variant == "treatment", "{q:?}");
        let out = p.report(&q, true, &clock(0));
        let report = out.report.expect("consent granted, budget left: a report");
        let v = serde_json::to_value(&report).unwrap();
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = [
            "day",
            "mechanism",
            "epsilon",
            "domain",
            "domainVersion",
            payload_key,
        ]
        .into();
        assert_eq!(keys, expected, "{v}");
        assert_eq!(v["day"], "2026-11-29", "the local day, nothing finer");
        assert_eq!(v["mechanism"], mechanism);
        assert_eq!(v["epsilon"], 2.0);
        assert_eq!(v["domainVersion"], 1);
        let text = v.to_string();
        for secret in [
            p.anon_id(),
            "sneaker-1",
            &q.quote_id,
            &q.issued_at.to_string(),
        ] {
            assert!(!text.contains(secret), "the report leaks {secret}: {text}");
        }
        if mechanism == "oue" {
            let bits = v["bits"].as_str().unwrap();
            assert!(bits.len() == 40 && bits.bytes().all(|b| b == b'0' || b == b'1'));
        } else {
            assert!(v["value"].as_u64().unwrap() < 40);
        }
        // The aggregator reads it back under the same policy.
        let exp = aggregate::Expected::from_policy(p.policy()).unwrap();
        assert_eq!(aggregate::read_reports(&text, &exp).unwrap().n, 1);
    }
}

#[test]
fn the_daily_budget_stops_reports_until_the_next_local_day() {
    let policy = reporting(2.0, 5.0, "oue"); // two reports a day fit, a third does not
    let mut p = pricer(
        policy.clone(),
        Consent::Granted,
        false,
        "shopper-budget",
        None,
    );
    let q = shown_quote(&mut p);
    let first = p.report(&q, false, &clock(0));
    assert!(first.report.is_some());
    assert_eq!(
        (first.epsilon_spent_today, first.epsilon_left_today),
        (2.0, 3.0)
    );
    assert!(p.report(&q, false, &clock(1000)).report.is_some());
    let third = p.report(&q, true, &clock(2000));
    assert_eq!(third.report, None);
    assert_eq!(third.reason, Some(ldp::Refusal::DailyBudget));
    assert!(
        third.message.as_deref().unwrap().contains("daily ε = 5"),
        "{third:?}"
    );
    assert_eq!(
        (third.epsilon_spent_today, third.epsilon_left_today),
        (4.0, 1.0)
    );
    // The spend is in the stored state: another pricer (a reload, another tab) honours it ...
    let state = p.state_to_save().unwrap();
    assert!(state.contains("\"reportBudget\""), "{state}");
    let mut reloaded = pricer(
        policy.clone(),
        Consent::Granted,
        false,
        "shopper-budget",
        Some(&state),
    );
    let again = reloaded.report(&q, false, &clock(3000));
    assert_eq!(again.reason, Some(ldp::Refusal::DailyBudget));
    // ... and reloading an older state does not give the budget back.
    let mut fresh = pricer(
        policy.clone(),
        Consent::Granted,
        false,
        "shopper-budget",
        None,
    );
    fresh.report(&q, false, &clock(0));
    fresh.report(&q, false, &clock(0));
    fresh.load_state(None, NOW);
    assert_eq!(
        fresh.report(&q, false, &clock(4000)).reason,
        Some(ldp::Refusal::DailyBudget)
    );
    // The next local day has a fresh budget; the day follows the shopper's UTC offset.
    let tomorrow = Clock {
        now_ms: NOW + DAY_MS,
        utc_offset_minutes: 0,
    };
    let next = reloaded.report(&q, false, &tomorrow);
    assert_eq!(
        next.report.as_ref().map(|r| r.day.as_str()),
        Some("2026-11-30")
    );
    assert_eq!(next.epsilon_spent_today, 2.0);
}

/// A store several pricers share (tabs of a shop), used as the binding uses it: the stored budget
/// is read before a report, and the state is merged and written after one.
#[derive(Default)]
struct SharedStore(Option<String>);

impl SharedStore {
    fn report(&mut self, p: &mut Pricer, q: &Quote, at: i64) -> bool {
        p.merge_stored_budget(self.0.as_deref());
        let out = p.report(q, false, &clock(at));
        if out.report.is_some() {
            p.sync(self.0.as_deref(), NOW + at);
            self.0 = p.state_to_save();
            p.saved(self.0.clone());
        }
        out.report.is_some()
    }
}

#[test]
fn pricers_sharing_one_store_share_one_daily_budget() {
    // dailyEpsilon 8 at ε 2: four reports a day for the device, however many pricers it runs.
    let policy = reporting(2.0, 8.0, "grr");
    let mut store = SharedStore::default();
    let mut tabs: Vec<Pricer> = (0..3)
        .map(|_| {
            pricer(
                policy.clone(),
                Consent::Granted,
                false,
                "shopper-tabs",
                None,
            )
        })
        .collect();
    let quotes: Vec<Quote> = tabs.iter_mut().map(shown_quote).collect();
    let mut made = 0;
    for round in 0..4 {
        for (t, q) in tabs.iter_mut().zip(&quotes) {
            made += usize::from(store.report(t, q, round * 1000));
        }
    }
    assert_eq!(
        made, 4,
        "three pricers on one store made {made} reports in one day"
    );
    // Every copy that is merged in counts the four, whatever the order of the writes.
    let stored = pricelet::state::read_budget(store.0.as_deref());
    assert_eq!(stored.spent_on("2026-11-29"), 8.0);
}

#[test]
fn consent_changes_and_forget_keep_the_days_report_budget() {
    let policy = reporting(2.0, 8.0, "grr");
    let mut p = pricer(policy, Consent::Granted, false, "shopper-consent", None);
    let q = shown_quote(&mut p);
    let mut made = 0;
    let mut try_four = |p: &mut Pricer, at: i64| {
        for i in 0..4 {
            made += usize::from(p.report(&q, false, &clock(at + i)).report.is_some());
        }
    };
    try_four(&mut p, 0);
    p.set_consent(Consent::Denied);
    p.set_consent(Consent::Granted);
    try_four(&mut p, 100);
    p.forget();
    try_four(&mut p, 200);
    assert_eq!(made, 4, "one pricer made {made} reports in one day");
    // What storage keeps after forget(): the budget alone — no behaviour, no anonymous id.
    let kept = p
        .state_after_forget(&clock(300))
        .expect("the day's budget is kept");
    let v: Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(v["events"], json!([]));
    assert!(v.get("anonId").is_none(), "{kept}");
    assert_eq!(
        pricelet::state::read_budget(Some(&kept)).spent_on("2026-11-29"),
        8.0
    );
    // The next day it is gone.
    let tomorrow = Clock {
        now_ms: NOW + DAY_MS + 1,
        utc_offset_minutes: 0,
    };
    assert_eq!(p.state_after_forget(&tomorrow), None);
    // A pricer that made no report keeps nothing after forget().
    let mut quiet = pricer(
        reporting(2.0, 8.0, "grr"),
        Consent::Granted,
        false,
        "quiet",
        None,
    );
    quiet.forget();
    assert_eq!(quiet.state_after_forget(&clock(0)), None);
}

#[test]
fn no_report_without_consent_under_gpc_or_without_a_reporting_section() {
    let cases = [
        (
            reporting(2.0, 8.0, "oue"),
            Consent::Unknown,
            false,
            ldp::Refusal::NoConsent,
        ),
        (
            reporting(2.0, 8.0, "oue"),
            Consent::Denied,
            false,
            ldp::Refusal::NoConsent,
        ),
        (
            reporting(2.0, 8.0, "oue"),
            Consent::Granted,
            true,
            ldp::Refusal::OptedOut,
        ),
        (
            policy_with(json!({"reporting": null})),
            Consent::Granted,
            false,
            ldp::Refusal::ReportingOff,
        ),
    ];
    for (policy, consent, gpc, why) in cases {
        // A quote made with reporting on and consent granted, reported from a pricer that may not.
        let mut maker = pricer(
            reporting(2.0, 8.0, "oue"),
            Consent::Granted,
            false,
            "s-9",
            None,
        );
        let mut q = shown_quote(&mut maker);
        q.policy_version = policy.version.clone();
        let mut p = pricer(policy, consent, gpc, "s-9", None);
        let out = p.report(&q, true, &clock(0));
        assert_eq!(
            (out.report.is_none(), out.reason),
            (true, Some(why)),
            "{out:?}"
        );
        assert!(!out.message.unwrap_or_default().is_empty());
        if let Some(state) = p.state_to_save() {
            assert!(
                !state.contains("reportBudget"),
                "a refusal spends nothing: {state}"
            );
        }
    }
    // A quote outside the experiment (an excluded item) is not reported either.
    let mut p = pricer(
        reporting(2.0, 8.0, "oue"),
        Consent::Granted,
        false,
        "s-9",
        None,
    );
    let lux = p
        .price_for(
            &json!({"id": "w", "price": 900, "currency": "EUR", "category": "luxury"}),
            &clock(0),
        )
        .unwrap();
    let out = p.report(&lux, false, &clock(0));
    assert_eq!(out.reason, Some(ldp::Refusal::NotInExperiment));
    // Nor one made under another policy version (its steps may differ).
    let mut q = shown_quote(&mut p);
    q.policy_version = "other".into();
    let out = p.report(&q, false, &clock(0));
    assert_eq!(out.reason, Some(ldp::Refusal::OtherPolicy));
}

#[test]
fn the_segment_is_returning_only_with_an_earlier_session_or_purchase() {
    let ev = |v: Value| pricelet::behaviour::Event::from_json(&v, NOW).unwrap();
    let view = |at: i64| ev(json!({"type": "page_view", "at": at, "page": {"kind": "product"}}));
    let this_session = vec![view(NOW - 60_000), view(NOW - 30_000)];
    assert_eq!(ldp::segment_at(&this_session, NOW), Segment::New);
    let mut earlier = vec![view(NOW - 3 * DAY_MS)];
    earlier.extend(this_session.clone());
    assert_eq!(ldp::segment_at(&earlier, NOW), Segment::Returning);
    let mut bought = vec![ev(json!({"type": "purchase", "at": NOW - 200 * DAY_MS}))];
    bought.extend(this_session.clone());
    assert_eq!(ldp::segment_at(&bought, NOW), Segment::Returning);
    // A purchase in this very session (the conversion being reported) does not make a returning shopper.
    let mut now_bought = this_session.clone();
    now_bought.push(ev(json!({"type": "purchase", "at": NOW - 10_000})));
    assert_eq!(ldp::segment_at(&now_bought, NOW), Segment::New);
    // Reported later, the segment is the one of the session the quote was shown in.
    assert_eq!(ldp::segment_at(&this_session, NOW - 45_000), Segment::New);
}

#[test]
fn reports_from_simulated_devices_recover_the_rates_they_encode() {
    // Devices through the full path (pricer → quote → report) with known behaviour: the control arm
    // always sees list price; conversion is decided here, so the truth is known.
    let policy = reporting(4.0, 8.0, "grr");
    let domain = Domain::for_policy(&policy);
    let exp = aggregate::Expected::from_policy(&policy).unwrap();
    let mut rng = SplitMix64::new(5);
    let mut lines = String::new();
    let (mut n_arm, mut conv_arm) = ([0.0f64; 2], [0.0f64; 2]);
    let mut p = shared_pricer(policy.clone());
    for i in 0..3000 {
        become_device(&mut p, &format!("dev-{i}"));
        let q = shown_quote(&mut p);
        let arm = usize::from(q.variant == "treatment");
        let converted = ldp::uniform(&mut rng) < if arm == 1 { 0.35 } else { 0.15 };
        n_arm[arm] += 1.0;
        conv_arm[arm] += f64::from(u8::from(converted));
        let r = p.report(&q, converted, &clock(0)).report.unwrap();
        lines += &serde_json::to_string(&r).unwrap();
        lines.push('\n');
    }
    assert!(n_arm[0] > 150.0 && n_arm[1] > 2000.0, "{n_arm:?}");
    let tally = aggregate::read_reports(&lines, &exp).unwrap();
    let out = aggregate::readout(&tally, &exp);
    let arms: Vec<_> = out.arms.iter().map(|a| a.conversion.unwrap()).collect();
    for (k, est) in arms.iter().enumerate() {
        let sample = conv_arm[k] / n_arm[k];
        assert!(
            (est.estimate - sample).abs() < 4.0 * est.se,
            "arm {k}: {est:?} vs {sample}"
        );
    }
    // Exposures per arm are recovered from the noisy counts, too.
    for (k, a) in out.arms.iter().enumerate() {
        assert!(
            (a.exposures - n_arm[k]).abs() < 0.15 * 3000.0,
            "{a:?} vs {}",
            n_arm[k]
        );
    }
    assert_eq!(domain.size(), out.cell_counts.len());
}
