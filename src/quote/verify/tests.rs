//! verify_quote against tampering, each policy rule, quantities and signatures.
use super::*;
use crate::wire::checkout::{canonical_of_map, quote_id_of, verify_quote};
use proptest::strategy::Strategy as _;
use serde_json::json;
use serde_json::{Map, Value};

const NOW: i64 = 1_764_000_000_000;

fn item() -> Item {
    Item::from_json(&json!({"id": "sku-1", "price": "49.99", "currency": "EUR", "cost": 20}))
        .unwrap()
}

fn quote(price_minor: i64) -> Quote {
    Quote {
        item_id: "sku-1".into(),
        currency: Currency::from_code("EUR").unwrap(),
        list_price_minor: 4999,
        price_minor,
        discount_minor: 4999 - price_minor,
        list_price: 49.99,
        price: price_minor as f64 / 100.0,
        discount_percent: 0.0,
        personalized: true,
        reason: Reason::Personalized,
        explanation: "x".into(),
        label: None,
        interest: Some(0.1),
        variant: Variant::Treatment,
        propensity: 0.9,
        model_version: "m1".into(),
        policy_version: Policy::default_policy().version,
        issued_at: NOW,
        expires_at: NOW + 3_600_000,
        quote_id: String::new(),
        key_id: None,
        sig: None,
    }
    .seal()
}

fn codes(v: &Verification) -> Vec<&'static str> {
    v.problems.iter().map(|p| p.code.as_str()).collect()
}

fn verify(q: &Value, opts: &VerifyOptions) -> Verification {
    verify_quote(q, &item(), &Policy::default_policy(), opts)
}

fn now() -> VerifyOptions {
    VerifyOptions {
        now_ms: NOW + 1000,
        ..Default::default()
    }
}

proptest::proptest! {
    #[test]
    fn canonical_json_equals_the_jcs_reference(entries in proptest::collection::btree_map("\\PC{0,12}", proptest::prop_oneof![
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        "[\\x00-\\x1f\"\\\\\u{2028}\u{e9}\u{1f600}]{0,6}".prop_map(Value::from),
    ], 0..12)) {
        let map: Map<String, Value> = entries.into_iter().collect();
        proptest::prop_assert_eq!(canonical_of_map(&map), serde_json_canonicalizer::to_string(&map).unwrap());
    }
}

proptest::proptest! {
    #[test]
    fn the_direct_id_text_is_the_canonical_json_of_the_id_fields(
        ids in proptest::collection::vec("\\PC{0,12}|[\\x00-\\x1f\"\\\\\u{2028}\u{e9}\u{1f600}]{0,6}", 4),
        currency in proptest::sample::select(vec!["EUR", "JPY", "KWD", "CLF", "USD"]),
        // JCS writes numbers as doubles: the reference agrees on integers a JS number holds.
        ints in proptest::collection::vec(-(1i64 << 53) + 1..(1i64 << 53), 5),
    ) {
        let mut q = quote(4499);
        q.item_id = ids[0].clone();
        q.currency = Currency::from_code(currency).unwrap();
        q.model_version = ids[2].clone();
        q.policy_version = ids[3].clone();
        (q.list_price_minor, q.price_minor, q.discount_minor, q.issued_at, q.expires_at) =
            (ints[0], ints[1], ints[2], ints[3], ints[4]);
        let json = |fields: &[&str], v: &Value| -> Map<String, Value> {
            fields.iter().filter_map(|n| v.get(*n).map(|x| (n.to_string(), x.clone()))).collect()
        };
        proptest::prop_assert_eq!(
            q.canonical_of(ID_FIELDS),
            serde_json_canonicalizer::to_string(&json(ID_FIELDS, &q.to_value())).unwrap()
        );
        q.quote_id = ids[1].clone();
        let signed = q.clone().sign(&ids[0], b"a key of sixteen bytes").unwrap();
        proptest::prop_assert_eq!(
            signed.canonical_of(SIGNED_FIELDS),
            serde_json_canonicalizer::to_string(&json(SIGNED_FIELDS, &signed.to_value())).unwrap()
        );
        // The signature made from the struct is the one the JSON path verifies.
        let received = Checkout::from_json(&signed.to_checkout());
        proptest::prop_assert!(received.signature_matches(b"a key of sixteen bytes", signed.sig.as_deref().unwrap()));
    }
}

#[test]
fn the_struct_and_json_paths_hash_alike() {
    let q = quote(4499);
    assert_eq!(q.quote_id, quote_id_of(&q.to_value()));
    assert_eq!(q.quote_id, quote_id_of(&q.to_checkout()));
}

