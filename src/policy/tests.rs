use super::*;
use serde_json::{json, Value};

fn default_value() -> Value {
    serde_json::from_str(DEFAULT_POLICY_JSON).unwrap()
}

fn with(path: &[&str], v: Value) -> Value {
    let mut p = default_value();
    let mut cur = &mut p;
    for k in &path[..path.len() - 1] {
        cur = match k.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*k],
        };
    }
    let last = path[path.len() - 1];
    if v.is_null() {
        cur.as_object_mut().unwrap().remove(last);
    } else {
        cur[last] = v;
    }
    p
}

#[test]
fn the_default_policy_is_valid_and_round_trips() {
    let p = Policy::default_policy();
    assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p);
}

#[test]
fn every_bad_field_is_named() {
    let cases: Vec<(Value, &str)> = vec![
        (with(&["version"], json!("")), "version"),
        (with(&["version"], Value::Null), "version"),
        (with(&["discountSteps"], json!([10, 5])), "discountSteps[1]"),
        (
            with(&["discountSteps"], json!([5, 100])),
            "discountSteps[1]",
        ),
        (
            with(&["discountSteps"], json!([5, "ten"])),
            "discountSteps[1]",
        ),
        (
            with(&["caps", "globalPercent"], json!(120)),
            "caps.globalPercent",
        ),
        (
            with(&["caps", "categoryPercent"], json!({"shoes": -1})),
            "caps.categoryPercent.shoes",
        ),
        (
            with(&["margin", "minMarginPercent"], json!(100)),
            "margin.minMarginPercent",
        ),
        (
            with(&["tax", "ratePercent"], json!("abc")),
            "tax.ratePercent",
        ),
        (
            with(&["priceEndings", "EUR"], json!([".9"])),
            "priceEndings.EUR[0]",
        ),
        (
            with(&["priceEndings", "JPY"], json!([".99"])),
            "priceEndings.JPY[0]",
        ),
        (
            with(&["priceEndings", "EURO"], json!(["any"])),
            "priceEndings.EURO",
        ),
        (
            with(&["priceEndings", "default"], Value::Null),
            "priceEndings.default",
        ),
        (
            with(&["strategy"], json!({"type": "magic"})),
            "strategy.type",
        ),
        (
            with(&["strategy"], json!({"type": "expectedProfit", "beta": -1})),
            "strategy.beta",
        ),
        (
            with(
                &["strategy"],
                json!({"type": "expectedProfit", "beta": "high"}),
            ),
            "strategy.beta",
        ),
        (
            with(&["strategy"], json!({"type": "expectedProfit"})),
            "strategy.beta",
        ),
        (
            with(&["strategy"], json!({"type": "tiers", "beta": 3})),
            "strategy.tiers",
        ),
        (
            with(
                &["strategy"],
                json!({"type": "expectedProfit", "beta": 3, "tiers": []}),
            ),
            "strategy.tiers",
        ),
        (
            with(&["strategy"], json!({"type": "linear", "basePercent": 20})),
            "strategy.slopePercent",
        ),
        (
            with(
                &["strategy"],
                json!({"type": "tiers", "tiers": [{"interestBelow": 0.5, "percent": 10}, {"interestBelow": 0.2, "percent": 5}]}),
            ),
            "strategy.tiers[1].interestBelow",
        ),
        (with(&["stability", "ttlMs"], json!(-1)), "stability.ttlMs"),
        (with(&["quoteTtlMs"], json!(1.5)), "quoteTtlMs"),
        (
            with(&["disclosure", "jurisdiction"], json!("Mars")),
            "disclosure.jurisdiction",
        ),
        (
            with(&["disclosure", "labelWhen"], json!("sometimes")),
            "disclosure.labelWhen",
        ),
        (
            with(&["experiment", "controlPercent"], json!(101)),
            "experiment.controlPercent",
        ),
        (
            with(&["privacy", "retentionDays"], json!(0)),
            "privacy.retentionDays",
        ),
        (
            with(&["maxQuantityPerOrder"], json!(0)),
            "maxQuantityPerOrder",
        ),
        (with(&["surprise"], json!(1)), "surprise"),
        (with(&["maxSpreadPercent"], json!(0)), "maxSpreadPercent"),
        (with(&["maxSpreadPercent"], json!(101)), "maxSpreadPercent"),
        (
            with(&["maxSpreadPercent"], json!("ten")),
            "maxSpreadPercent",
        ),
        (
            with(&["reporting"], json!({"epsilon": 0, "dailyEpsilon": 8})),
            "reporting.epsilon",
        ),
        (
            with(&["reporting"], json!({"epsilon": 10.5, "dailyEpsilon": 20})),
            "reporting.epsilon",
        ),
        (
            with(&["reporting"], json!({"epsilon": "two", "dailyEpsilon": 8})),
            "reporting.epsilon",
        ),
        (
            with(&["reporting"], json!({"epsilon": 2, "dailyEpsilon": 1})),
            "reporting.dailyEpsilon",
        ),
        (
            with(&["reporting"], json!({"epsilon": 2})),
            "reporting.dailyEpsilon",
        ),
        (
            with(
                &["reporting"],
                json!({"epsilon": 2, "dailyEpsilon": 8, "mechanism": "laplace"}),
            ),
            "reporting.mechanism",
        ),
        (
            with(
                &["reporting"],
                json!({"epsilon": 2, "dailyEpsilon": 8, "perItem": true}),
            ),
            "reporting.perItem",
        ),
    ];
    for (v, field) in cases {
        let e = Policy::from_json(&v).unwrap_err();
        assert_eq!(e.code, Code::InvalidPolicy, "{field}: {e}");
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(
            e.message.contains(field),
            "the message names the field: {e}"
        );
    }
}

