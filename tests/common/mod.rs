//! Helpers shared by the integration tests: the real model, a fixed clock, a seeded generator.
#![allow(dead_code)]

pub mod devices;

use pricelet::scorer::ModelKind;
use pricelet::JsonPricer;
use pricelet::{Clock, Consent, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};
use std::path::Path;

/// A seeded generator for anonymous ids (the device uses `crypto.getRandomValues`).
pub fn test_rng() -> Box<dyn pricelet::random::Random> {
    seeded_rng(0x5EED)
}

/// SplitMix64 from `seed`: one stream per simulated device.
pub fn seeded_rng(seed: u64) -> Box<dyn pricelet::random::Random> {
    let mut x = seed;
    Box::new(move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// A typed result as the JSON the wrapper shows.
pub fn js<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// `pricer.status` as the JSON the wrapper shows.
pub fn status(p: &Pricer) -> Value {
    serde_json::to_value(p.status()).unwrap()
}

pub const NOW: i64 = 1_795_950_000_000; // 2026-11-29 11:00 UTC

pub fn model_bytes() -> Vec<u8> {
    std::fs::read(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models/interest.onnx"),
    )
    .unwrap()
}

pub fn clock(dt: i64) -> Clock {
    Clock {
        now_ms: NOW + dt,
        utc_offset_minutes: 0,
    }
}

pub fn config(consent: Consent) -> PricerConfig {
    PricerConfig {
        consent,
        gpc_opt_out: false,
        anon_id: Some("shopper-1".into()),
        stability_ttl_ms: Some(0),
    }
}

/// A pricer at `NOW` with the test generator: `policy`, an interest model (or none), no uplift model.
pub fn new_pricer(
    policy: Policy,
    interest: ModelSlot,
    state: Option<&str>,
    config: PricerConfig,
) -> Pricer {
    Pricer::new(
        policy,
        interest,
        ModelSlot::Absent,
        state,
        config,
        NOW,
        test_rng(),
    )
    .unwrap()
}

pub fn pricer_with(consent: Consent, state: Option<&str>) -> Pricer {
    let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
    Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        state,
        config(consent),
        NOW,
        test_rng(),
    )
    .unwrap()
}

/// Consent granted, the real model, a given anonymous id (experiment draws depend on it).
pub fn pricer_for_id(id: &str) -> Pricer {
    let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
    let config = PricerConfig {
        anon_id: Some(id.into()),
        ..config(Consent::Granted)
    };
    Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        None,
        config,
        NOW,
        test_rng(),
    )
    .unwrap()
}

pub fn pricer(consent: Consent) -> Pricer {
    pricer_with(consent, None)
}

/// Every quote the engine hands out is sealed: its id is the hash of its content.
pub fn sealed(q: &pricelet::Quote) -> &pricelet::Quote {
    assert_eq!(
        q.quote_id,
        pricelet::wire::checkout::quote_id_of(&q.to_value()),
        "{q:?}"
    );
    q
}

pub fn item() -> Value {
    json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00"})
}

/// A browsing session that makes the model fairly sure of a purchase.
pub fn browse(p: &mut Pricer, pages: usize) {
    for i in 0..pages {
        let ev = json!({"type": "page_view", "at": NOW - 600_000 + i as i64 * 20_000,
            "page": {"kind": "product", "id": format!("p{i}"), "bounceRate": 0.01, "exitRate": 0.02, "pageValue": 30.0}});
        assert!(p.track_json(&ev, &clock(0)).unwrap().stored);
    }
}
