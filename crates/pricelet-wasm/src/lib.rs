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

#[cfg(any(feature = "device", feature = "lite"))]
mod list;
#[cfg(all(feature = "lite", not(feature = "device")))]
mod lite;

use pricelet::error::Code;
use pricelet::policy::Policy;
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
