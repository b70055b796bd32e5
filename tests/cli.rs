//! The native CLI as a user runs it: JSON on stdout, clear errors and exit codes on bad input, and
//! `evaluate` reproducing the Python pipeline's numbers through the Rust feature path and tract.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn data(file: &str) -> PathBuf {
    let dir = std::env::var("PRICELET_DATA").map(PathBuf::from).unwrap_or_else(|_| repo("../shared/data"));
    let path = dir.join(file);
    assert!(path.exists(), "{} is missing: the tests read the real datasets from ../shared/data (see README 'Data')", path.display());
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pricelet")).args(args).current_dir(repo("")).output().unwrap()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
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
    let o = run(&["price", "--model", "models/interest.onnx", "--behaviour", "tests/fixtures/behaviour.json", "--items", "tests/fixtures/items.json", "--now", NOW, "--anon-id", "shopper-42"]);
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
    assert_eq!(q[2]["priceMinor"].as_i64().unwrap() % 10, 0, "JPY prices end in step:10");
    assert_eq!(q[4]["error"]["code"], "invalid_price");
    assert_eq!(price(), quotes, "deterministic for a fixed clock and id");
}

#[test]
fn verify_accepts_genuine_and_rejects_tampered_quotes() {
    let quotes = price();
    let quote = quotes[0].clone();
    let item = tmp("item.json", r#"{ "id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00" }"#);
    let qfile = tmp("quote.json", &quote.to_string());
    let ok = run(&["verify", "--item", item.to_str().unwrap(), "--quote", qfile.to_str().unwrap(), "--now", NOW]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
    assert_eq!(stdout_json(&ok)["ok"], true);
    let mut bad = quote.clone();
    bad["priceMinor"] = Value::from(bad["priceMinor"].as_i64().unwrap() - 100);
    let bfile = tmp("bad.json", &bad.to_string());
    let no = run(&["verify", "--item", item.to_str().unwrap(), "--quote", bfile.to_str().unwrap(), "--now", NOW]);
    assert_eq!(no.status.code(), Some(1));
    let problems: Vec<String> = stdout_json(&no)["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().to_string()).collect();
    assert!(problems.contains(&"quote_id_mismatch".to_string()), "{problems:?}");
    // A key demands a signature.
    let signed = run(&["verify", "--item", item.to_str().unwrap(), "--quote", qfile.to_str().unwrap(), "--now", NOW, "--key", "0123456789abcdef0123"]);
    assert_eq!(signed.status.code(), Some(1));
    assert_eq!(stdout_json(&signed)["problems"][0]["code"], "missing_signature");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["price".into(), "--model".into(), "nope.onnx".into(), "--items".into(), "tests/fixtures/items.json".into()], "cannot read the model file"),
        (vec!["price".into(), "--model".into(), "Cargo.toml".into(), "--items".into(), "tests/fixtures/items.json".into()], "not an ONNX model"),
        (vec!["price".into(), "--model".into(), "models/interest.onnx".into(), "--items".into(), tmp("x.json", "{").to_str().unwrap().into()], "not valid JSON"),
        (vec!["price".into(), "--model".into(), "models/interest.onnx".into(), "--items".into(), "tests/fixtures/items.json".into(), "--policy".into(), tmp("p.json", r#"{"version": "x"}"#).to_str().unwrap().into()], "invalid_policy"),
        (vec!["price".into(), "--model".into(), "models/interest.onnx".into(), "--items".into(), "tests/fixtures/items.json".into(), "--behaviour".into(), tmp("b.json", r#"[{"type": "wink"}]"#).to_str().unwrap().into()], "behaviour event 0"),
        (vec!["evaluate".into(), "--model".into(), "models/interest.onnx".into(), "--data".into(), "tests/fixtures/items.json".into()], "Revenue"),
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
/// (same rows, same scores) through the Rust feature path and tract.
#[test]
fn evaluate_reproduces_the_python_pipeline() {
    let metrics: Value = serde_json::from_slice(&std::fs::read(repo("models/interest.metrics.json")).unwrap()).unwrap();
    let python = &metrics["insample"];
    let preds = std::env::temp_dir().join(format!("pricelet-preds-{}.csv", std::process::id()));
    let csv = data("online_shoppers_intention.csv");
    let o = run(&["evaluate", "--model", "models/interest.onnx", "--data", csv.to_str().unwrap(), "--predictions", preds.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rust = stdout_json(&o);
    assert_eq!(rust["n"], python["n"]);
    for k in ["auc", "pr_auc", "log_loss", "ece"] {
        let (r, p) = (rust[k].as_f64().unwrap(), python[k].as_f64().unwrap());
        assert!((r - p).abs() <= 1e-4, "{k}: rust {r} python {p}");
    }
    let lines = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(lines.lines().count(), 1 + python["n"].as_u64().unwrap() as usize, "one score per row plus a header");
    assert_eq!(rust["calibration"].as_array().unwrap().len(), 10);
}
