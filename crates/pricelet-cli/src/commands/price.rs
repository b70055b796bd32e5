//! `pricelet price`: price items for a behaviour log, exactly as the device would.

use crate::error::{CliError, CliResult};
use crate::input::{load_policy, read, read_json};
use crate::os::{now_ms, OsRandom};
use crate::render::print_json;
use pricelet::pricer::{Consent, Pricer, PricerConfig};
use pricelet::scorer::{ModelKind, ModelSlot};
use pricelet::time::Clock;
use pricelet::JsonPricer;
use pricelet_onnx::Model;
use serde_json::Value;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct PriceArgs {
    /// Interest model (.onnx).
    #[arg(long)]
    pub model: PathBuf,
    /// Optional uplift model (.onnx).
    #[arg(long)]
    pub uplift_model: Option<PathBuf>,
    /// Policy JSON (default: the bundled policy/default.json).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Behaviour: a JSON array of events, or a stored state (as `exportData().state` shows).
    #[arg(long)]
    pub behaviour: Option<PathBuf>,
    /// Items: a JSON array of items.
    #[arg(long)]
    pub items: PathBuf,
    /// The clock, ms since the epoch (default: now).
    #[arg(long)]
    pub now: Option<i64>,
    /// The shopper's UTC offset in minutes (for month, weekday, special days).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub utc_offset_minutes: i32,
    /// The anonymous id (default: a random one).
    #[arg(long)]
    pub anon_id: Option<String>,
    /// Override the policy's stability TTL.
    #[arg(long)]
    pub stability_ttl_ms: Option<i64>,
}

pub fn run(a: PriceArgs) -> CliResult<()> {
    let policy = load_policy(a.policy.as_deref())?;
    let interest = Model::load(&read(&a.model, "model")?, ModelKind::Interest)?;
    let uplift = match &a.uplift_model {
        Some(p) => ModelSlot::Ready(Box::new(Model::load(
            &read(p, "uplift model")?,
            ModelKind::Uplift,
        )?)),
        None => ModelSlot::Absent,
    };
    let clock = Clock {
        now_ms: a.now.unwrap_or_else(now_ms),
        utc_offset_minutes: a.utc_offset_minutes,
    };
    let config = PricerConfig {
        consent: Consent::Granted,
        gpc_opt_out: false,
        anon_id: a.anon_id,
        stability_ttl_ms: a.stability_ttl_ms,
    };
    // A stored state loads as is; a plain array of events is tracked one by one (validated).
    let behaviour = a.behaviour.as_deref().map(|p| read_json(p, "behaviour"));
    let (state, events) = match behaviour.transpose()? {
        None => (None, vec![]),
        Some(Value::Array(events)) => (None, events),
        Some(state @ Value::Object(_)) => (Some(state.to_string()), vec![]),
        Some(_) => {
            return Err(CliError::FileShape {
                what: "behaviour",
                expected: "an array of events or a stored state object",
            })
        }
    };
    let mut pricer = Pricer::new(
        policy,
        ModelSlot::Ready(Box::new(interest)),
        uplift,
        state.as_deref(),
        config,
        clock.now_ms,
        Box::new(OsRandom),
    )?;
    if let Some(reason) = &pricer.status().state.reason {
        eprintln!("pricelet: note: behaviour state: {reason}");
    }
    for (index, ev) in events.iter().enumerate() {
        pricer
            .track_json(ev, &clock)
            .map_err(|source| CliError::BehaviourEvent { index, source })?;
    }
    let items = match read_json(&a.items, "items")? {
        Value::Array(items) => items,
        _ => {
            return Err(CliError::FileShape {
                what: "items",
                expected: "a JSON array of items",
            })
        }
    };
    let quotes = pricer.prices_for(&items, &clock)?;
    print_json(&serde_json::to_value(&quotes).unwrap_or_default());
    Ok(())
}