#[test]
fn a_genuine_quote_verifies_from_its_checkout_payload() {
    let q = quote(4499);
    assert_eq!(
        verify(&q.to_value(), &now()),
        Verification {
            ok: true,
            problems: vec![]
        }
    );
    let checkout = q.to_checkout();
    assert!(
        checkout.get("interest").is_none()
            && checkout.get("explanation").is_none()
            && checkout.get("propensity").is_none()
    );
    assert!(verify(&checkout, &now()).ok);
}

#[test]
fn rejects_each_kind_of_tampering() {
    let base = quote(4499).to_value();
    let tamper = |f: &dyn Fn(&mut Value)| {
        let mut q = base.clone();
        f(&mut q);
        q
    };
    let resealed = |f: &dyn Fn(&mut Value)| {
        let mut q = tamper(f);
        q["quoteId"] = json!(quote_id_of(&q));
        q
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            tamper(&|q| q["priceMinor"] = json!(4449)),
            "discount_inconsistent",
        ),
        (
            tamper(&|q| q["priceMinor"] = json!(4449)),
            "quote_id_mismatch",
        ),
        (
            resealed(&|q| {
                q["priceMinor"] = json!(1999);
                q["discountMinor"] = json!(3000);
            }),
            "below_floor",
        ),
        (
            resealed(&|q| {
                q["priceMinor"] = json!(3499);
                q["discountMinor"] = json!(1500);
            }),
            "over_cap",
        ),
        (
            resealed(&|q| {
                q["priceMinor"] = json!(4500);
                q["discountMinor"] = json!(499);
            }),
            "bad_ending",
        ),
        (resealed(&|q| q["itemId"] = json!("sku-2")), "item_mismatch"),
        (
            resealed(&|q| q["currency"] = json!("USD")),
            "currency_mismatch",
        ),
        (
            resealed(&|q| {
                q["listPriceMinor"] = json!(9999);
                q["discountMinor"] = json!(5500);
            }),
            "list_price_changed",
        ),
        (
            resealed(&|q| q["policyVersion"] = json!("old")),
            "unknown_policy_version",
        ),
        (
            resealed(&|q| q["expiresAt"] = json!(NOW + 10 * 3_600_000)),
            "bad_time",
        ),
        (
            resealed(&|q| q["priceMinor"] = json!(-1)),
            "price_out_of_range",
        ),
        (
            tamper(&|q| {
                q.as_object_mut().unwrap().remove("priceMinor");
            }),
            "malformed_quote",
        ),
    ];
    for (q, code) in cases {
        let v = verify(&q, &now());
        assert!(
            !v.ok && codes(&v).contains(&code),
            "{code}: {:?}",
            v.problems
        );
    }
    let late = VerifyOptions {
        now_ms: NOW + 3_600_001,
        ..Default::default()
    };
    assert_eq!(codes(&verify(&base, &late)), vec!["expired"]);
    let too_many = VerifyOptions {
        quantity: Some(Quantity::Units(11)),
        ..now()
    };
    assert_eq!(
        codes(&verify(&base, &too_many)),
        vec!["quantity_over_limit"]
    );
}

#[test]
fn impossible_quantities_are_refused_not_coerced() {
    let base = quote(4499).to_value();
    for (given, shown) in [
        (json!(-3), "-3"),
        (json!(0), "0"),
        (json!(10.9), "10.9"),
        (json!("5"), "the string \"5\""),
        (json!("NaN"), "the string \"NaN\""),
        (json!(null), "null"),
        (json!(9007199254740992u64), "9007199254740992"),
    ] {
        let v = verify(
            &base,
            &VerifyOptions {
                quantity: Some(Quantity::from_json(&given)),
                ..now()
            },
        );
        assert_eq!(codes(&v), vec!["invalid_quantity"], "{given}");
        assert!(
            v.problems[0].message.contains(shown),
            "{}",
            v.problems[0].message
        );
    }
    // A huge but whole quantity is itself, not u32::MAX.
    let v = verify(
        &base,
        &VerifyOptions {
            quantity: Some(Quantity::from_json(&json!(1e12))),
            ..now()
        },
    );
    assert_eq!(codes(&v), vec!["quantity_over_limit"]);
    assert!(
        v.problems[0].message.contains("quantity 1000000000000 "),
        "{}",
        v.problems[0].message
    );
    assert!(
        verify(
            &base,
            &VerifyOptions {
                quantity: Some(Quantity::from_text("10")),
                ..now()
            }
        )
        .ok
    );
    assert_eq!(Quantity::from_text("1e1"), Quantity::Units(10));
    assert_eq!(
        Quantity::from_text("ten"),
        Quantity::Invalid("the string \"ten\"".into())
    );
}

