//! The engine's functions without a pricer: verification against the server's own item, model
//! integrity, policy validation. (List quotes and checkout payloads, which the lite module has too,
//! are in `list`.)

use crate::convert::{self, arg_error, error};
use crate::parse_policy;
use pricelet::error::Code;
use pricelet::item::Item;
use pricelet::quote::{signing_keys, Quantity, VerifyOptions};
use pricelet::scorer::check_integrity;
use pricelet::wire::checkout::verify_quote;
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// The options of `verifyQuote`, as the wrapper serializes them (`keys` as [id, secret] pairs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyArgs {
    #[serde(default)]
    now: Option<Value>,
    /// Present (even null) means the caller sent a quantity: it must be a positive whole number.
    #[serde(default, deserialize_with = "present")]
    quantity: Option<Value>,
    #[serde(default)]
    keys: Option<Vec<(Value, Value)>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Checks a quote (or its checkout payload) against the server's own item. `options`: JSON text
/// of `{ now?, quantity?, keys?: [[keyId, secret], …] }`.
#[wasm_bindgen(js_name = verifyQuote)]
pub fn verify_quote_js(
    quote: JsValue,
    item: JsValue,
    policy: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let quote = convert::document(&quote, Code::InvalidQuote, "the quote")?;
    let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
        .map_err(error)?;
    let policy = parse_policy(&policy)?;
    let args: VerifyArgs =
        match convert::optional_document(&options, Code::InvalidArgument, "the options")? {
            None => VerifyArgs {
                now: None,
                quantity: None,
                keys: None,
            },
            Some(v) => serde_path_to_error::deserialize(v).map_err(|e| {
                error(pricelet::error::from_serde_path(
                    Code::InvalidArgument,
                    "invalid verifyQuote option",
                    e,
                ))
            })?,
        };
    let now_ms = match &args.now {
        Some(v) => pricelet::wire::json::epoch_ms(v, "now").map_err(error)?,
        None => js_sys::Date::now() as i64,
    };
    let keys = match args.keys {
        None => Default::default(),
        Some(pairs) => {
            let entries = pairs
                .into_iter()
                .map(|(id, secret)| match (id, secret) {
                    (Value::String(id), Value::String(s)) => Ok((id, s.into_bytes())),
                    _ => Err(arg_error("keys", "keys must map key ids to secret strings")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            signing_keys(entries).map_err(error)?
        }
    };
    Ok(convert::json(&verify_quote(
        &quote,
        &item,
        &policy,
        &VerifyOptions {
            now_ms,
            quantity: args.quantity.as_ref().map(Quantity::from_json),
            keys,
        },
    )))
}

#[wasm_bindgen(js_name = checkIntegrity)]
pub fn check_integrity_js(bytes: JsValue, expected: JsValue, what: JsValue) -> Result<(), JsValue> {
    let bytes = convert::bytes(&bytes, "bytes")?.unwrap_or_default();
    let expected = convert::text(&expected, "integrity")?;
    let what = convert::text(&what, "what")?;
    check_integrity(&bytes, &expected, &what).map_err(error)
}

#[wasm_bindgen(js_name = validatePolicy)]
pub fn validate_policy(policy: JsValue) -> Result<JsValue, JsValue> {
    Ok(convert::json(&parse_policy(&policy)?.to_json()))
}
