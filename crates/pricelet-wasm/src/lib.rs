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
mod model_load;
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

/// The longest stability window a caller may ask for.
const MAX_STABILITY_TTL_MS: i64 = 365 * 24 * 3_600_000;

/// A `stabilityTtlMs` option: whole milliseconds, at most a year.
fn stability_ttl_ms(v: &Value) -> pricelet::Result<i64> {
    pricelet::wire::json::duration_ms(v, "stabilityTtlMs", MAX_STABILITY_TTL_MS)
}

/// A `now` argument: epoch milliseconds, or the JS clock when absent.
fn now_ms(now: &JsValue) -> Result<i64, JsValue> {
    if now.is_undefined() || now.is_null() {
        return Ok(js_sys::Date::now() as i64);
    }
    pricelet::wire::json::epoch_ms(&convert::number(now), "now").map_err(convert::error)
}

/// `listQuote(item, policy, now)`, shared by the engine and the lite module.
fn list_quote(item: &JsValue, policy: &JsValue, now: &JsValue) -> Result<JsValue, JsValue> {
    let item = Item::from_json(&convert::document(item, Code::InvalidItem, "the item")?)
        .map_err(convert::error)?;
    let policy = parse_policy(policy)?;
    Ok(convert::json(&pricelet::pricer::list_quote(
        &item,
        &policy,
        None,
        now_ms(now)?,
        Reason::List,
    )))
}

/// `quoteBeforeReady(item, state, policy, now, stabilityTtlMs)`, shared by the engine and the lite
/// module: the quote the stored `state` (text, or null) says was shown for `item` on another page,
/// else the list quote.
fn quote_before_ready(
    item: &JsValue,
    state: &JsValue,
    policy: &JsValue,
    now: &JsValue,
    ttl: &JsValue,
) -> Result<JsValue, JsValue> {
    let item = Item::from_json(&convert::document(item, Code::InvalidItem, "the item")?)
        .map_err(convert::error)?;
    let policy = parse_policy(policy)?;
    let now_ms = now_ms(now)?;
    let ttl = match ttl.is_undefined() || ttl.is_null() {
        true => None,
        false => Some(stability_ttl_ms(&convert::number(ttl)).map_err(convert::error)?),
    };
    let shown = state
        .as_string()
        .and_then(|state| pricelet::pricer::shown_quote(&state, &item, &policy, now_ms, ttl));
    Ok(convert::json(&shown.unwrap_or_else(|| {
        pricelet::pricer::list_quote(&item, &policy, None, now_ms, Reason::List)
    })))
}
