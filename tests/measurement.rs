//! Measuring discounts without raw data (docs/measurement.md), on the device's side: reports carry
//! nothing beyond their fields, the daily budget and consent stop reports, simulated devices'
//! reports recover their rates, and the `maxSpreadPercent` limit holds in pricing and in
//! `verify_quote`. The randomizers' statistics are in tests/ldp.rs.

mod common;

use common::test_rng;
use pricelet::ldp::{self, Domain, Segment};
use pricelet::quote::VerifyOptions;
use pricelet::scorer::ModelKind;
use pricelet::wire::checkout::verify_quote;
use pricelet::JsonPricer;
use pricelet::{Clock, Code, Consent, Item, ModelSlot, Policy, Pricer, PricerConfig, Quote};
use pricelet_lab::rng::Rng as SplitMix64;
use pricelet_measure as aggregate;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

const NOW: i64 = 1_795_950_000_000; // 2026-11-29 11:00 UTC
const DAY_MS: i64 = 86_400_000;

fn clock(dt: i64) -> Clock {
    Clock {
        now_ms: NOW + dt,
        utc_offset_minutes: 0,
    }
}

fn policy_with(patch: Value) -> Policy {
    let mut v: Value = serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    Policy::from_json(&v).unwrap()
}

fn reporting(eps: f64, daily: f64, mechanism: &str) -> Policy {
    policy_with(
        json!({"reporting": {"epsilon": eps, "dailyEpsilon": daily, "mechanism": mechanism}}),
    )
}

fn model() -> ModelSlot {
    let bytes = std::fs::read(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models/interest.onnx"),
    )
    .unwrap();
    pricelet_onnx::slot(Some(&bytes), ModelKind::Interest)
}

fn pricer(policy: Policy, consent: Consent, gpc: bool, anon: &str, state: Option<&str>) -> Pricer {
    Pricer::new(
        policy,
        model(),
        ModelSlot::Absent,
        state,
        PricerConfig {
            consent,
            gpc_opt_out: gpc,
            anon_id: Some(anon.into()),
            stability_ttl_ms: Some(0),
        },
        NOW,
        test_rng(),
    )
    .unwrap()
}

/// One pricer playing many devices (loading the model once): forget, then adopt the device's id.
fn shared_pricer(policy: Policy) -> Pricer {
    Pricer::new(
        policy,
        model(),
        ModelSlot::Absent,
        None,
        PricerConfig {
            consent: Consent::Granted,
            gpc_opt_out: false,
            anon_id: None,
            stability_ttl_ms: Some(0),
        },
        NOW,
        test_rng(),
    )
    .unwrap()
}

/// The next device: a new pricer (its own log, id and report budget) with the models of the last.
fn become_device(p: &mut Pricer, anon: &str) {
    let state =
        format!(r#"{{"schema":"pricelet/behaviour","version":1,"anonId":"{anon}","events":[]}}"#);
    let policy = p.policy().clone();
    let placeholder = pricer_without_model(policy.clone());
    let (interest, uplift) = std::mem::replace(p, placeholder).into_models();
    *p = Pricer::new(
        policy,
        interest,
        uplift,
        Some(&state),
        PricerConfig {
            consent: Consent::Granted,
            gpc_opt_out: false,
            anon_id: None,
            stability_ttl_ms: Some(0),
        },
        NOW,
        // Each device randomizes its reports with its own stream.
        common::seeded_rng(
            0x5EED
                ^ u64::from(
                    anon.bytes()
                        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))),
                ),
        ),
    )
    .unwrap();
    assert_eq!(p.anon_id(), anon);
}

fn pricer_without_model(policy: Policy) -> Pricer {
    let config = PricerConfig {
        consent: Consent::Granted,
        gpc_opt_out: false,
        anon_id: None,
        stability_ttl_ms: Some(0),
    };
    Pricer::new(
        policy,
        ModelSlot::Absent,
        ModelSlot::Absent,
        None,
        config,
        NOW,
        test_rng(),
    )
    .unwrap()
}

fn sneaker() -> Value {
    json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00"})
}

/// A hesitant visit: few pages, high exit rates, no page value (the model scores it low).
fn hesitant(p: &mut Pricer, start: i64) {
    for i in 0..2 {
        let ev = json!({"type": "page_view", "at": NOW + start + i * 30_000,
            "page": {"kind": "product", "id": format!("p{i}"), "bounceRate": 0.2, "exitRate": 0.2, "pageValue": 0}});
        p.track_json(&ev, &clock(start + 60_000)).unwrap();
    }
}

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

// ---------------------------------------------------------------------------------------------
// The spread limit.

