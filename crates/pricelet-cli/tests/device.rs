//! The CLI's device commands as a user runs them: `price` (quotes and error slots, deterministic),
//! `verify` (genuine, tampered, signed, quantities), and clear errors with exit code 2 on bad input.

mod common;

use common::*;
use serde_json::Value;

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