#[test]
fn signing_keys_must_be_given_and_long_enough() {
    let key = |id: &str, s: &str| (id.to_string(), s.as_bytes().to_vec());
    assert!(signing_keys([key("k1", "0123456789abcdef")]).is_ok());
    for bad in [
        vec![],
        vec![key("k1", "")],
        vec![key("old", "short")],
        vec![key("", "0123456789abcdef")],
    ] {
        assert_eq!(signing_keys(bad).unwrap_err().code, Code::InvalidArgument);
    }
}

#[test]
fn the_spread_limit_is_verified_by_name() {
    let mut v: Value = serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
    v["maxSpreadPercent"] = json!(8);
    let p = Policy::from_json(&v).unwrap();
    // 44.99 is 10.0 % off: inside the 20 % cap, beyond the 8 % spread limit.
    let v = verify_quote(&quote(4499).to_value(), &item(), &p, &now());
    assert_eq!(codes(&v), vec!["spread_exceeded"], "{:?}", v.problems);
    assert!(v.problems[0].message.contains("maxSpreadPercent 8 %"));
    // 47.49 (5.0 % off) is inside both.
    assert!(verify_quote(&quote(4749).to_value(), &item(), &p, &now()).ok);
    // 34.99 (30 % off) breaks the cap and the spread limit: both are named.
    assert_eq!(
        codes(&verify_quote(&quote(3499).to_value(), &item(), &p, &now())),
        vec!["over_cap", "spread_exceeded"]
    );
}

#[test]
fn excluded_items_may_not_carry_a_discount() {
    let lux = Item::from_json(
        &json!({"id": "sku-1", "price": "49.99", "currency": "EUR", "category": "luxury"}),
    )
    .unwrap();
    let v = verify_quote(
        &quote(4499).to_value(),
        &lux,
        &Policy::default_policy(),
        &now(),
    );
    assert_eq!(codes(&v), vec!["excluded_item_discounted"]);
    assert!(
        verify_quote(
            &quote(4999).to_value(),
            &lux,
            &Policy::default_policy(),
            &now()
        )
        .ok
    );
}

#[test]
fn previous_policy_version_is_accepted_within_its_grace() {
    let mut v: Value = serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
    let old = v["version"].clone();
    v["version"] = json!("next");
    v["previousVersion"] = json!({"version": old, "acceptUntil": NOW + 5000});
    let next = Policy::from_json(&v).unwrap();
    let q = quote(4499).to_value();
    assert!(verify_quote(&q, &item(), &next, &now()).ok);
    let after = VerifyOptions {
        now_ms: NOW + 5001,
        ..Default::default()
    };
    assert_eq!(
        codes(&verify_quote(&q, &item(), &next, &after)),
        vec!["unknown_policy_version"]
    );
}

#[test]
fn signatures_bind_every_checkout_field() {
    let key = b"0123456789abcdef0123456789abcdef".to_vec();
    let signed = quote(4499).sign("k1", &key).unwrap();
    let keys = VerifyOptions {
        keys: BTreeMap::from([("k1".to_string(), key.clone())]),
        ..now()
    };
    assert!(verify(&signed.to_value(), &keys).ok);
    assert!(verify(&signed.to_checkout(), &keys).ok);
    // Changing any signed field (and even re-sealing the id) breaks the signature.
    for field in [
        "reason",
        "variant",
        "modelVersion",
        "issuedAt",
        "quoteId",
        "keyId",
    ] {
        let mut q = signed.to_value();
        q[field] = match &q[field] {
            Value::String(s) => json!(format!("{s}x")),
            Value::Number(n) => json!(n.as_i64().unwrap() + 1),
            _ => unreachable!(),
        };
        if field != "quoteId" {
            q["quoteId"] = json!(quote_id_of(&q));
        }
        let v = verify(&q, &keys);
        assert!(!v.ok, "{field}");
        assert!(
            codes(&v)
                .iter()
                .any(|c| *c == "bad_signature" || *c == "unknown_key"),
            "{field}: {:?}",
            v.problems
        );
    }
    let unsigned = quote(4499).to_value();
    assert_eq!(codes(&verify(&unsigned, &keys)), vec!["missing_signature"]);
    let other = VerifyOptions {
        keys: BTreeMap::from([("k1".to_string(), b"another key of 16+ bytes".to_vec())]),
        ..now()
    };
    assert_eq!(
        codes(&verify(&signed.to_value(), &other)),
        vec!["bad_signature"]
    );
    assert!(quote(1).sign("k", b"short").is_err());
}