#[test]
fn max_spread_percent_bounds_every_quote_including_exploration() {
    // Half of all treatment quotes explore, so the uniform draw over candidates is exercised a lot.
    let policy = policy_with(json!({
        "maxSpreadPercent": 7,
        "experiment": {"controlPercent": 10, "explorationPercent": 50, "explorationWindowMs": 86400000, "offerStepPercent": 10}
    }));
    let items = [
        sneaker(),
        json!({"id": "tee", "price": "19.99", "currency": "EUR"}),
        json!({"id": "jp", "price": 12800, "currency": "JPY", "cost": 4000}),
        json!({"id": "tv", "price": 599, "currency": "EUR", "category": "electronics", "floorPrice": 400}),
    ];
    let (mut discounted, mut explored_discounts, mut total) = (0, 0, 0);
    let mut p = shared_pricer(policy.clone());
    for i in 0..300 {
        become_device(&mut p, &format!("s{i}"));
        if i % 3 != 0 {
            hesitant(&mut p, -(i as i64) * 1000 - 60_000);
        }
        for it in &items {
            let q = p.price_for(it, &clock(0)).unwrap();
            let item = Item::from_json(it).unwrap();
            total += 1;
            assert!(
                q.discount_minor * 100 <= 7 * q.list_price_minor,
                "{}: {} off {} is over 7 % ({})",
                q.item_id,
                q.discount_minor,
                q.list_price_minor,
                q.reason
            );
            let v = verify_quote(
                &q.to_value(),
                &item,
                &policy,
                &VerifyOptions {
                    now_ms: NOW,
                    ..Default::default()
                },
            );
            assert!(v.ok, "{:?}", v.problems);
            discounted += usize::from(q.discount_minor > 0);
            explored_discounts += usize::from(q.reason == "explore" && q.discount_minor > 0);
        }
    }
    assert!(
        discounted > total / 4,
        "the limit was exercised: {discounted} of {total} discounted"
    );
    assert!(
        explored_discounts > 50,
        "exploration was exercised: {explored_discounts}"
    );
    // Without the limit the same shoppers get deeper discounts (the limit is what bounds them).
    let open = policy_with(json!({
        "experiment": {"controlPercent": 10, "explorationPercent": 50, "explorationWindowMs": 86400000, "offerStepPercent": 10}
    }));
    let mut p = pricer(open, Consent::Granted, false, "s1", None);
    hesitant(&mut p, -61_000);
    let deepest = (0..50)
        .map(|k| {
            p.price_for(
                &json!({"id": format!("x{k}"), "price": "19.99", "currency": "EUR"}),
                &clock(0),
            )
            .unwrap()
        })
        .map(|q| q.discount_minor * 100 / q.list_price_minor)
        .max()
        .unwrap();
    assert!(deepest > 7, "{deepest}");
}

#[test]
fn verify_quote_names_a_quote_beyond_the_spread_limit() {
    // A genuine quote of the open policy, verified by a server whose policy limits the spread.
    let open = policy_with(
        json!({"experiment": {"controlPercent": 0, "explorationPercent": 100, "explorationWindowMs": 86400000, "offerStepPercent": 10}}),
    );
    let limited = policy_with(json!({
        "maxSpreadPercent": 8,
        "experiment": {"controlPercent": 0, "explorationPercent": 100, "explorationWindowMs": 86400000, "offerStepPercent": 10}
    }));
    let item = Item::from_json(&sneaker()).unwrap();
    let opts = VerifyOptions {
        now_ms: NOW,
        ..Default::default()
    };
    let mut seen = false;
    let mut p = shared_pricer(open.clone());
    for i in 0..200 {
        become_device(&mut p, &format!("v{i}"));
        let q = p.price_for(&sneaker(), &clock(0)).unwrap();
        assert!(verify_quote(&q.to_value(), &item, &open, &opts).ok);
        let v = verify_quote(&q.to_value(), &item, &limited, &opts);
        let beyond = q.discount_minor * 100 > 8 * q.list_price_minor;
        assert_eq!(v.ok, !beyond, "{q:?} {:?}", v.problems);
        if beyond {
            assert_eq!(
                v.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
                vec!["spread_exceeded"]
            );
            seen = true;
        }
    }
    assert!(seen, "some explored quote went beyond 8 %");
}

#[test]
fn policy_validation_names_the_new_fields() {
    for (patch, field) in [
        (json!({"maxSpreadPercent": 0}), "maxSpreadPercent"),
        (json!({"maxSpreadPercent": -3}), "maxSpreadPercent"),
        (
            json!({"reporting": {"epsilon": 0, "dailyEpsilon": 4}}),
            "reporting.epsilon",
        ),
        (
            json!({"reporting": {"epsilon": 11, "dailyEpsilon": 40}}),
            "reporting.epsilon",
        ),
        (
            json!({"reporting": {"epsilon": 2, "dailyEpsilon": 1.5}}),
            "reporting.dailyEpsilon",
        ),
        (
            json!({"reporting": {"epsilon": 2, "dailyEpsilon": 8, "mechanism": "rappor"}}),
            "reporting.mechanism",
        ),
    ] {
        let mut v: Value = serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        let e = Policy::from_json(&v).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::InvalidPolicy, Some(field)),
            "{e}"
        );
        assert!(e.message.contains(field), "{e}");
    }
}

#[test]
fn the_bundled_policy_has_reporting_on_with_a_daily_budget() {
    let p = Policy::default_policy();
    let r = p
        .reporting
        .as_ref()
        .expect("policy/default.json has a reporting section");
    assert!(r.epsilon > 0.0 && r.daily_epsilon >= r.epsilon);
    assert_eq!(
        p.max_spread_percent, None,
        "the bundled policy adds no spread limit"
    );
}
