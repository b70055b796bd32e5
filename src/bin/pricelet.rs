//! `pricelet`: the native command-line tool over the same core the wasm runs.
//! JSON on stdout; on bad input a message on stderr and exit code 2 (verify: 1 when a quote fails).

use clap::{Parser, Subcommand};
use pricelet::evaluate::{classifier_report, score_rows};
use pricelet::features::{self, Clock, Summaries};
use pricelet::model::{Model, ModelKind};
use pricelet::pricer::{Consent, ModelSlot, Pricer, PricerConfig};
use pricelet::quote::{verify_quote, VerifyOptions};
use pricelet::{Error, Item, Policy};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "pricelet", version, about = "On-device personalized pricing: the native tool over the same core as the wasm package")]
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
        /// Units being bought.
        #[arg(long)]
        quantity: Option<u32>,
    },
    /// Evaluate a model on a dataset through the Rust feature path and tract.
    Evaluate {
        #[arg(long)]
        model: PathBuf,
        /// Online Shoppers CSV (columns detected).
        #[arg(long)]
        data: PathBuf,
        /// Write one score per input row, in input order.
        #[arg(long)]
        predictions: Option<PathBuf>,
    },
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("pricelet: {e}");
    ExitCode::from(2)
}

fn core_error(e: Error) -> String {
    match &e.field {
        Some(f) => format!("{} (code {}, field {f})", e.message, e.code),
        None => format!("{} (code {})", e.message, e.code),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

fn read_json(path: &Path, what: &str) -> Result<Value, String> {
    let bytes = read(path, what)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the {what} file {} is not valid JSON: {e}", path.display()))
}

fn load_policy(path: Option<&Path>) -> Result<Policy, String> {
    match path {
        None => Ok(Policy::default_policy()),
        Some(p) => {
            let text = String::from_utf8(read(p, "policy")?).map_err(|_| format!("the policy file {} is not UTF-8", p.display()))?;
            Policy::from_json_str(&text).map_err(core_error)
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Price { model, uplift_model, policy, behaviour, items, now, utc_offset_minutes, anon_id, stability_ttl_ms } => {
            price(&model, uplift_model.as_deref(), policy.as_deref(), behaviour.as_deref(), &items, now, utc_offset_minutes, anon_id, stability_ttl_ms)
        }
        Command::Verify { policy, item, quote, key, key_id, now, quantity } => {
            return match verify(policy.as_deref(), &item, &quote, key, key_id, now, quantity) {
                Ok(ok) => ExitCode::from(if ok { 0 } else { 1 }),
                Err(e) => fail(e),
            };
        }
        Command::Evaluate { model, data, predictions } => evaluate(&model, &data, predictions.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

#[allow(clippy::too_many_arguments)]
fn price(
    model: &Path,
    uplift: Option<&Path>,
    policy: Option<&Path>,
    behaviour: Option<&Path>,
    items: &Path,
    now: Option<i64>,
    utc_offset_minutes: i32,
    anon_id: Option<String>,
    stability_ttl_ms: Option<i64>,
) -> Result<(), String> {
    let policy = load_policy(policy)?;
    let interest = Model::load(&read(model, "model")?, ModelKind::Interest).map_err(core_error)?;
    let uplift = match uplift {
        Some(p) => ModelSlot::Ready(Box::new(Model::load(&read(p, "uplift model")?, ModelKind::Uplift).map_err(core_error)?)),
        None => ModelSlot::Absent,
    };
    let clock = Clock { now_ms: now.unwrap_or_else(now_ms), utc_offset_minutes };
    let config = PricerConfig { consent: Consent::Granted, gpc_opt_out: false, anon_id, stability_ttl_ms };
    // A stored state loads as is; a plain array of events is tracked one by one (validated).
    let (state, events) = match behaviour.map(|p| read_json(p, "behaviour")).transpose()? {
        None => (None, vec![]),
        Some(Value::Array(events)) => (None, events),
        Some(state @ Value::Object(_)) => (Some(state.to_string()), vec![]),
        Some(_) => return Err("the behaviour file must hold an array of events or a stored state object".into()),
    };
    let mut pricer = Pricer::new(policy, ModelSlot::Ready(Box::new(interest)), uplift, state.as_deref(), config, clock.now_ms).map_err(core_error)?;
    if let Some(reason) = pricer.status()["state"]["reason"].as_str() {
        eprintln!("pricelet: note: behaviour state: {reason}");
    }
    for (i, ev) in events.iter().enumerate() {
        pricer.track(ev, &clock).map_err(|e| format!("behaviour event {i}: {}", core_error(e)))?;
    }
    let items = match read_json(items, "items")? {
        Value::Array(a) => a,
        _ => return Err("the items file must hold a JSON array of items".into()),
    };
    let quotes = pricer.prices_for(&items, &clock).map_err(core_error)?;
    print(&Value::Array(quotes));
    Ok(())
}

fn verify(policy: Option<&Path>, item: &Path, quote: &Path, key: Option<String>, key_id: Option<String>, now: Option<i64>, quantity: Option<u32>) -> Result<bool, String> {
    let policy = load_policy(policy)?;
    let item = Item::from_json(&read_json(item, "item")?).map_err(core_error)?;
    let quote = read_json(quote, "quote")?;
    let mut keys = BTreeMap::new();
    if let Some(secret) = key {
        let id = key_id.or_else(|| quote.get("keyId").and_then(Value::as_str).map(str::to_string)).unwrap_or_default();
        keys.insert(id, secret.into_bytes());
    }
    let v = verify_quote(&quote, &item, &policy, &VerifyOptions { now_ms: now.unwrap_or_else(now_ms), quantity, keys });
    print(&serde_json::to_value(&v).unwrap_or_default());
    Ok(v.ok)
}

fn evaluate(model_path: &Path, data: &Path, predictions: Option<&Path>) -> Result<(), String> {
    let mut model = Model::load(&read(model_path, "model")?, ModelKind::Interest).map_err(core_error)?;
    let mut reader = csv::Reader::from_path(data).map_err(|e| format!("cannot read {}: {e}", data.display()))?;
    let headers = reader.headers().map_err(|e| format!("{}: {e}", data.display()))?.clone();
    if !headers.iter().any(|h| h == "Revenue") {
        return Err(format!("{}: no `Revenue` column; evaluate expects the Online Shoppers layout", data.display()));
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| format!("{} row {}: {e}", data.display(), i + 1))?;
        rows.push(headers.iter().zip(rec.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect::<HashMap<_, _>>());
    }
    let labels: Vec<bool> = rows.iter().map(|r| r.get("Revenue").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))).collect();
    let scores = score_rows(&mut model, &rows, |row| {
        Ok(Summaries { session: features::session_summary_from_row(row)?, ..Default::default() })
    })
    .map_err(core_error)?;
    if let Some(out) = predictions {
        let text: String = std::iter::once("score\n".to_string()).chain(scores.iter().map(|s| format!("{s}\n"))).collect();
        std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    let report = classifier_report(&labels, &scores);
    let mut v = serde_json::to_value(&report).unwrap_or_default();
    v["model"] = json!(model.info().version);
    print(&v);
    Ok(())
}
