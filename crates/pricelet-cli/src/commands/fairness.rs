//! `pricelet fairness`: discounts by segment, share discounted and spread per item.

use crate::error::{CliError, CliResult};
use crate::input::{data_dir, expect_kind, load_any_model, load_policy, read_json};
use crate::render::print_json;
use pricelet::scorer::ModelKind;
use pricelet::time::Clock;
use pricelet::Policy;
use pricelet_lab::datasets::Dataset;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct FairnessArgs {
    /// Online Shoppers CSV (default: $PRICELET_DATA or ../shared/data, online_shoppers_intention.csv).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Interest model (.onnx).
    #[arg(long, default_value = "models/interest.onnx")]
    pub model: PathBuf,
    /// Policy JSON (default: the bundled policy/default.json).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Items: a JSON array (default: a built-in catalog of five items).
    #[arg(long)]
    pub items: Option<PathBuf>,
    /// Use only the first N rows.
    #[arg(long)]
    pub rows: Option<usize>,
    /// Set the policy's maxSpreadPercent for this run.
    #[arg(long)]
    pub max_spread_percent: Option<String>,
    /// The clock, ms since the epoch (issue times, exploration windows).
    #[arg(long, default_value_t = 1_795_950_160_000)]
    pub now: i64,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Whether every quote verified and kept within maxSpreadPercent (exit code 0, else 1).
pub fn run(a: FairnessArgs) -> CliResult<bool> {
    let mut policy = load_policy(a.policy.as_deref())?;
    if let Some(s) = &a.max_spread_percent {
        let mut v = policy.to_json();
        v["maxSpreadPercent"] = match s.parse::<f64>() {
            Ok(x) => json!(x),
            Err(_) => json!(s),
        };
        policy = Policy::from_json(&v).map_err(|source| CliError::OptionRefused {
            option: "--max-spread-percent",
            source,
        })?;
    }
    let model = load_any_model(&a.model, "model")?;
    expect_kind(&model, ModelKind::Interest, "--model")?;
    let path = a
        .data
        .unwrap_or_else(|| data_dir(None).join("online_shoppers_intention.csv"));
    let Dataset::OnlineShoppers(mut rows) = Dataset::read(&path)? else {
        return Err(CliError::NotSessions {
            command: "fairness",
            data: path,
        });
    };
    if let Some(n) = a.rows {
        if n == 0 {
            return Err(CliError::BadArgument {
                option: "--rows",
                expected: "at least 1",
            });
        }
        rows.truncate(n);
    }
    let items = match &a.items {
        None => pricelet_lab::fairness::builtin_catalog(),
        Some(p) => match read_json(p, "items")? {
            Value::Array(items) if !items.is_empty() => items,
            _ => {
                return Err(CliError::FileShape {
                    what: "items",
                    expected: "a non-empty JSON array of items",
                })
            }
        },
    };
    pricelet::limits::check_count("items", items.len(), pricelet::limits::MAX_ITEMS_PER_BATCH)?;
    let clock = Clock {
        now_ms: a.now,
        utc_offset_minutes: 0,
    };
    let report = pricelet_lab::fairness::fairness_report(model, &policy, &rows, &items, &clock)?;
    if a.json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        print!("{}", crate::render::fairness(&report));
    }
    Ok(report.ok())
}
