//! The price response β refitted from conversion by discount step (logistic, by Newton's method).

use crate::estimate::*;
use pricelet::ldp::{Arm, Domain, DomainVersion, Group, Tuple};
use serde::Serialize;

/// The fitted price response `P(buy | d) = σ(α_g + β·d)` (the functional form of the policy's
/// expectedProfit strategy, d the discount as a fraction of list), by logistic regression on the
/// de-biased counts per cell, with the delta-method (sandwich) variance of β̂.
///
/// Domain version 1: one intercept, every report (confounded outside randomized periods: the
/// read-out's caveat). Version 2: explore reports only, one intercept per interest bucket — within a
/// bucket the explore step is drawn at random, so β̂ is a randomized-experiment estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BetaFit {
    pub beta: Estimate,
    /// The intercept of the first group with exposures (version 1: the only one).
    pub alpha: f64,
    /// One intercept per group (version 2: per interest bucket; None without exposures).
    pub alphas: Vec<Option<f64>>,
    /// The fitted conversion of the reports used, at each step (None for steps without exposures).
    pub fitted: Vec<Option<f64>>,
    pub steps_used: usize,
    /// Estimated number of the reports the fit used (version 2: explore reports).
    pub reports_used: f64,
}

/// Which reports the fit uses, and in which intercept group.
fn fit_group(domain: &Domain, t: &Tuple) -> Option<usize> {
    match t.group {
        Group::Interest(b) => (t.arm == Arm::Explore).then_some(b),
        Group::Segment(_) if domain.version() == DomainVersion::Segments => Some(0),
        Group::Segment(_) => None,
    }
}

