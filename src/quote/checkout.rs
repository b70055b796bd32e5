//! The checkout payload: the fields a storefront posts to its server, the two lists of them that
//! `quoteId` hashes and `sig` signs, and the one writer of their canonical JSON (RFC 8785).

use super::Quote;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The three field lists of the contract, written once: what `quoteId` hashes; what `sig` signs
/// (the hashed fields, the id they hash to and the key that signs); and the checkout payload (the
/// signed fields and `sig`), which a storefront posts to its server. The server checks the id and
/// the signature from the payload alone; `interest`, `explanation` and `propensity` never leave the
/// device this way.
macro_rules! field_lists {
    ($($hashed:literal),+) => {
        pub const ID_FIELDS: &[&str] = &[$($hashed),+];
        pub const SIGNED_FIELDS: &[&str] = &[$($hashed,)+ "quoteId", "keyId"];
        pub const CHECKOUT_FIELDS: &[&str] = &[$($hashed,)+ "quoteId", "keyId", "sig"];
    };
}

field_lists!(
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
    "expiresAt"
);

/// One field as a payload holds it. A genuine quote holds text and integers only; anything else
/// (a forged payload) is kept as its JSON text, so that changing it still changes the hash.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Text(String),
    Int(i64),
    Json(String),
}

/// A field borrowed for writing.
#[derive(Debug, Clone, Copy)]
pub enum FieldRef<'a> {
    Text(&'a str),
    Int(i64),
    Json(&'a str),
}

impl Field {
    pub fn as_ref(&self) -> FieldRef<'_> {
        match self {
            Field::Text(s) => FieldRef::Text(s),
            Field::Int(n) => FieldRef::Int(*n),
            Field::Json(j) => FieldRef::Json(j),
        }
    }
}

/// RFC 8785 (JCS) canonical JSON of an object of text and integers: keys sorted by UTF-16 code
/// units, no whitespace, strings escaped as ECMAScript's JSON.stringify does (which serde_json
/// matches: `\"`, `\\`, `\b\f\n\r\t`, other controls as lowercase `\u00xx`), integers in plain
/// decimal. Tested against the `serde_json_canonicalizer` crate on random inputs.
pub fn canonical<'a>(mut entries: Vec<(&'a str, FieldRef<'a>)>) -> String {
    if !entries
        .windows(2)
        .all(|w| w[0].0.encode_utf16().le(w[1].0.encode_utf16()))
    {
        entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    let mut out = String::with_capacity(400);
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        text(&mut out, key);
        out.push(':');
        match value {
            FieldRef::Text(s) => text(&mut out, s),
            FieldRef::Int(n) => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
            FieldRef::Json(j) => out.push_str(j),
        }
    }
    out.push('}');
    out
}

/// A JSON string; the common case (nothing to escape) without serde.
fn text(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// base64url of the first 18 bytes of SHA-256: a quote id.
fn id_of_text(canonical_text: &str) -> String {
    let digest = Sha256::digest(canonical_text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18])
}

/// The contract's fields a payload holds, by name.
pub trait CheckoutFields {
    fn field(&self, name: &str) -> Option<FieldRef<'_>>;

    /// The canonical text of the named fields this payload holds.
    fn canonical_of(&self, names: &[&'static str]) -> String {
        canonical(
            names
                .iter()
                .filter_map(|n| self.field(n).map(|v| (*n, v)))
                .collect(),
        )
    }

    /// The id these fields hash to.
    fn content_id(&self) -> String {
        id_of_text(&self.canonical_of(ID_FIELDS))
    }

    /// Whether `sig` (base64url) is the HMAC of the signed fields under `key`, compared in
    /// constant time by the MAC's own verifier.
    fn signature_matches(&self, key: &[u8], sig: &str) -> bool {
        let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(self.canonical_of(SIGNED_FIELDS).as_bytes());
        mac.verify_slice(&sig).is_ok()
    }
}

impl CheckoutFields for Quote {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        Some(match name {
            "itemId" => FieldRef::Text(&self.item_id),
            "currency" => FieldRef::Text(self.currency.code()),
            "listPriceMinor" => FieldRef::Int(self.list_price_minor),
            "priceMinor" => FieldRef::Int(self.price_minor),
            "discountMinor" => FieldRef::Int(self.discount_minor),
            "reason" => FieldRef::Text(self.reason.as_str()),
            "variant" => FieldRef::Text(self.variant.as_str()),
            "modelVersion" => FieldRef::Text(&self.model_version),
            "policyVersion" => FieldRef::Text(&self.policy_version),
            "issuedAt" => FieldRef::Int(self.issued_at),
            "expiresAt" => FieldRef::Int(self.expires_at),
            "quoteId" => FieldRef::Text(&self.quote_id),
            "keyId" => FieldRef::Text(self.key_id.as_deref()?),
            "sig" => FieldRef::Text(self.sig.as_deref()?),
            _ => return None,
        })
    }
}

/// The terms a server checks, typed: what a payload must hold to be verified at all.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    pub item_id: String,
    /// As received, any text: a payload in another (or no known) currency is `currency_mismatch`.
    pub currency: String,
    pub list_price_minor: i64,
    pub price_minor: i64,
    pub discount_minor: i64,
    pub policy_version: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub quote_id: String,
}

/// Why a payload has no terms: its reader's words (which field is missing or of which type).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// A checkout payload as a server received it: the contract's fields it holds (not null), and
/// its terms or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkout {
    pub fields: Vec<(&'static str, Field)>,
    pub terms: Result<Terms, Malformed>,
}

impl CheckoutFields for Checkout {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }
}

impl Checkout {
    /// The payload `toCheckout(quote)` makes of a quote.
    pub fn of(q: &Quote) -> Checkout {
        let owned = |v: FieldRef<'_>| match v {
            FieldRef::Text(s) => Field::Text(s.to_string()),
            FieldRef::Int(n) => Field::Int(n),
            FieldRef::Json(j) => Field::Json(j.to_string()),
        };
        Checkout {
            fields: CHECKOUT_FIELDS
                .iter()
                .filter_map(|n| q.field(n).map(|v| (*n, owned(v))))
                .collect(),
            terms: Ok(Terms {
                item_id: q.item_id.clone(),
                currency: q.currency.code().to_string(),
                list_price_minor: q.list_price_minor,
                price_minor: q.price_minor,
                discount_minor: q.discount_minor,
                policy_version: q.policy_version.clone(),
                issued_at: q.issued_at,
                expires_at: q.expires_at,
                quote_id: q.quote_id.clone(),
            }),
        }
    }

    /// A text field (`keyId`, `sig`), if the payload holds it as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.field(name)? {
            FieldRef::Text(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_nest_as_the_contract_says() {
        assert_eq!(&SIGNED_FIELDS[..ID_FIELDS.len()], ID_FIELDS);
        assert_eq!(&SIGNED_FIELDS[ID_FIELDS.len()..], &["quoteId", "keyId"]);
        assert_eq!(&CHECKOUT_FIELDS[..SIGNED_FIELDS.len()], SIGNED_FIELDS);
        assert_eq!(&CHECKOUT_FIELDS[SIGNED_FIELDS.len()..], &["sig"]);
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 (0xD83D 0xDE00) sorts before U+FF61 in UTF-16, after it by code point.
        let text = canonical(vec![
            ("\u{ff61}", FieldRef::Text("a\"b")),
            ("\u{1f600}", FieldRef::Int(1)),
        ]);
        assert_eq!(text, "{\"\u{1f600}\":1,\"\u{ff61}\":\"a\\\"b\"}");
    }
}
