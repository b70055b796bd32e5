//! `pricelet fairness`: discounts by segment, share discounted and spread per item.

use crate::{
    core_error, data_dir, expect_kind, load_any_model, load_policy, print, read_json, CliResult,
    Failure,
};
use pricelet::scorer::ModelKind;
use pricelet::time::Clock;
use pricelet::Policy;
use pricelet_lab::datasets::Dataset;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub struct FairnessArgs<'a> {
    pub data: Option<PathBuf>,
    pub model: &'a Path,
    pub policy: Option<&'a Path>,
    pub items: Option<&'a Path>,
    pub rows: Option<usize>,
    pub max_spread_percent: Option<String>,
    pub now: i64,
    pub json: bool,
}

pub fn run(a: FairnessArgs) -> CliResult<bool> {
    let mut policy = load_policy(a.policy)?;
    if let Some(s) = &a.max_spread_percent {
        let mut v = policy.to_json();
        v["maxSpreadPercent"] = match s.parse::<f64>() {
            Ok(x) => json!(x),
            Err(_) => json!(s),
        };
        policy = Policy::from_json(&v)
            .map_err(|e| format!("--max-spread-percent: {}", core_error(e)))?;
    }
    let model = load_any_model(a.model, "model")?;
    expect_kind(&model, ModelKind::Interest, "model")?;
    let path = a
        .data
        .unwrap_or_else(|| data_dir(None).join("online_shoppers_intention.csv"));
    let Dataset::OnlineShoppers(mut rows) = Dataset::read(&path)? else {
        return Err(format!(
            "{}: fairness needs the Online Shoppers layout (sessions)",
            path.display()
        )
        .into());
    };
    if let Some(n) = a.rows {
        if n == 0 {
            return Err("--rows must be at least 1".into());
        }
        rows.truncate(n);
    }
    let items = match a.items {
        None => pricelet_lab::fairness::builtin_catalog(),
        Some(p) => match read_json(p, "items")? {
            Value::Array(items) if !items.is_empty() => items,
            _ => return Err("the items file must hold a non-empty JSON array of items".into()),
        },
    };
    pricelet::limits::check_count("items", items.len(), pricelet::limits::MAX_ITEMS_PER_BATCH)
        .map_err(Failure::from)?;
    let clock = Clock {
        now_ms: a.now,
        utc_offset_minutes: 0,
    };
    let report = pricelet_lab::fairness::fairness_report(model, &policy, &rows, &items, &clock)
        .map_err(Failure::from)?;
    if a.json {
        print(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        print!("{}", crate::render::fairness(&report));
    }
    Ok(report.ok())
}
