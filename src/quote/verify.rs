//! `verify_quote`: what a merchant's server checks at checkout against its own catalog item and
//! policy — never trusting the client — and the signature check of edge quotes.

use super::*;
use std::collections::BTreeMap;

/// How far `issuedAt` may be ahead of the verifier's clock (clock skew).
const ISSUE_SKEW_MS: i64 = 5 * 60 * 1000;

crate::named_enum! {
    /// What `verify_quote` found wrong (public strings).
    pub enum ProblemCode {
        MalformedQuote = "malformed_quote",
        ItemMismatch = "item_mismatch",
        CurrencyMismatch = "currency_mismatch",
        ListPriceChanged = "list_price_changed",
        DiscountInconsistent = "discount_inconsistent",
        PriceOutOfRange = "price_out_of_range",
        ExcludedItemDiscounted = "excluded_item_discounted",
        BelowFloor = "below_floor",
        OverCap = "over_cap",
        SpreadExceeded = "spread_exceeded",
        BadEnding = "bad_ending",
        Expired = "expired",
        BadTime = "bad_time",
        UnknownPolicyVersion = "unknown_policy_version",
        InvalidQuantity = "invalid_quantity",
        QuantityOverLimit = "quantity_over_limit",
        QuoteIdMismatch = "quote_id_mismatch",
        BadSignature = "bad_signature",
        UnknownKey = "unknown_key",
        MissingSignature = "missing_signature",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub code: ProblemCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub now_ms: i64,
    /// Units being bought (checked against `maxQuantityPerOrder`).
    pub quantity: Option<Quantity>,
    /// Signing keys by `keyId`. When given, a valid signature is required.
    pub keys: BTreeMap<String, Vec<u8>>,
}

/// The quantity a checkout asks for, as the caller sent it: a positive whole number, or what it was
/// instead (refused by `verify_quote` as `invalid_quantity`, never coerced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quantity {
    Units(u64),
    Invalid(String),
}

/// The verification keys a caller gives, by key id: at least one, each at least [`MIN_KEY_BYTES`]
/// long. Asking for signatures with no usable key would let every unsigned quote through.
pub fn signing_keys(
    entries: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut keys = BTreeMap::new();
    for (id, secret) in entries {
        limits::check_str("keys", &id, limits::MAX_ID_LEN)?;
        if id.is_empty() {
            return Err(Error::at(
                Code::InvalidArgument,
                "keys",
                "a key id is empty: give every key a non-empty id",
            ));
        }
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::at(
                Code::InvalidArgument,
                format!("keys.{id}"),
                format!("the key {} is {} bytes; signing keys are at least {MIN_KEY_BYTES} bytes (generate one with `openssl rand -base64 32`)", quoted(&id), secret.len()),
            ));
        }
        keys.insert(id, secret);
    }
    if keys.is_empty() {
        return Err(Error::at(Code::InvalidArgument, "keys", "keys is empty: to require signed quotes pass at least one { keyId: secret }; to accept unsigned quotes leave keys out"));
    }
    Ok(keys)
}

/// The checkout subset of a quote, read leniently: any missing or mistyped field is a problem.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signed {
    item_id: String,
    currency: String,
    list_price_minor: i64,
    price_minor: i64,
    discount_minor: i64,
    policy_version: String,
    issued_at: i64,
    expires_at: i64,
    quote_id: String,
}

