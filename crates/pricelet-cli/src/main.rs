//! `pricelet`: the native command-line tool over the same core the wasm runs.
//! JSON on stdout; on bad input a message on stderr and exit code 2 (verify: 1 when a quote fails).

mod commands;
mod error;
mod input;
mod os;
mod render;

use clap::{Parser, Subcommand};
use commands::aggregate::{self, AggregateArgs};
use commands::evaluate::{self, EvaluateArgs};
use commands::fairness::{self, FairnessArgs};
use commands::ldp_simulate::{self, LdpSimulateArgs};
use commands::loop_simulate::{self, LoopSimulateArgs};
use commands::price::{self, PriceArgs};
use commands::simulate::{self, SimulateArgs};
use commands::verify::{self, VerifyArgs};
use std::process::ExitCode;

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

// The variants' doc comments are the commands' help text.
#[derive(Subcommand)]
enum Command {
    /// Price items for a shopper's behaviour log, exactly as the device would.
    Price(PriceArgs),
    /// Verify a quote against the server's own item and policy: prints { ok, problems }.
    Verify(VerifyArgs),
    /// Evaluate a model on a dataset through the Rust feature path and tract.
    Evaluate(EvaluateArgs),
    /// Offline evaluation of the discount policy. Hillstrom: the policy's targeting (per-shopper β from
    /// the uplift model) against everyone, random and response-only, judged on the randomized arms.
    /// Online Shoppers: revenue and discount cost under the policy's assumed price response, over β.
    Simulate(SimulateArgs),
    /// De-bias privacy-protected measurement reports (one JSON object per line) into conversion by
    /// arm, by discount step and by segment, the A/B read-out, revenue per shopper and a fitted β,
    /// each with a 95 % interval that includes the privacy noise (docs/measurement.md).
    Aggregate(AggregateArgs),
    /// Simulate measurement reports on the real datasets: shoppers resampled from Online Shoppers
    /// (random arms, an assumed discount response) and Hillstrom (real randomized arms), randomized
    /// by the device's own code at each ε, aggregated, and scored against the truth.
    LdpSimulate(LdpSimulateArgs),
    /// The learning loop end to end: Online Shoppers sessions priced by the engine, purchases drawn
    /// from a known price response, explore quotes reported under local DP, and the proposer
    /// updating the policy each round. Prints JSON.
    LoopSimulate(LoopSimulateArgs),
    /// Price a catalog for every Online Shoppers session through the production path and report the
    /// discount distribution by segment, the share offered any discount and the price spread per item.
    Fairness(FairnessArgs),
}

fn main() -> ExitCode {
    // Ok(false): the command ran but what it checked failed (a quote, the spread limit).
    let outcome = match Cli::parse().command {
        Command::Price(a) => price::run(a).map(|()| true),
        Command::Verify(a) => verify::run(a),
        Command::Evaluate(a) => evaluate::run(a).map(|()| true),
        Command::Simulate(a) => simulate::run(a).map(|()| true),
        Command::Aggregate(a) => aggregate::run(a).map(|()| true),
        Command::LdpSimulate(a) => ldp_simulate::run(a).map(|()| true),
        Command::LoopSimulate(a) => loop_simulate::run(a).map(|()| true),
        Command::Fairness(a) => fairness::run(a),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("pricelet: {e}");
            ExitCode::from(2)
        }
    }
}
