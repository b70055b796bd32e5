//! Quotes (DESIGN.md §2 "Quote"), the checkout payload, content-hash ids, HMAC signatures over RFC 8785
//! canonical JSON, and `verify_quote` (DESIGN.md §4): what a server checks against its own item.

use crate::error::{quoted, Code, Error, Result};
use crate::item::Item;
use crate::limits;
use crate::policy::Policy;
use crate::pricing::{bounds, cap_price};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The shortest signing key (bytes) accepted for signing and for verifying.
pub const MIN_KEY_BYTES: usize = 16;

/// How far `issuedAt` may be ahead of the verifier's clock (clock skew).
const ISSUE_SKEW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub item_id: String,
    pub currency: String,
    pub list_price_minor: i64,
    pub price_minor: i64,
    pub discount_minor: i64,
    /// Major units, for display only.
    pub list_price: f64,
    pub price: f64,
    /// The actual discount after rounding, percent of list (2 decimals, display).
    pub discount_percent: f64,
    pub personalized: bool,
    pub reason: String,
    pub explanation: String,
    pub label: Option<String>,
    pub interest: Option<f64>,
    pub variant: String,
    pub propensity: f64,
    pub model_version: String,
    pub policy_version: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub quote_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// The fields a storefront posts to its server (`toCheckout`), in the order of the contract. They are
/// also exactly what `quoteId` hashes (without quoteId/keyId/sig) and what `sig` signs (without
/// sig): the server can check both from the checkout payload alone. `interest`, `explanation` and
/// `propensity` never leave the device this way.
pub const CHECKOUT_FIELDS: &[&str] = &[
    "itemId",
    "currency",
    "listPriceMinor",
    "priceMinor",
    "discountMinor",
    "reason",
    "variant",
    "modelVersion",
    "policyVersion",
    "issuedAt",
    "expiresAt",
    "quoteId",
    "keyId",
    "sig",
];

/// RFC 8785 (JCS) canonical JSON of an object whose values are strings and integers — all that
/// quote ids and signatures cover. For those, JCS is: keys sorted by UTF-16 code units, no
/// whitespace, strings escaped as ECMAScript's JSON.stringify does (which serde_json matches:
/// `\"`, `\\`, `\b\f\n\r\t`, other controls as lowercase `\u00xx`), integers in plain decimal.
/// Tested against the `serde_json_canonicalizer` crate on random inputs.
pub fn canonical(fields: &Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let mut out = String::with_capacity(256);
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        match v {
            Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
            // Not part of any genuine quote: hashed as JSON text so tampering still changes the id.
            other => out.push_str(&other.to_string()),
        }
    }
    out.push('}');
    out
}

fn pick(quote: &Value, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|n| {
            quote
                .get(*n)
                .filter(|v| !v.is_null())
                .map(|v| (n.to_string(), v.clone()))
        })
        .collect()
}

/// What `quoteId` hashes: the checkout fields before `quoteId` itself.
const ID_FIELDS: &[&str] = CHECKOUT_FIELDS.split_at(11).0;
/// What `sig` signs: the checkout fields before `sig` (the hashed ones, `quoteId` and `keyId`).
const SIGNED_FIELDS: &[&str] = CHECKOUT_FIELDS.split_at(13).0;

/// Content hash of a quote given as JSON (base64url of the first 18 bytes of SHA-256 over JCS).
pub fn quote_id_of(quote: &Value) -> String {
    id_of_fields(&pick(quote, ID_FIELDS))
}

fn id_of_fields(fields: &Map<String, Value>) -> String {
    let digest = Sha256::digest(canonical(fields).as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18])
}

/// The HMAC-SHA256 of a quote's signed fields (JCS), ready to finalize or verify.
fn mac_of(quote: &Value, key: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(canonical(&pick(quote, SIGNED_FIELDS)).as_bytes());
    mac
}

fn signature(quote: &Value, key: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(mac_of(quote, key).finalize().into_bytes())
}

/// Whether `sig` (base64url) is the HMAC of the quote's signed fields under `key`, compared in
/// constant time by the MAC's own verifier.
fn signature_matches(quote: &Value, key: &[u8], sig: &str) -> bool {
    let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    mac_of(quote, key).verify_slice(&sig).is_ok()
}

impl Quote {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The fields `quoteId` hashes, straight from the struct (no round trip through the whole quote).
    fn id_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in [
            ("itemId", Value::from(self.item_id.as_str())),
            ("currency", Value::from(self.currency.as_str())),
            ("listPriceMinor", Value::from(self.list_price_minor)),
            ("priceMinor", Value::from(self.price_minor)),
            ("discountMinor", Value::from(self.discount_minor)),
            ("reason", Value::from(self.reason.as_str())),
            ("variant", Value::from(self.variant.as_str())),
            ("modelVersion", Value::from(self.model_version.as_str())),
            ("policyVersion", Value::from(self.policy_version.as_str())),
            ("issuedAt", Value::from(self.issued_at)),
            ("expiresAt", Value::from(self.expires_at)),
        ] {
            m.insert(k.to_string(), v);
        }
        m
    }

    /// Sets `quoteId` from the content.
    pub fn seal(mut self) -> Quote {
        self.quote_id = id_of_fields(&self.id_fields());
        self
    }

    /// Signs an (already sealed) quote with `key` under `key_id` (edge quotes).
    pub fn sign(mut self, key_id: &str, key: &[u8]) -> Result<Quote> {
        if key.len() < MIN_KEY_BYTES {
            return Err(Error::at(Code::InvalidArgument, "key", "a signing key must be at least 16 bytes; generate one with `openssl rand -base64 32`"));
        }
        limits::check_str("keyId", key_id, limits::MAX_ID_LEN)?;
        self.key_id = Some(key_id.to_string());
        self.sig = Some(signature(&self.to_value(), key));
        Ok(self)
    }

    pub fn to_checkout(&self) -> Value {
        Value::Object(pick(&self.to_value(), CHECKOUT_FIELDS))
    }
}

