//! The engine end to end on the real model: consent and GPC, exclusions, experiment determinism,
//! stability, edge mode equal to device pricing, failure modes of DESIGN.md §2.

use pricelet::model::ModelKind;
use pricelet::pricer::{EdgeRequest, Persistence};
use pricelet::quote::{verify_quote, VerifyOptions};
use pricelet::{Clock, Code, Consent, Item, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};
use std::path::Path;

const NOW: i64 = 1_795_950_000_000; // 2026-11-29 11:00 UTC

fn model_bytes() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/interest.onnx")).unwrap()
}

fn clock(dt: i64) -> Clock {
    Clock {
        now_ms: NOW + dt,
        utc_offset_minutes: 0,
    }
}

fn config(consent: Consent) -> PricerConfig {
    PricerConfig {
        consent,
        gpc_opt_out: false,
        anon_id: Some("shopper-1".into()),
        stability_ttl_ms: Some(0),
    }
}

fn pricer_with(consent: Consent, state: Option<&str>) -> Pricer {
    let model = ModelSlot::load(Some(&model_bytes()), ModelKind::Interest);
    Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        state,
        config(consent),
        NOW,
    )
    .unwrap()
}

/// Consent granted, the real model, a given anonymous id (experiment draws depend on it).
fn pricer_for_id(id: &str) -> Pricer {
    let model = ModelSlot::load(Some(&model_bytes()), ModelKind::Interest);
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
    )
    .unwrap()
}

fn pricer(consent: Consent) -> Pricer {
    pricer_with(consent, None)
}

/// Every quote the engine hands out is sealed: its id is the hash of its content.
fn sealed(q: &pricelet::Quote) -> &pricelet::Quote {
    assert_eq!(
        q.quote_id,
        pricelet::quote::quote_id_of(&q.to_value()),
        "{q:?}"
    );
    q
}

fn item() -> Value {
    json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00"})
}

/// A browsing session that makes the model fairly sure of a purchase.
fn browse(p: &mut Pricer, pages: usize) {
    for i in 0..pages {
        let ev = json!({"type": "page_view", "at": NOW - 600_000 + i as i64 * 20_000,
            "page": {"kind": "product", "id": format!("p{i}"), "bounceRate": 0.01, "exitRate": 0.02, "pageValue": 30.0}});
        assert!(p.track(&ev, &clock(0)).unwrap().stored);
    }
}

#[test]
fn quotes_are_exact_and_consistent() {
    let mut p = pricer(Consent::Granted);
    browse(&mut p, 3);
    let q = p.price_for(&item(), &clock(0)).unwrap();
    assert_eq!(q.discount_minor, q.list_price_minor - q.price_minor);
    assert_eq!(q.list_price_minor, 8999);
    assert!(q.interest.is_some());
    let verified = verify_quote(
        &q.to_value(),
        &Item::from_json(&item()).unwrap(),
        p.policy(),
        &VerifyOptions {
            now_ms: NOW,
            ..Default::default()
        },
    );
    assert!(verified.ok, "{:?}", verified.problems);
}

#[test]
fn behaviour_moves_the_interest() {
    let mut p = pricer(Consent::Granted);
    let cold = p.price_for(&item(), &clock(0)).unwrap().interest.unwrap();
    browse(&mut p, 12);
    let warm = p.price_for(&item(), &clock(0)).unwrap().interest.unwrap();
    assert!(warm > cold + 0.2, "cold {cold} warm {warm}");
}