/// Checks a quote (full or checkout payload) against the server's own item and policy. Never trusts
/// the client: a tampered quote gains at most what the policy already allows.
pub fn verify_quote(
    quote: &Value,
    item: &Item,
    policy: &Policy,
    opts: &VerifyOptions,
) -> Verification {
    let mut problems = Vec::new();
    let mut fail = |code: ProblemCode, message: String| problems.push(Problem { code, message });
    let q: Signed = match serde_json::from_value(quote.clone()) {
        Ok(q) => q,
        Err(e) => {
            fail(ProblemCode::MalformedQuote, format!("the quote is missing fields or has wrong types ({e}); send the object from toCheckout(quote)"));
            return Verification {
                ok: false,
                problems,
            };
        }
    };
    if q.item_id != item.id {
        fail(
            ProblemCode::ItemMismatch,
            format!(
                "quote is for item {}, not {}",
                quoted(&q.item_id),
                quoted(&item.id)
            ),
        );
    }
    if q.currency != item.currency.code() {
        fail(
            ProblemCode::CurrencyMismatch,
            format!("quote is in {}, the item in {}", q.currency, item.currency),
        );
    }
    if q.list_price_minor != item.list_minor {
        fail(
            ProblemCode::ListPriceChanged,
            format!(
                "quote list price {} differs from the catalog's {}",
                q.list_price_minor, item.list_minor
            ),
        );
    }
    if q.discount_minor != q.list_price_minor - q.price_minor {
        fail(
            ProblemCode::DiscountInconsistent,
            format!(
                "discountMinor {} != listPriceMinor {} - priceMinor {}",
                q.discount_minor, q.list_price_minor, q.price_minor
            ),
        );
    }
    if q.price_minor < 0 || q.price_minor > item.list_minor {
        fail(
            ProblemCode::PriceOutOfRange,
            format!(
                "price {} is not between 0 and the list price {}",
                q.price_minor, item.list_minor
            ),
        );
    }
    if q.price_minor < item.list_minor {
        if let Some(why) = policy.exclusion(item) {
            fail(
                ProblemCode::ExcludedItemDiscounted,
                format!("{why}, but the quote has a discount"),
            );
        }
        let b = bounds(item, policy);
        if q.price_minor < b.floor_minor {
            fail(
                ProblemCode::BelowFloor,
                format!(
                    "price {} is below the floor {}",
                    q.price_minor, b.floor_minor
                ),
            );
        }
        if q.price_minor < b.cap_price_minor {
            // `bounds` applies the tightest of the caps and `maxSpreadPercent`; say which one is broken.
            let caps = policy.caps_for(item.category.as_deref());
            let caps_price = cap_price(item.list_minor, caps);
            if q.price_minor < caps_price {
                fail(
                    ProblemCode::OverCap,
                    format!(
                        "discount {} exceeds the {} % cap (lowest price {})",
                        item.list_minor - q.price_minor,
                        caps.as_percent(),
                        caps_price
                    ),
                );
            }
            if let Some(spread) = policy.spread_cap() {
                let spread_price = cap_price(item.list_minor, spread);
                if q.price_minor < spread_price {
                    fail(ProblemCode::SpreadExceeded,
                        format!(
                            "price {} is more than the policy's maxSpreadPercent {} % below list (lowest price {})",
                            q.price_minor,
                            spread.as_percent(),
                            spread_price
                        ),
                    );
                }
            }
        }
        if !policy
            .endings_for(item.currency)
            .iter()
            .any(|e| e.allows(q.price_minor))
        {
            fail(
                ProblemCode::BadEnding,
                format!(
                    "price {} does not have an allowed ending for {}",
                    q.price_minor, item.currency
                ),
            );
        }
    }
    if opts.now_ms > q.expires_at {
        fail(
            ProblemCode::Expired,
            format!(
                "the quote expired at {} (now {})",
                q.expires_at, opts.now_ms
            ),
        );
    }
    if q.issued_at > opts.now_ms + ISSUE_SKEW_MS || q.expires_at < q.issued_at {
        fail(
            ProblemCode::BadTime,
            format!(
                "issuedAt {} / expiresAt {} are not plausible at {}",
                q.issued_at, q.expires_at, opts.now_ms
            ),
        );
    }
    if q.expires_at - q.issued_at > policy.quote_ttl_ms {
        fail(
            ProblemCode::BadTime,
            format!(
                "the quote lives {} ms, longer than the policy's quoteTtlMs {}",
                q.expires_at - q.issued_at,
                policy.quote_ttl_ms
            ),
        );
    }
    let known_version = q.policy_version == policy.version
        || policy
            .previous_version
            .as_ref()
            .is_some_and(|p| p.version == q.policy_version && opts.now_ms <= p.accept_until);
    if !known_version {
        fail(ProblemCode::UnknownPolicyVersion, format!("policy version {} is not the current {} nor a previous one within its grace period", quoted(&q.policy_version), quoted(&policy.version)));
    }
    if let Some(Quantity::Invalid(what)) = &opts.quantity {
        fail(
            ProblemCode::InvalidQuantity,
            format!("the quantity must be a whole number of units from 1 up, not {what}"),
        );
    }
    if let Some(Quantity::Units(n)) = opts.quantity {
        if n > u64::from(policy.max_quantity_per_order) {
            fail(
                ProblemCode::QuantityOverLimit,
                format!(
                    "quantity {n} exceeds maxQuantityPerOrder {}",
                    policy.max_quantity_per_order
                ),
            );
        }
    }
    if quote_id_of(quote) != q.quote_id {
        fail(
            ProblemCode::QuoteIdMismatch,
            "quoteId does not match the quote's content: a field was changed after issue".into(),
        );
    }
    if !opts.keys.is_empty() {
        match (
            quote.get("keyId").and_then(Value::as_str),
            quote.get("sig").and_then(Value::as_str),
        ) {
            (Some(key_id), Some(sig)) => match opts.keys.get(key_id) {
                Some(key) => {
                    if !signature_matches(quote, key, sig) {
                        fail(ProblemCode::BadSignature, "the signature does not match: the quote was changed or signed with another key".into());
                    }
                }
                None => fail(
                    ProblemCode::UnknownKey,
                    format!("keyId {} is not a known signing key", quoted(key_id)),
                ),
            },
            _ => fail(
                ProblemCode::MissingSignature,
                "a signed (edge) quote is required: keyId and sig are missing".into(),
            ),
        }
    }
    Verification {
        ok: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000_000;

    fn item() -> Item {
        Item::from_json(&json!({"id": "sku-1", "price": "49.99", "currency": "EUR", "cost": 20}))
            .unwrap()
    }

    fn quote(price_minor: i64) -> Quote {
        Quote {
            item_id: "sku-1".into(),
            currency: "EUR".into(),
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
            proptest::prop_assert_eq!(canonical(&map), serde_json_canonicalizer::to_string(&map).unwrap());
        }
    }

    proptest::proptest! {
        #[test]
        fn the_direct_id_text_is_the_canonical_json_of_the_id_fields(
            ids in proptest::collection::vec("\\PC{0,12}|[\\x00-\\x1f\"\\\\\u{2028}\u{e9}\u{1f600}]{0,6}", 4),
            ints in proptest::collection::vec(proptest::num::i64::ANY, 5),
        ) {
            let mut q = quote(4499);
            q.item_id = ids[0].clone();
            q.currency = ids[1].clone();
            q.model_version = ids[2].clone();
            q.policy_version = ids[3].clone();
            (q.list_price_minor, q.price_minor, q.discount_minor, q.issued_at, q.expires_at) =
                (ints[0], ints[1], ints[2], ints[3], ints[4]);
            proptest::prop_assert_eq!(q.jcs_text(None), canonical(&q.id_fields()));
            q.quote_id = ids[1].clone();
            let signed = q.clone().sign(&ids[0], b"a key of sixteen bytes").unwrap();
            proptest::prop_assert_eq!(
                q.jcs_text(Some(&ids[0])),
                canonical(&pick(&signed.to_value(), SIGNED_FIELDS))
            );
            // The signature made from the direct text is the one the JSON path verifies.
            proptest::prop_assert!(signature_matches(&signed.to_value(), b"a key of sixteen bytes", signed.sig.as_deref().unwrap()));
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
}
