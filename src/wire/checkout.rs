//! Quotes and checkout payloads as JSON: a quote written out, `toCheckout` on whatever object a
//! page holds, a received payload read into a typed [`Checkout`], and `verify_quote` on JSON.

use crate::item::Item;
use crate::policy::Policy;
use crate::quote::{
    verify, Checkout, CheckoutFields, Field, Malformed, Quote, Verification, VerifyOptions,
    CHECKOUT_FIELDS,
};
use serde_json::{Map, Value};

impl Quote {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The checkout payload as JSON (`toCheckout(quote)`).
    pub fn to_checkout(&self) -> Value {
        checkout_of(&self.to_value())
    }
}

/// `toCheckout` on any JSON quote (for the JS function, which takes whatever the page holds).
pub fn checkout_of(quote: &Value) -> Value {
    Value::Object(
        CHECKOUT_FIELDS
            .iter()
            .filter_map(|n| {
                quote
                    .get(*n)
                    .filter(|v| !v.is_null())
                    .map(|v| (n.to_string(), v.clone()))
            })
            .collect::<Map<String, Value>>(),
    )
}

/// A JSON value as a hashed field: text and integers as such, anything else as its JSON text.
fn field(v: &Value) -> Field {
    match v {
        Value::String(s) => Field::Text(s.clone()),
        Value::Number(n) if n.is_i64() => Field::Int(n.as_i64().unwrap_or_default()),
        other => Field::Json(other.to_string()),
    }
}

impl Checkout {
    /// A received payload (a full quote or `toCheckout`'s object), read leniently: a missing or
    /// mistyped term is a reason `verify_quote` gives, not an error here.
    pub fn from_json(v: &Value) -> Checkout {
        Checkout {
            fields: CHECKOUT_FIELDS
                .iter()
                .filter_map(|n| v.get(*n).filter(|x| !x.is_null()).map(|x| (*n, field(x))))
                .collect(),
            terms: serde_json::from_value(v.clone()).map_err(|e| Malformed(e.to_string())),
        }
    }
}

/// The content id of a quote given as JSON (what `quoteId` must be).
pub fn quote_id_of(quote: &Value) -> String {
    Checkout::from_json(quote).content_id()
}

/// Checks a quote (full or checkout payload, as JSON) against the server's own item and policy.
pub fn verify_quote(
    quote: &Value,
    item: &Item,
    policy: &Policy,
    opts: &VerifyOptions,
) -> Verification {
    verify(&Checkout::from_json(quote), item, policy, opts)
}

/// The canonical text of a JSON object of text and integers (what the writer makes of it).
#[cfg(test)]
pub(crate) fn canonical_of_map(map: &Map<String, Value>) -> String {
    let fields: Vec<(String, Field)> = map.iter().map(|(k, v)| (k.clone(), field(v))).collect();
    crate::quote::canonical(
        fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_ref()))
            .collect(),
    )
}
