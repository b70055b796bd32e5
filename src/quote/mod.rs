//! Quotes (README "Quotes"), the checkout payload, content-hash ids, HMAC signatures over RFC 8785
//! canonical JSON, and `verify_quote`: what a server checks against its own item (SECURITY.md).

use crate::error::{quoted, Code, Error, Result};
use crate::experiment::Variant;
use crate::item::Item;
use crate::limits;
use crate::policy::Policy;
use crate::pricing::{bounds, cap_price};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The shortest signing key (bytes) accepted for signing and for verifying.
pub const MIN_KEY_BYTES: usize = 16;

crate::named_enum! {
    /// Why a quote has its price (public strings; README "Quotes").
    pub enum Reason {
        Personalized = "personalized",
        /// The model was consulted with no behaviour at all (only the clock): the store's price
        /// for an unknown visitor, not a personalized one.
        ColdStart = "cold_start",
        Control = "control",
        Explore = "explore",
        Excluded = "excluded",
        OptedOut = "opted_out",
        NoConsent = "no_consent",
        NoFeatures = "no_features",
        ModelUnavailable = "model_unavailable",
        NoFeasiblePrice = "no_feasible_price",
        EngineReset = "engine_reset",
        List = "list",
    }
}

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
    pub reason: Reason,
    pub explanation: String,
    pub label: Option<String>,
    pub interest: Option<f64>,
    pub variant: Variant,
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

/// A signing key under its id, checked and prepared once (HMAC's key blocks), for many quotes.
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    mac: Hmac<Sha256>,
}

impl Signer {
    pub fn new(key_id: &str, key: &[u8]) -> Result<Signer> {
        if key.len() < MIN_KEY_BYTES {
            return Err(Error::at(Code::InvalidArgument, "key", "a signing key must be at least 16 bytes; generate one with `openssl rand -base64 32`"));
        }
        limits::check_str("keyId", key_id, limits::MAX_ID_LEN)?;
        Ok(Signer {
            key_id: key_id.to_string(),
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .expect("HMAC takes keys of any length"),
        })
    }
}

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

    /// The fields `quoteId` hashes, straight from the struct (what [`Quote::id_text`] writes).
    #[cfg(test)]
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

    /// JCS of what `quoteId` hashes ([`Quote::id_fields`]) or, given the key id, of what `sig` signs
    /// (the same plus `keyId` and `quoteId`), written straight from the struct: the keys in their
    /// UTF-16 order, no map and no sorting (hashing is most of a quote's cost). Equal to
    /// `canonical` of the picked fields (tested on random quotes).
    fn jcs_text(&self, signed_with: Option<&str>) -> String {
        fn text(out: &mut String, key: &str, s: &str) {
            out.push_str(key);
            if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
                out.push_str(&serde_json::to_string(s).unwrap_or_default());
            } else {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
        }
        fn int(out: &mut String, key: &str, n: i64) {
            use std::fmt::Write;
            out.push_str(key);
            let _ = write!(out, "{n}");
        }
        let mut out = String::with_capacity(400);
        text(&mut out, "{\"currency\":", &self.currency);
        int(&mut out, ",\"discountMinor\":", self.discount_minor);
        int(&mut out, ",\"expiresAt\":", self.expires_at);
        int(&mut out, ",\"issuedAt\":", self.issued_at);
        text(&mut out, ",\"itemId\":", &self.item_id);
        if let Some(key_id) = signed_with {
            text(&mut out, ",\"keyId\":", key_id);
        }
        int(&mut out, ",\"listPriceMinor\":", self.list_price_minor);
        text(&mut out, ",\"modelVersion\":", &self.model_version);
        text(&mut out, ",\"policyVersion\":", &self.policy_version);
        int(&mut out, ",\"priceMinor\":", self.price_minor);
        if signed_with.is_some() {
            text(&mut out, ",\"quoteId\":", &self.quote_id);
        }
        text(&mut out, ",\"reason\":", self.reason.as_str());
        text(&mut out, ",\"variant\":", self.variant.as_str());
        out.push('}');
        out
    }

    /// Sets `quoteId` from the content.
    pub fn seal(mut self) -> Quote {
        let digest = Sha256::digest(self.jcs_text(None).as_bytes());
        self.quote_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18]);
        self
    }

    /// Signs an (already sealed) quote with `key` under `key_id` (edge quotes).
    pub fn sign(self, key_id: &str, key: &[u8]) -> Result<Quote> {
        Ok(self.signed_by(&Signer::new(key_id, key)?))
    }

    /// Signs an (already sealed) quote with a signer (one per batch: its key is prepared once).
    pub fn signed_by(mut self, signer: &Signer) -> Quote {
        let mut mac = signer.mac.clone();
        mac.update(self.jcs_text(Some(&signer.key_id)).as_bytes());
        self.key_id = Some(signer.key_id.clone());
        self.sig = Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
        );
        self
    }

    pub fn to_checkout(&self) -> Value {
        Value::Object(pick(&self.to_value(), CHECKOUT_FIELDS))
    }
}

/// `toCheckout` on any JSON quote (for the JS function, which takes whatever the page holds).
pub fn checkout_of(quote: &Value) -> Value {
    Value::Object(pick(quote, CHECKOUT_FIELDS))
}

mod verify;

pub use verify::{
    signing_keys, verify_quote, Problem, ProblemCode, Quantity, Verification, VerifyOptions,
};
