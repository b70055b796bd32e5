//! `pricelet simulate`: offline evaluation of the discount policy on the real datasets.

use crate::commands::evaluate::{history_scores, session_scores};
use crate::error::{CliError, CliResult};
use crate::input::{expect_kind, load_any_model, load_policy, read_json};
use crate::render::print_json;
use pricelet::scorer::ModelKind;
use pricelet::Item;
use pricelet_lab::datasets::Dataset;
use pricelet_lab::simulate;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Hillstrom CSV or Online Shoppers CSV (detected from the columns).
    #[arg(long)]
    pub data: PathBuf,
    /// Interest model (.onnx), for Online Shoppers.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Uplift model (.onnx), for Hillstrom.
    #[arg(long)]
    pub uplift_model: Option<PathBuf>,
    /// A response model (.onnx, kind interest) for the response-only baseline on Hillstrom.
    #[arg(long)]
    pub response_model: Option<PathBuf>,
    /// Policy JSON (default: the bundled policy/default.json).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The representative item (JSON object; default: 100.00 EUR with the policy's default cost).
    #[arg(long)]
    pub item: Option<PathBuf>,
    /// The β values of the Online Shoppers sweep (comma-separated).
    #[arg(long, default_value = "0,2,4,6,8,10,15,20", value_delimiter = ',')]
    pub betas: Vec<f64>,
    /// Bootstrap resamples (Hillstrom).
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Bootstrap seed (Hillstrom).
    #[arg(long, default_value_t = 20261129)]
    pub seed: u64,
}

pub fn run(a: SimulateArgs) -> CliResult<()> {
    let policy = load_policy(a.policy.as_deref())?;
    let item = match &a.item {
        Some(p) => Item::from_json(&read_json(p, "item")?)?,
        None => Item::from_json(
            &json!({ "id": "representative", "price": "100.00", "currency": "EUR" }),
        )?,
    };
    let bounds = pricelet::pricing::bounds(&item, &policy);
    let item_json = json!({
        "id": item.id,
        "price": item.currency.to_major_f64(item.list_minor),
        "currency": item.currency.code(),
        "cost": item.currency.to_major_f64(bounds.cost_minor),
        "cost_note": match item.cost_minor {
            Some(_) => "the item's own".to_string(),
            None => format!("{} % of the net list price", policy.margin.default_cost_percent.0.as_percent()),
        },
    });
    let out = match Dataset::read(&a.data)? {
        Dataset::Hillstrom(rows) => {
            let path = a.uplift_model.as_deref().ok_or(CliError::SimulateNeeds {
                layout: "Hillstrom",
                needs: "--uplift-model",
            })?;
            let mut uplift = load_any_model(path, "uplift model")?;
            expect_kind(&uplift, ModelKind::Uplift, "--uplift-model")?;
            let mut response = a
                .response_model
                .as_deref()
                .map(|p| load_any_model(p, "response model"))
                .transpose()?;
            if let Some(r) = &response {
                expect_kind(r, ModelKind::Interest, "--response-model")?;
            }
            let (mut kept, mut arms) = (vec![], vec![]);
            for row in &rows {
                if let Some(treated) = row.segment.treated() {
                    arms.push(simulate::ArmRow {
                        treated,
                        visit: f64::from(u8::from(row.visit.0)),
                        spend: row.spend,
                    });
                    kept.push(row.clone());
                }
            }
            let (n_t, n_c) = (
                arms.iter().filter(|r| r.treated).count(),
                arms.iter().filter(|r| !r.treated).count(),
            );
            if n_t == 0 || n_c == 0 {
                return Err(CliError::MissingArm { data: a.data });
            }
            let base_rate = arms
                .iter()
                .filter(|r| !r.treated)
                .map(|r| r.visit)
                .sum::<f64>()
                / n_c as f64;
            let u = history_scores(&mut uplift, &kept)?;
            let r = response
                .as_mut()
                .map(|m| history_scores(m, &kept))
                .transpose()?;
            let rules = simulate::hillstrom_rules(&item, &policy, base_rate, &u, r.as_deref());
            let results = simulate::compare_rules(&arms, &rules, a.resamples, a.seed);
            json!({
                "layout": "hillstrom",
                "rows": arms.len(),
                "n_treated": n_t,
                "n_control": n_c,
                "outcomes": "visit (0/1) and spend ($), per 1,000 customers",
                "base_rate": base_rate,
                "base_rate_rule": "interest r = the control arm's visit rate (the no-offer response rate), for every customer",
                "offer_step_percent": policy.experiment.offer_step_percent.0.as_percent(),
                "policy": policy.version,
                "item": item_json,
                "uplift_model": uplift.info().version,
                "response_model": response.as_ref().map(|m| m.info().version.clone()),
                "resamples": a.resamples,
                "seed": a.seed,
                "rules": results,
            })
        }
        Dataset::OnlineShoppers(rows) => {
            let path = a.model.as_deref().ok_or(CliError::SimulateNeeds {
                layout: "Online Shoppers",
                needs: "--model (an interest model)",
            })?;
            let mut model = load_any_model(path, "model")?;
            expect_kind(&model, ModelKind::Interest, "--model")?;
            if a.betas.is_empty()
                || a.betas
                    .iter()
                    .any(|b| !(b.is_finite() && (0.0..=100.0).contains(b)))
            {
                return Err(CliError::BadList {
                    option: "--betas",
                    expected: "β, each a number from 0 to 100",
                });
            }
            let interest = session_scores(&mut model, &rows)?;
            let (no_discount, sweep) =
                simulate::price_response_sweep(&item, &policy, &interest, &a.betas)?;
            json!({
                "layout": "online_shoppers",
                "sessions": interest.len(),
                "model": model.info().version,
                "policy": policy.version,
                "item": item_json,
                "assumption": "P(buy | d) = σ(logit r + β·d) with β assumed, not estimated: the data has no price variation",
                "no_discount": no_discount,
                "sweep": sweep,
            })
        }
    };
    print_json(&out);
    Ok(())
}