#[test]
fn consent_modes_and_gpc() {
    // denied: nothing tracked, list price, no_consent
    let mut p = pricer(Consent::Denied);
    let out = p
        .track(
            &json!({"type": "page_view", "page": {"kind": "product"}}),
            &clock(0),
        )
        .unwrap();
    assert_eq!((out.stored, out.reason), (false, Some("no_consent")));
    let q = p.price_for(&item(), &clock(0)).unwrap();
    assert_eq!(
        (sealed(&q).reason.as_str(), q.price_minor, q.interest),
        ("no_consent", 8999, None)
    );
    assert_eq!(p.state_to_save(), None);
    // GPC overrides even granted consent
    let model = ModelSlot::load(Some(&model_bytes()), ModelKind::Interest);
    let mut gpc = Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        None,
        PricerConfig {
            gpc_opt_out: true,
            ..config(Consent::Granted)
        },
        NOW,
    )
    .unwrap();
    assert_eq!(
        sealed(&gpc.price_for(&item(), &clock(0)).unwrap()).reason,
        "opted_out"
    );
    assert_eq!(
        gpc.track(&json!({"type": "purchase"}), &clock(0))
            .unwrap()
            .reason,
        Some("opted_out")
    );
    assert_eq!(gpc.persistence(), Persistence::None);
    // unknown: tracked for the page session (the wrapper keeps this state in JS memory only)
    let mut u = pricer(Consent::Unknown);
    browse(&mut u, 2);
    assert_eq!(u.persistence(), Persistence::Memory);
    let state: Value = serde_json::from_str(&u.state_to_save().unwrap()).unwrap();
    assert_eq!(state["events"].as_array().unwrap().len(), 2);
    // granted: the state carries the id and survives a reload
    let mut g = pricer(Consent::Granted);
    browse(&mut g, 2);
    let saved = g.state_to_save().unwrap();
    assert!(saved.contains("shopper-1"));
    let model = ModelSlot::load(Some(&model_bytes()), ModelKind::Interest);
    let reloaded = Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        Some(&saved),
        PricerConfig {
            anon_id: None,
            ..config(Consent::Granted)
        },
        NOW,
    )
    .unwrap();
    assert_eq!(reloaded.anon_id(), "shopper-1");
    assert_eq!(reloaded.status()["events"], 2);
    // withdrawing consent clears the log
    g.set_consent(Consent::Denied);
    assert_eq!(g.status()["events"], 0);
}

#[test]
fn forget_returns_cold_start_prices() {
    let mut p = pricer(Consent::Granted);
    let cold = p.price_for(&item(), &clock(0)).unwrap();
    browse(&mut p, 12);
    let warm = p.price_for(&item(), &clock(0)).unwrap();
    assert_ne!(cold.interest, warm.interest);
    let old_id = p.anon_id().to_string();
    p.forget().unwrap();
    assert_ne!(p.anon_id(), old_id, "a new anonymous id is drawn");
    assert_eq!(p.status()["events"], 0);
    let after = p.price_for(&item(), &clock(0)).unwrap();
    // Exact: the same model, input and kernels on one machine give the same f32 result.
    assert_eq!(after.interest, cold.interest);
}

#[test]
fn excluded_items_are_never_discounted() {
    let mut p = pricer(Consent::Granted);
    browse(&mut p, 1);
    for it in [
        json!({"id": "w", "price": 999, "currency": "EUR", "category": "luxury"}),
        json!({"id": "t", "price": 20, "currency": "EUR", "tags": ["no-discount"]}),
    ] {
        let q = p.price_for(&it, &clock(0)).unwrap();
        assert_eq!(
            (sealed(&q).reason.as_str(), q.discount_minor, q.personalized),
            ("excluded", 0, false)
        );
    }
}

