use super::*;
use crate::{add_report, fit_beta, seeded};
use pricelet::ldp::{self, Group, Segment};
use serde_json::{json, Value};

// The de-biased estimates recover known rates within their intervals.

/// A population with known rates: arms 50/50, control converts 20 %, treatment at step s converts
/// σ(logit 0.2 + 4·d_s), steps uniform in treatment; 60 % returning.
fn known_population(domain: &Domain) -> Vec<f64> {
    let mut pi = vec![0.0; domain.size()];
    let base = pricelet::math::logit(0.2);
    for seg in [Segment::New, Segment::Returning] {
        let ws = if seg == Segment::New { 0.4 } else { 0.6 };
        for conv in [true, false] {
            let pc = if conv { 0.2 } else { 0.8 };
            pi[domain.encode(&Tuple {
                arm: Arm::Control,
                step: 0,
                converted: conv,
                group: Group::Segment(seg),
            })] += 0.5 * ws * pc;
            for s in 0..domain.steps() {
                let r = pricelet::math::sigmoid(base + 4.0 * domain.steps_percent[s] / 100.0);
                let pr = if conv { r } else { 1.0 - r };
                pi[domain.encode(&Tuple {
                    arm: Arm::Treatment,
                    step: s,
                    converted: conv,
                    group: Group::Segment(seg),
                })] += 0.5 * ws * pr / domain.steps() as f64;
            }
        }
    }
    pi
}

/// The tally of `n` devices whose true cells are drawn from `pi`, each report randomized.
fn simulated_tally(
    pi: &[f64],
    mechanism: Mechanism,
    eps: f64,
    n: usize,
    rng: &mut impl ldp::Random,
) -> Tally {
    let cum: Vec<f64> = pi
        .iter()
        .scan(0.0, |s, x| {
            *s += x;
            Some(*s)
        })
        .collect();
    let mut tally = Tally::new(pi.len());
    for _ in 0..n {
        let u = ldp::uniform(rng);
        let cell = cum.partition_point(|&c| c < u).min(pi.len() - 1);
        tally.add(&ldp::randomize(cell, pi.len(), mechanism, eps, rng));
    }
    tally
}

fn coverage(mechanism: Mechanism, eps: f64, n: usize, reps: usize, seed: u64) -> [f64; 4] {
    let domain = Domain::for_policy(&Policy::default_policy());
    let pi = known_population(&domain);
    let truth = Frequencies::expected(&pi, Noise::Exact);
    let (nc, dc) = arm_conversion(&domain, Arm::Control);
    let (nt, dt) = arm_conversion(&domain, Arm::Treatment);
    let true_c = truth.ratio(&nc, &dc).unwrap().estimate;
    let true_t = truth.ratio(&nt, &dt).unwrap().estimate;
    assert!((true_c - 0.2).abs() < 1e-12);
    let mut rng = seeded(seed);
    let mut hits = [0usize; 4];
    for _ in 0..reps {
        let tally = simulated_tally(&pi, mechanism, eps, n, &mut rng);
        let f = tally.frequencies(Noise::Ldp(mechanism, eps));
        let c = f.ratio(&nc, &dc).unwrap();
        let t = f.ratio(&nt, &dt).unwrap();
        let i = incremental(&f, &domain).unwrap();
        let b = fit_beta(&f, &domain).unwrap();
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
    let control = arm_conversion(&domain, Arm::Control).1;
    let predicted_share = Frequencies::expected(&pi, noise).variance(&control) / n as f64;
    let predicted_incremental = per_report_variance(&pi, &domain, noise) / n as f64;
    let mut rng = seeded(99);
    let (mut share, mut inc) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let tally = simulated_tally(&pi, Mechanism::Oue, eps, n, &mut rng);
        let f = tally.frequencies(noise);
        share.push(f.pi.iter().zip(&control).map(|(a, b)| a * b).sum::<f64>());
        inc.push(incremental(&f, &domain).unwrap().estimate);
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
    let exact = per_report_variance(&pi, &domain, Noise::Exact) / n as f64;
    assert!(
        predicted_incremental > 5.0 * exact,
        "{predicted_incremental} vs {exact}"
    );
}

/// A running tally comes back from storage or from the caller (`tallyReports(reports, tally)`):
/// one whose counts no set of reports could produce, or that one more report would overflow, is
/// refused rather than added to.
#[test]
fn a_tally_with_impossible_counts_is_refused() {
    let exp = Expected::from_policy(&Policy::default_policy()).unwrap();
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
        2.0,
        &Payload::Bits(vec![1]),
    );
    let mut added = good.clone();
    add_report(&mut added, &report, &exp).unwrap();
    assert_eq!((added.n, added.fits(size)), (2, true));
    for t in [
        more_ones_than_reports,
        more_pairs_than_reports,
        about_to_overflow,
    ] {
        assert!(!t.fits(size), "{t:?}");
        let mut copy = t.clone();
        assert!(add_report(&mut copy, &report, &exp).is_err());
        assert_eq!(copy, t, "a refused tally is left as it was");
    }
}
