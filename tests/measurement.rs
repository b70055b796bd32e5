//! Measuring discounts without raw data (docs/measurement.md): the local-DP randomizers deliver
//! their stated ε, the de-biased estimates cover the truth as often as their intervals claim,
//! reports carry nothing beyond their fields, the daily budget and consent stop reports, and the
//! `maxSpreadPercent` limit holds in pricing and in `verify_quote`.

use pricelet::aggregate::{self, Frequencies, Noise, Tally};
use pricelet::ldp::{self, Arm, Domain, Mechanism, Payload, Segment, Tuple};
use pricelet::model::ModelKind;
use pricelet::quote::{verify_quote, VerifyOptions};
use pricelet::simulate::SplitMix64;
use pricelet::{Clock, Code, Consent, Item, ModelSlot, Policy, Pricer, PricerConfig, Quote};
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
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/interest.onnx")).unwrap();
    ModelSlot::load(Some(&bytes), ModelKind::Interest)
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
    )
    .unwrap()
}

fn become_device(p: &mut Pricer, anon: &str) {
    p.forget().unwrap();
    let state =
        format!(r#"{{"schema":"pricelet/behaviour","version":1,"anonId":"{anon}","events":[]}}"#);
    p.load_state(Some(&state), NOW);
    assert_eq!(p.anon_id(), anon);
}

fn sneaker() -> Value {
    json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00"})
}

/// A hesitant visit: few pages, high exit rates, no page value (the model scores it low).
fn hesitant(p: &mut Pricer, start: i64) {
    for i in 0..2 {
        let ev = json!({"type": "page_view", "at": NOW + start + i * 30_000,
            "page": {"kind": "product", "id": format!("p{i}"), "bounceRate": 0.2, "exitRate": 0.2, "pageValue": 0}});
        p.track(&ev, &clock(start + 60_000)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The randomizers deliver their ε.

/// χ² quantile 0.999 for 40 degrees of freedom.
const CHI2_40_999: f64 = 73.402;

fn chi2_bits(ones: &[u64], n: u64, truth: usize, p: f64, q: f64) -> f64 {
    ones.iter()
        .enumerate()
        .map(|(j, &c)| {
            let pr = if j == truth { p } else { q };
            let e = n as f64 * pr;
            (c as f64 - e).powi(2) / (e * (1.0 - pr))
        })
        .sum()
}

#[test]
fn oue_bits_have_the_stated_frequencies_and_likelihood_ratio() {
    let (d, eps, n) = (40, 2.0, 200_000u64);
    let (p, q) = Mechanism::Oue.probabilities(eps, d);
    assert_eq!(p, 0.5);
    assert!((q - 1.0 / (eps.exp() + 1.0)).abs() < 1e-15);
    let mut rng = SplitMix64::new(20261129);
    let (t, u) = (5usize, 17usize);
    // Outcomes of the two coordinates that differ between the inputs t and u: (bit t, bit u).
    let mut pair = [[0u64; 4]; 2];
    let mut ones = [vec![0u64; d], vec![0u64; d]];
    for (k, input) in [t, u].into_iter().enumerate() {
        for _ in 0..n {
            let Payload::Bits(bits) = ldp::randomize(input, d, Mechanism::Oue, eps, &mut rng)
            else {
                panic!("OUE gives bits")
            };
            for &j in &bits {
                ones[k][j] += 1;
            }
            let (bt, bu) = (bits.contains(&t), bits.contains(&u));
            pair[k][usize::from(bt) * 2 + usize::from(bu)] += 1;
        }
    }
    let chi_t = chi2_bits(&ones[0], n, t, p, q);
    let chi_u = chi2_bits(&ones[1], n, u, p, q);
    assert!(
        chi_t < CHI2_40_999 && chi_u < CHI2_40_999,
        "χ² {chi_t} {chi_u}"
    );
    // The same counts are clearly rejected against a randomizer with ε + 0.1 (the test has power).
    let (_, q_wrong) = Mechanism::Oue.probabilities(eps + 0.1, d);
    assert!(chi2_bits(&ones[0], n, t, p, q_wrong) > 10.0 * CHI2_40_999);
    // Empirical likelihood ratios of every outcome of the differing coordinates: at most e^ε, and
    // the largest one is e^ε (the bound is attained: no privacy is wasted, none is missing).
    let ratios: Vec<f64> = (0..4)
        .map(|o| pair[0][o] as f64 / pair[1][o] as f64)
        .flat_map(|r| [r, 1.0 / r])
        .collect();
    let max = ratios.iter().cloned().fold(0.0, f64::max);
    assert!(
        max <= eps.exp() * 1.05,
        "largest ratio {max} vs e^ε {}",
        eps.exp()
    );
    assert!(
        max >= eps.exp() * 0.95,
        "largest ratio {max} vs e^ε {}",
        eps.exp()
    );
}

#[test]
fn grr_values_have_the_stated_frequencies_and_likelihood_ratio() {
    let (d, eps, n) = (40, 3.0, 200_000u64);
    let (p, q) = Mechanism::Grr.probabilities(eps, d);
    assert!((p / q - eps.exp()).abs() < 1e-9);
    let mut rng = SplitMix64::new(7);
    let mut counts = [vec![0u64; d], vec![0u64; d]];
    for (k, input) in [3usize, 30].into_iter().enumerate() {
        for _ in 0..n {
            let Payload::Value(v) = ldp::randomize(input, d, Mechanism::Grr, eps, &mut rng) else {
                panic!("GRR gives a value")
            };
            counts[k][v] += 1;
        }
    }
    // χ² over the 40 categories (39 degrees of freedom; the 40-dof quantile is conservative).
    let chi: f64 = (0..d)
        .map(|j| {
            let e = n as f64 * if j == 3 { p } else { q };
            (counts[0][j] as f64 - e).powi(2) / e
        })
        .sum();
    assert!(chi < CHI2_40_999, "χ² {chi}");
    let ratio = |o: usize| counts[0][o] as f64 / counts[1][o] as f64;
    assert!((ratio(3) / eps.exp() - 1.0).abs() < 0.05, "{}", ratio(3));
    assert!((ratio(30) * eps.exp() - 1.0).abs() < 0.05, "{}", ratio(30));
    for o in (0..d).filter(|&o| o != 3 && o != 30) {
        assert!((ratio(o) - 1.0).abs() < 0.15, "value {o}: {}", ratio(o));
    }
}

// ---------------------------------------------------------------------------------------------
// The de-biased estimates recover known rates within their intervals.

/// A population with known rates: arms 50/50, control converts 20 %, treatment at step s converts
/// σ(logit 0.2 + 4·d_s), steps uniform in treatment; 60 % returning.
fn known_population(domain: &Domain) -> Vec<f64> {
    let mut pi = vec![0.0; domain.size()];
    let base = pricelet::pricing::logit(0.2);
    for seg in [Segment::New, Segment::Returning] {
        let ws = if seg == Segment::New { 0.4 } else { 0.6 };
        for conv in [true, false] {
            let pc = if conv { 0.2 } else { 0.8 };
            pi[domain.encode(&Tuple {
                arm: Arm::Control,
                step: 0,
                converted: conv,
                segment: seg,
            })] += 0.5 * ws * pc;
            for s in 0..domain.steps() {
                let r = pricelet::pricing::sigmoid(base + 4.0 * domain.steps_percent[s] / 100.0);
                let pr = if conv { r } else { 1.0 - r };
                pi[domain.encode(&Tuple {
                    arm: Arm::Treatment,
                    step: s,
                    converted: conv,
                    segment: seg,
                })] += 0.5 * ws * pr / domain.steps() as f64;
            }
        }
    }
    pi
}

fn coverage(mechanism: Mechanism, eps: f64, n: usize, reps: usize, seed: u64) -> [f64; 4] {
    let domain = Domain::for_policy(&Policy::default_policy());
    let pi = known_population(&domain);
    let truth = Frequencies::expected(&pi, Noise::Exact);
    let (nc, dc) = aggregate::arm_conversion(&domain, Arm::Control);
    let (nt, dt) = aggregate::arm_conversion(&domain, Arm::Treatment);
    let true_c = truth.ratio(&nc, &dc).unwrap().estimate;
    let true_t = truth.ratio(&nt, &dt).unwrap().estimate;
    assert!((true_c - 0.2).abs() < 1e-12);
    let cum: Vec<f64> = pi
        .iter()
        .scan(0.0, |s, x| {
            *s += x;
            Some(*s)
        })
        .collect();
    let mut rng = SplitMix64::new(seed);
    let mut hits = [0usize; 4];
    for _ in 0..reps {
        let mut tally = Tally::new(domain.size());
        for _ in 0..n {
            let u = ldp::uniform(&mut rng);
            let cell = cum.partition_point(|&c| c < u).min(domain.size() - 1);
            tally.add(&ldp::randomize(
                cell,
                domain.size(),
                mechanism,
                eps,
                &mut rng,
            ));
        }
        let f = tally.frequencies(Noise::Ldp(mechanism, eps));
        let c = f.ratio(&nc, &dc).unwrap();
        let t = f.ratio(&nt, &dt).unwrap();
        let i = aggregate::incremental(&f, &domain).unwrap();
        let b = aggregate::fit_beta(&f, &domain).unwrap();
        hits[0] += usize::from(c.covers(true_c));
        hits[1] += usize::from(t.covers(true_t));
        hits[2] += usize::from(i.covers(true_t - true_c));
        hits[3] += usize::from(b.beta.covers(4.0));
    }
    hits.map(|h| h as f64 / reps as f64)
}

#[test]
fn ninety_five_percent_intervals_cover_the_truth_about_95_percent_of_the_time() {
    for (mechanism, eps, n, seed) in [
        (Mechanism::Oue, 2.0, 20_000, 1),
        (Mechanism::Grr, 4.0, 20_000, 2),
    ] {
        let cov = coverage(mechanism, eps, n, 300, seed);
        println!(
            "{mechanism:?} ε={eps} n={n}: coverage control, treatment, incremental, β = {cov:?}"
        );
        for (what, c) in ["control", "treatment", "incremental", "β"].iter().zip(cov) {
            assert!(
                (0.92..=0.98).contains(&c),
                "{mechanism:?} ε={eps}: coverage of {what} is {c} over 300 repetitions"
            );
        }
    }
}

#[test]
fn the_closed_form_variance_predicts_the_spread_of_the_estimates() {
    // Across repetitions the estimates scatter as √(∇gᵀΣ∇g / n) says: exactly for a linear
    // functional (an arm's share of reports), to first order for the incremental conversion.
    let domain = Domain::for_policy(&Policy::default_policy());
    let pi = known_population(&domain);
    let (eps, n, reps) = (4.0, 5_000, 400);
    let noise = Noise::Ldp(Mechanism::Oue, eps);
    let control = aggregate::arm_conversion(&domain, Arm::Control).1;
    let predicted_share = Frequencies::expected(&pi, noise).variance(&control) / n as f64;
    let predicted_incremental = aggregate::per_report_variance(&pi, &domain, noise) / n as f64;
    let cum: Vec<f64> = pi
        .iter()
        .scan(0.0, |s, x| {
            *s += x;
            Some(*s)
        })
        .collect();
    let mut rng = SplitMix64::new(99);
    let (mut share, mut inc) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let mut tally = Tally::new(domain.size());
        for _ in 0..n {
            let u = ldp::uniform(&mut rng);
            let cell = cum.partition_point(|&c| c < u).min(domain.size() - 1);
            tally.add(&ldp::randomize(
                cell,
                domain.size(),
                Mechanism::Oue,
                eps,
                &mut rng,
            ));
        }
        let f = tally.frequencies(noise);
        share.push(f.pi.iter().zip(&control).map(|(a, b)| a * b).sum::<f64>());
        inc.push(aggregate::incremental(&f, &domain).unwrap().estimate);
    }
    let var = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
    };
    // The sample variance of 400 draws has a relative standard error of about 7 %.
    for (what, emp, pred) in [
        ("control share", var(&share), predicted_share),
        ("incremental", var(&inc), predicted_incremental),
    ] {
        assert!(
            (emp / pred - 1.0).abs() < 0.2,
            "{what}: empirical {emp} vs predicted {pred}"
        );
    }
    // Privacy costs: the same study without noise is far more precise.
    let exact = aggregate::per_report_variance(&pi, &domain, Noise::Exact) / n as f64;
    assert!(
        predicted_incremental > 5.0 * exact,
        "{predicted_incremental} vs {exact}"
    );
}

// ---------------------------------------------------------------------------------------------
// What a report contains, and when there is none.

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
        let mut rng = SplitMix64::new(1);
        let out = p.report(&q, true, &clock(0), &mut rng).unwrap();
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
    let mut rng = SplitMix64::new(2);
    let first = p.report(&q, false, &clock(0), &mut rng).unwrap();
    assert!(first.report.is_some());
    assert_eq!(
        (first.epsilon_spent_today, first.epsilon_left_today),
        (2.0, 3.0)
    );
    assert!(p
        .report(&q, false, &clock(1000), &mut rng)
        .unwrap()
        .report
        .is_some());
    let third = p.report(&q, true, &clock(2000), &mut rng).unwrap();
    assert_eq!(third.report, None);
    assert_eq!(third.reason, Some(ldp::refusal::DAILY_BUDGET));
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
    let again = reloaded.report(&q, false, &clock(3000), &mut rng).unwrap();
    assert_eq!(again.reason, Some(ldp::refusal::DAILY_BUDGET));
    // ... and reloading an older state does not give the budget back.
    let mut fresh = pricer(
        policy.clone(),
        Consent::Granted,
        false,
        "shopper-budget",
        None,
    );
    fresh.report(&q, false, &clock(0), &mut rng).unwrap();
    fresh.report(&q, false, &clock(0), &mut rng).unwrap();
    fresh.load_state(None, NOW);
    assert_eq!(
        fresh
            .report(&q, false, &clock(4000), &mut rng)
            .unwrap()
            .reason,
        Some(ldp::refusal::DAILY_BUDGET)
    );
    // The next local day has a fresh budget; the day follows the shopper's UTC offset.
    let tomorrow = Clock {
        now_ms: NOW + DAY_MS,
        utc_offset_minutes: 0,
    };
    let next = reloaded.report(&q, false, &tomorrow, &mut rng).unwrap();
    assert_eq!(
        next.report.as_ref().map(|r| r.day.as_str()),
        Some("2026-11-30")
    );
    assert_eq!(next.epsilon_spent_today, 2.0);
}

#[test]
fn no_report_without_consent_under_gpc_or_without_a_reporting_section() {
    let mut rng = SplitMix64::new(3);
    let cases = [
        (
            reporting(2.0, 8.0, "oue"),
            Consent::Unknown,
            false,
            ldp::refusal::NO_CONSENT,
        ),
        (
            reporting(2.0, 8.0, "oue"),
            Consent::Denied,
            false,
            ldp::refusal::NO_CONSENT,
        ),
        (
            reporting(2.0, 8.0, "oue"),
            Consent::Granted,
            true,
            ldp::refusal::OPTED_OUT,
        ),
        (
            policy_with(json!({"reporting": null})),
            Consent::Granted,
            false,
            ldp::refusal::REPORTING_OFF,
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
        let out = p.report(&q, true, &clock(0), &mut rng).unwrap();
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
    let out = p.report(&lux, false, &clock(0), &mut rng).unwrap();
    assert_eq!(out.reason, Some(ldp::refusal::NOT_IN_EXPERIMENT));
    // Nor one made under another policy version (its steps may differ).
    let mut q = shown_quote(&mut p);
    q.policy_version = "other".into();
    let out = p.report(&q, false, &clock(0), &mut rng).unwrap();
    assert_eq!(out.reason, Some(ldp::refusal::OTHER_POLICY));
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
        let r = p
            .report(&q, converted, &clock(0), &mut rng)
            .unwrap()
            .report
            .unwrap();
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

/// A running tally comes back from storage or from the caller (`tallyReports(reports, tally)`):
/// one whose counts no set of reports could produce, or that one more report would overflow, is
/// refused rather than added to.
#[test]
fn a_tally_with_impossible_counts_is_refused() {
    let exp = aggregate::Expected::from_policy(&Policy::default_policy()).unwrap();
    let size = exp.domain.size();
    let mut good = Tally::new(size);
    good.add(&Payload::Bits(vec![0, 3]));
    assert!(good.fits(size));
    let edited = |f: &dyn Fn(&mut Value)| {
        let mut v = serde_json::to_value(&good).unwrap();
        f(&mut v);
        serde_json::from_value::<Tally>(v).unwrap()
    };
    let more_ones_than_reports = edited(&|v| v["ones"][0] = json!(2));
    let more_pairs_than_reports = edited(&|v| v["pairs"][3] = json!(5));
    let about_to_overflow = edited(&|v| v["n"] = json!(u64::MAX));
    let report = ldp::Report::new(
        "2026-11-29".into(),
        &exp.domain,
        Mechanism::Oue,
        2.0,
        &Payload::Bits(vec![1]),
    );
    let mut added = good.clone();
    aggregate::add_report(&mut added, &report, &exp).unwrap();
    assert_eq!((added.n, added.fits(size)), (2, true));
    for t in [
        more_ones_than_reports,
        more_pairs_than_reports,
        about_to_overflow,
    ] {
        assert!(!t.fits(size), "{t:?}");
        let mut copy = t.clone();
        assert!(aggregate::add_report(&mut copy, &report, &exp).is_err());
        assert_eq!(copy, t, "a refused tally is left as it was");
    }
}
