//! The `maxSpreadPercent` limit: it bounds every quote, exploration included, and `verify_quote`
//! names a quote beyond it.

mod common;

use common::devices::*;
use common::{clock, NOW};
use pricelet::quote::VerifyOptions;
use pricelet::wire::checkout::verify_quote;
use pricelet::JsonPricer;
use pricelet::{Code, Consent, Item, Policy};
use serde_json::{json, Value};

#[test]
fn max_spread_percent_bounds_every_quote_including_exploration() {
    // Half of all treatment quotes explore, so the uniform draw over candidates is exercised a lot.
    let policy = policy_with(json!({
        "maxSpreadPercent": 7,
        "experiment": {"controlPercent": 10, "explorationPercent": 50, "explorationWindowMs": 86400000, "offerStepPercent": 10}
    }));
    let items = [
        sneaker(),
        json!({"id": "tee", "price": "19.99", "currency": "EUR"}),
        json!({"id": "jp", "price": 12800, "currency": "JPY", "cost": 4000}),
        json!({"id": "tv", "price": 599, "currency": "EUR", "category": "electronics", "floorPrice": 400}),
    ];
    let (mut discounted, mut explored_discounts, mut total) = (0, 0, 0);
    let mut p = shared_pricer(policy.clone());
    for i in 0..300 {
        become_device(&mut p, &format!("s{i}"));
        if i % 3 != 0 {
            hesitant(&mut p, -(i as i64) * 1000 - 60_000);
        }
        for it in &items {
            let q = p.price_for(it, &clock(0)).unwrap();
            let item = Item::from_json(it).unwrap();
            total += 1;
            assert!(
                q.discount_minor * 100 <= 7 * q.list_price_minor,
                "{}: {} off {} is over 7 % ({})",
                q.item_id,
                q.discount_minor,
                q.list_price_minor,
                q.reason
            );
            let v = verify_quote(
                &q.to_value(),
                &item,
                &policy,
                &VerifyOptions {
                    now_ms: NOW,
                    ..Default::default()
                },
            );
            assert!(v.ok, "{:?}", v.problems);
            discounted += usize::from(q.discount_minor > 0);
            explored_discounts += usize::from(q.reason == "explore" && q.discount_minor > 0);
        }
    }
    assert!(
        discounted > total / 4,
        "the limit was exercised: {discounted} of {total} discounted"
    );
    assert!(
        explored_discounts > 50,
        "exploration was exercised: {explored_discounts}"
    );
    // Without the limit the same shoppers get deeper discounts (the limit is what bounds them).
    let open = policy_with(json!({
        "experiment": {"controlPercent": 10, "explorationPercent": 50, "explorationWindowMs": 86400000, "offerStepPercent": 10}
    }));
    let mut p = pricer(open, Consent::Granted, false, "s1", None);
    hesitant(&mut p, -61_000);
    let deepest = (0..50)
        .map(|k| {
            p.price_for(
                &json!({"id": format!("x{k}"), "price": "19.99", "currency": "EUR"}),
                &clock(0),
            )
            .unwrap()
        })
        .map(|q| q.discount_minor * 100 / q.list_price_minor)
        .max()
        .unwrap();
    assert!(deepest > 7, "{deepest}");
}

#[test]
fn verify_quote_names_a_quote_beyond_the_spread_limit() {
    // A genuine quote of the open policy, verified by a server whose policy limits the spread.
    let open = policy_with(
        json!({"experiment": {"controlPercent": 0, "explorationPercent": 100, "explorationWindowMs": 86400000, "offerStepPercent": 10}}),
    );
    let limited = policy_with(json!({
        "maxSpreadPercent": 8,
        "experiment": {"controlPercent": 0, "explorationPercent": 100, "explorationWindowMs": 86400000, "offerStepPercent": 10}
    }));
    let item = Item::from_json(&sneaker()).unwrap();
    let opts = VerifyOptions {
        now_ms: NOW,
        ..Default::default()
    };
    let mut seen = false;
    let mut p = shared_pricer(open.clone());
    for i in 0..200 {
        become_device(&mut p, &format!("v{i}"));
        let q = p.price_for(&sneaker(), &clock(0)).unwrap();
        assert!(verify_quote(&q.to_value(), &item, &open, &opts).ok);
        let v = verify_quote(&q.to_value(), &item, &limited, &opts);
        let beyond = q.discount_minor * 100 > 8 * q.list_price_minor;
        assert_eq!(v.ok, !beyond, "{q:?} {:?}", v.problems);
        if beyond {
            assert_eq!(
                v.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
                vec!["spread_exceeded"]
            );
            seen = true;
        }
    }
    assert!(seen, "some explored quote went beyond 8 %");
}

#[test]
fn policy_validation_names_the_new_fields() {
    for (patch, field) in [
        (json!({"maxSpreadPercent": 0}), "maxSpreadPercent"),
        (json!({"maxSpreadPercent": -3}), "maxSpreadPercent"),
        (
            json!({"reporting": {"epsilon": 0, "dailyEpsilon": 4}}),
            "reporting.epsilon",
        ),
        (
            json!({"reporting": {"epsilon": 11, "dailyEpsilon": 40}}),
            "reporting.epsilon",
        ),
        (
            json!({"reporting": {"epsilon": 2, "dailyEpsilon": 1.5}}),
            "reporting.dailyEpsilon",
        ),
        (
            json!({"reporting": {"epsilon": 2, "dailyEpsilon": 8, "mechanism": "rappor"}}),
            "reporting.mechanism",
        ),
    ] {
        let mut v: Value = serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        let e = Policy::from_json(&v).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::InvalidPolicy, Some(field)),
            "{e}"
        );
        assert!(e.message.contains(field), "{e}");
    }
}

#[test]
fn the_bundled_policy_has_reporting_on_with_a_daily_budget() {
    let p = Policy::default_policy();
    let r = p
        .reporting
        .as_ref()
        .expect("policy/default.json has a reporting section");
    assert!(r.epsilon > 0.0 && r.daily_epsilon >= r.epsilon);
    assert_eq!(
        p.max_spread_percent, None,
        "the bundled policy adds no spread limit"
    );
}
