//! The lab commands on the real datasets: `evaluate` reproduces the Python pipeline's numbers
//! through the Rust feature path and tract, `simulate` recovers known effects and keeps the model
//! card's tables current, and every command reads both spellings of a boolean column.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;

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
