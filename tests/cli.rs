//! The native CLI as a user runs it: JSON on stdout, clear errors and exit codes on bad input, and
//! `evaluate` reproducing the Python pipeline's numbers through the Rust feature path and tract.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn data(file: &str) -> PathBuf {
    let dir = std::env::var("PRICELET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo("../shared/data"));
    let path = dir.join(file);
    assert!(
        path.exists(),
        "{} is missing: the tests read the real datasets from ../shared/data (see README 'Data')",
        path.display()
    );
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pricelet"))
        .args(args)
        .current_dir(repo(""))
        .output()
        .unwrap()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

fn tmp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pricelet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

const NOW: &str = "1795950160000";

fn price() -> Value {
    let o = run(&[
        "price",
        "--model",
        "models/interest.onnx",
        "--behaviour",
        "tests/fixtures/behaviour.json",
        "--items",
        "tests/fixtures/items.json",
        "--now",
        NOW,
        "--anon-id",
        "shopper-42",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    stdout_json(&o)
}

#[test]
fn price_outputs_quotes_and_error_slots() {
    let quotes = price();
    let q = quotes.as_array().unwrap();
    assert_eq!(q.len(), 5);
    assert_eq!(q[0]["itemId"], "sneaker-1");
    assert_eq!(q[1]["reason"], "excluded");
    assert_eq!(q[2]["currency"], "JPY");
    assert_eq!(
        q[2]["priceMinor"].as_i64().unwrap() % 10,
        0,
        "JPY prices end in step:10"
    );
    assert_eq!(q[4]["error"]["code"], "invalid_price");
    assert_eq!(price(), quotes, "deterministic for a fixed clock and id");
}

#[test]
fn verify_accepts_genuine_and_rejects_tampered_quotes() {
    let quotes = price();
    let quote = quotes[0].clone();
    let item = tmp(
        "item.json",
        r#"{ "id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00" }"#,
    );
    let qfile = tmp("quote.json", &quote.to_string());
    let ok = run(&[
        "verify",
        "--item",
        item.to_str().unwrap(),
        "--quote",
        qfile.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert_eq!(stdout_json(&ok)["ok"], true);
    let mut bad = quote.clone();
    bad["priceMinor"] = Value::from(bad["priceMinor"].as_i64().unwrap() - 100);
    let bfile = tmp("bad.json", &bad.to_string());
    let no = run(&[
        "verify",
        "--item",
        item.to_str().unwrap(),
        "--quote",
        bfile.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    assert_eq!(no.status.code(), Some(1));
    let problems: Vec<String> = stdout_json(&no)["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        problems.contains(&"quote_id_mismatch".to_string()),
        "{problems:?}"
    );
    // A key demands a signature.
    let signed = run(&[
        "verify",
        "--item",
        item.to_str().unwrap(),
        "--quote",
        qfile.to_str().unwrap(),
        "--now",
        NOW,
        "--key",
        "0123456789abcdef0123",
    ]);
    assert_eq!(signed.status.code(), Some(1));
    assert_eq!(
        stdout_json(&signed)["problems"][0]["code"],
        "missing_signature"
    );
    // --quantity: a whole number from 1 to maxQuantityPerOrder (10), never coerced.
    let with_quantity = |q: &str| {
        let o = run(&[
            "verify",
            "--item",
            item.to_str().unwrap(),
            "--quote",
            qfile.to_str().unwrap(),
            "--now",
            NOW,
            "--quantity",
            q,
        ]);
        let codes: Vec<String> = stdout_json(&o)["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_string())
            .collect();
        (o.status.code(), codes)
    };
    assert_eq!(with_quantity("10"), (Some(0), vec![]));
    for q in ["-3", "0", "10.9", "NaN", "five", ""] {
        assert_eq!(
            with_quantity(q),
            (Some(1), vec!["invalid_quantity".to_string()]),
            "{q}"
        );
    }
    for q in ["11", "1e12", "4294967296"] {
        assert_eq!(
            with_quantity(q),
            (Some(1), vec!["quantity_over_limit".to_string()]),
            "{q}"
        );
    }
    // A verification key shorter than 16 bytes is refused (it could never be a signing key).
    let weak = run(&[
        "verify",
        "--item",
        item.to_str().unwrap(),
        "--quote",
        qfile.to_str().unwrap(),
        "--key",
        "short",
    ]);
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 16 bytes"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "price".into(),
                "--model".into(),
                "nope.onnx".into(),
                "--items".into(),
                "tests/fixtures/items.json".into(),
            ],
            "cannot read the model file",
        ),
        (
            vec![
                "price".into(),
                "--model".into(),
                "Cargo.toml".into(),
                "--items".into(),
                "tests/fixtures/items.json".into(),
            ],
            "not an ONNX model",
        ),
        (
            vec![
                "price".into(),
                "--model".into(),
                "models/interest.onnx".into(),
                "--items".into(),
                tmp("x.json", "{").to_str().unwrap().into(),
            ],
            "not valid JSON",
        ),
        (
            vec![
                "price".into(),
                "--model".into(),
                "models/interest.onnx".into(),
                "--items".into(),
                "tests/fixtures/items.json".into(),
                "--policy".into(),
                tmp("p.json", r#"{"version": "x"}"#)
                    .to_str()
                    .unwrap()
                    .into(),
            ],
            "invalid_policy",
        ),
        (
            vec![
                "price".into(),
                "--model".into(),
                "models/interest.onnx".into(),
                "--items".into(),
                "tests/fixtures/items.json".into(),
                "--behaviour".into(),
                tmp("b.json", r#"[{"type": "wink"}]"#)
                    .to_str()
                    .unwrap()
                    .into(),
            ],
            "behaviour event 0",
        ),
        (
            vec![
                "evaluate".into(),
                "--model".into(),
                "models/interest.onnx".into(),
                "--data".into(),
                "tests/fixtures/items.json".into(),
            ],
            "Revenue",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        assert!(o.stdout.is_empty(), "no partial JSON on stdout");
    }
}

/// `pricelet evaluate` on the training file reproduces the Python pipeline's in-sample metrics
/// (same rows, same scores) through the Rust feature path and tract, for both shipped interest models.
#[test]
fn evaluate_reproduces_the_python_pipeline() {
    let metrics = json_file("models/interest.metrics.json");
    let csv = data("online_shoppers_intention.csv");
    for (model, key) in [
        ("models/interest.onnx", "insample"),
        ("models/interest-behaviour.onnx", "insample_behaviour"),
    ] {
        let python = &metrics[key];
        let preds =
            std::env::temp_dir().join(format!("pricelet-preds-{}-{key}.csv", std::process::id()));
        let o = run(&[
            "evaluate",
            "--model",
            model,
            "--data",
            csv.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rust = stdout_json(&o);
        assert_eq!(rust["n"], python["n"]);
        assert_eq!(rust["model"], python["version"]);
        assert_eq!(rust["kind"], "interest");
        for k in ["auc", "pr_auc", "log_loss", "ece"] {
            let (r, p) = (rust[k].as_f64().unwrap(), python[k].as_f64().unwrap());
            assert!((r - p).abs() <= 1e-4, "{model} {k}: rust {r} python {p}");
        }
        let lines = std::fs::read_to_string(&preds).unwrap();
        assert_eq!(
            lines.lines().count(),
            1 + python["n"].as_u64().unwrap() as usize,
            "one score per row plus a header"
        );
        assert_eq!(rust["calibration"].as_array().unwrap().len(), 10);
    }
}

fn json_file(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo(path)).unwrap()).unwrap()
}

/// On Hillstrom, `evaluate` reads the model's kind from the file, scores every row through
/// `history_summary_from_row` → features → tract, and reproduces train.py's (scikit-uplift's) in-sample
/// Qini and uplift@30 % over the Womens / No e-mail rows — for the uplift model and the response baseline.
#[test]
fn evaluate_on_hillstrom_reproduces_the_python_uplift_metrics() {
    let metrics = json_file("models/uplift.metrics.json");
    let csv = data("hillstrom.csv");
    for (model, key, kind) in [
        ("models/uplift.onnx", "insample", "uplift"),
        (
            "models/hillstrom-response.onnx",
            "insample_response",
            "interest",
        ),
    ] {
        let python = &metrics[key];
        let preds =
            std::env::temp_dir().join(format!("pricelet-uplift-{}-{key}.csv", std::process::id()));
        let o = run(&[
            "evaluate",
            "--model",
            model,
            "--data",
            csv.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rust = stdout_json(&o);
        assert_eq!(rust["kind"], kind);
        assert_eq!(rust["n"], python["n"], "the Womens / No e-mail rows");
        for k in ["qini", "uplift_at_30"] {
            let (r, p) = (rust[k].as_f64().unwrap(), python[k].as_f64().unwrap());
            assert!((r - p).abs() <= 1e-4, "{model} {k}: rust {r} python {p}");
        }
        let lines: Vec<String> = std::fs::read_to_string(&preds)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(lines[0], if kind == "uplift" { "uplift" } else { "score" });
        assert_eq!(
            lines.len(),
            1 + 51_200,
            "every input row, Mens E-Mail included, in input order"
        );
    }
    let u = &metrics["insample"];
    assert!(
        (u["ate"].as_f64().unwrap()
            - (u["treated_rate"].as_f64().unwrap() - u["control_rate"].as_f64().unwrap()))
        .abs()
            < 1e-12
    );
    assert!(
        metrics["cv"]["s-learner-lr"]["summary"]["qini"]["mean"]
            .as_f64()
            .unwrap()
            > metrics["cv"]["response-only"]["summary"]["qini"]["mean"]
                .as_f64()
                .unwrap()
    );
}

/// `simulate` on a small synthetic randomized table with a known effect: 20 e-mailed (10 visit) and 20
/// not (5 visit), spend 20 per visit, 4 Mens E-Mail rows ignored. Everyone: +250 visits and +5,000 spend
/// per 1,000 customers.
#[test]
fn simulate_recovers_a_known_effect_on_a_synthetic_randomized_table() {
    let args = [
        "simulate",
        "--data",
        "tests/fixtures/hillstrom-synthetic.csv",
        "--uplift-model",
        "models/uplift.onnx",
        "--response-model",
        "models/hillstrom-response.onnx",
        "--resamples",
        "200",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    assert_eq!(
        stdout_json(&run(&args)),
        v,
        "seeded: the same output every run"
    );
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["n_treated"].as_u64(),
            v["n_control"].as_u64()
        ),
        (Some(40), Some(20), Some(20))
    );
    assert_eq!(v["base_rate"], 0.25);
    let rules = v["rules"].as_array().unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "policy",
            "uplift > 0",
            "everyone",
            "random",
            "response only"
        ]
    );
    let rule = |n: &str| rules.iter().find(|r| r["name"] == n).unwrap();
    let everyone = rule("everyone");
    let est = |r: &Value, k: &str| r[k]["estimate"].as_f64().unwrap();
    assert_eq!(everyone["share"], 1.0);
    assert!((est(everyone, "incremental_visits_per_1000") - 250.0).abs() < 1e-9);
    assert!((est(everyone, "incremental_spend_per_1000") - 5000.0).abs() < 1e-6);
    let iv = &everyone["incremental_visits_per_1000"];
    assert!(
        iv["lo"].as_f64().unwrap() < 250.0 && 250.0 < iv["hi"].as_f64().unwrap(),
        "{iv}"
    );
    // Random at the policy's share: its share of everyone's effect; response-only: the same share.
    let policy = rule("policy");
    let share = policy["share"].as_f64().unwrap();
    assert_eq!(rule("random")["share"], policy["share"]);
    assert_eq!(rule("response only")["share"], policy["share"]);
    assert!((est(rule("random"), "incremental_visits_per_1000") - share * 250.0).abs() < 1e-9);
    // A different seed gives other intervals but the same estimates.
    let mut other = args.to_vec();
    other.extend(["--seed", "1"]);
    let w = stdout_json(&run(&other));
    assert_eq!(
        w["rules"][2]["incremental_visits_per_1000"]["estimate"],
        everyone["incremental_visits_per_1000"]["estimate"]
    );
    assert_ne!(
        w["rules"][2]["incremental_visits_per_1000"]["lo"],
        everyone["incremental_visits_per_1000"]["lo"]
    );
}

#[test]
fn simulate_sweeps_the_assumed_price_response() {
    let o = run(&[
        "simulate",
        "--data",
        "tests/fixtures/shoppers-synthetic.csv",
        "--model",
        "models/interest.onnx",
        "--betas",
        "0,6,30",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    assert_eq!(v["sessions"], 24);
    assert_eq!(v["item"]["price"], 100.0);
    let base = &v["no_discount"];
    let sweep = v["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 3);
    assert_eq!(
        sweep[0]["offered_share"], 0.0,
        "β = 0: a discount never pays"
    );
    for k in ["purchases_per_1000", "revenue_per_1000", "profit_per_1000"] {
        assert!(
            (sweep[0][k].as_f64().unwrap() - base[k].as_f64().unwrap()).abs() < 1e-6,
            "{k}"
        );
    }
    for row in sweep {
        assert!(
            row["profit_per_1000"].as_f64().unwrap()
                >= base["profit_per_1000"].as_f64().unwrap() - 1e-6,
            "{row}"
        );
    }
    assert!(
        sweep[2]["offered_share"].as_f64().unwrap() > 0.0,
        "a strong assumed response makes discounts pay"
    );
}

/// Compares two JSON documents: strings, booleans, nulls, shapes and integers exactly; floats within
/// `1e-3 + 1e-4 × magnitude`. The simulations sum f32 model outputs, and tract picks its matrix
/// kernels by CPU features (AVX-512 or not), so their floats differ in the 7th significant digit from
/// one machine to the next (5794.725601 here, 5794.725312 there), and a session whose interest sits
/// on a decision edge can flip, moving a share by 1/9,864. A stale file (another model, policy or
/// code) moves the numbers far more than that.
fn assert_json_close(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            let tolerance = 1e-3 + 1e-4 * a.abs().max(b.abs());
            assert!(
                (a - b).abs() <= tolerance,
                "{path}: {a} vs {b} (tolerance {tolerance})"
            );
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: array length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_json_close(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{path}: fields");
            for (k, x) in a {
                assert_json_close(x, &b[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

#[test]
fn json_closeness_fails_on_real_differences() {
    let base =
        json!({"n": 9864, "model": "m", "profit": 5794.725311995842, "share": 0.8373884833738848});
    // What another CPU prints: the same up to f32 rounding, and one session flipped.
    assert_json_close(
        &json!({"n": 9864, "model": "m", "profit": 5794.725601424815, "share": 0.8374898621248986}),
        &base,
        "",
    );
    for stale in [
        json!({"n": 9865, "model": "m", "profit": 5794.725311995842, "share": 0.8373884833738848}),
        json!({"n": 9864, "model": "m2", "profit": 5794.725311995842, "share": 0.8373884833738848}),
        json!({"n": 9864, "model": "m", "profit": 5796.0, "share": 0.8373884833738848}),
        json!({"n": 9864, "model": "m", "profit": 5794.725311995842, "share": 0.84}),
        json!({"n": 9864, "model": "m", "profit": 5794.725311995842}),
    ] {
        let caught = std::panic::catch_unwind(|| assert_json_close(&stale, &base, ""));
        assert!(caught.is_err(), "{stale} must not pass for {base}");
    }
}

/// The simulation tables in models/README.md are what the documented commands print now, up to the
/// rounding of f32 sums on this machine's CPU (see `assert_json_close`).
#[test]
fn simulate_tables_in_the_model_card_are_current() {
    let hillstrom = data("hillstrom.csv");
    let shoppers = data("online_shoppers_intention.csv");
    let cases = [
        (
            "models/simulate-hillstrom.json",
            vec![
                "simulate",
                "--data",
                hillstrom.to_str().unwrap(),
                "--uplift-model",
                "models/uplift.onnx",
                "--response-model",
                "models/hillstrom-response.onnx",
            ],
        ),
        (
            "models/simulate-shoppers.json",
            vec![
                "simulate",
                "--data",
                shoppers.to_str().unwrap(),
                "--model",
                "models/interest.onnx",
            ],
        ),
    ];
    for (file, args) in cases {
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // On failure: re-run the commands in models/README.md, then python3 models/train.py --card.
        assert_json_close(&stdout_json(&o), &json_file(file), file);
    }
}

#[test]
fn evaluate_and_simulate_refuse_what_does_not_fit() {
    let shoppers = "tests/fixtures/shoppers-synthetic.csv";
    let hillstrom = "tests/fixtures/hillstrom-synthetic.csv";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "evaluate",
                "--model",
                "models/uplift.onnx",
                "--data",
                shoppers,
            ],
            "needs a randomized test",
        ),
        (
            vec!["simulate", "--data", hillstrom],
            "needs --uplift-model",
        ),
        (vec!["simulate", "--data", shoppers], "needs --model"),
        (
            vec![
                "simulate",
                "--data",
                hillstrom,
                "--uplift-model",
                "models/interest.onnx",
            ],
            "must be an uplift model",
        ),
        (
            vec![
                "simulate",
                "--data",
                shoppers,
                "--model",
                "models/interest.onnx",
                "--betas",
                "101",
            ],
            "--betas",
        ),
        (
            vec![
                "simulate",
                "--data",
                "tests/fixtures/items.json",
                "--model",
                "models/interest.onnx",
            ],
            "Hillstrom layout",
        ),
    ];
    for (args, needle) in cases {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        assert!(o.stdout.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement (docs/measurement.md): aggregate, ldp-simulate, fairness.

use serde_json::json;

/// `n` reports made by the device's randomizer for a population with known rates: arms 50/50,
/// control converts 10 %, treatment steps uniform with conversion σ(logit 0.1 + 4·d). Returns the
/// JSON lines and the true (control, treatment) conversion.
fn known_reports(policy: &pricelet::Policy, n: usize, seed: u64) -> (String, f64, f64) {
    use pricelet::ldp::{self, Arm, Domain, Segment, Tuple};
    let r = policy.reporting.as_ref().unwrap();
    let domain = Domain::for_policy(policy);
    let mut rng = pricelet::simulate::SplitMix64::new(seed);
    let base = pricelet::pricing::logit(0.1);
    let rate = |s: usize| pricelet::pricing::sigmoid(base + 4.0 * domain.steps_percent[s] / 100.0);
    let treatment = (0..domain.steps()).map(rate).sum::<f64>() / domain.steps() as f64;
    let mut out = String::new();
    for _ in 0..n {
        let control = ldp::uniform(&mut rng) < 0.5;
        let step = if control {
            0
        } else {
            ldp::below(&mut rng, domain.steps())
        };
        let t = Tuple {
            arm: if control {
                Arm::Control
            } else {
                Arm::Treatment
            },
            step,
            converted: ldp::uniform(&mut rng) < rate(step),
            segment: if ldp::uniform(&mut rng) < 0.3 {
                Segment::New
            } else {
                Segment::Returning
            },
        };
        let payload = ldp::randomize(
            domain.encode(&t),
            domain.size(),
            r.mechanism,
            r.epsilon,
            &mut rng,
        );
        let report = ldp::Report::new(
            "2026-11-29".into(),
            &domain,
            r.mechanism,
            r.epsilon,
            &payload,
        );
        out += &serde_json::to_string(&report).unwrap();
        out.push('\n');
    }
    (out, 0.1, treatment)
}

#[test]
fn aggregate_de_biases_reports_into_rates_a_b_and_beta() {
    // The bundled policy's reporting setup (no --policy needed).
    let policy = pricelet::Policy::default_policy();
    let (lines, control, treatment) = known_reports(&policy, 40_000, 11);
    let file = tmp("reports.jsonl", &lines);
    let o = run(&["aggregate", file.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    assert_eq!(r["reports"], 40_000);
    assert_eq!(r["epsilon"], policy.reporting.as_ref().unwrap().epsilon);
    let within = |e: &Value, truth: f64, what: &str| {
        let (est, se) = (e["estimate"].as_f64().unwrap(), e["se"].as_f64().unwrap());
        assert!(
            se > 0.0 && (est - truth).abs() < 4.0 * se,
            "{what}: {e} vs {truth}"
        );
        assert!(e["lo"].as_f64().unwrap() < est && est < e["hi"].as_f64().unwrap());
    };
    within(&r["arms"][0]["conversion"], control, "control");
    within(&r["arms"][1]["conversion"], treatment, "treatment");
    within(
        &r["incrementalConversion"],
        treatment - control,
        "incremental",
    );
    within(&r["beta"]["beta"], 4.0, "β");
    // Revenue per shopper as a share of list: control pays list; treatment Σ_s conversion_s·(1 − d_s) / 5.
    let steps = pricelet::ldp::Domain::for_policy(&policy).steps_percent;
    let revenue: f64 = steps
        .iter()
        .map(|s| {
            let d = s / 100.0;
            pricelet::pricing::sigmoid(pricelet::pricing::logit(0.1) + 4.0 * d) * (1.0 - d)
        })
        .sum::<f64>()
        / steps.len() as f64;
    within(&r["arms"][0]["revenueShare"], control, "control revenue");
    within(&r["arms"][1]["revenueShare"], revenue, "treatment revenue");
    within(
        &r["revenueShareDifference"],
        revenue - control,
        "revenue difference",
    );
    assert_eq!(r["steps"].as_array().unwrap().len(), 5);
    assert_eq!(r["cellCounts"].as_array().unwrap().len(), 40);
    // The text form has the tables.
    let text = run(&["aggregate", file.to_str().unwrap()]);
    let t = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "conversion by arm",
        "A/B read-out",
        "price-response curve",
        "β̂ =",
    ] {
        assert!(t.contains(needle), "{needle:?} not in {t}");
    }
}

#[test]
fn aggregate_refuses_reports_it_cannot_de_bias() {
    let policy = pricelet::Policy::default_policy();
    let (lines, ..) = known_reports(&policy, 3, 1);
    let mut rows: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let eps = policy.reporting.as_ref().unwrap().epsilon;
    let write = |name: &str, rows: &[Value]| {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        tmp(name, &text)
    };
    let mut other_eps = rows.clone();
    other_eps[1]["epsilon"] = json!(eps / 2.0);
    let mut extra = rows.clone();
    extra[0]["itemId"] = json!("sneaker-1");
    let no_reporting = tmp("no-reporting.json", &{
        let mut v: Value = serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
        v.as_object_mut().unwrap().remove("reporting");
        v.to_string()
    });
    rows[2]["bits"] = json!("0101");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![write("eps.jsonl", &other_eps).display().to_string()],
            "line 2",
        ),
        (
            vec![write("eps.jsonl", &other_eps).display().to_string()],
            "--policy",
        ),
        (
            vec![write("extra.jsonl", &extra).display().to_string()],
            "itemId",
        ),
        (
            vec![write("bits.jsonl", &rows).display().to_string()],
            "line 3",
        ),
        (
            vec![tmp("empty.jsonl", "\n").display().to_string()],
            "no reports",
        ),
        (
            vec![
                write("ok.jsonl", &rows[..2]).display().to_string(),
                "--policy".into(),
                no_reporting.display().to_string(),
            ],
            "no `reporting` section",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["aggregate".to_string()];
        all.extend(args);
        let o = run(&all.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn ldp_simulate_shows_error_falling_with_epsilon_and_shoppers() {
    let dir = data("hillstrom.csv").parent().unwrap().to_path_buf();
    let o = run(&[
        "ldp-simulate",
        "--data-dir",
        dir.to_str().unwrap(),
        "--sizes",
        "2000,20000",
        "--epsilons",
        "1,4",
        "--mechanisms",
        "oue",
        "--reps",
        "12",
        "--control-percent",
        "50",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    let rows = r["rows"].as_array().unwrap();
    let pops: Vec<&str> = r["populations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(pops, ["online_shoppers", "hillstrom_visit"]);
    // Hillstrom's truth is the real randomized difference (Womens e-mail − no e-mail visits).
    let h = &r["populations"][1]["truth"];
    assert!(
        h["incremental"].as_f64().unwrap() > 0.03 && h["control"].as_f64().unwrap() > 0.05,
        "{h}"
    );
    let find = |pop: &str, mech: &str, eps: Option<f64>, n: u64| {
        rows.iter()
            .find(|x| {
                x["population"] == pop
                    && x["mechanism"] == mech
                    && x["epsilon"].as_f64() == eps
                    && x["n"] == n
            })
            .unwrap_or_else(|| panic!("no row {pop} {mech} {eps:?} {n}"))
    };
    let rmse = |x: &Value| x["rmseIncremental"].as_f64().unwrap();
    for pop in pops {
        for eps in [1.0, 4.0] {
            // Ten times the shoppers: the error falls (by about √10).
            let (small, big) = (
                find(pop, "oue", Some(eps), 2000),
                find(pop, "oue", Some(eps), 20000),
            );
            assert!(rmse(big) < rmse(small), "{pop} ε {eps}: {small} {big}");
        }
        for n in [2000, 20000] {
            // More privacy (smaller ε) costs precision; no privacy is the floor.
            let (e1, e4, none) = (
                find(pop, "oue", Some(1.0), n),
                find(pop, "oue", Some(4.0), n),
                find(pop, "none", None, n),
            );
            assert!(rmse(e1) > rmse(e4) && rmse(e4) > rmse(none), "{pop} n {n}");
        }
        // Where the delta method holds (ε 4, 20,000 shoppers) the closed form predicts the intervals.
        let x = find(pop, "oue", Some(4.0), 20000);
        let (sim, pred) = (
            x["meanHalfWidthIncremental"].as_f64().unwrap(),
            x["predictedHalfWidthIncremental"].as_f64().unwrap(),
        );
        assert!(
            (sim / pred - 1.0).abs() < 0.25,
            "{pop}: simulated ±{sim} vs predicted ±{pred}"
        );
        assert!(
            (1.96 * rmse(x) / pred - 1.0).abs() < 0.5,
            "{pop}: RMSE {} vs ±{pred}",
            rmse(x)
        );
    }
    // Shoppers needed for ±1 point: fewer with a larger ε, always more than without privacy.
    let needed = r["needed"].as_array().unwrap();
    for pop in ["online_shoppers", "hillstrom_visit"] {
        let n = |mech: &str, eps: Option<f64>| {
            needed
                .iter()
                .find(|x| {
                    x["population"] == pop && x["mechanism"] == mech && x["epsilon"].as_f64() == eps
                })
                .unwrap()["shoppers"]
                .as_f64()
                .unwrap()
        };
        assert!(n("oue", Some(1.0)) > n("oue", Some(4.0)) && n("oue", Some(4.0)) > n("none", None));
    }
    // Bad settings are refused.
    let bad = run(&[
        "ldp-simulate",
        "--epsilons",
        "0",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--epsilons"));
}

#[test]
fn fairness_reports_discounts_by_segment_and_enforces_the_spread_limit() {
    let csv = data("online_shoppers_intention.csv");
    let fairness = |extra: &[&str]| {
        let mut args = vec![
            "fairness",
            "--data",
            csv.to_str().unwrap(),
            "--rows",
            "2000",
            "--json",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout_json(&o)
    };
    let open = fairness(&[]);
    let limited = fairness(&["--max-spread-percent", "8"]);
    for r in [&open, &limited] {
        assert_eq!(r["rows"], 2000);
        assert_eq!(r["verificationProblems"], json!({}), "every quote verifies");
        assert_eq!(r["spreadViolations"], 0);
        let seg = |name: &str| {
            r["segments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["segment"] == name)
                .map_or(0, |s| s["shoppers"].as_u64().unwrap())
        };
        assert_eq!(seg("all"), 2000);
        assert_eq!(
            seg("VisitorType=New_Visitor")
                + seg("VisitorType=Returning_Visitor")
                + seg("VisitorType=Other"),
            2000
        );
        assert_eq!(seg("Weekend=TRUE") + seg("Weekend=FALSE"), 2000);
        for s in r["segments"].as_array().unwrap() {
            let shares: f64 = s["stepShares"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .sum();
            assert!((shares - 1.0).abs() < 1e-9, "{s}");
            let any = s["shoppersWithAnyDiscount"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&any));
        }
        for it in r["items"].as_array().unwrap() {
            let spread = it["spreadPercent"].as_f64().unwrap();
            assert!(spread <= it["capPercent"].as_f64().unwrap() + 1e-9, "{it}");
            assert!(
                it["minPrice"].as_f64().unwrap()
                    >= it["lowestFeasiblePrice"].as_f64().unwrap() - 1e-9
            );
            if it["excluded"] == true {
                assert_eq!((it["discountedShare"].as_f64(), spread), (Some(0.0), 0.0));
            }
        }
    }
    let max_spread = |r: &Value| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["spreadPercent"].as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    assert!(
        max_spread(&open) > 8.0,
        "without a limit the caps allow more than 8 %"
    );
    assert!(max_spread(&limited) <= 8.0);
    assert_eq!(limited["maxSpreadPercent"], 8.0);
    // The text form names the tables; a bad limit is refused with the field named.
    let text = run(&["fairness", "--data", csv.to_str().unwrap(), "--rows", "50"]);
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("discounts by segment") && t.contains("price spread per item"),
        "{t}"
    );
    let bad = run(&[
        "fairness",
        "--data",
        csv.to_str().unwrap(),
        "--rows",
        "50",
        "--max-spread-percent",
        "0",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("maxSpreadPercent"));
}

/// Every command that reads a dataset reads its boolean columns the same way: `TRUE`/`FALSE` and
/// `1`/`0` (any case) are one value. The synthetic fixtures, once as written and once with every
/// boolean spelled the other way, give the same output from `evaluate`, `simulate`, `ldp-simulate`
/// and `fairness`.
#[test]
fn every_command_reads_true_false_and_one_zero_alike() {
    let respell = |path: &str, columns: &[&str], map: &dyn Fn(&str) -> String| -> String {
        let text = std::fs::read_to_string(repo(path)).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let idx: Vec<usize> = columns
            .iter()
            .map(|c| header.iter().position(|h| h == c).unwrap())
            .collect();
        let mut out = format!("{}\n", header.join(","));
        for line in lines {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            for &i in &idx {
                cells[i] = map(&cells[i]);
            }
            out += &format!("{}\n", cells.join(","));
        }
        out
    };
    let shoppers = "tests/fixtures/shoppers-synthetic.csv";
    let hillstrom = "tests/fixtures/hillstrom-synthetic.csv";
    let flags = ["mens", "womens", "newbie", "visit", "conversion"];
    let dirs: Vec<PathBuf> = [
        // As written: Online Shoppers TRUE/FALSE, Hillstrom 1/0.
        (
            std::fs::read_to_string(repo(shoppers)).unwrap(),
            std::fs::read_to_string(repo(hillstrom)).unwrap(),
        ),
        // The other spelling of each, in mixed case.
        (
            respell(shoppers, &["Weekend", "Revenue"], &|v| {
                if v == "TRUE" { "1" } else { "0" }.to_string()
            }),
            respell(hillstrom, &flags, &|v| {
                if v == "1" { "True" } else { "false" }.to_string()
            }),
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (s, h))| {
        let dir =
            std::env::temp_dir().join(format!("pricelet-spelling-{}-{i}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("online_shoppers_intention.csv"), s).unwrap();
        std::fs::write(dir.join("hillstrom.csv"), h).unwrap();
        dir
    })
    .collect();
    assert_ne!(
        std::fs::read(dirs[0].join("hillstrom.csv")).unwrap(),
        std::fs::read(dirs[1].join("hillstrom.csv")).unwrap()
    );
    let outputs: Vec<Vec<Value>> = dirs
        .iter()
        .map(|dir| {
            let s = dir.join("online_shoppers_intention.csv");
            let h = dir.join("hillstrom.csv");
            let (s, h, d) = (
                s.to_str().unwrap(),
                h.to_str().unwrap(),
                dir.to_str().unwrap(),
            );
            let commands: Vec<Vec<&str>> = vec![
                vec!["evaluate", "--model", "models/interest.onnx", "--data", s],
                vec!["evaluate", "--model", "models/uplift.onnx", "--data", h],
                vec!["simulate", "--data", s, "--model", "models/interest.onnx"],
                vec![
                    "simulate",
                    "--data",
                    h,
                    "--uplift-model",
                    "models/uplift.onnx",
                    "--response-model",
                    "models/hillstrom-response.onnx",
                    "--resamples",
                    "50",
                ],
                vec![
                    "ldp-simulate",
                    "--data-dir",
                    d,
                    "--sizes",
                    "200",
                    "--epsilons",
                    "2",
                    "--mechanisms",
                    "oue",
                    "--reps",
                    "3",
                    "--control-percent",
                    "50",
                    "--json",
                ],
                vec![
                    "fairness",
                    "--data",
                    s,
                    "--model",
                    "models/interest.onnx",
                    "--json",
                ],
            ];
            commands
                .iter()
                .map(|args| {
                    let o = run(args);
                    assert!(
                        o.status.success(),
                        "{args:?}: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                    stdout_json(&o)
                })
                .collect()
        })
        .collect();
    for (a, b) in outputs[0].iter().zip(&outputs[1]) {
        assert_eq!(a, b);
    }
    // The flags were read as true where they are true: 8 of 24 sessions bought, 6 of 24 on a weekend.
    let auc = outputs[1][0]["auc"].as_f64().unwrap();
    assert!(auc > 0.0 && auc < 1.0, "both classes present: auc {auc}");
    let weekend = &outputs[1][5]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == "Weekend=TRUE")
        .unwrap()["shoppers"];
    assert_eq!(weekend, 6);
    for dir in dirs {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
