//! `pricelet evaluate`: a model on a dataset through the device's feature path and tract.

use crate::{load_any_model, print, CliResult, Failure};
use pricelet::features::Summaries;
use pricelet::scorer::ModelKind;
use pricelet_lab::datasets::{Dataset, HillstromCustomer, ShopperSession};
use pricelet_lab::evaluate::{classifier_report, score_rows, uplift_report};
use pricelet_onnx::Model;
use serde_json::json;
use std::path::Path;

pub fn session_scores(model: &mut Model, rows: &[ShopperSession]) -> CliResult<Vec<f64>> {
    score_rows(model, rows, |row| Summaries {
        session: row.summary(),
        ..Default::default()
    })
    .map_err(Failure::from)
}

pub fn history_scores(model: &mut Model, rows: &[HillstromCustomer]) -> CliResult<Vec<f64>> {
    score_rows(model, rows, |row| Summaries {
        history: row.history_summary(),
        ..Default::default()
    })
    .map_err(Failure::from)
}

pub fn run(model_path: &Path, data: &Path, predictions: Option<&Path>) -> CliResult<()> {
    let mut model = load_any_model(model_path, "model")?;
    let kind = model.info().kind;
    let mut v = match Dataset::read(data)? {
        Dataset::OnlineShoppers(rows) => {
            if kind == ModelKind::Uplift {
                return Err(format!(
                    "{}: an uplift model needs a randomized test (the Hillstrom layout); Online Shoppers has no treatment",
                    data.display()
                ).into());
            }
            let labels: Vec<bool> = rows.iter().map(|r| r.revenue.0).collect();
            let scores = session_scores(&mut model, &rows)?;
            write_predictions(predictions, "score", &scores)?;
            serde_json::to_value(classifier_report(&labels, &scores)).unwrap_or_default()
        }
        Dataset::Hillstrom(rows) => {
            let scores = history_scores(&mut model, &rows)?;
            write_predictions(
                predictions,
                if kind == ModelKind::Uplift {
                    "uplift"
                } else {
                    "score"
                },
                &scores,
            )?;
            let (mut y, mut t, mut s) = (vec![], vec![], vec![]);
            for (row, score) in rows.iter().zip(&scores) {
                if let Some(treated) = row.segment.treated() {
                    y.push(row.visit.0);
                    t.push(treated);
                    s.push(*score);
                }
            }
            if !t.iter().any(|&x| x) || t.iter().all(|&x| x) {
                return Err(format!(
                    "{}: needs rows of both Womens E-Mail and No E-Mail",
                    data.display()
                )
                .into());
            }
            let mut v = serde_json::to_value(uplift_report(&y, &s, &t)).unwrap_or_default();
            if kind == ModelKind::Interest {
                // A probability model on Hillstrom: also how well it predicts a visit.
                let c = serde_json::to_value(classifier_report(&y, &s)).unwrap_or_default();
                for k in ["auc", "pr_auc", "log_loss", "ece", "calibration"] {
                    v[k] = c[k].clone();
                }
            }
            v["outcome"] = json!("visit");
            v["treatment"] = json!("Womens E-Mail vs No E-Mail");
            v
        }
    };
    v["model"] = json!(model.info().version);
    v["kind"] = json!(kind.as_str());
    print(&v);
    Ok(())
}

fn write_predictions(out: Option<&Path>, header: &str, scores: &[f64]) -> CliResult<()> {
    let Some(out) = out else { return Ok(()) };
    let text: String = std::iter::once(format!("{header}\n"))
        .chain(scores.iter().map(|s| format!("{s}\n")))
        .collect();
    std::fs::write(out, text).map_err(|e| Failure(format!("cannot write {}: {e}", out.display())))
}
