//! `pricelet`: the native command-line tool over the same core the wasm runs.
//! JSON on stdout; on bad input a message on stderr and exit code 2 (verify: 1 when a quote fails).

mod commands;
mod render;

use clap::{Parser, Subcommand};
use commands::{
    aggregate, evaluate, fairness, ldp_simulate, loop_simulate, price, simulate, verify,
};
use pricelet::scorer::ModelKind;
use pricelet::{Error, Policy};
use pricelet_onnx::Model;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a command failed: the message printed on stderr (exit code 2).
#[derive(Debug)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure(s)
    }
}

impl From<pricelet_lab::datasets::DatasetError> for Failure {
    fn from(e: pricelet_lab::datasets::DatasetError) -> Failure {
        Failure(e.to_string())
    }
}

impl From<pricelet_lab::plan::PopulationError> for Failure {
    fn from(e: pricelet_lab::plan::PopulationError) -> Failure {
        Failure(e.to_string())
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure(s.to_string())
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure(core_error(e))
    }
}

pub type CliResult<T> = Result<T, Failure>;

/// The operating system's random source (anonymous ids when `--anon-id` is not given).
pub struct OsRandom;

impl pricelet::random::Random for OsRandom {
    fn next_u64(&mut self) -> u64 {
        getrandom::u64().expect("the operating system's random source works")
    }
}

