//! The only code of pricelet that knows JavaScript: the wasm-bindgen exports over the core, built as
//! three modules from one crate (scripts/build.mjs, docs/architecture.md):
//!
//! * **device** (feature `device`): the engine every shopper's browser runs — pricing with a model,
//!   behaviour, reports, checkout verification;
//! * **server** (feature `server`, on top of `device`): what a merchant's server adds, for the node
//!   and workerd entries — report tallies and estimates, signing, pricing from a device's features;
//! * **lite** (feature `lite`, no model): list quotes and checkout payloads, compiled synchronously
//!   before the engine has loaded.
//!
//! `convert` holds every JS ↔ Rust conversion. On other targets the crate is empty.
#![cfg(target_arch = "wasm32")]

mod constants;
mod convert;

#[cfg(feature = "device")]
mod checkout;
#[cfg(feature = "device")]
mod device;
#[cfg(feature = "device")]
mod random;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "device")]
mod store;

#[cfg(all(feature = "lite", not(feature = "device")))]
mod lite;

use pricelet::error::Code;
use pricelet::item::Item;
use pricelet::policy::Policy;
use pricelet::quote::Reason;
use serde_json::Value;
use wasm_bindgen::JsValue;

/// A policy argument: JSON text of a policy object, JSON of a string holding policy text (fetched
/// from a URL), or null/undefined for the bundled default.
fn parse_policy(policy: &JsValue) -> Result<Policy, JsValue> {
    match convert::optional_document(policy, Code::InvalidPolicy, "the policy")? {
        None => Ok(Policy::default_policy()),
        Some(Value::String(text)) => Policy::from_json_str(&text).map_err(convert::error),
        Some(v) => Policy::from_json(&v).map_err(convert::error),
    }
}

/// `listQuote(item, policy, now)`, shared by the engine and the lite module.
fn list_quote(item: &JsValue, policy: &JsValue, now: &JsValue) -> Result<JsValue, JsValue> {
    let item = Item::from_json(&convert::document(item, Code::InvalidItem, "the item")?)
        .map_err(convert::error)?;
    let policy = parse_policy(policy)?;
    let now_ms = if now.is_undefined() || now.is_null() {
        js_sys::Date::now() as i64
    } else {
        pricelet::time::epoch_ms(&convert::number(now), "now").map_err(convert::error)?
    };
    Ok(convert::json(&pricelet::pricer::list_quote(
        &item,
        &policy,
        None,
        now_ms,
        Reason::List,
    )))
}
