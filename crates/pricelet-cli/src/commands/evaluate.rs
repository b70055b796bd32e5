//! `pricelet evaluate`: a model on a dataset through the device's feature path and tract.

use crate::error::{CliError, CliResult};
use crate::input::load_any_model;
use crate::render::print_json;
use pricelet::features::Summaries;
use pricelet::scorer::ModelKind;
use pricelet_lab::datasets::{Dataset, HillstromCustomer, ShopperSession};
use pricelet_lab::evaluate::{classifier_report, score_rows, uplift_report};
use pricelet_onnx::Model;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// An interest or uplift model (.onnx); the kind is read from the file.
    #[arg(long)]
    pub model: PathBuf,
    /// Online Shoppers CSV (label Revenue) or Hillstrom CSV (segment, visit); the layout is detected
    /// from the columns. On Hillstrom the metrics are over the Womens E-Mail (treated) and No E-Mail rows.
    #[arg(long)]
    pub data: PathBuf,
    /// Write one score per input row, in input order (for an uplift model: the uplift).
    #[arg(long)]
    pub predictions: Option<PathBuf>,
}

pub fn session_scores(model: &mut Model, rows: &[ShopperSession]) -> CliResult<Vec<f64>> {
    score_rows(model, rows, |row| Summaries {
        session: row.summary(),
        ..Default::default()
    })
    .map_err(CliError::from)
}

pub fn history_scores(model: &mut Model, rows: &[HillstromCustomer]) -> CliResult<Vec<f64>> {
    score_rows(model, rows, |row| Summaries {
        history: row.history_summary(),
        ..Default::default()
    })
    .map_err(CliError::from)
}

pub fn run(a: EvaluateArgs) -> CliResult<()> {
    let mut model = load_any_model(&a.model, "model")?;
    let kind = model.info().kind;
    let predictions = a.predictions.as_deref();
    let mut v = match Dataset::read(&a.data)? {
        Dataset::OnlineShoppers(rows) => {
            if kind == ModelKind::Uplift {
                return Err(CliError::UpliftWithoutTreatment { data: a.data });
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
                return Err(CliError::MissingArm { data: a.data });
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
    print_json(&v);
    Ok(())
}

fn write_predictions(out: Option<&Path>, header: &str, scores: &[f64]) -> CliResult<()> {
    let Some(out) = out else { return Ok(()) };
    let text: String = std::iter::once(format!("{header}\n"))
        .chain(scores.iter().map(|s| format!("{s}\n")))
        .collect();
    std::fs::write(out, text).map_err(|source| CliError::Write {
        path: out.to_path_buf(),
        source,
    })
}