#[derive(Parser)]
#[command(
    name = "pricelet",
    version,
    about = "On-device personalized pricing: the native tool over the same core as the wasm package"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Price items for a shopper's behaviour log, exactly as the device would.
    Price {
        /// Interest model (.onnx).
        #[arg(long)]
        model: PathBuf,
        /// Optional uplift model (.onnx).
        #[arg(long)]
        uplift_model: Option<PathBuf>,
        /// Policy JSON (default: the bundled policy/default.json).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Behaviour: a JSON array of events, or a stored state (as `exportData().state` shows).
        #[arg(long)]
        behaviour: Option<PathBuf>,
        /// Items: a JSON array of items.
        #[arg(long)]
        items: PathBuf,
        /// The clock, ms since the epoch (default: now).
        #[arg(long)]
        now: Option<i64>,
        /// The shopper's UTC offset in minutes (for month, weekday, special days).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        utc_offset_minutes: i32,
        /// The anonymous id (default: a random one).
        #[arg(long)]
        anon_id: Option<String>,
        /// Override the policy's stability TTL.
        #[arg(long)]
        stability_ttl_ms: Option<i64>,
    },
    /// Verify a quote against the server's own item and policy: prints { ok, problems }.
    Verify {
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The catalog item (JSON object).
        #[arg(long)]
        item: PathBuf,
        /// The quote or its toCheckout payload (JSON object).
        #[arg(long)]
        quote: PathBuf,
        /// Signing secret; a valid signature is then required.
        #[arg(long)]
        key: Option<String>,
        /// The key id the secret belongs to (default: the quote's keyId).
        #[arg(long)]
        key_id: Option<String>,
        /// The clock, ms since the epoch (default: now).
        #[arg(long)]
        now: Option<i64>,
        /// Units being bought: a whole number from 1; anything else fails verification
        /// (`invalid_quantity`), never rounded or clamped.
        #[arg(long, allow_hyphen_values = true)]
        quantity: Option<String>,
    },
    /// Evaluate a model on a dataset through the Rust feature path and tract.
    Evaluate {
        /// An interest or uplift model (.onnx); the kind is read from the file.
        #[arg(long)]
        model: PathBuf,
        /// Online Shoppers CSV (label Revenue) or Hillstrom CSV (segment, visit); the layout is detected
        /// from the columns. On Hillstrom the metrics are over the Womens E-Mail (treated) and No E-Mail rows.
        #[arg(long)]
        data: PathBuf,
        /// Write one score per input row, in input order (for an uplift model: the uplift).
        #[arg(long)]
        predictions: Option<PathBuf>,
    },
    /// Offline evaluation of the discount policy. Hillstrom: the policy's targeting (per-shopper β from
    /// the uplift model) against everyone, random and response-only, judged on the randomized arms.
    /// Online Shoppers: revenue and discount cost under the policy's assumed price response, over β.
    Simulate {
        /// Hillstrom CSV or Online Shoppers CSV (detected from the columns).
        #[arg(long)]
        data: PathBuf,
        /// Interest model (.onnx), for Online Shoppers.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Uplift model (.onnx), for Hillstrom.
        #[arg(long)]
        uplift_model: Option<PathBuf>,
        /// A response model (.onnx, kind interest) for the response-only baseline on Hillstrom.
        #[arg(long)]
        response_model: Option<PathBuf>,
        /// Policy JSON (default: the bundled policy/default.json).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The representative item (JSON object; default: 100.00 EUR with the policy's default cost).
        #[arg(long)]
        item: Option<PathBuf>,
        /// The β values of the Online Shoppers sweep (comma-separated).
        #[arg(long, default_value = "0,2,4,6,8,10,15,20", value_delimiter = ',')]
        betas: Vec<f64>,
        /// Bootstrap resamples (Hillstrom).
        #[arg(long, default_value_t = 1000)]
        resamples: usize,
        /// Bootstrap seed (Hillstrom).
        #[arg(long, default_value_t = 20261129)]
        seed: u64,
    },
    /// De-bias privacy-protected measurement reports (one JSON object per line) into conversion by
    /// arm, by discount step and by segment, the A/B read-out, revenue per shopper and a fitted β,
    /// each with a 95 % interval that includes the privacy noise (docs/measurement.md).
    Aggregate {
        /// The reports file (JSON lines, as devices send them).
        reports: PathBuf,
        /// The policy the reports were made under (default: the bundled policy/default.json).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Simulate measurement reports on the real datasets: shoppers resampled from Online Shoppers
    /// (random arms, an assumed discount response) and Hillstrom (real randomized arms), randomized
    /// by the device's own code at each ε, aggregated, and scored against the truth.
    LdpSimulate {
        /// Folder with online_shoppers_intention.csv and hillstrom.csv (default: $PRICELET_DATA or ../shared/data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Policy JSON: its discount steps make the domain (default: the bundled policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// ε per report (comma-separated).
        #[arg(long, default_value = "1,2,4", value_delimiter = ',')]
        epsilons: Vec<f64>,
        /// Shoppers (one report each) per simulated study (comma-separated).
        #[arg(long, default_value = "1000,10000,100000", value_delimiter = ',')]
        sizes: Vec<usize>,
        /// Mechanisms to compare: oue, grr (comma-separated).
        #[arg(long, default_value = "oue,grr", value_delimiter = ',')]
        mechanisms: Vec<String>,
        /// Repetitions per setting.
        #[arg(long, default_value_t = 100)]
        reps: usize,
        #[arg(long, default_value_t = 20261129)]
        seed: u64,
        /// The β of the ASSUMED response on Online Shoppers (default: the policy's expectedProfit β).
        #[arg(long)]
        lift_beta: Option<f64>,
        /// Control share on Online Shoppers, percent (default: the policy's experiment.controlPercent).
        #[arg(long)]
        control_percent: Option<f64>,
        /// Hillstrom outcome: visit or conversion.
        #[arg(long, default_value = "visit")]
        outcome: String,
        /// Target 95 % half-width of the incremental conversion, percentage points.
        #[arg(long, default_value_t = 1.0)]
        precision_pp: f64,
        /// Also write the reports of one Online Shoppers study (the largest size, the policy's
        /// reporting mechanism and ε) to this file, to try `pricelet aggregate` on.
        #[arg(long)]
        reports_out: Option<PathBuf>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// The learning loop end to end: Online Shoppers sessions priced by the engine, purchases drawn
    /// from a known price response, explore quotes reported under local DP, and the proposer
    /// updating the policy each round (docs/measurement.md §7). Prints JSON.
    LoopSimulate {
        /// Online Shoppers CSV (default: $PRICELET_DATA or ../shared/data, online_shoppers_intention.csv).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The true price response β: P(buy | d) = σ(logit interest + β·d).
        #[arg(long)]
        true_beta: f64,
        /// ε per report.
        #[arg(long, default_value_t = 2.0)]
        epsilon: f64,
        /// oue or grr (default: the better one for the domain and ε).
        #[arg(long)]
        mechanism: Option<String>,
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        #[arg(long, default_value_t = 100_000)]
        shoppers_per_round: usize,
        #[arg(long, default_value_t = 20261201)]
        seed: u64,
        /// Interest model (.onnx).
        #[arg(long, default_value = "models/interest.onnx")]
        model: PathBuf,
        /// Starting policy with a `learning` section (default: policy/learning.json).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The clock of the first round, ms since the epoch (a round is a day).
        #[arg(long, default_value_t = 1_795_950_160_000)]
        now: i64,
    },
    /// Price a catalog for every Online Shoppers session through the production path and report the
    /// discount distribution by segment, the share offered any discount and the price spread per item.
    Fairness {
        /// Online Shoppers CSV (default: $PRICELET_DATA or ../shared/data, online_shoppers_intention.csv).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Interest model (.onnx).
        #[arg(long, default_value = "models/interest.onnx")]
        model: PathBuf,
        /// Policy JSON (default: the bundled policy/default.json).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Items: a JSON array (default: a built-in catalog of five items).
        #[arg(long)]
        items: Option<PathBuf>,
        /// Use only the first N rows.
        #[arg(long)]
        rows: Option<usize>,
        /// Set the policy's maxSpreadPercent for this run.
        #[arg(long)]
        max_spread_percent: Option<String>,
        /// The clock, ms since the epoch (issue times, exploration windows).
        #[arg(long, default_value_t = 1_795_950_160_000)]
        now: i64,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("pricelet: {e}");
    ExitCode::from(2)
}

pub fn core_error(e: Error) -> String {
    match &e.field {
        Some(f) => format!("{} (code {}, field {f})", e.message, e.code),
        None => format!("{} (code {})", e.message, e.code),
    }
}

pub fn read(path: &Path, what: &str) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Failure(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })
}

