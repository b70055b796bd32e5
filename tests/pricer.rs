//! The engine end to end on the real model: consent and GPC, exclusions, experiment determinism,
//! stability, edge mode equal to device pricing, the failure modes of the README.

use pricelet::pricer::Persistence;
use pricelet::quote::VerifyOptions;
use pricelet::scorer::ModelKind;
use pricelet::wire::checkout::verify_quote;
use pricelet::JsonPricer;
use pricelet::{Code, Consent, Item, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};

mod common;

use common::*;

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
        .track_json(
            &json!({"type": "page_view", "page": {"kind": "product"}}),
            &clock(0),
        )
        .unwrap();
    assert_eq!(
        (out.stored, out.reason.map(|r| r.as_str())),
        (false, Some("no_consent"))
    );
    let q = p.price_for(&item(), &clock(0)).unwrap();
    assert_eq!(
        (sealed(&q).reason.as_str(), q.price_minor, q.interest),
        ("no_consent", 8999, None)
    );
    assert_eq!(p.state_to_save(), None);
    // GPC overrides even granted consent
    let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
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
        test_rng(),
    )
    .unwrap();
    assert_eq!(
        sealed(&gpc.price_for(&item(), &clock(0)).unwrap()).reason,
        "opted_out"
    );
    assert_eq!(
        gpc.track_json(&json!({"type": "purchase"}), &clock(0))
            .unwrap()
            .reason,
        Some(pricelet::pricer::NotStored::OptedOut)
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
    let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
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
        test_rng(),
    )
    .unwrap();
    assert_eq!(reloaded.anon_id(), "shopper-1");
    assert_eq!(status(&reloaded)["events"], 2);
    // withdrawing consent clears the log
    g.set_consent(Consent::Denied);
    assert_eq!(status(&g)["events"], 0);
}

#[test]
fn forget_returns_cold_start_prices() {
    let mut p = pricer(Consent::Granted);
    let cold = p.price_for(&item(), &clock(0)).unwrap();
    browse(&mut p, 12);
    let warm = p.price_for(&item(), &clock(0)).unwrap();
    assert_ne!(cold.interest, warm.interest);
    let old_id = p.anon_id().to_string();
    p.forget();
    assert_ne!(p.anon_id(), old_id, "a new anonymous id is drawn");
    assert_eq!(status(&p)["events"], 0);
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
            *reasons.entry(q.reason.as_str()).or_insert(0) += 1;
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
    let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
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
        test_rng(),
    )
    .unwrap();
    let first = p.price_for(&item(), &clock(0)).unwrap();
    browse(&mut p, 12);
    assert_eq!(
        p.price_for(&item(), &clock(30_000)).unwrap(),
        first,
        "same quote within the TTL"
    );
    // The epoch a host-side quote cache keys on: still while the same quotes are re-served
    // (browsing does not move it), moved when a re-servable quote is replaced or dropped.
    let epoch = p.stable_epoch();
    let later = p.price_for(&item(), &clock(61_000)).unwrap();
    assert_ne!(later.quote_id, first.quote_id, "re-priced after the TTL");
    assert_eq!(
        p.stable_epoch(),
        epoch + 1,
        "a replaced quote moves the epoch"
    );
    let mut other = item();
    other["id"] = json!("another-item");
    p.price_for(&other, &clock(61_000)).unwrap();
    assert_eq!(p.stable_epoch(), epoch + 1, "a new item's quote does not");
    p.set_consent(Consent::Denied);
    assert!(
        p.stable_epoch() > epoch + 1,
        "a consent change drops every quote"
    );
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
fn the_window_given_to_a_host_is_the_one_the_engine_re_serves_in() {
    let priced = |ttl_ms: i64| {
        let config = PricerConfig {
            stability_ttl_ms: Some(ttl_ms),
            ..config(Consent::Granted)
        };
        let mut p = new_pricer(Policy::default_policy(), ModelSlot::Absent, None, config);
        let q = p.price_for(&item(), &clock(0)).unwrap();
        (p, q)
    };
    let quote_ttl = Policy::default_policy().quote_ttl_ms;
    // The window ends with the TTL, with the TTL and the expiry at once, with the expiry.
    for ttl in [60_000, quote_ttl + 1, 2 * quote_ttl] {
        let (p, q) = priced(ttl);
        let w = p.reservable_window(&q).unwrap();
        assert_eq!(
            (w.from, w.until),
            (q.issued_at, (q.issued_at + ttl).min(q.expires_at + 1))
        );
        for now in [
            w.from - 1,
            w.from,
            w.until - 1,
            w.until,
            q.expires_at,
            q.expires_at + 1,
        ] {
            let (mut p, first) = priced(ttl);
            let again = p.price_for(&item(), &clock(now - NOW)).unwrap();
            assert_eq!(
                again == first,
                w.contains(now),
                "TTL {ttl}: {} ms after the issue",
                now - w.from
            );
        }
        let mut edited = q.clone();
        edited.price_minor += 1;
        assert_eq!(
            p.reservable_window(&edited),
            None,
            "only the quote kept has a window"
        );
    }
    let (p, q) = priced(0);
    assert_eq!(p.reservable_window(&q), None, "a TTL of 0 keeps nothing");
}

