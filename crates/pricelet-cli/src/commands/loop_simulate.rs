//! `pricelet loop-simulate`: the learning loop end to end on real sessions with a known price response.

use crate::{data_dir, load_policy, print, read, CliResult, Failure};
use pricelet::policy::Mechanism;
use pricelet_lab::datasets::Dataset;
use pricelet_lab::learn::{loop_simulate, LoopSettings};
use std::path::{Path, PathBuf};

pub struct LoopSimulateArgs<'a> {
    pub data: Option<PathBuf>,
    pub model: &'a Path,
    pub policy: Option<&'a Path>,
    pub true_beta: f64,
    pub epsilon: f64,
    pub mechanism: Option<String>,
    pub rounds: usize,
    pub shoppers_per_round: usize,
    pub seed: u64,
    pub now: i64,
}

pub fn run(a: LoopSimulateArgs) -> CliResult<()> {
    if !(a.true_beta.is_finite() && (0.0..=100.0).contains(&a.true_beta)) {
        return Err("--true-beta must be a number from 0 to 100".into());
    }
    if a.rounds == 0 || a.shoppers_per_round == 0 {
        return Err("--rounds and --shoppers-per-round must be at least 1".into());
    }
    let mechanism = match a.mechanism.as_deref() {
        None => None,
        Some("oue") => Some(Mechanism::Oue),
        Some("grr") => Some(Mechanism::Grr),
        Some(m) => return Err(format!("--mechanism {m:?}: use oue or grr").into()),
    };
    let policy = load_policy(Some(a.policy.unwrap_or(Path::new("policy/learning.json"))))?;
    let path = a
        .data
        .unwrap_or_else(|| data_dir(None).join("online_shoppers_intention.csv"));
    let Dataset::OnlineShoppers(rows) = Dataset::read(&path)? else {
        return Err(format!(
            "{}: loop-simulate needs the Online Shoppers layout (sessions)",
            path.display()
        )
        .into());
    };
    let model = read(a.model, "model")?;
    let report = loop_simulate(
        &model,
        &policy,
        &rows,
        &LoopSettings {
            true_beta: a.true_beta,
            epsilon: a.epsilon,
            mechanism,
            rounds: a.rounds,
            shoppers_per_round: a.shoppers_per_round,
            seed: a.seed,
            start_ms: a.now,
        },
    )
    .map_err(Failure::from)?;
    print(&serde_json::to_value(&report).unwrap_or_default());
    Ok(())
}
