//! `pricelet aggregate`: the collector's de-biased read-out of a file of reports.

use crate::error::{CliError, CliResult};
use crate::input::{load_policy, read_text};
use crate::os::now_ms;
use crate::render::print_json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct AggregateArgs {
    /// The reports file (JSON lines, as devices send them).
    pub reports: PathBuf,
    /// The policy the reports were made under (default: the bundled policy/default.json).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: AggregateArgs) -> CliResult<()> {
    let policy = load_policy(a.policy.as_deref())?;
    let mut expected = pricelet_measure::Expected::from_policy(&policy)?;
    expected.latest_day = Some(pricelet::ldp::latest_day(now_ms()));
    let text = read_text(&a.reports, "reports")?;
    let tally =
        pricelet_measure::read_reports(&text, &expected).map_err(|source| CliError::Reports {
            path: a.reports.clone(),
            source,
        })?;
    let r = pricelet_measure::readout(&tally, &expected);
    if a.json {
        print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        print!("{}", crate::render::readout(&r));
    }
    Ok(())
}
