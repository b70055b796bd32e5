//! Edge mode end to end on the real model: edge prices equal device prices, requests are
//! validated, and only feature vectors a device can compute are priced.

mod common;

use common::*;
use pricelet::pricer::EdgeRequest;
use pricelet::scorer::ModelKind;
use pricelet::JsonPricer;
use pricelet::{Code, Consent, Policy, Pricer};
use serde_json::{json, Value};
use std::path::Path;

#[test]
fn edge_pricing_equals_device_pricing() {
    let mut device = pricer(Consent::Granted);
    browse(&mut device, 5);
    let items = vec![
        item(),
        json!({"id": "tea", "price": 12800, "currency": "JPY", "cost": 4000}),
        json!({"id": "lux", "price": 10, "currency": "EUR", "category": "luxury"}),
    ];
    let request = js(device.edge_request(&items, &clock(0)).unwrap());
    assert_eq!(request["features"].as_array().unwrap().len(), 3);
    let mut edge = pricer_with(Consent::Granted, None);
    let edge_quotes = js(edge
        .price_from_features(&EdgeRequest::from_json(&request).unwrap(), &clock(0))
        .unwrap());
    let device_quotes = js(device.prices_for(&items, &clock(0)).unwrap());
    for (e, d) in edge_quotes
        .as_array()
        .unwrap()
        .iter()
        .zip(device_quotes.as_array().unwrap())
    {
        if d["reason"] == "explore" {
            continue; // the edge never explores
        }
        for f in [
            "priceMinor",
            "discountMinor",
            "reason",
            "interest",
            "variant",
            "label",
        ] {
            assert_eq!(e[f], d[f], "{f}: edge {e} device {d}");
        }
    }
    // Without consent the request carries no features and the edge answers list prices.
    let mut unknown = pricer(Consent::Unknown);
    let bare = js(unknown.edge_request(&items, &clock(0)).unwrap());
    assert!(bare.get("features").is_none());
    let quotes = js(edge
        .price_from_features(&EdgeRequest::from_json(&bare).unwrap(), &clock(0))
        .unwrap());
    assert!(quotes
        .as_array()
        .unwrap()
        .iter()
        .all(|q| q["reason"] == "no_features" && q["discountMinor"] == 0));
}

#[test]
fn edge_requests_are_validated() {
    let mut edge = pricer(Consent::Granted);
    let mut bad = |v: Value| edge_err(&mut edge, v);
    assert_eq!(
        bad(json!({"items": [item()], "features": [[1.0]], "featureNames": ["nope"]})),
        (Code::InvalidFeatures, Some("featureNames".into()))
    );
    assert_eq!(
        bad(
            json!({"items": [item()], "features": [[1.0], [2.0]], "featureNames": ["admin_pages"]})
        )
        .0,
        Code::InvalidFeatures
    );
    assert_eq!(
        bad(json!({"items": [item()], "features": [[1.0, 2.0]], "featureNames": ["admin_pages"]}))
            .0,
        Code::InvalidFeatures
    );
    assert_eq!(
        bad(json!({"items": [item()], "features": [[1.0]], "featureNames": ["admin_pages"]})).0,
        Code::InvalidFeatures,
        "the model needs more features"
    );
    assert_eq!(bad(json!({"items": [item()], "features": [[1.0]], "featureNames": ["admin_pages"], "variant": "vip"})).0, Code::InvalidArgument);
    assert!(EdgeRequest::from_json(&json!({"items": [], "extra": 1})).is_err());
    let many: Vec<Value> = (0..pricelet::limits::MAX_ITEMS_PER_BATCH + 1)
        .map(|_| item())
        .collect();
    assert_eq!(bad(json!({"items": many})).0, Code::LimitExceeded);
}

/// The Worker prices only feature vectors a device can compute: each feature within the spec's
/// `range` (models/features.json). The extremes a valid log can reach stay inside; made-up values
/// outside are refused with the feature named, never signed.
#[test]
fn edge_features_outside_what_a_device_computes_are_refused() {
    // The most extreme log a device accepts: long dwells, maximal page values, purchases of the
    // largest amount, a full log; both models, so session and history features are sent.
    let both = |consent| {
        let bytes = |f: &str| {
            std::fs::read(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(f)).unwrap()
        };
        Pricer::new(
            Policy::default_policy(),
            pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest),
            pricelet_onnx::slot(Some(&bytes("models/uplift.onnx")), ModelKind::Uplift),
            None,
            config(consent),
            NOW,
            test_rng(),
        )
        .unwrap()
    };
    let mut device = both(Consent::Granted);
    for i in 0..pricelet::limits::MAX_EVENTS as i64 {
        let kind = ["administrative", "informational", "product"][(i % 3) as usize];
        let ev = if i % 7 == 0 {
            json!({"type": "purchase", "at": NOW - 60_000 + i, "itemId": "x", "category": "mens", "amount": "999999999999999", "currency": "JPY"})
        } else {
            json!({"type": "page_view", "at": NOW - 60_000 + i, "dwellMs": 86_400_000, "page": {"kind": kind, "id": "p", "bounceRate": 1, "exitRate": 1, "pageValue": 1e9}})
        };
        device.track_json(&ev, &clock(0)).unwrap();
    }
    let request = js(device.edge_request(&[item()], &clock(0)).unwrap());
    let names: Vec<String> = serde_json::from_value(request["featureNames"].clone()).unwrap();
    let row: Vec<f64> = serde_json::from_value(request["features"][0].clone()).unwrap();
    let specs = pricelet::features::Registry::builtin()
        .resolve(&names)
        .unwrap();
    for (spec, x) in specs.iter().zip(&row) {
        assert!(
            (spec.range.0..=spec.range.1).contains(x),
            "{} = {x} outside {:?}",
            spec.name,
            spec.range
        );
    }
    assert!(
        names.iter().any(|n| n == "spend_12m"),
        "history features are covered"
    );
    let mut edge = both(Consent::Denied);
    let ok = EdgeRequest::from_json(&request).unwrap();
    assert!(edge.price_from_features(&ok, &clock(0)).is_ok());
    for (j, spec) in specs.iter().enumerate() {
        for x in [spec.range.0 - 1e-3, spec.range.1 + 1e-3, -1e30, 1e300] {
            let mut v = request.clone();
            v["features"][0][j] = json!(x);
            let e = edge
                .price_from_features(&EdgeRequest::from_json(&v).unwrap(), &clock(0))
                .unwrap_err();
            assert_eq!(
                (e.code, e.field.as_deref()),
                (
                    Code::InvalidFeatures,
                    Some(format!("features[0][{j}]").as_str())
                )
            );
            assert!(e.message.contains(&spec.name), "{}", e.message);
        }
    }
}

fn edge_err(edge: &mut Pricer, v: Value) -> (Code, Option<String>) {
    let e = edge
        .price_from_features(&EdgeRequest::from_json(&v).unwrap(), &clock(0))
        .unwrap_err();
    (e.code, e.field)
}
