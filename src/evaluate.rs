//! Offline evaluation metrics, defined as scikit-learn defines them so Python and Rust agree:
//! ROC AUC (ties averaged), average precision (PR AUC), log loss, and ECE over 10 equal-width bins.

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
            if y[idx[j]] { tp += 1.0 } else { fp += 1.0 }
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
            bin: format!("{:.1}-{:.1}", b as f64 / bins as f64, (b + 1) as f64 / bins as f64),
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
        .map(|b| b.n as f64 / y.len() as f64 * (b.observed_rate.unwrap_or(0.0) - b.mean_predicted.unwrap_or(0.0)).abs())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sklearn_on_a_small_example() {
        // Values from scikit-learn 1.9: roc_auc_score, average_precision_score, log_loss.
        let y = [true, false, true, true, false, false, true, false];
        let p = [0.9, 0.8, 0.8, 0.6, 0.4, 0.4, 0.3, 0.1];
        assert!((auc(&y, &p) - 0.71875).abs() < 1e-12, "{}", auc(&y, &p));
        assert!((average_precision(&y, &p) - 0.7470238095238095).abs() < 1e-12, "{}", average_precision(&y, &p));
        assert!((log_loss(&y, &p) - 0.5974690213359839).abs() < 1e-12, "{}", log_loss(&y, &p));
    }

    #[test]
    fn ece_is_zero_when_calibrated_per_bin() {
        let y = [true, false, false, false, false, true, true, true];
        let p = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        assert!(ece(&y, &p, 10) < 1e-12);
        assert_eq!(calibration(&y, &p, 10)[2].n, 4);
    }
}

/// Scores dataset rows through the production path: row → summary → features (the model's own list,
/// from features.json) → f32 → tract. Batches of 512 rows.
pub fn score_rows(
    model: &mut crate::model::Model,
    rows: &[std::collections::HashMap<String, String>],
    summarize: impl Fn(&std::collections::HashMap<String, String>) -> crate::Result<crate::features::Summaries>,
) -> crate::Result<Vec<f64>> {
    let specs = crate::features::Registry::builtin().resolve(&model.info().features)?;
    let mut out = Vec::with_capacity(rows.len());
    for (chunk_no, chunk) in rows.chunks(512).enumerate() {
        let mut batch = Vec::with_capacity(chunk.len());
        for (i, row) in chunk.iter().enumerate() {
            let s = summarize(row).map_err(|e| crate::Error { message: format!("row {}: {}", chunk_no * 512 + i + 1, e.message), ..e })?;
            batch.push(crate::features::vector(&specs, &s));
        }
        out.extend(model.predict(&batch)?);
    }
    Ok(out)
}
