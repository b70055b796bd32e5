//! `pricelet ldp-simulate`: plan a local-DP study on the real datasets.

use crate::{data_dir, load_policy, print, CliResult, Failure};
use pricelet_lab::datasets::Dataset;
use std::path::{Path, PathBuf};

pub struct LdpSimulateArgs<'a> {
    pub data_dir: Option<PathBuf>,
    pub policy: Option<&'a Path>,
    pub epsilons: Vec<f64>,
    pub sizes: Vec<usize>,
    pub mechanisms: Vec<String>,
    pub reps: usize,
    pub seed: u64,
    pub lift_beta: Option<f64>,
    pub control_percent: Option<f64>,
    pub outcome: String,
    pub precision_pp: f64,
    pub reports_out: Option<PathBuf>,
    pub json: bool,
}

pub fn run(a: LdpSimulateArgs) -> CliResult<()> {
    use pricelet::ldp::{Domain, Mechanism};
    use pricelet_lab::plan::{self, SimSettings};
    let policy = load_policy(a.policy)?;
    if a.epsilons.is_empty()
        || a.epsilons
            .iter()
            .any(|e| !(e.is_finite() && *e > 0.0 && *e <= 10.0))
    {
        return Err("--epsilons: give one or more ε, each above 0 and at most 10".into());
    }
    if a.sizes.is_empty() || a.sizes.iter().any(|n| !(10..=10_000_000).contains(n)) {
        return Err("--sizes: give one or more study sizes from 10 to 10,000,000 shoppers".into());
    }
    if a.reps == 0 || a.reps > 100_000 {
        return Err("--reps must be from 1 to 100000".into());
    }
    if !(a.precision_pp.is_finite() && a.precision_pp > 0.0) {
        return Err("--precision-pp must be a positive number of percentage points".into());
    }
    let mechanisms = a
        .mechanisms
        .iter()
        .map(|m| match m.trim() {
            "oue" => Ok(Mechanism::Oue),
            "grr" => Ok(Mechanism::Grr),
            other => Err(Failure(format!(
                "--mechanisms: unknown mechanism {other:?} (oue or grr)"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !matches!(a.outcome.as_str(), "visit" | "conversion") {
        return Err(format!("--outcome must be visit or conversion, not {:?}", a.outcome).into());
    }
    let beta = match a.lift_beta {
        Some(b) if b.is_finite() && (0.0..=100.0).contains(&b) => b,
        Some(_) => return Err("--lift-beta must be a number from 0 to 100".into()),
        None => match policy.strategy() {
            pricelet::policy::Strategy::ExpectedProfit { beta } => *beta,
            _ => 4.0,
        },
    };
    let control = match a.control_percent {
        Some(c) if c.is_finite() && c > 0.0 && c < 100.0 => c / 100.0,
        Some(_) => return Err("--control-percent must be above 0 and below 100".into()),
        None => policy.experiment.control_percent.0.as_fraction(),
    };
    if control <= 0.0 {
        return Err("the policy holds out no control group (experiment.controlPercent 0): pass --control-percent".into());
    }
    let dir = data_dir(a.data_dir);
    let domain = Domain::for_policy(&policy);
    let (Dataset::OnlineShoppers(shoppers), Dataset::Hillstrom(hillstrom)) = (
        Dataset::read(&dir.join("online_shoppers_intention.csv"))?,
        Dataset::read(&dir.join("hillstrom.csv"))?,
    ) else {
        return Err(format!(
            "{}: online_shoppers_intention.csv and hillstrom.csv must have their own layouts",
            dir.display()
        )
        .into());
    };
    let pops = vec![
        plan::online_shoppers_population(&shoppers, &domain, control, beta)?,
        plan::hillstrom_population(&hillstrom, &domain, &a.outcome)?,
    ];
    if let Some(out) = &a.reports_out {
        let exp = pricelet_measure::Expected::from_policy(&policy)?;
        let n = a.sizes.iter().copied().max().unwrap_or(0);
        let text = plan::sample_reports(&pops[0], &domain, exp.mechanism, exp.epsilon, n, a.seed);
        std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!(
            "pricelet: wrote {n} reports ({}, ε = {}) of the online_shoppers population to {}",
            exp.mechanism.as_str(),
            exp.epsilon,
            out.display()
        );
    }
    let report = plan::simulate(
        &pops,
        &domain,
        &SimSettings {
            mechanisms,
            epsilons: a.epsilons,
            sizes: a.sizes,
            reps: a.reps,
            seed: a.seed,
            precision: a.precision_pp / 100.0,
        },
    );
    if a.json {
        print(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        print!("{}", crate::render::simulation(&report));
    }
    Ok(())
}