pub fn fit_beta(f: &Frequencies, domain: &Domain) -> pricelet::Result<BetaFit> {
    let (steps, groups) = (domain.steps(), domain.groups());
    let d: Vec<f64> = domain.steps_percent.iter().map(|s| s / 100.0).collect();
    // De-biased exposures and conversions per (group, step).
    let mut n = vec![vec![0.0; steps]; groups];
    let mut c = vec![vec![0.0; steps]; groups];
    for (j, pi) in f.pi.iter().enumerate() {
        let t = domain.decode(j);
        if let Some(g) = fit_group(domain, &t) {
            n[g][t.step] += pi;
            if t.converted {
                c[g][t.step] += pi;
            }
        }
    }
    let used = |g: usize, s: usize| n[g][s] > 1e-12;
    // A group's intercept is identified only when its de-biased conversion is inside (0, 100 %);
    // outside, the privacy noise swamps the group (few reports, or a rate near 0), and it is left
    // out rather than let its intercept run to ±∞. β needs two steps.
    let live: Vec<usize> = (0..groups)
        .filter(|&g| {
            let (tn, tc) = (0..steps)
                .filter(|&s| used(g, s))
                .fold((0.0, 0.0), |(a, b), s| (a + n[g][s], b + c[g][s]));
            tn > 1e-12 && tc > 0.0 && tc < tn
        })
        .collect();
    let distinct = (0..steps)
        .filter(|&s| live.iter().any(|&g| used(g, s)))
        .count();
    if live.is_empty() || distinct < 2 {
        return Err(invalid(
            "the reports show exposures at fewer than two discount steps: β cannot be fitted"
                .into(),
        ));
    }
    let sigmoid = pricelet::math::sigmoid;
    // Parameters: one intercept per live group, then β (last).
    let k = live.len() + 1;
    let mut theta = vec![0.0; k];
    for (i, &g) in live.iter().enumerate() {
        let (tn, tc): (f64, f64) = (n[g].iter().sum(), c[g].iter().sum());
        theta[i] = pricelet::math::logit((tc / tn).clamp(1e-4, 1.0 - 1e-4));
    }
    // Score U and information J of the grouped logistic likelihood at θ.
    let info = |theta: &[f64]| {
        let mut jm = vec![0.0; k * k];
        let mut u = vec![0.0; k];
        for (i, &g) in live.iter().enumerate() {
            for s in (0..steps).filter(|&s| used(g, s)) {
                let p = sigmoid(theta[i] + theta[k - 1] * d[s]);
                let w = n[g][s] * p * (1.0 - p);
                let r = c[g][s] - n[g][s] * p;
                let x = [(i, 1.0), (k - 1, d[s])];
                for (a, xa) in x {
                    u[a] += r * xa;
                    for (b, xb) in x {
                        jm[a * k + b] += w * xa * xb;
                    }
                }
            }
        }
        (jm, u)
    };
    let mut converged = false;
    for _ in 0..200 {
        let (jm, u) = info(&theta);
        let Some(step) = solve(&jm, &u, k) else { break };
        theta.iter_mut().zip(&step).for_each(|(t, s)| *t += s);
        if theta.iter().any(|t| !t.is_finite()) || theta[k - 1].abs() > 1000.0 {
            break;
        }
        if step.iter().all(|s| s.abs() < 1e-12) {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(invalid("the de-biased conversion by step has no finite logistic fit (too few reports for this ε: the noisy rates leave 0 to 1)".into()));
    }
    let (jm, _) = info(&theta);
    // dθ̂/dπ_j = J⁻¹ x_j ([converted] − σ_j) for a cell j used by the fit; β is the last row of J⁻¹.
    let mut e_beta = vec![0.0; k];
    e_beta[k - 1] = 1.0;
    let Some(row) = solve(&jm, &e_beta, k) else {
        return Err(invalid(
            "the logistic fit is singular: β cannot be fitted".into(),
        ));
    };
    let slot = |g: usize| live.iter().position(|&l| l == g);
    let g: Vec<f64> = (0..f.pi.len())
        .map(|j| {
            let t = domain.decode(j);
            let Some(i) = fit_group(domain, &t).and_then(slot) else {
                return 0.0;
            };
            if !used(live[i], t.step) {
                return 0.0;
            }
            let p = sigmoid(theta[i] + theta[k - 1] * d[t.step]);
            (row[i] + row[k - 1] * d[t.step]) * (f64::from(u8::from(t.converted)) - p)
        })
        .collect();
    let beta = theta[k - 1];
    let fitted = (0..steps)
        .map(|s| {
            let exposed: f64 = live.iter().map(|&g| n[g][s]).sum();
            (exposed > 1e-12).then(|| {
                live.iter()
                    .enumerate()
                    .map(|(i, &g)| n[g][s] * sigmoid(theta[i] + beta * d[s]))
                    .sum::<f64>()
                    / exposed
            })
        })
        .collect();
    Ok(BetaFit {
        beta: Estimate::new(beta, f.variance(&g)),
        alpha: theta[0],
        alphas: (0..groups).map(|g| slot(g).map(|i| theta[i])).collect(),
        fitted,
        steps_used: distinct,
        reports_used: f.n * live.iter().map(|&g| n[g].iter().sum::<f64>()).sum::<f64>(),
    })
}

/// Solves `A x = b` for a small symmetric positive definite `A` (k × k, row-major) by Gaussian
/// elimination with partial pivoting; None when singular.
fn solve(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut m: Vec<Vec<f64>> = (0..k)
        .map(|r| {
            let mut row = a[r * k..(r + 1) * k].to_vec();
            row.push(b[r]);
            row
        })
        .collect();
    for col in 0..k {
        let pivot = (col..k).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))?;
        let size = m[pivot][col].abs();
        if size.is_nan() || size <= 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= factor * p;
                }
            }
        }
    }
    let x: Vec<f64> = (0..k).map(|r| m[r][k] / m[r][r]).collect();
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded;
    use pricelet::ldp::{self, Mechanism, Segment};
    use pricelet::policy::Policy;

    #[test]
    fn beta_is_recovered_from_an_exact_logistic_curve() {
        let d = Domain::for_policy(&Policy::default_policy());
        let (alpha, beta) = (-1.7, 4.0);
        let mut pi = vec![0.0; d.size()];
        for s in 0..d.steps() {
            let p = pricelet::math::sigmoid(alpha + beta * d.steps_percent[s] / 100.0);
            for (conv, w) in [(true, p), (false, 1.0 - p)] {
                let t = Tuple {
                    arm: Arm::Treatment,
                    step: s,
                    converted: conv,
                    group: Group::Segment(Segment::New),
                };
                pi[d.encode(&t)] = w / d.steps() as f64;
            }
        }
        let fit = fit_beta(&Frequencies::expected(&pi, Noise::Exact), &d).unwrap();
        assert!((fit.beta.estimate - beta).abs() < 1e-9, "{fit:?}");
        assert!((fit.alpha - alpha).abs() < 1e-9);
        assert_eq!(fit.steps_used, 5);
        // One step only: no fit.
        let mut one = vec![0.0; d.size()];
        one[0] = 0.5;
        one[2] = 0.5;
        assert!(fit_beta(&Frequencies::expected(&one, Noise::Exact), &d).is_err());
    }

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
        let policy = Policy::from_json_str(include_str!("../../../policy/learning.json")).unwrap();
        let domain = Domain::for_policy(&policy);
        assert_eq!(
            (domain.version(), domain.randomized_size()),
            (DomainVersion::Learning, 12)
        );
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
            let mut rng = seeded(seed);
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
                let fit =
                    fit_beta(&tally.frequencies(Noise::Ldp(mechanism, eps)), &domain).unwrap();
                hits += usize::from(fit.beta.covers(beta));
                estimates.push(fit.beta.estimate);
            }
            let mean = estimates.iter().sum::<f64>() / reps as f64;
            let sd = (estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>()
                / (reps - 1) as f64)
                .sqrt();
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

    /// Version 2: one intercept per interest bucket; a bucket without reports, or whose de-biased
    /// conversion is 0, is left out rather than given an infinite intercept.
    #[test]
    fn explore_reports_give_beta_and_an_intercept_per_live_bucket() {
        let policy = Policy::from_json_str(include_str!("../../../policy/learning.json")).unwrap();
        let d = Domain::for_policy(&policy);
        let (beta, alphas) = (6.0, [-3.0, -2.2, -1.4, -0.6]);
        let each = 1.0 / (d.groups() * d.steps()) as f64;
        let mut pi = vec![0.0; d.size()];
        for (j, x) in pi.iter_mut().enumerate() {
            let t = d.decode(j);
            let Group::Interest(b) = t.group else {
                panic!("version 2 groups by interest")
            };
            let p = match b {
                0..=3 => {
                    pricelet::math::sigmoid(alphas[b] + beta * d.steps_percent[t.step] / 100.0)
                }
                4 => 0.0,
                _ => continue,
            };
            *x = each * if t.converted { p } else { 1.0 - p };
        }
        let fit = fit_beta(&Frequencies::expected(&pi, Noise::Exact), &d).unwrap();
        assert!((fit.beta.estimate - beta).abs() < 1e-9, "{fit:?}");
        for (b, a) in alphas.iter().enumerate() {
            assert!(
                (fit.alphas[b].unwrap() - a).abs() < 1e-9,
                "bucket {b}: {fit:?}"
            );
        }
        assert_eq!(fit.alphas[4..], [None, None]);
        assert!((fit.reports_used - 4.0 / 6.0).abs() < 1e-9, "{fit:?}");
    }

    #[test]
    fn the_linear_solver_solves_and_refuses_a_singular_system() {
        let a = [4.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let x = solve(&a, &[1.0, 2.0, 3.0], 3).unwrap();
        for r in 0..3 {
            let ax: f64 = (0..3).map(|c| a[r * 3 + c] * x[c]).sum();
            assert!((ax - [1.0, 2.0, 3.0][r]).abs() < 1e-12, "{x:?}");
        }
        assert_eq!(solve(&[1.0, 2.0, 2.0, 4.0], &[1.0, 2.0], 2), None);
    }
}
