//! Quotes (README "Quotes"), the checkout payload, content-hash ids, HMAC signatures over RFC 8785
//! canonical JSON, and `verify_quote`: what a server checks against its own item (SECURITY.md).

use crate::error::{quoted, Code, Error, Result};
use crate::experiment::Variant;
use crate::item::Item;
use crate::limits;
use crate::money::Currency;
use crate::policy::Policy;
use crate::pricing::{bounds, cap_price};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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
    pub currency: Currency,
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

impl Quote {
    /// Sets `quoteId` from the content.
    pub fn seal(mut self) -> Quote {
        self.quote_id = self.content_id();
        self
    }

    /// Signs an (already sealed) quote with `key` under `key_id` (edge quotes).
    pub fn sign(self, key_id: &str, key: &[u8]) -> Result<Quote> {
        Ok(self.signed_by(&Signer::new(key_id, key)?))
    }

    /// Signs an (already sealed) quote with a signer (one per batch: its key is prepared once).
    pub fn signed_by(mut self, signer: &Signer) -> Quote {
        let mut mac = signer.mac.clone();
        self.key_id = Some(signer.key_id.clone());
        mac.update(self.canonical_of(SIGNED_FIELDS).as_bytes());
        self.sig = Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
        );
        self
    }
}

mod checkout;
mod verify;

pub use checkout::{
    canonical, Checkout, CheckoutFields, Field, FieldRef, Malformed, Terms, CHECKOUT_FIELDS,
    ID_FIELDS, SIGNED_FIELDS,
};
pub use verify::{
    signing_keys, verify, Problem, ProblemCode, Quantity, Verification, VerifyOptions,
};