#[test]
fn experiment_is_deterministic_with_propensities() {
    let quotes = |id: &str| {
        let mut p = pricer_for_id(id);
        (0..40)
            .map(|i| {
                p.price_for(
                    &json!({"id": format!("i{i}"), "price": 50, "currency": "USD", "cost": 10}),
                    &clock(0),
                )
                .unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        quotes("a"),
        quotes("a"),
        "same id, item, window -> same quotes"
    );
    let mut reasons = std::collections::BTreeMap::new();
    for id in 0..60 {
        for q in quotes(&format!("s{id}")) {
            sealed(&q);
            assert!(q.propensity > 0.0 && q.propensity <= 1.0);
            *reasons.entry(q.reason.clone()).or_insert(0) += 1;
            if q.reason == "control" {
                assert_eq!(q.price_minor, q.list_price_minor);
                assert_eq!(q.variant, "control");
            }
        }
    }
    assert!(
        reasons.get("control").copied().unwrap_or(0) > 0,
        "{reasons:?}"
    );
    assert!(
        reasons.get("explore").copied().unwrap_or(0) > 0,
        "{reasons:?}"
    );
}

#[test]
fn stability_reserves_a_quote_within_its_ttl() {
    let model = ModelSlot::load(Some(&model_bytes()), ModelKind::Interest);
    let mut p = Pricer::new(
        Policy::default_policy(),
        model,
        ModelSlot::Absent,
        None,
        PricerConfig {
            stability_ttl_ms: Some(60_000),
            ..config(Consent::Granted)
        },
        NOW,
    )
    .unwrap();
    let first = p.price_for(&item(), &clock(0)).unwrap();
    browse(&mut p, 12);
    assert_eq!(
        p.price_for(&item(), &clock(30_000)).unwrap(),
        first,
        "same quote within the TTL"
    );
    let later = p.price_for(&item(), &clock(61_000)).unwrap();
    assert_ne!(later.quote_id, first.quote_id, "re-priced after the TTL");
    // A changed list price invalidates the stable quote at once.
    let mut changed = item();
    changed["price"] = json!("79.99");
    assert_eq!(
        p.price_for(&changed, &clock(62_000))
            .unwrap()
            .list_price_minor,
        7999
    );
}

#[test]
fn edge_pricing_equals_device_pricing() {
    let mut device = pricer(Consent::Granted);
    browse(&mut device, 5);
    let items = vec![
        item(),
        json!({"id": "tea", "price": 12800, "currency": "JPY", "cost": 4000}),
        json!({"id": "lux", "price": 10, "currency": "EUR", "category": "luxury"}),
    ];
    let request = device.edge_request(&items, &clock(0)).unwrap();
    assert_eq!(request["features"].as_array().unwrap().len(), 3);
    let mut edge = pricer_with(Consent::Granted, None);
    let edge_quotes = edge
        .price_from_features(&EdgeRequest::from_json(&request).unwrap(), &clock(0))
        .unwrap();
    let device_quotes = device.prices_for(&items, &clock(0)).unwrap();
    for (e, d) in edge_quotes.iter().zip(&device_quotes) {
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
    let bare = unknown.edge_request(&items, &clock(0)).unwrap();
    assert!(bare.get("features").is_none());
    let quotes = edge
        .price_from_features(&EdgeRequest::from_json(&bare).unwrap(), &clock(0))
        .unwrap();
    assert!(quotes
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
        let bytes = |f: &str| std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(f)).unwrap();
        Pricer::new(
            Policy::default_policy(),
            ModelSlot::load(Some(&model_bytes()), ModelKind::Interest),
            ModelSlot::load(Some(&bytes("models/uplift.onnx")), ModelKind::Uplift),
            None,
            config(consent),
            NOW,
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
        device.track(&ev, &clock(0)).unwrap();
    }
    let request = device.edge_request(&[item()], &clock(0)).unwrap();
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

#[test]
fn failure_modes() {
    // bad item in a batch: an error slot, the others price
    let mut p = pricer(Consent::Granted);
    let out = p
        .prices_for(
            &[
                item(),
                json!({"id": "x", "price": "1.001", "currency": "EUR"}),
                json!({"price": 1}),
            ],
            &clock(0),
        )
        .unwrap();
    assert!(out[0].get("quoteId").is_some());
    assert_eq!(out[1]["error"]["code"], "invalid_price");
    assert_eq!(out[1]["itemId"], "x");
    assert_eq!(out[2]["error"]["field"], "id");
    // bad event: error with field, log unchanged
    let before = p.status()["events"].clone();
    let e = p
        .track(
            &json!({"type": "page_view", "page": {"kind": "product", "exitRate": 2}}),
            &clock(0),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (Code::InvalidEvent, Some("page.exitRate"))
    );
    assert_eq!(p.status()["events"], before);
    // bad / wrong-kind / missing model: the pricer works, quotes are list price with the reason
    for slot in [
        ModelSlot::load(Some(b"garbage"), ModelKind::Interest),
        ModelSlot::Absent,
    ] {
        let mut p = Pricer::new(
            Policy::default_policy(),
            slot,
            ModelSlot::Absent,
            None,
            config(Consent::Granted),
            NOW,
        )
        .unwrap();
        let q = p.price_for(&item(), &clock(0)).unwrap();
        assert_eq!(
            (sealed(&q).reason.as_str(), q.price_minor),
            ("model_unavailable", 8999)
        );
        assert_eq!(p.status()["personalization"], "off");
    }
    let wrong = ModelSlot::load(Some(&model_bytes()), ModelKind::Uplift);
    let p = Pricer::new(
        Policy::default_policy(),
        ModelSlot::Absent,
        wrong,
        None,
        config(Consent::Granted),
        NOW,
    )
    .unwrap();
    assert!(p.status()["upliftModel"]["reason"]
        .as_str()
        .unwrap()
        .contains("pass it as `model`"));
    // corrupt stored state: discarded with a reason, pricing continues
    let mut p = pricer_with(Consent::Granted, Some("{definitely not json"));
    assert_eq!(p.status()["state"]["outcome"], "discarded");
    assert!(p.price_for(&item(), &clock(0)).is_ok());
    // explain before pricing names what to do
    assert_eq!(p.explain("nope").unwrap_err().code, Code::UnknownItem);
    let q = p.price_for(&item(), &clock(0)).unwrap();
    let ex = p.explain("sneaker-1").unwrap();
    assert_eq!(ex["quote"]["quoteId"], json!(q.quote_id));
    assert!(ex["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "product_pages"));
    // limits
    let many: Vec<Value> = (0..pricelet::limits::MAX_ITEMS_PER_BATCH + 1)
        .map(|_| item())
        .collect();
    assert_eq!(
        p.prices_for(&many, &clock(0)).unwrap_err().code,
        Code::LimitExceeded
    );
}

#[test]
fn no_feasible_price_only_when_a_discount_was_wanted() {
    let mut p = pricer(Consent::Granted);
    let floored = json!({"id": "f", "price": 10, "currency": "EUR", "floorPrice": 10});
    // Cold start: the model gives low interest, expectedProfit wants a discount, none is feasible.
    let quotes: Vec<_> = (0..30)
        .map(|i| {
            let mut p = pricer_for_id(&format!("n{i}"));
            p.price_for(&floored, &clock(0)).unwrap()
        })
        .collect();
    assert!(quotes
        .iter()
        .any(|q| sealed(q).reason == "no_feasible_price"));
    assert!(quotes.iter().all(|q| q.price_minor == 1000));
    // High interest: no discount wanted, so plain personalized list price.
    browse(&mut p, 15);
    let q = p.price_for(&floored, &clock(0)).unwrap();
    assert!(q.interest.unwrap() > 0.5);
    assert!(
        q.reason == "personalized" || q.reason == "control",
        "{}",
        q.reason
    );
}

#[test]
fn without_any_behaviour_the_price_is_the_cold_start_offer_not_personalized() {
    let mut p = pricer(Consent::Granted);
    let q = p.price_for(&item(), &clock(0)).unwrap();
    assert_eq!(sealed(&q).reason, "cold_start");
    assert!(!q.personalized && q.label.is_none(), "{q:?}");
    assert!(
        q.explanation.contains("no information about you"),
        "{}",
        q.explanation
    );
    // Edge mode has nothing personal to send either.
    assert!(p
        .edge_request(&[item()], &clock(0))
        .unwrap()
        .get("features")
        .is_none());
    browse(&mut p, 1);
    let q = p.price_for(&item(), &clock(0)).unwrap();
    assert_eq!((q.reason.as_str(), q.personalized), ("personalized", true));
    let explained = p.explain("sneaker-1").unwrap();
    let pages = explained["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "product_pages")
        .unwrap()
        .clone();
    assert_eq!(
        (pages["raw"].as_f64(), pages["transform"].as_str()),
        (Some(1.0), Some("log1p"))
    );
    assert!((pages["value"].as_f64().unwrap() - 2f64.ln()).abs() < 1e-12);
}

/// SECURITY.md "re-drawing the experiment": a shopper who clears storage gets a new anonymous id and
/// so a new draw of arm and exploration. Across many draws the price moves, but never below the
/// policy's cap, the category cap or the margin floor, and the control share stays the policy's.
#[test]
fn clearing_storage_redraws_the_arm_but_never_beats_the_caps() {
    let shoes = json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00"});
    let phone = json!({"id": "phone-1", "price": "499.00", "currency": "EUR", "category": "electronics", "cost": "150.00"});
    let mut lowest = [i64::MAX, i64::MAX];
    let mut distinct = std::collections::BTreeSet::new();
    let mut control = 0;
    let draws = 400;
    for n in 0..draws {
        let mut p = pricer_for_id(&format!("cleared-{n}"));
        browse_hesitantly(&mut p);
        for (slot, item) in [&shoes, &phone].into_iter().enumerate() {
            let q = p.price_for(item, &clock(0)).unwrap();
            lowest[slot] = lowest[slot].min(q.price_minor);
            distinct.insert((slot, q.price_minor));
            control += usize::from(q.reason == "control");
        }
    }
    assert!(
        distinct.len() > 2,
        "the draws do move the price: {distinct:?}"
    );
    // 20 % global cap on 89.99 (7199.2 → the .99/.49 ending at or above it), 10 % on electronics.
    assert!(
        lowest[0] >= 7199,
        "shoes never under the 20 % cap: {}",
        lowest[0]
    );
    assert!(
        lowest[1] >= 44910,
        "electronics never under the 10 % cap: {}",
        lowest[1]
    );
    let share = control as f64 / (2 * draws) as f64;
    let expected = Policy::default_policy().experiment.control_percent.ppm() as f64 / 1e6;
    assert!(
        (share - expected).abs() < 0.06,
        "control share {share:.3} vs the policy's {expected}"
    );
}

/// A session that leaves the model unsure, so a discount is on the table.
fn browse_hesitantly(p: &mut Pricer) {
    for i in 0..3 {
        let ev = json!({"type": "page_view", "at": NOW - 300_000 + i * 60_000,
            "page": {"kind": "informational", "id": format!("faq-{i}"), "bounceRate": 0.03, "exitRate": 0.06}});
        p.track(&ev, &clock(0)).unwrap();
    }
}

/// What a 1e-6 difference in `interest` does (tract rounds f32 sums differently on different CPUs,
/// so a device and a server can score the same features 1e-7..1e-6 apart). Near a decision edge it
/// moves the price: this test finds an edge of the expectedProfit strategy on a real item and shows
/// that interests 1e-6 apart across it choose different prices. It cannot make checkout disagree:
/// `verify_quote` checks a price against the policy (caps, floor, ending, exclusions, hash), never
/// against a re-computed interest, so both prices verify; and in edge mode the Worker's signature
/// covers the price the Worker computed, whatever the device would have computed.
#[test]
fn an_interest_one_millionth_apart_moves_a_price_only_at_an_edge_and_checkout_never_depends_on_it()
{
    use pricelet::pricing::{bounds, candidates, choose};
    let policy = Policy::default_policy();
    let item = Item::from_json(&item()).unwrap();
    let b = bounds(&item, &policy);
    let cands = candidates(&item, &policy, &b);
    let index = |r: f64| choose(&item, &policy, &b, &cands, r, None).index;
    // A low interest gets a discount, a high one list price: bisect to the edge between them.
    let (mut lo, mut hi) = (0.01, 0.99);
    assert_ne!(
        index(lo),
        index(hi),
        "the strategy discounts low interest only"
    );
    while hi - lo > 1e-9 {
        let mid = (lo + hi) / 2.0;
        if index(mid) == index(lo) {
            lo = mid
        } else {
            hi = mid
        }
    }
    let (below, above) = (lo - 5e-7, hi + 5e-7);
    assert!(above - below < 1.01e-6);
    let (a, b_) = (cands[index(below)], cands[index(above)]);
    assert_ne!(
        a.price_minor, b_.price_minor,
        "across the edge the prices differ"
    );
    // Away from the edge a 1e-6 difference changes nothing.
    for r in [lo - 1e-3, hi + 1e-3] {
        assert_eq!(index(r - 5e-7), index(r + 5e-7));
    }
    // Both quotes verify at checkout, unsigned (device mode) and signed (edge mode).
    let key = b"edge-signing-key-0123456789".to_vec();
    let keys = VerifyOptions {
        now_ms: NOW,
        keys: [("k1".to_string(), key.clone())].into(),
        ..Default::default()
    };
    let mut signed = vec![];
    for c in [a, b_] {
        let mut q = pricelet::pricer::list_quote(&item, &policy, Some("m"), NOW, "personalized");
        q.price_minor = c.price_minor;
        q.discount_minor = c.discount_minor;
        q.variant = "treatment".into();
        let q = q.seal();
        let plain = VerifyOptions {
            now_ms: NOW,
            ..Default::default()
        };
        let v = verify_quote(&q.to_checkout(), &item, &policy, &plain);
        assert!(v.ok, "{:?}", v.problems);
        let s = q.sign("k1", &key).unwrap();
        assert!(verify_quote(&s.to_checkout(), &item, &policy, &keys).ok);
        signed.push(s);
    }
    // What a signature proves: the price the signer computed. Taking the other side's price into
    // a signed quote (re-hashed, but not re-signed) is refused.
    let mut swapped = signed[0].to_checkout();
    swapped["priceMinor"] = json!(signed[1].price_minor);
    swapped["discountMinor"] = json!(signed[1].discount_minor);
    swapped["quoteId"] = json!(pricelet::quote::quote_id_of(&swapped));
    let v = verify_quote(&swapped, &item, &policy, &keys);
    assert_eq!(
        v.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        ["bad_signature"]
    );
}

/// Two tabs of one shop share one storage and never see each other's writes as they happen. Each
/// writes through `sync` (re-read, merge, write), as the wasm binding does on every `track()`.
struct Tab {
    p: Pricer,
}

impl Tab {
    fn open(shared: &Option<String>) -> Tab {
        let model = ModelSlot::load(Some(&model_bytes()), ModelKind::Interest);
        let config = PricerConfig {
            anon_id: None,
            ..config(Consent::Granted)
        };
        let p = Pricer::new(
            Policy::default_policy(),
            model,
            ModelSlot::Absent,
            shared.as_deref(),
            config,
            NOW,
        )
        .unwrap();
        Tab { p }
    }

    fn write(&mut self, shared: &mut Option<String>) {
        self.p.sync(shared.as_deref(), NOW);
        let state = self.p.state_to_save();
        *shared = state.clone();
        self.p.saved(state);
    }

    fn track(&mut self, shared: &mut Option<String>, page: &str) {
        let ev =
            json!({"type": "page_view", "at": NOW - 1000, "page": {"kind": "product", "id": page}});
        assert!(self.p.track(&ev, &clock(0)).unwrap().stored);
        self.write(shared);
    }
}

fn stored_pages(shared: &Option<String>) -> Vec<String> {
    let Some(s) = shared else { return vec![] };
    let v: Value = serde_json::from_str(s).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["page"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn stored_anon(shared: &Option<String>) -> Option<String> {
    let v: Value = serde_json::from_str(shared.as_ref()?).unwrap();
    v["anonId"].as_str().map(str::to_string)
}

#[test]
fn two_tabs_on_one_storage_keep_each_others_events_and_forget_wins() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    for i in 0..5 {
        a.track(&mut shared, &format!("a{i}"));
        b.track(&mut shared, &format!("b{i}"));
    }
    let mut pages = stored_pages(&shared);
    pages.sort();
    assert_eq!(
        pages,
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"],
        "no tab lost the other's events"
    );
    assert_eq!(
        a.p.anon_id(),
        b.p.anon_id(),
        "one shopper, one anonymous id"
    );
    assert_eq!(stored_anon(&shared).as_deref(), Some(a.p.anon_id()));
    let old_id = a.p.anon_id().to_string();
    // forget() in A (the binding erases the store); B's next track must not bring anything back.
    a.p.forget().unwrap();
    shared = None;
    b.track(&mut shared, "after");
    assert_eq!(
        stored_pages(&shared),
        ["after"],
        "the forgotten events stay forgotten"
    );
    assert_ne!(
        stored_anon(&shared).unwrap(),
        old_id,
        "and so does the old anonymous id"
    );
    assert_eq!(b.p.status()["events"], 1);
    // A, which forgot, then tracks: it joins B's new state rather than starting a third one.
    a.track(&mut shared, "a-after");
    assert_eq!(stored_pages(&shared).len(), 2);
    assert_eq!(a.p.anon_id(), b.p.anon_id());
    // Consent withdrawn in A erases storage too: B drops what it had from storage.
    a.p.set_consent(Consent::Denied);
    shared = None;
    b.track(&mut shared, "later");
    assert_eq!(stored_pages(&shared), ["later"]);
    // If A forgets and writes again before B does, B sees another anonymous id: the same rule.
    let mut c = Tab::open(&shared);
    c.track(&mut shared, "c");
    assert_eq!(stored_pages(&shared), ["later", "c"]);
    c.p.forget().unwrap();
    shared = None;
    c.track(&mut shared, "c-new");
    b.track(&mut shared, "b-new");
    assert_eq!(stored_pages(&shared), ["c-new", "b-new"]);
    assert_eq!(b.p.anon_id(), c.p.anon_id());
}

/// A tab that only *reads* another tab's write (the browser's `storage` event) still notices a
/// later erase: what it read is remembered, not just what it wrote.
#[test]
fn a_tab_that_only_read_the_shared_state_still_honours_a_later_forget() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    b.track(&mut shared, "b");
    a.track(&mut shared, "a");
    b.p.sync(shared.as_deref(), NOW); // the storage event: B reads A's write
    assert_eq!(b.p.status()["events"], 2);
    a.p.forget().unwrap();
    shared = None;
    b.p.sync(None, NOW); // the storage event of the erase
    assert_eq!(
        b.p.status()["events"],
        0,
        "B dropped the forgotten events at once"
    );
    b.track(&mut shared, "b2");
    assert_eq!(stored_pages(&shared), ["b2"]);
}
