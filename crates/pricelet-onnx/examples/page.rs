//! Where a storefront page's time goes, natively: `cargo run --release -p pricelet-onnx --example
//! page [models/interest.onnx]`. One page = `track()` of a page view, the state written back, and
//! `pricesFor()` of 48 items as the JSON text the wasm boundary returns. Prints the cost of each
//! step alone; run it under `valgrind --tool=callgrind` (PAGE_ITERS=200) for a function profile
//! (docs/performance.md).

use pricelet::random::Random;
use pricelet::scorer::ModelKind;
use pricelet::JsonPricer;
use pricelet::{Clock, Consent, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};
use std::time::Instant;

const NOW: i64 = 1_795_950_000_000;

fn rng() -> Box<dyn Random> {
    let mut x = 7_u64;
    Box::new(move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x
    })
}

/// The bench's 48 items (bench/worker.mjs).
fn items() -> Vec<Value> {
    let cats = ["shoes", "home", "electronics", "books"];
    (0..48)
        .map(|i| {
            let id = format!("item-{i}");
            if i % 8 == 7 {
                let price = 1000 + id.len() * 990;
                json!({"id": id, "price": price.to_string(), "currency": "JPY", "category": cats[i % 4], "cost": "400"})
            } else {
                json!({"id": id, "price": format!("{:.2}", 19.99 + i as f64 * 7.0), "currency": "EUR",
                    "category": cats[i % 4], "cost": format!("{:.2}", 6.0 + i as f64 * 2.0)})
            }
        })
        .collect()
}

fn page_view(i: usize, at: i64) -> Value {
    let kind = if i.is_multiple_of(3) {
        "informational"
    } else {
        "product"
    };
    json!({"type": "page_view", "at": at, "page": {"kind": kind, "id": format!("item-{}", i % 48),
        "bounceRate": 0.02, "exitRate": 0.04, "pageValue": (i % 5) * 3}})
}

fn per_call_us(iters: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = Instant::now();
    for i in 0..iters {
        f(i);
    }
    t.elapsed().as_secs_f64() * 1e6 / iters as f64
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "models/interest.onnx".into());
    let bytes = std::fs::read(&path).expect("model file");
    let iters: usize = std::env::var("PAGE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let t = Instant::now();
    let mut model = pricelet_onnx::Model::load(&bytes, ModelKind::Interest).expect("model");
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let width = model.info().features.len();
    let row: Vec<f64> = (0..width).map(|i| (i % 3) as f64 * 0.5).collect();
    let model_row_us = per_call_us(iters, |_| {
        model.predict(std::slice::from_ref(&row)).unwrap();
    });

    let config = PricerConfig {
        consent: Consent::Granted,
        gpc_opt_out: false,
        anon_id: Some("shopper-7".into()),
        stability_ttl_ms: Some(0),
    };
    let slot = pricelet_onnx::slot(Some(&bytes), ModelKind::Interest);
    let mut pricer = Pricer::new(
        Policy::default_policy(),
        slot,
        ModelSlot::Absent,
        None,
        config,
        NOW,
        rng(),
    )
    .unwrap();
    let items = items();
    let clock = |dt: i64| Clock {
        now_ms: NOW + dt,
        utc_offset_minutes: 0,
    };
    // A session of 30 page views, one every 20 s (the log a storefront page sees).
    for i in 0..30 {
        pricer
            .track_json(&page_view(i, NOW - 600_000 + i as i64 * 20_000), &clock(0))
            .unwrap();
    }
    let c = clock(0);
    pricer.prices_for(&items, &c).unwrap();
    let quotes_us = per_call_us(iters, |_| {
        pricer.prices_for(&items, &c).unwrap();
    });
    let slots = pricer.prices_for(&items, &c).unwrap();
    let json_us = per_call_us(iters, |_| {
        serde_json::to_string(&slots).unwrap();
    });
    let state_us = per_call_us(iters, |_| {
        pricer.state_to_save();
    });
    // The whole page: a new page view (a new score), the state written, 48 quotes as JSON text.
    let page_us = per_call_us(iters, |i| {
        let now = 1_000 + i as i64 * 1_000;
        let c = clock(now);
        pricer.track_json(&page_view(i, NOW + now), &c).unwrap();
        pricer.state_to_save();
        serde_json::to_string(&pricer.prices_for(&items, &c).unwrap()).unwrap();
    });
    // The Worker's /price: a device's edge request for the 48 items, parsed, priced from its
    // features, every quote signed, the answer as JSON text.
    let body = serde_json::to_value(pricer.edge_request(&items, &c).unwrap()).unwrap();
    let mut server = Pricer::new(
        Policy::default_policy(),
        pricelet_onnx::slot(Some(&bytes), ModelKind::Interest),
        ModelSlot::Absent,
        None,
        PricerConfig {
            consent: Consent::Denied,
            gpc_opt_out: false,
            anon_id: None,
            stability_ttl_ms: Some(0),
        },
        NOW,
        rng(),
    )
    .unwrap();
    let text = body.to_string();
    let edge_us = per_call_us(iters, |_| {
        let v: Value = serde_json::from_str(&text).unwrap();
        let request = pricelet::pricer::EdgeRequest::from_json(&v).unwrap();
        let slots = server.price_from_features(&request, &c).unwrap();
        let signed: Vec<_> = slots
            .into_iter()
            .map(|s| match s {
                pricelet::pricer::PriceSlot::Quote(q) => {
                    serde_json::to_value(q.sign("k1", b"a-signing-key-of-32-bytes!!").unwrap())
                        .unwrap()
                }
                other => serde_json::to_value(other).unwrap(),
            })
            .collect();
        serde_json::to_string(&signed).unwrap();
    });
    println!(
        "{}",
        json!({
            "model": path, "loadMs": load_ms, "modelRowUs": model_row_us,
            "quotes48Us": quotes_us, "json48Us": json_us, "stateUs": state_us, "pageUs": page_us,
            "edge48Us": edge_us,
        })
    );
}