#[test]
fn failure_modes() {
    // bad item in a batch: an error slot, the others price
    let mut p = pricer(Consent::Granted);
    let out = js(p
        .prices_for(
            &[
                item(),
                json!({"id": "x", "price": "1.001", "currency": "EUR"}),
                json!({"price": 1}),
            ],
            &clock(0),
        )
        .unwrap());
    assert!(out[0].get("quoteId").is_some());
    assert_eq!(out[1]["error"]["code"], "invalid_price");
    assert_eq!(out[1]["itemId"], "x");
    assert_eq!(out[2]["error"]["field"], "id");
    // bad event: error with field, log unchanged
    let before = status(&p)["events"].clone();
    let e = p
        .track_json(
            &json!({"type": "page_view", "page": {"kind": "product", "exitRate": 2}}),
            &clock(0),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (Code::InvalidEvent, Some("page.exitRate"))
    );
    assert_eq!(status(&p)["events"], before);
    // bad / wrong-kind / missing model: the pricer works, quotes are list price with the reason
    for slot in [
        pricelet_onnx::slot(Some(b"garbage"), ModelKind::Interest),
        ModelSlot::Absent,
    ] {
        let mut p = Pricer::new(
            Policy::default_policy(),
            slot,
            ModelSlot::Absent,
            None,
            config(Consent::Granted),
            NOW,
            test_rng(),
        )
        .unwrap();
        let q = p.price_for(&item(), &clock(0)).unwrap();
        assert_eq!(
            (sealed(&q).reason.as_str(), q.price_minor),
            ("model_unavailable", 8999)
        );
        assert_eq!(status(&p)["personalization"], "off");
    }
    let wrong = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Uplift);
    let p = Pricer::new(
        Policy::default_policy(),
        ModelSlot::Absent,
        wrong,
        None,
        config(Consent::Granted),
        NOW,
        test_rng(),
    )
    .unwrap();
    assert!(status(&p)["upliftModel"]["reason"]
        .as_str()
        .unwrap()
        .contains("pass it as `model`"));
    // corrupt stored state: discarded with a reason, pricing continues
    let mut p = pricer_with(Consent::Granted, Some("{definitely not json"));
    assert_eq!(status(&p)["state"]["outcome"], "discarded");
    assert!(p.price_for(&item(), &clock(0)).is_ok());
    // explain before pricing names what to do
    assert_eq!(p.explain("nope").unwrap_err().code, Code::UnknownItem);
    let q = p.price_for(&item(), &clock(0)).unwrap();
    let ex = js(p.explain("sneaker-1").unwrap());
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
        .features
        .is_none());
    browse(&mut p, 1);
    let q = p.price_for(&item(), &clock(0)).unwrap();
    assert_eq!((q.reason.as_str(), q.personalized), ("personalized", true));
    let explained = js(p.explain("sneaker-1").unwrap());
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
        p.track_json(&ev, &clock(0)).unwrap();
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
        let mut q = pricelet::pricer::list_quote(
            &item,
            &policy,
            Some("m"),
            NOW,
            pricelet::Reason::Personalized,
        );
        q.price_minor = c.price_minor;
        q.discount_minor = c.discount_minor;
        q.variant = pricelet::experiment::Variant::Treatment;
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
    swapped["quoteId"] = json!(pricelet::wire::checkout::quote_id_of(&swapped));
    let v = verify_quote(&swapped, &item, &policy, &keys);
    assert_eq!(
        v.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        ["bad_signature"]
    );
}
