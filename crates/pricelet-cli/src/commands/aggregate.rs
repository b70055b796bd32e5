//! `pricelet aggregate`: the collector's de-biased read-out of a file of reports.

use crate::{load_policy, now_ms, print, read, CliResult};
use std::path::Path;

pub fn run(reports: &Path, policy: Option<&Path>, as_json: bool) -> CliResult<()> {
    let policy = load_policy(policy)?;
    let mut expected = pricelet_measure::Expected::from_policy(&policy)?;
    expected.latest_day = Some(pricelet::ldp::latest_day(now_ms()));
    let text = String::from_utf8(read(reports, "reports")?)
        .map_err(|_| format!("the reports file {} is not UTF-8", reports.display()))?;
    let tally = pricelet_measure::read_reports(&text, &expected)
        .map_err(|e| format!("{}: {e}", reports.display()))?;
    let r = pricelet_measure::readout(&tally, &expected);
    if as_json {
        print(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        print!("{}", crate::render::readout(&r));
    }
    Ok(())
}
