//! Offline evaluation metrics, defined as scikit-learn defines them so Python and Rust agree:
//! ROC AUC (ties averaged), average precision (PR AUC), log loss, and ECE over 10 equal-width bins;
//! for uplift, the normalized Qini coefficient and uplift@k as scikit-uplift 0.5.1 defines them.

use serde::Serialize;

/// ROC AUC as the Mann-Whitney statistic with average ranks for ties (= sklearn's `roc_auc_score`).
pub fn auc(y: &[bool], p: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| y[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Average precision: Σ (R_k − R_{k−1}) · P_k over distinct thresholds (= sklearn's
/// `average_precision_score`).
pub fn average_precision(y: &[bool], p: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let total_pos = y.iter().filter(|&&v| v).count() as f64;
    let (mut tp, mut fp, mut prev_recall, mut ap, mut i) = (0.0, 0.0, 0.0, 0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && p[idx[j]] == p[idx[i]] {
            if y[idx[j]] {
                tp += 1.0
            } else {
                fp += 1.0
            }
            j += 1;
        }
        let recall = tp / total_pos;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
        i = j;
    }
    ap
}

pub fn log_loss(y: &[bool], p: &[f64]) -> f64 {
    let eps = f64::EPSILON;
    y.iter()
        .zip(p)
        .map(|(&yi, &pi)| {
            let q = pi.clamp(eps, 1.0 - eps);
            -(if yi { libm::log(q) } else { libm::log(1.0 - q) })
        })
        .sum::<f64>()
        / y.len() as f64
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CalibrationBin {
    pub bin: String,
    pub n: usize,
    pub mean_predicted: Option<f64>,
    pub observed_rate: Option<f64>,
}

pub fn calibration(y: &[bool], p: &[f64], bins: usize) -> Vec<CalibrationBin> {
    let mut sums = vec![(0usize, 0.0f64, 0.0f64); bins];
    for (&yi, &pi) in y.iter().zip(p) {
        let b = ((pi * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += pi;
        sums[b].2 += f64::from(u8::from(yi));
    }
    sums.iter()
        .enumerate()
        .map(|(b, &(n, sp, sy))| CalibrationBin {
            bin: format!(
                "{:.1}-{:.1}",
                b as f64 / bins as f64,
                (b + 1) as f64 / bins as f64
            ),
            n,
            mean_predicted: (n > 0).then(|| sp / n as f64),
            observed_rate: (n > 0).then(|| sy / n as f64),
        })
        .collect()
}

/// Expected calibration error: Σ_b (n_b / N) · |observed_b − predicted_b|.
pub fn ece(y: &[bool], p: &[f64], bins: usize) -> f64 {
    calibration(y, p, bins)
        .iter()
        .filter(|b| b.n > 0)
        .map(|b| {
            b.n as f64 / y.len() as f64
                * (b.observed_rate.unwrap_or(0.0) - b.mean_predicted.unwrap_or(0.0)).abs()
        })
        .sum()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassifierReport {
    pub n: usize,
    pub auc: f64,
    pub pr_auc: f64,
    pub log_loss: f64,
    pub ece: f64,
    pub calibration: Vec<CalibrationBin>,
}

pub fn classifier_report(y: &[bool], p: &[f64]) -> ClassifierReport {
    ClassifierReport {
        n: y.len(),
        auc: auc(y, p),
        pr_auc: average_precision(y, p),
        log_loss: log_loss(y, p),
        ece: ece(y, p, 10),
        calibration: calibration(y, p, 10),
    }
}

/// Row order by descending score as scikit-uplift takes it: `np.argsort(score, kind="mergesort")[::-1]`,
/// i.e. a stable ascending sort reversed (so tied rows come in reverse input order).
fn descending_order(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    idx.reverse();
    idx
}

/// The Qini curve (scikit-uplift `qini_curve`): after each distinct score, from the highest down,
/// x = rows targeted so far and y = treated responders − control responders × (treated / control rows so far).
/// Starts at (0, 0).
pub fn qini_curve(y: &[bool], score: &[f64], treated: &[bool]) -> (Vec<f64>, Vec<f64>) {
    let order = descending_order(score);
    let (mut xs, mut ys) = (vec![0.0], vec![0.0]);
    let (mut n_t, mut y_t, mut y_c) = (0.0f64, 0.0f64, 0.0f64);
    for (pos, &i) in order.iter().enumerate() {
        if treated[i] {
            n_t += 1.0;
            y_t += f64::from(u8::from(y[i]));
        } else {
            y_c += f64::from(u8::from(y[i]));
        }
        let last_of_value = pos + 1 == order.len() || score[order[pos + 1]] != score[i];
        if last_of_value {
            let n_all = (pos + 1) as f64;
            let n_c = n_all - n_t;
            let ratio = if n_c != 0.0 { n_t / n_c } else { 0.0 };
            xs.push(n_all);
            ys.push(y_t - y_c * ratio);
        }
    }
    (xs, ys)
}

/// Trapezoidal area under a curve with increasing x (`sklearn.metrics.auc`).
fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum()
}

/// Normalized area under the Qini curve (scikit-uplift `qini_auc_score`, `negative_effect=True`): the area
/// between the model's curve and the random diagonal, over the same for the perfect ranking (treated
/// responders first, control responders last).
pub fn qini_auc_score(y: &[bool], score: &[f64], treated: &[bool]) -> f64 {
    let (xa, ya) = qini_curve(y, score, treated);
    let perfect: Vec<f64> = y
        .iter()
        .zip(treated)
        .map(|(&yi, &ti)| f64::from(u8::from(yi && ti)) - f64::from(u8::from(yi && !ti)))
        .collect();
    let (xp, yp) = qini_curve(y, &perfect, treated);
    let (x_end, y_end) = (xp[xp.len() - 1], yp[yp.len() - 1]);
    let baseline = x_end * y_end / 2.0;
    (trapezoid(&xa, &ya) - baseline) / (trapezoid(&xp, &yp) - baseline)
}

/// Uplift at the top k share (scikit-uplift `uplift_at_k`, `strategy='overall'`): among the
/// `int(n · k)` rows with the highest score, the treated response rate minus the control one.
pub fn uplift_at_k(y: &[bool], score: &[f64], treated: &[bool], k: f64) -> f64 {
    let n_top = (y.len() as f64 * k) as usize;
    let (mut n_t, mut y_t, mut n_c, mut y_c) = (0.0, 0.0, 0.0, 0.0);
    for &i in descending_order(score).iter().take(n_top) {
        let yi = f64::from(u8::from(y[i]));
        if treated[i] {
            n_t += 1.0;
            y_t += yi;
        } else {
            n_c += 1.0;
            y_c += yi;
        }
    }
    y_t / n_t - y_c / n_c
}

/// What `pricelet evaluate` reports for a score used as an uplift ranking on a randomized test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UpliftReport {
    pub n: usize,
    pub n_treated: usize,
    pub n_control: usize,
    pub treated_rate: f64,
    pub control_rate: f64,
    /// Average treatment effect: treated rate − control rate.
    pub ate: f64,
    pub mean_score: f64,
    pub share_positive: f64,
    pub qini: f64,
    pub uplift_at_30: f64,
}

pub fn uplift_report(y: &[bool], score: &[f64], treated: &[bool]) -> UpliftReport {
    let rate = |arm: bool| {
        let (n, k) = y
            .iter()
            .zip(treated)
            .filter(|(_, &t)| t == arm)
            .fold((0usize, 0usize), |(n, k), (&yi, _)| {
                (n + 1, k + usize::from(yi))
            });
        (n, k as f64 / n as f64)
    };
    let ((n_treated, treated_rate), (n_control, control_rate)) = (rate(true), rate(false));
    UpliftReport {
        n: y.len(),
        n_treated,
        n_control,
        treated_rate,
        control_rate,
        ate: treated_rate - control_rate,
        mean_score: score.iter().sum::<f64>() / score.len() as f64,
        share_positive: score.iter().filter(|&&s| s > 0.0).count() as f64 / score.len() as f64,
        qini: qini_auc_score(y, score, treated),
        uplift_at_30: uplift_at_k(y, score, treated, 0.3),
    }
}

/// Scores dataset rows through the production path: row → summary → features (the model's own list,
/// from features.json) → f32 → tract. Batches of 512 rows.
pub fn score_rows<Row>(
    model: &mut pricelet_onnx::Model,
    rows: &[Row],
    summarize: impl Fn(&Row) -> pricelet::features::Summaries,
) -> pricelet::Result<Vec<f64>> {
    let specs = pricelet::features::Registry::builtin().resolve(&model.info().features)?;
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(512) {
        let mut batch = Vec::with_capacity(chunk.len());
        for row in chunk {
            batch.push(pricelet::features::vector(&specs, &summarize(row)));
        }
        out.extend(model.predict(&batch)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sklearn_on_a_small_example() {
        // Values from scikit-learn 1.9: roc_auc_score, average_precision_score, log_loss.
        let y = [true, false, true, true, false, false, true, false];
        let p = [0.9, 0.8, 0.8, 0.6, 0.4, 0.4, 0.3, 0.1];
        assert!((auc(&y, &p) - 0.71875).abs() < 1e-12, "{}", auc(&y, &p));
        assert!(
            (average_precision(&y, &p) - 0.7470238095238095).abs() < 1e-12,
            "{}",
            average_precision(&y, &p)
        );
        assert!(
            (log_loss(&y, &p) - 0.5974690213359839).abs() < 1e-12,
            "{}",
            log_loss(&y, &p)
        );
    }

    #[test]
    fn uplift_metrics_match_scikit_uplift() {
        // Values from scikit-uplift 0.5.1: qini_auc_score, uplift_at_k(strategy='overall'); ties included.
        let y = [
            true, false, true, true, false, false, true, false, true, false, false, true,
        ];
        let t = [
            true, true, false, true, false, true, false, false, true, true, false, false,
        ];
        let u = [0.3, 0.3, 0.1, 0.5, -0.2, 0.1, 0.0, 0.3, 0.2, 0.2, -0.1, 0.1];
        assert!(
            (qini_auc_score(&y, &u, &t) - 0.38518518518518513).abs() < 1e-12,
            "{}",
            qini_auc_score(&y, &u, &t)
        );
        assert!(
            (uplift_at_k(&y, &u, &t, 0.3) - 0.5).abs() < 1e-12,
            "{}",
            uplift_at_k(&y, &u, &t, 0.3)
        );
        assert!(
            (uplift_at_k(&y, &u, &t, 0.5) - 0.6).abs() < 1e-12,
            "{}",
            uplift_at_k(&y, &u, &t, 0.5)
        );
        // The perfect ranking scores 1; its reverse is below 0.
        let perfect: Vec<f64> = y
            .iter()
            .zip(&t)
            .map(|(&a, &b)| f64::from(u8::from(a && b)) - f64::from(u8::from(a && !b)))
            .collect();
        assert!((qini_auc_score(&y, &perfect, &t) - 1.0).abs() < 1e-12);
        let reverse: Vec<f64> = perfect.iter().map(|v| -v).collect();
        assert!(qini_auc_score(&y, &reverse, &t) < 0.0);
        let r = uplift_report(&y, &u, &t);
        assert_eq!((r.n, r.n_treated, r.n_control), (12, 6, 6));
        assert!(r.ate.abs() < 1e-12 && (r.treated_rate - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ece_is_zero_when_calibrated_per_bin() {
        let y = [true, false, false, false, false, true, true, true];
        let p = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        assert!(ece(&y, &p, 10) < 1e-12);
        assert_eq!(calibration(&y, &p, 10)[2].n, 4);
    }
}