/// `toCheckout` on any JSON quote (for the JS function, which takes whatever the page holds).
pub fn checkout_of(quote: &Value) -> Value {
    Value::Object(pick(quote, CHECKOUT_FIELDS))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub code: &'static str,
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

impl Quantity {
    /// From JSON: a whole number from 1 to 2^53 − 1 (a JS safe integer); anything else is invalid.
    pub fn from_json(v: &Value) -> Quantity {
        match crate::time::whole_number(v) {
            Some(n) if n >= 1 => Quantity::Units(n as u64),
            _ => Quantity::Invalid(match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => format!("the string {}", quoted(s)),
                other => crate::money::json_kind(other).to_string(),
            }),
        }
    }

    /// From command-line text: a JSON number, else the text itself (which is then invalid).
    pub fn from_text(s: &str) -> Quantity {
        match serde_json::from_str::<Value>(s.trim()) {
            Ok(v @ Value::Number(_)) => Quantity::from_json(&v),
            _ => Quantity::from_json(&Value::String(s.to_string())),
        }
    }
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
    let mut fail = |code: &'static str, message: String| problems.push(Problem { code, message });
    let q: Signed = match serde_json::from_value(quote.clone()) {
        Ok(q) => q,
        Err(e) => {
            fail("malformed_quote", format!("the quote is missing fields or has wrong types ({e}); send the object from toCheckout(quote)"));
            return Verification {
                ok: false,
                problems,
            };
        }
    };
    if q.item_id != item.id {
        fail(
            "item_mismatch",
            format!(
                "quote is for item {}, not {}",
                quoted(&q.item_id),
                quoted(&item.id)
            ),
        );
    }
    if q.currency != item.currency.code() {
        fail(
            "currency_mismatch",
            format!("quote is in {}, the item in {}", q.currency, item.currency),
        );
    }
    if q.list_price_minor != item.list_minor {
        fail(
            "list_price_changed",
            format!(
                "quote list price {} differs from the catalog's {}",
                q.list_price_minor, item.list_minor
            ),
        );
    }
    if q.discount_minor != q.list_price_minor - q.price_minor {
        fail(
            "discount_inconsistent",
            format!(
                "discountMinor {} != listPriceMinor {} - priceMinor {}",
                q.discount_minor, q.list_price_minor, q.price_minor
            ),
        );
    }
    if q.price_minor < 0 || q.price_minor > item.list_minor {
        fail(
            "price_out_of_range",
            format!(
                "price {} is not between 0 and the list price {}",
                q.price_minor, item.list_minor
            ),
        );
    }
    if q.price_minor < item.list_minor {
        if let Some(why) = policy.exclusion(item) {
            fail(
                "excluded_item_discounted",
                format!("{why}, but the quote has a discount"),
            );
        }
        let b = bounds(item, policy);
        if q.price_minor < b.floor_minor {
            fail(
                "below_floor",
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
                    "over_cap",
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
                    fail(
                        "spread_exceeded",
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
                "bad_ending",
                format!(
                    "price {} does not have an allowed ending for {}",
                    q.price_minor, item.currency
                ),
            );
        }
    }
    if opts.now_ms > q.expires_at {
        fail(
            "expired",
            format!(
                "the quote expired at {} (now {})",
                q.expires_at, opts.now_ms
            ),
        );
    }
    if q.issued_at > opts.now_ms + ISSUE_SKEW_MS || q.expires_at < q.issued_at {
        fail(
            "bad_time",
            format!(
                "issuedAt {} / expiresAt {} are not plausible at {}",
                q.issued_at, q.expires_at, opts.now_ms
            ),
        );
    }
    if q.expires_at - q.issued_at > policy.quote_ttl_ms as i64 {
        fail(
            "bad_time",
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
            .is_some_and(|p| p.version == q.policy_version && opts.now_ms as f64 <= p.accept_until);
    if !known_version {
        fail("unknown_policy_version", format!("policy version {} is not the current {} nor a previous one within its grace period", quoted(&q.policy_version), quoted(&policy.version)));
    }
    if let Some(Quantity::Invalid(what)) = &opts.quantity {
        fail(
            "invalid_quantity",
            format!("the quantity must be a whole number of units from 1 up, not {what}"),
        );
    }
    if let Some(Quantity::Units(n)) = opts.quantity {
        if n > u64::from(policy.max_quantity_per_order) {
            fail(
                "quantity_over_limit",
                format!(
                    "quantity {n} exceeds maxQuantityPerOrder {}",
                    policy.max_quantity_per_order
                ),
            );
        }
    }
    if quote_id_of(quote) != q.quote_id {
        fail(
            "quote_id_mismatch",
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
                        fail("bad_signature", "the signature does not match: the quote was changed or signed with another key".into());
                    }
                }
                None => fail(
                    "unknown_key",
                    format!("keyId {} is not a known signing key", quoted(key_id)),
                ),
            },
            _ => fail(
                "missing_signature",
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
            reason: "personalized".into(),
            explanation: "x".into(),
            label: None,
            interest: Some(0.1),
            variant: "treatment".into(),
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
        v.problems.iter().map(|p| p.code).collect()
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
