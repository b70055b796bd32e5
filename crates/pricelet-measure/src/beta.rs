//! The price response β refitted from conversion by discount step (logistic, by Newton's method).

use crate::estimate::*;
use pricelet::ldp::Domain;
use serde::Serialize;

/// The fitted price response `P(buy | d) = σ(α + β·d)` (the functional form of the policy's
/// expectedProfit strategy, d the discount as a fraction of list), by logistic regression on the
/// de-biased counts per step, with the delta-method (sandwich) variance of β̂.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BetaFit {
    pub beta: Estimate,
    pub alpha: f64,
    /// The fitted conversion at each step (None for steps without exposures).
    pub fitted: Vec<Option<f64>>,
    pub steps_used: usize,
}

pub fn fit_beta(f: &Frequencies, domain: &Domain) -> pricelet::Result<BetaFit> {
    let s_count = domain.steps();
    let d: Vec<f64> = domain.steps_percent.iter().map(|s| s / 100.0).collect();
    let mut n_s = vec![0.0; s_count];
    let mut c_s = vec![0.0; s_count];
    for (j, pi) in f.pi.iter().enumerate() {
        let t = domain.decode(j);
        n_s[t.step] += pi;
        if t.converted {
            c_s[t.step] += pi;
        }
    }
    let used: Vec<bool> = n_s.iter().map(|&n| n > 1e-12).collect();
    let distinct: Vec<f64> = (0..s_count).filter(|&s| used[s]).map(|s| d[s]).collect();
    if distinct.len() < 2 {
        return Err(invalid(
            "the reports show exposures at fewer than two discount steps: β cannot be fitted"
                .into(),
        ));
    }
    let sigmoid = pricelet::math::sigmoid;
    let total_n: f64 = (0..s_count).filter(|&s| used[s]).map(|s| n_s[s]).sum();
    let total_c: f64 = (0..s_count).filter(|&s| used[s]).map(|s| c_s[s]).sum();
    let mean = (total_c / total_n).clamp(1e-4, 1.0 - 1e-4);
    let (mut a, mut b) = (pricelet::math::logit(mean), 0.0);
    let info = |a: f64, b: f64| {
        let (mut j00, mut j01, mut j11, mut u0, mut u1) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for s in (0..s_count).filter(|&s| used[s]) {
            let p = sigmoid(a + b * d[s]);
            let w = n_s[s] * p * (1.0 - p);
            j00 += w;
            j01 += w * d[s];
            j11 += w * d[s] * d[s];
            let r = c_s[s] - n_s[s] * p;
            u0 += r;
            u1 += r * d[s];
        }
        (j00, j01, j11, u0, u1)
    };
    let mut converged = false;
    for _ in 0..200 {
        let (j00, j01, j11, u0, u1) = info(a, b);
        let det = j00 * j11 - j01 * j01;
        if !(det.is_finite() && det > 0.0) {
            break;
        }
        let (da, db) = ((j11 * u0 - j01 * u1) / det, (j00 * u1 - j01 * u0) / det);
        a += da;
        b += db;
        if !(a.is_finite() && b.is_finite()) || b.abs() > 1000.0 {
            break;
        }
        if da.abs() < 1e-12 && db.abs() < 1e-12 {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(invalid("the de-biased conversion by step has no finite logistic fit (too few reports for this ε: the noisy rates leave 0 to 1)".into()));
    }
    let (j00, j01, j11, _, _) = info(a, b);
    let det = j00 * j11 - j01 * j01;
    // dβ/dπ_j = (J⁻¹ x_s)[β] · ([converted] − σ_s) for a cell j at step s.
    let g: Vec<f64> = (0..f.pi.len())
        .map(|j| {
            let t = domain.decode(j);
            if !used[t.step] {
                return 0.0;
            }
            let x_beta = (j00 * d[t.step] - j01) / det;
            x_beta * (f64::from(u8::from(t.converted)) - sigmoid(a + b * d[t.step]))
        })
        .collect();
    Ok(BetaFit {
        beta: Estimate::new(b, f.variance(&g)),
        alpha: a,
        fitted: (0..s_count)
            .map(|s| used[s].then(|| sigmoid(a + b * d[s])))
            .collect(),
        steps_used: distinct.len(),
    })
}
