//! `pricelet price`: price items for a behaviour log, exactly as the device would.

use crate::{
    core_error, load_policy, now_ms, print, read, read_json, CliResult, Failure, OsRandom,
};
use pricelet::pricer::{Consent, Pricer, PricerConfig};
use pricelet::scorer::{ModelKind, ModelSlot};
use pricelet::time::Clock;
use pricelet::JsonPricer;
use pricelet_onnx::Model;
use serde_json::Value;
use std::path::Path;

#[allow(clippy::too_many_arguments)]
pub fn run(
    model: &Path,
    uplift: Option<&Path>,
    policy: Option<&Path>,
    behaviour: Option<&Path>,
    items: &Path,
    now: Option<i64>,
    utc_offset_minutes: i32,
    anon_id: Option<String>,
    stability_ttl_ms: Option<i64>,
) -> CliResult<()> {
    let policy = load_policy(policy)?;
    let interest =
        Model::load(&read(model, "model")?, ModelKind::Interest).map_err(Failure::from)?;
    let uplift = match uplift {
        Some(p) => ModelSlot::Ready(Box::new(
            Model::load(&read(p, "uplift model")?, ModelKind::Uplift).map_err(Failure::from)?,
        )),
        None => ModelSlot::Absent,
    };
    let clock = Clock {
        now_ms: now.unwrap_or_else(now_ms),
        utc_offset_minutes,
    };
    let config = PricerConfig {
        consent: Consent::Granted,
        gpc_opt_out: false,
        anon_id,
        stability_ttl_ms,
    };
    // A stored state loads as is; a plain array of events is tracked one by one (validated).
    let (state, events) = match behaviour.map(|p| read_json(p, "behaviour")).transpose()? {
        None => (None, vec![]),
        Some(Value::Array(events)) => (None, events),
        Some(state @ Value::Object(_)) => (Some(state.to_string()), vec![]),
        Some(_) => {
            return Err(
                "the behaviour file must hold an array of events or a stored state object".into(),
            )
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
    )
    .map_err(Failure::from)?;
    if let Some(reason) = &pricer.status().state.reason {
        eprintln!("pricelet: note: behaviour state: {reason}");
    }
    for (i, ev) in events.iter().enumerate() {
        pricer
            .track_json(ev, &clock)
            .map_err(|e| format!("behaviour event {i}: {}", core_error(e)))?;
    }
    let items = match read_json(items, "items")? {
        Value::Array(a) => a,
        _ => return Err("the items file must hold a JSON array of items".into()),
    };
    let quotes = pricer.prices_for(&items, &clock).map_err(Failure::from)?;
    print(&serde_json::to_value(&quotes).unwrap_or_default());
    Ok(())
}
