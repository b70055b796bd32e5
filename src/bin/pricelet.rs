//! `pricelet`: the native command-line tool over the same core the wasm runs.
//! JSON on stdout; on bad input a message on stderr and exit code 2 (verify: 1 when a quote fails).

use clap::{Parser, Subcommand};
use pricelet::datasets::{Dataset, HillstromCustomer, ShopperSession};
use pricelet::evaluate::{classifier_report, score_rows, uplift_report};
use pricelet::features::{Clock, Summaries};
use pricelet::model::{Model, ModelKind};
use pricelet::pricer::{Consent, ModelSlot, Pricer, PricerConfig};
use pricelet::quote::{signing_keys, verify_quote, Quantity, VerifyOptions};
use pricelet::simulate;
use pricelet::{Error, Item, Policy};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the {what} file {} is not valid JSON: {e}", path.display()))
}

fn load_policy(path: Option<&Path>) -> Result<Policy, String> {
    match path {
        None => Ok(Policy::default_policy()),
        Some(p) => {
            let text = String::from_utf8(read(p, "policy")?)
                .map_err(|_| format!("the policy file {} is not UTF-8", p.display()))?;
            Policy::from_json_str(&text).map_err(core_error)
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn print(v: &Value) {
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
        } => price(
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
            return match verify(policy.as_deref(), &item, &quote, key, key_id, now, quantity) {
                Ok(ok) => ExitCode::from(if ok { 0 } else { 1 }),
                Err(e) => fail(e),
            };
        }
        Command::Evaluate {
            model,
            data,
            predictions,
        } => evaluate(&model, &data, predictions.as_deref()),
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
        } => simulate(SimulateArgs {
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
        } => aggregate(&reports, policy.as_deref(), json),
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
        } => ldp_simulate(LdpSimulateArgs {
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
            return match fairness(FairnessArgs {
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
        Some(p) => ModelSlot::Ready(Box::new(
            Model::load(&read(p, "uplift model")?, ModelKind::Uplift).map_err(core_error)?,
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
    )
    .map_err(core_error)?;
    if let Some(reason) = pricer.status()["state"]["reason"].as_str() {
        eprintln!("pricelet: note: behaviour state: {reason}");
    }
    for (i, ev) in events.iter().enumerate() {
        pricer
            .track(ev, &clock)
            .map_err(|e| format!("behaviour event {i}: {}", core_error(e)))?;
    }
    let items = match read_json(items, "items")? {
        Value::Array(a) => a,
        _ => return Err("the items file must hold a JSON array of items".into()),
    };
    let quotes = pricer.prices_for(&items, &clock).map_err(core_error)?;
    print(&Value::Array(quotes));
    Ok(())
}

fn verify(
    policy: Option<&Path>,
    item: &Path,
    quote: &Path,
    key: Option<String>,
    key_id: Option<String>,
    now: Option<i64>,
    quantity: Option<String>,
) -> Result<bool, String> {
    let policy = load_policy(policy)?;
    let item = Item::from_json(&read_json(item, "item")?).map_err(core_error)?;
    let quote = read_json(quote, "quote")?;
    let keys = match key {
        None => BTreeMap::new(),
        Some(secret) => {
            // Without --key-id the secret is tried as the quote's own keyId (an unsigned quote
            // then fails with missing_signature).
            let id = key_id
                .or_else(|| {
                    quote
                        .get("keyId")
                        .and_then(Value::as_str)
                        .filter(|id| !id.is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "key".into());
            signing_keys([(id, secret.into_bytes())])
                .map_err(|e| format!("--key: {}", core_error(e)))?
        }
    };
    let v = verify_quote(
        &quote,
        &item,
        &policy,
        &VerifyOptions {
            now_ms: now.unwrap_or_else(now_ms),
            quantity: quantity.as_deref().map(Quantity::from_text),
            keys,
        },
    );
    print(&serde_json::to_value(&v).unwrap_or_default());
    Ok(v.ok)
}

/// Loads a model of either kind: the kind is read from the file's `pricelet.kind`.
fn load_any_model(path: &Path, what: &str) -> Result<Model, String> {
    use tract_onnx::prelude::Framework;
    let bytes = read(path, what)?;
    let kind = tract_onnx::onnx()
        .proto_model_for_read(&mut std::io::Cursor::new(&bytes))
        .ok()
        .and_then(|p| {
            p.metadata_props
                .into_iter()
                .find(|e| e.key == "pricelet.kind")
                .map(|e| e.value)
        });
    let kind = if kind.as_deref() == Some("uplift") {
        ModelKind::Uplift
    } else {
        ModelKind::Interest
    };
    Model::load(&bytes, kind).map_err(core_error)
}

fn session_scores(model: &mut Model, rows: &[ShopperSession]) -> Result<Vec<f64>, String> {
    score_rows(model, rows, |row| Summaries {
        session: row.summary(),
        ..Default::default()
    })
    .map_err(core_error)
}

fn history_scores(model: &mut Model, rows: &[HillstromCustomer]) -> Result<Vec<f64>, String> {
    score_rows(model, rows, |row| Summaries {
        history: row.history_summary(),
        ..Default::default()
    })
    .map_err(core_error)
}

fn evaluate(model_path: &Path, data: &Path, predictions: Option<&Path>) -> Result<(), String> {
    let mut model = load_any_model(model_path, "model")?;
    let kind = model.info().kind;
    let mut v = match Dataset::read(data)? {
        Dataset::OnlineShoppers(rows) => {
            if kind == ModelKind::Uplift {
                return Err(format!(
                    "{}: an uplift model needs a randomized test (the Hillstrom layout); Online Shoppers has no treatment",
                    data.display()
                ));
            }
            let labels: Vec<bool> = rows.iter().map(|r| r.revenue.0).collect();
            let scores = session_scores(&mut model, &rows)?;
            write_predictions(predictions, "score", &scores)?;
            serde_json::to_value(classifier_report(&labels, &scores)).unwrap_or_default()
        }
        Dataset::Hillstrom(rows) => {
            let scores = history_scores(&mut model, &rows)?;
            write_predictions(
                predictions,
                if kind == ModelKind::Uplift {
                    "uplift"
                } else {
                    "score"
                },
                &scores,
            )?;
            let (mut y, mut t, mut s) = (vec![], vec![], vec![]);
            for (row, score) in rows.iter().zip(&scores) {
                if let Some(treated) = row.segment.treated() {
                    y.push(row.visit.0);
                    t.push(treated);
                    s.push(*score);
                }
            }
            if !t.iter().any(|&x| x) || t.iter().all(|&x| x) {
                return Err(format!(
                    "{}: needs rows of both Womens E-Mail and No E-Mail",
                    data.display()
                ));
            }
            let mut v = serde_json::to_value(uplift_report(&y, &s, &t)).unwrap_or_default();
            if kind == ModelKind::Interest {
                // A probability model on Hillstrom: also how well it predicts a visit.
                let c = serde_json::to_value(classifier_report(&y, &s)).unwrap_or_default();
                for k in ["auc", "pr_auc", "log_loss", "ece", "calibration"] {
                    v[k] = c[k].clone();
                }
            }
            v["outcome"] = json!("visit");
            v["treatment"] = json!("Womens E-Mail vs No E-Mail");
            v
        }
    };
    v["model"] = json!(model.info().version);
    v["kind"] = json!(kind.as_str());
    print(&v);
    Ok(())
}

fn write_predictions(out: Option<&Path>, header: &str, scores: &[f64]) -> Result<(), String> {
    let Some(out) = out else { return Ok(()) };
    let text: String = std::iter::once(format!("{header}\n"))
        .chain(scores.iter().map(|s| format!("{s}\n")))
        .collect();
    std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

struct SimulateArgs<'a> {
    data: &'a Path,
    model: Option<&'a Path>,
    uplift: Option<&'a Path>,
    response: Option<&'a Path>,
    policy: Option<&'a Path>,
    item: Option<&'a Path>,
    betas: &'a [f64],
    resamples: usize,
    seed: u64,
}

fn expect_kind(model: &Model, kind: ModelKind, option: &str) -> Result<(), String> {
    if model.info().kind != kind {
        return Err(format!(
            "--{option} must be an {} model; the file is an {} model",
            kind.as_str(),
            model.info().kind.as_str()
        ));
    }
    Ok(())
}

fn simulate(a: SimulateArgs) -> Result<(), String> {
    let policy = load_policy(a.policy)?;
    let item = match a.item {
        Some(p) => Item::from_json(&read_json(p, "item")?).map_err(core_error)?,
        None => Item::from_json(
            &json!({ "id": "representative", "price": "100.00", "currency": "EUR" }),
        )
        .map_err(core_error)?,
    };
    let bounds = pricelet::pricing::bounds(&item, &policy);
    let item_json = json!({
        "id": item.id,
        "price": item.currency.to_major_f64(item.list_minor),
        "currency": item.currency.code(),
        "cost": item.currency.to_major_f64(bounds.cost_minor),
        "cost_note": match item.cost_minor {
            Some(_) => "the item's own".to_string(),
            None => format!("{} % of the net list price", policy.margin.default_cost_percent.0.as_percent()),
        },
    });
    let out = match Dataset::read(a.data)? {
        Dataset::Hillstrom(rows) => {
            let path = a
                .uplift
                .ok_or("simulate on Hillstrom needs --uplift-model")?;
            let mut uplift = load_any_model(path, "uplift model")?;
            expect_kind(&uplift, ModelKind::Uplift, "uplift-model")?;
            let mut response = a
                .response
                .map(|p| load_any_model(p, "response model"))
                .transpose()?;
            if let Some(r) = &response {
                expect_kind(r, ModelKind::Interest, "response-model")?;
            }
            let (mut kept, mut arms) = (vec![], vec![]);
            for row in &rows {
                if let Some(treated) = row.segment.treated() {
                    arms.push(simulate::ArmRow {
                        treated,
                        visit: f64::from(u8::from(row.visit.0)),
                        spend: row.spend,
                    });
                    kept.push(row.clone());
                }
            }
            let (n_t, n_c) = (
                arms.iter().filter(|r| r.treated).count(),
                arms.iter().filter(|r| !r.treated).count(),
            );
            if n_t == 0 || n_c == 0 {
                return Err(format!(
                    "{}: needs rows of both Womens E-Mail and No E-Mail",
                    a.data.display()
                ));
            }
            let base_rate = arms
                .iter()
                .filter(|r| !r.treated)
                .map(|r| r.visit)
                .sum::<f64>()
                / n_c as f64;
            let u = history_scores(&mut uplift, &kept)?;
            let r = response
                .as_mut()
                .map(|m| history_scores(m, &kept))
                .transpose()?;
            let rules = simulate::hillstrom_rules(&item, &policy, base_rate, &u, r.as_deref());
            let results = simulate::compare_rules(&arms, &rules, a.resamples, a.seed);
            json!({
                "layout": "hillstrom",
                "rows": arms.len(),
                "n_treated": n_t,
                "n_control": n_c,
                "outcomes": "visit (0/1) and spend ($), per 1,000 customers",
                "base_rate": base_rate,
                "base_rate_rule": "interest r = the control arm's visit rate (the no-offer response rate), for every customer",
                "offer_step_percent": policy.experiment.offer_step_percent.0.as_percent(),
                "policy": policy.version,
                "item": item_json,
                "uplift_model": uplift.info().version,
                "response_model": response.as_ref().map(|m| m.info().version.clone()),
                "resamples": a.resamples,
                "seed": a.seed,
                "rules": results,
            })
        }
        Dataset::OnlineShoppers(rows) => {
            let path = a
                .model
                .ok_or("simulate on Online Shoppers needs --model (an interest model)")?;
            let mut model = load_any_model(path, "model")?;
            expect_kind(&model, ModelKind::Interest, "model")?;
            if a.betas.is_empty()
                || a.betas
                    .iter()
                    .any(|b| !(b.is_finite() && (0.0..=100.0).contains(b)))
            {
                return Err("--betas: give one or more β, each a number from 0 to 100".into());
            }
            let interest = session_scores(&mut model, &rows)?;
            let (no_discount, sweep) =
                simulate::price_response_sweep(&item, &policy, &interest, a.betas)
                    .map_err(core_error)?;
            json!({
                "layout": "online_shoppers",
                "sessions": interest.len(),
                "model": model.info().version,
                "policy": policy.version,
                "item": item_json,
                "assumption": "P(buy | d) = σ(logit r + β·d) with β assumed, not estimated: the data has no price variation",
                "no_discount": no_discount,
                "sweep": sweep,
            })
        }
    };
    print(&out);
    Ok(())
}

fn data_dir(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("PRICELET_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

fn aggregate(reports: &Path, policy: Option<&Path>, as_json: bool) -> Result<(), String> {
    let policy = load_policy(policy)?;
    let mut expected = pricelet::aggregate::Expected::from_policy(&policy)?;
    expected.latest_day = Some(pricelet::ldp::latest_day(now_ms()));
    let text = String::from_utf8(read(reports, "reports")?)
        .map_err(|_| format!("the reports file {} is not UTF-8", reports.display()))?;
    let tally = pricelet::aggregate::read_reports(&text, &expected)
        .map_err(|e| format!("{}: {e}", reports.display()))?;
    let r = pricelet::aggregate::readout(&tally, &expected);
    if as_json {
        print(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        print!("{}", pricelet::aggregate::render(&r));
    }
    Ok(())
}

struct LdpSimulateArgs<'a> {
    data_dir: Option<PathBuf>,
    policy: Option<&'a Path>,
    epsilons: Vec<f64>,
    sizes: Vec<usize>,
    mechanisms: Vec<String>,
    reps: usize,
    seed: u64,
    lift_beta: Option<f64>,
    control_percent: Option<f64>,
    outcome: String,
    precision_pp: f64,
    reports_out: Option<PathBuf>,
    json: bool,
}

fn ldp_simulate(a: LdpSimulateArgs) -> Result<(), String> {
    use pricelet::aggregate::{self, SimSettings};
    use pricelet::ldp::{Domain, Mechanism};
    let policy = load_policy(a.policy)?;
    if a.epsilons.is_empty()
        || a.epsilons
            .iter()
            .any(|e| !(e.is_finite() && *e > 0.0 && *e <= 10.0))
    {
        return Err("--epsilons: give one or more ε, each above 0 and at most 10".into());
    }
    if a.sizes.is_empty() || a.sizes.iter().any(|n| !(10..=10_000_000).contains(n)) {
        return Err("--sizes: give one or more study sizes from 10 to 10,000,000 shoppers".into());
    }
    if a.reps == 0 || a.reps > 100_000 {
        return Err("--reps must be from 1 to 100000".into());
    }
    if !(a.precision_pp.is_finite() && a.precision_pp > 0.0) {
        return Err("--precision-pp must be a positive number of percentage points".into());
    }
    let mechanisms = a
        .mechanisms
        .iter()
        .map(|m| match m.trim() {
            "oue" => Ok(Mechanism::Oue),
            "grr" => Ok(Mechanism::Grr),
            other => Err(format!(
                "--mechanisms: unknown mechanism {other:?} (oue or grr)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !matches!(a.outcome.as_str(), "visit" | "conversion") {
        return Err(format!(
            "--outcome must be visit or conversion, not {:?}",
            a.outcome
        ));
    }
    let beta = match a.lift_beta {
        Some(b) if b.is_finite() && (0.0..=100.0).contains(&b) => b,
        Some(_) => return Err("--lift-beta must be a number from 0 to 100".into()),
        None => match policy.strategy() {
            pricelet::policy::Strategy::ExpectedProfit { beta } => *beta,
            _ => 4.0,
        },
    };
    let control = match a.control_percent {
        Some(c) if c.is_finite() && c > 0.0 && c < 100.0 => c / 100.0,
        Some(_) => return Err("--control-percent must be above 0 and below 100".into()),
        None => policy.experiment.control_percent.0.as_fraction(),
    };
    if control <= 0.0 {
        return Err("the policy holds out no control group (experiment.controlPercent 0): pass --control-percent".into());
    }
    let dir = data_dir(a.data_dir);
    let domain = Domain::for_policy(&policy);
    let (Dataset::OnlineShoppers(shoppers), Dataset::Hillstrom(hillstrom)) = (
        Dataset::read(&dir.join("online_shoppers_intention.csv"))?,
        Dataset::read(&dir.join("hillstrom.csv"))?,
    ) else {
        return Err(format!(
            "{}: online_shoppers_intention.csv and hillstrom.csv must have their own layouts",
            dir.display()
        ));
    };
    let pops = vec![
        aggregate::online_shoppers_population(&shoppers, &domain, control, beta)?,
        aggregate::hillstrom_population(&hillstrom, &domain, &a.outcome)?,
    ];
    if let Some(out) = &a.reports_out {
        let exp = aggregate::Expected::from_policy(&policy)?;
        let n = a.sizes.iter().copied().max().unwrap_or(0);
        let text =
            aggregate::sample_reports(&pops[0], &domain, exp.mechanism, exp.epsilon, n, a.seed);
        std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!(
            "pricelet: wrote {n} reports ({}, ε = {}) of the online_shoppers population to {}",
            exp.mechanism.as_str(),
            exp.epsilon,
            out.display()
        );
    }
    let report = aggregate::simulate(
        &pops,
        &domain,
        &SimSettings {
            mechanisms,
            epsilons: a.epsilons,
            sizes: a.sizes,
            reps: a.reps,
            seed: a.seed,
            precision: a.precision_pp / 100.0,
        },
    );
    if a.json {
        print(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        print!("{}", aggregate::render_simulation(&report));
    }
    Ok(())
}

struct FairnessArgs<'a> {
    data: Option<PathBuf>,
    model: &'a Path,
    policy: Option<&'a Path>,
    items: Option<&'a Path>,
    rows: Option<usize>,
    max_spread_percent: Option<String>,
    now: i64,
    json: bool,
}

fn fairness(a: FairnessArgs) -> Result<bool, String> {
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
        ));
    };
    if let Some(n) = a.rows {
        if n == 0 {
            return Err("--rows must be at least 1".into());
        }
        rows.truncate(n);
    }
    let items = match a.items {
        None => pricelet::fairness::builtin_catalog(),
        Some(p) => match read_json(p, "items")? {
            Value::Array(items) if !items.is_empty() => items,
            _ => return Err("the items file must hold a non-empty JSON array of items".into()),
        },
    };
    pricelet::limits::check_count("items", items.len(), pricelet::limits::MAX_ITEMS_PER_BATCH)
        .map_err(core_error)?;
    let clock = Clock {
        now_ms: a.now,
        utc_offset_minutes: 0,
    };
    let report = pricelet::fairness::fairness_report(model, &policy, &rows, &items, &clock)
        .map_err(core_error)?;
    if a.json {
        print(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        print!("{}", pricelet::fairness::render(&report));
    }
    Ok(report.ok())
}
