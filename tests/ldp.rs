//! The local-DP randomizers and the collector's estimates (docs/measurement.md): the randomizers
//! deliver their stated ε, the de-biased estimates cover the truth as often as their intervals
//! claim, and the closed-form variance predicts their spread.

use pricelet::ldp::{self, Arm, Domain, Group, Mechanism, Payload, Segment, Tuple};
use pricelet::Policy;
use pricelet_lab::rng::Rng as SplitMix64;
use pricelet_measure::{self as aggregate, Frequencies, Noise, Tally};

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

// ---------------------------------------------------------------------------------------------
// Domain version 2 (the learning loop): β from explore reports is unbiased and its interval covers.

/// Explore reports of a population with known rates: steps drawn uniformly (the device's explore
/// draw), conversion σ(α_b + β·d) within an interest bucket, the buckets as the shipped model makes
/// them on Online Shoppers (shares 57, 18, 7, 5, 6, 7 %; base rates 1, 8, 21, 40, 60, 85 %).
fn explore_population(domain: &Domain, beta: f64) -> Vec<f64> {
    let mut pi = vec![0.0; domain.size()];
    let groups = domain.groups();
    assert_eq!(groups, 6);
    let shares = [0.57, 0.177, 0.07, 0.049, 0.063, 0.071];
    let rates: [f64; 6] = [0.012, 0.082, 0.213, 0.402, 0.602, 0.847];
    for b in 0..groups {
        let (weight, alpha) = (shares[b], pricelet::math::logit(rates[b]));
        for s in 0..domain.steps() {
            let p = pricelet::math::sigmoid(alpha + beta * domain.steps_percent[s] / 100.0);
            for (converted, w) in [(true, p), (false, 1.0 - p)] {
                pi[domain.encode(&Tuple {
                    arm: Arm::Explore,
                    step: s,
                    converted,
                    group: Group::Interest(b),
                })] += weight * w / domain.steps() as f64;
            }
        }
    }
    pi
}

#[test]
fn beta_from_explore_reports_is_unbiased_and_its_interval_covers() {
    let policy = Policy::from_json_str(include_str!("../policy/learning.json")).unwrap();
    let domain = Domain::for_policy(&policy);
    assert_eq!((domain.version(), domain.randomized_size()), (2, 12));
    for (mechanism, eps, n, beta, seed) in [
        (Mechanism::Oue, 2.0, 30_000, 6.0, 5),
        (Mechanism::Grr, 4.0, 10_000, 6.0, 6),
        (Mechanism::Grr, 2.0, 60_000, 0.0, 7),
    ] {
        let pi = explore_population(&domain, beta);
        let cum: Vec<f64> = pi
            .iter()
            .scan(0.0, |s, x| {
                *s += x;
                Some(*s)
            })
            .collect();
        let reps = 300;
        let mut rng = SplitMix64::new(seed);
        let (mut hits, mut estimates) = (0, Vec::new());
        for _ in 0..reps {
            let mut tally = Tally::for_domain(&domain);
            for _ in 0..n {
                let u = ldp::uniform(&mut rng);
                let cell = cum.partition_point(|&c| c < u).min(domain.size() - 1);
                // The device's own report: the step in the clear, the rest randomized.
                let r = ldp::Report::randomized(
                    "2026-12-01".into(),
                    &domain,
                    cell,
                    mechanism,
                    eps,
                    &mut rng,
                );
                tally.add_in_step(
                    r.step.unwrap(),
                    &r.payload(domain.randomized_size()).unwrap(),
                );
            }
            let fit = aggregate::fit_beta(&tally.frequencies(Noise::Ldp(mechanism, eps)), &domain)
                .unwrap();
            hits += usize::from(fit.beta.covers(beta));
            estimates.push(fit.beta.estimate);
        }
        let mean = estimates.iter().sum::<f64>() / reps as f64;
        let sd =
            (estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        let coverage = hits as f64 / reps as f64;
        println!("{mechanism:?} ε={eps} n={n}: mean β̂ {mean:.3} (truth {beta}), sd {sd:.3}, coverage {coverage}");
        // Unbiased: the mean of 300 estimates is within 3 standard errors of the truth.
        assert!(
            (mean - beta).abs() < 3.0 * sd / (reps as f64).sqrt(),
            "{mechanism:?}: mean {mean}, sd {sd}"
        );
        assert!(
            (0.92..=0.98).contains(&coverage),
            "{mechanism:?} ε={eps}: coverage {coverage}"
        );
    }
}

#[test]
fn version_2_reports_carry_the_explore_step_and_are_refused_in_the_wrong_shape() {
    let policy = Policy::from_json_str(include_str!("../policy/learning.json")).unwrap();
    let expected = aggregate::Expected::from_policy(&policy).unwrap();
    let domain = &expected.domain;
    let mut rng = SplitMix64::new(3);
    let t = Tuple {
        arm: Arm::Explore,
        step: 3,
        converted: true,
        group: Group::Interest(2),
    };
    let r = ldp::Report::randomized(
        "2026-12-01".into(),
        domain,
        domain.encode(&t),
        expected.mechanism,
        expected.epsilon,
        &mut rng,
    );
    assert_eq!(expected.mechanism, Mechanism::Grr);
    assert_eq!(
        (r.step, r.domain_version, r.bits.is_none()),
        (Some(3), 2, true)
    );
    assert!(r.value.unwrap() < 12, "a value of converted × 6 buckets");
    let mut tally = Tally::for_domain(domain);
    aggregate::add_report(&mut tally, &r, &expected).unwrap();
    assert_eq!((tally.n, tally.step_reports[3]), (1, 1));
    for (bad, why) in [
        (
            ldp::Report {
                step: None,
                ..r.clone()
            },
            "carries its explore `step`",
        ),
        (
            ldp::Report {
                step: Some(5),
                ..r.clone()
            },
            "is not a step",
        ),
        (
            ldp::Report {
                value: Some(12),
                ..r.clone()
            },
            "outside the domain",
        ),
        (
            ldp::Report {
                domain_version: 1,
                ..r.clone()
            },
            "domain version 1",
        ),
    ] {
        let e = aggregate::add_report(&mut tally, &bad, &expected).unwrap_err();
        assert!(e.message.contains(why), "{why}: {}", e.message);
    }
    assert_eq!(tally.n, 1, "refused reports leave the tally as it was");
}
