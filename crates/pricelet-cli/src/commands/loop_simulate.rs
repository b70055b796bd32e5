//! `pricelet loop-simulate`: the learning loop end to end on real sessions with a known price response.

use crate::error::{CliError, CliResult};
use crate::input::{data_dir, load_policy, read};
use crate::render::print_json;
use pricelet::policy::Mechanism;
use pricelet_lab::datasets::Dataset;
use pricelet_lab::learn::{loop_simulate, LoopSettings};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct LoopSimulateArgs {
    /// Online Shoppers CSV (default: $PRICELET_DATA or ../shared/data, online_shoppers_intention.csv).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The true price response β: P(buy | d) = σ(logit interest + β·d).
    #[arg(long)]
    pub true_beta: f64,
    /// ε per report.
    #[arg(long, default_value_t = 2.0)]
    pub epsilon: f64,
    /// oue or grr (default: the better one for the domain and ε).
    #[arg(long)]
    pub mechanism: Option<String>,
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    #[arg(long, default_value_t = 100_000)]
    pub shoppers_per_round: usize,
    #[arg(long, default_value_t = 20261201)]
    pub seed: u64,
    /// Interest model (.onnx).
    #[arg(long, default_value = "models/interest.onnx")]
    pub model: PathBuf,
    /// Starting policy with a `learning` section (default: policy/learning.json).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The clock of the first round, ms since the epoch (a round is a day).
    #[arg(long, default_value_t = 1_795_950_160_000)]
    pub now: i64,
}

pub fn run(a: LoopSimulateArgs) -> CliResult<()> {
    if !(a.true_beta.is_finite() && (0.0..=100.0).contains(&a.true_beta)) {
        return Err(CliError::BadArgument {
            option: "--true-beta",
            expected: "a number from 0 to 100",
        });
    }
    if a.rounds == 0 || a.shoppers_per_round == 0 {
        return Err(CliError::BadArgument {
            option: "--rounds and --shoppers-per-round",
            expected: "at least 1",
        });
    }
    let mechanism = match a.mechanism {
        None => None,
        Some(m) => match m.as_str() {
            "oue" => Some(Mechanism::Oue),
            "grr" => Some(Mechanism::Grr),
            _ => return Err(CliError::UnknownMechanism(m)),
        },
    };
    let policy_path = a
        .policy
        .as_deref()
        .unwrap_or(Path::new("policy/learning.json"));
    let policy = load_policy(Some(policy_path))?;
    let path = a
        .data
        .unwrap_or_else(|| data_dir(None).join("online_shoppers_intention.csv"));
    let Dataset::OnlineShoppers(rows) = Dataset::read(&path)? else {
        return Err(CliError::NotSessions {
            command: "loop-simulate",
            data: path,
        });
    };
    let model = read(&a.model, "model")?;
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
    )?;
    print_json(&serde_json::to_value(&report).unwrap_or_default());
    Ok(())
}
