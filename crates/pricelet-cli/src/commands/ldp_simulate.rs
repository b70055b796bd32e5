//! `pricelet ldp-simulate`: plan a local-DP study on the real datasets.

use crate::error::{CliError, CliResult};
use crate::input::{data_dir, load_policy};
use crate::render::print_json;
use pricelet::ldp::{Domain, Mechanism};
use pricelet_lab::datasets::Dataset;
use pricelet_lab::plan::{self, SimSettings};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct LdpSimulateArgs {
    /// Folder with online_shoppers_intention.csv and hillstrom.csv (default: $PRICELET_DATA or ../shared/data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Policy JSON: its discount steps make the domain (default: the bundled policy).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// ε per report (comma-separated).
    #[arg(long, default_value = "1,2,4", value_delimiter = ',')]
    pub epsilons: Vec<f64>,
    /// Shoppers (one report each) per simulated study (comma-separated).
    #[arg(long, default_value = "1000,10000,100000", value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Mechanisms to compare: oue, grr (comma-separated).
    #[arg(long, default_value = "oue,grr", value_delimiter = ',')]
    pub mechanisms: Vec<String>,
    /// Repetitions per setting.
    #[arg(long, default_value_t = 100)]
    pub reps: usize,
    #[arg(long, default_value_t = 20261129)]
    pub seed: u64,
    /// The β of the ASSUMED response on Online Shoppers (default: the policy's expectedProfit β).
    #[arg(long)]
    pub lift_beta: Option<f64>,
    /// Control share on Online Shoppers, percent (default: the policy's experiment.controlPercent).
    #[arg(long)]
    pub control_percent: Option<f64>,
    /// Hillstrom outcome: visit or conversion.
    #[arg(long, default_value = "visit")]
    pub outcome: String,
    /// Target 95 % half-width of the incremental conversion, percentage points.
    #[arg(long, default_value_t = 1.0)]
    pub precision_pp: f64,
    /// Also write the reports of one Online Shoppers study (the largest size, the policy's
    /// reporting mechanism and ε) to this file, to try `pricelet aggregate` on.
    #[arg(long)]
    pub reports_out: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: LdpSimulateArgs) -> CliResult<()> {
    let policy = load_policy(a.policy.as_deref())?;
    if a.epsilons.is_empty()
        || a.epsilons
            .iter()
            .any(|e| !(e.is_finite() && *e > 0.0 && *e <= 10.0))
    {
        return Err(CliError::BadList {
            option: "--epsilons",
            expected: "ε, each above 0 and at most 10",
        });
    }
    if a.sizes.is_empty() || a.sizes.iter().any(|n| !(10..=10_000_000).contains(n)) {
        return Err(CliError::BadList {
            option: "--sizes",
            expected: "study sizes from 10 to 10,000,000 shoppers",
        });
    }
    if a.reps == 0 || a.reps > 100_000 {
        return Err(CliError::BadArgument {
            option: "--reps",
            expected: "from 1 to 100000",
        });
    }
    if !(a.precision_pp.is_finite() && a.precision_pp > 0.0) {
        return Err(CliError::BadArgument {
            option: "--precision-pp",
            expected: "a positive number of percentage points",
        });
    }
    let mechanisms = a
        .mechanisms
        .iter()
        .map(|m| match m.trim() {
            "oue" => Ok(Mechanism::Oue),
            "grr" => Ok(Mechanism::Grr),
            other => Err(CliError::UnknownMechanisms(other.to_string())),
        })
        .collect::<CliResult<Vec<_>>>()?;
    if !matches!(a.outcome.as_str(), "visit" | "conversion") {
        return Err(CliError::UnknownOutcome(a.outcome));
    }
    let beta = match a.lift_beta {
        Some(b) if b.is_finite() && (0.0..=100.0).contains(&b) => b,
        Some(_) => {
            return Err(CliError::BadArgument {
                option: "--lift-beta",
                expected: "a number from 0 to 100",
            })
        }
        None => match policy.strategy() {
            pricelet::policy::Strategy::ExpectedProfit { beta } => *beta,
            _ => 4.0,
        },
    };
    let control = match a.control_percent {
        Some(c) if c.is_finite() && c > 0.0 && c < 100.0 => c / 100.0,
        Some(_) => {
            return Err(CliError::BadArgument {
                option: "--control-percent",
                expected: "above 0 and below 100",
            })
        }
        None => policy.experiment.control_percent.0.as_fraction(),
    };
    if control <= 0.0 {
        return Err(CliError::NoControlGroup);
    }
    let dir = data_dir(a.data_dir);
    let domain = Domain::for_policy(&policy);
    let (Dataset::OnlineShoppers(shoppers), Dataset::Hillstrom(hillstrom)) = (
        Dataset::read(&dir.join("online_shoppers_intention.csv"))?,
        Dataset::read(&dir.join("hillstrom.csv"))?,
    ) else {
        return Err(CliError::MixedUpLayouts { dir });
    };
    let pops = vec![
        plan::online_shoppers_population(&shoppers, &domain, control, beta)?,
        plan::hillstrom_population(&hillstrom, &domain, &a.outcome)?,
    ];
    if let Some(out) = &a.reports_out {
        let exp = pricelet_measure::Expected::from_policy(&policy)?;
        let n = a.sizes.iter().copied().max().unwrap_or(0);
        let text = plan::sample_reports(&pops[0], &domain, exp.mechanism, exp.epsilon, n, a.seed);
        std::fs::write(out, text).map_err(|source| CliError::Write {
            path: out.clone(),
            source,
        })?;
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
        print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        print!("{}", crate::render::simulation(&report));
    }
    Ok(())
}