pub fn read_json(path: &Path, what: &str) -> CliResult<Value> {
    let bytes = read(path, what)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure(format!(
            "the {what} file {} is not valid JSON: {e}",
            path.display()
        ))
    })
}

pub fn load_policy(path: Option<&Path>) -> CliResult<Policy> {
    match path {
        None => Ok(Policy::default_policy()),
        Some(p) => {
            let text = String::from_utf8(read(p, "policy")?)
                .map_err(|_| format!("the policy file {} is not UTF-8", p.display()))?;
            Policy::from_json_str(&text).map_err(Failure::from)
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Price {
            model,
            uplift_model,
            policy,
            behaviour,
            items,
            now,
            utc_offset_minutes,
            anon_id,
            stability_ttl_ms,
        } => price::run(
            &model,
            uplift_model.as_deref(),
            policy.as_deref(),
            behaviour.as_deref(),
            &items,
            now,
            utc_offset_minutes,
            anon_id,
            stability_ttl_ms,
        ),
        Command::Verify {
            policy,
            item,
            quote,
            key,
            key_id,
            now,
            quantity,
        } => {
            return match verify::run(policy.as_deref(), &item, &quote, key, key_id, now, quantity) {
                Ok(ok) => ExitCode::from(if ok { 0 } else { 1 }),
                Err(e) => fail(e),
            };
        }
        Command::Evaluate {
            model,
            data,
            predictions,
        } => evaluate::run(&model, &data, predictions.as_deref()),
        Command::Simulate {
            data,
            model,
            uplift_model,
            response_model,
            policy,
            item,
            betas,
            resamples,
            seed,
        } => simulate::run(simulate::SimulateArgs {
            data: &data,
            model: model.as_deref(),
            uplift: uplift_model.as_deref(),
            response: response_model.as_deref(),
            policy: policy.as_deref(),
            item: item.as_deref(),
            betas: &betas,
            resamples,
            seed,
        }),
        Command::Aggregate {
            reports,
            policy,
            json,
        } => aggregate::run(&reports, policy.as_deref(), json),
        Command::LdpSimulate {
            data_dir,
            policy,
            epsilons,
            sizes,
            mechanisms,
            reps,
            seed,
            lift_beta,
            control_percent,
            outcome,
            precision_pp,
            reports_out,
            json,
        } => ldp_simulate::run(ldp_simulate::LdpSimulateArgs {
            data_dir,
            policy: policy.as_deref(),
            epsilons,
            sizes,
            mechanisms,
            reps,
            seed,
            lift_beta,
            control_percent,
            outcome,
            precision_pp,
            reports_out,
            json,
        }),
        Command::LoopSimulate {
            data,
            true_beta,
            epsilon,
            mechanism,
            rounds,
            shoppers_per_round,
            seed,
            model,
            policy,
            now,
        } => loop_simulate::run(loop_simulate::LoopSimulateArgs {
            data,
            model: &model,
            policy: policy.as_deref(),
            true_beta,
            epsilon,
            mechanism,
            rounds,
            shoppers_per_round,
            seed,
            now,
        }),
        Command::Fairness {
            data,
            model,
            policy,
            items,
            rows,
            max_spread_percent,
            now,
            json,
        } => {
            return match fairness::run(fairness::FairnessArgs {
                data,
                model: &model,
                policy: policy.as_deref(),
                items: items.as_deref(),
                rows,
                max_spread_percent,
                now,
                json,
            }) {
                Ok(ok) => ExitCode::from(if ok { 0 } else { 1 }),
                Err(e) => fail(e),
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Loads a model of either kind: the kind is read from the file's `pricelet.kind`.
pub fn load_any_model(path: &Path, what: &str) -> CliResult<Model> {
    let bytes = read(path, what)?;
    let kind = pricelet_onnx::declared_kind(&bytes);
    Ok(Model::load(&bytes, kind.unwrap_or(ModelKind::Interest))?)
}

pub fn expect_kind(model: &Model, kind: ModelKind, option: &str) -> CliResult<()> {
    if model.info().kind != kind {
        return Err(format!(
            "--{option} must be an {} model; the file is an {} model",
            kind.as_str(),
            model.info().kind.as_str()
        )
        .into());
    }
    Ok(())
}

pub fn data_dir(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("PRICELET_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}