#[test]
fn reporting_and_spread_are_optional_and_checked() {
    let off = with(&["reporting"], Value::Null);
    assert_eq!(Policy::from_json(&off).unwrap().reporting, None);
    let on = with(
        &["reporting"],
        json!({"epsilon": "1.5", "dailyEpsilon": 6, "mechanism": "grr"}),
    );
    let err = Policy::from_json(&on).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("reporting.epsilon"),
        "a number, not a string: {err}"
    );
    let on = with(
        &["reporting"],
        json!({"epsilon": 1.5, "dailyEpsilon": 6, "mechanism": "grr"}),
    );
    let p = Policy::from_json(&on).unwrap();
    let r = p.reporting.as_ref().unwrap();
    assert_eq!(
        (r.epsilon, r.daily_epsilon, r.mechanism),
        (1.5, 6.0, Mechanism::Grr)
    );
    assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p, "round trip");
    // The tightest of global cap, category cap and spread limit wins.
    let spread = Policy::from_json(&with(&["maxSpreadPercent"], json!(12.5))).unwrap();
    assert_eq!(spread.cap_for(Some("shoes")), Ppm(125_000));
    assert_eq!(spread.cap_for(Some("electronics")), Ppm(100_000));
    assert_eq!(spread.caps_for(Some("shoes")), Ppm(200_000));
    assert_eq!(Policy::from_json(&spread.to_json()).unwrap(), spread);
}

#[test]
fn limits_on_size_and_rules() {
    let big = with(
        &["exclusions", "itemIds"],
        json!(vec!["x"; limits::MAX_POLICY_RULES + 1]),
    );
    assert_eq!(
        Policy::from_json(&big).unwrap_err().code,
        Code::LimitExceeded
    );
    let huge = " ".repeat(limits::MAX_POLICY_BYTES + 1);
    assert_eq!(
        Policy::from_json_str(&huge).unwrap_err().code,
        Code::LimitExceeded
    );
}

#[test]
fn learning_guardrails_must_stay_inside_the_learning_range() {
    let learning: Value = serde_json::from_str(include_str!("../../policy/learning.json")).unwrap();
    // betaMin 0, betaMax 12: a step or an interval width up to 12 means something; beyond, nothing.
    for (field, value, ok) in [
        ("maxBetaStep", json!(12), true),
        ("maxBetaStep", json!(12.01), false),
        ("maxBetaStep", json!(1e6), false),
        ("maxBetaStep", json!(0), false),
        ("maxIntervalWidth", json!(12), true),
        ("maxIntervalWidth", json!(12.5), false),
        ("maxIntervalWidth", json!(1e300), false),
        ("maxIntervalWidth", json!(-1), false),
    ] {
        let mut v = learning.clone();
        v["learning"][field] = value.clone();
        match Policy::from_json(&v) {
            Ok(_) => assert!(ok, "{field} = {value} was accepted"),
            Err(e) => {
                assert!(!ok, "{field} = {value}: {e}");
                assert_eq!(
                    e.field.as_deref(),
                    Some(format!("learning.{field}").as_str())
                );
                assert!(e.message.contains("betaMax − betaMin"), "{e}");
            }
        }
    }
}
