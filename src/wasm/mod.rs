//! The only Rust that knows JavaScript: wasm-bindgen exports over the core. `convert` holds every
//! JS ↔ Rust conversion; `engine` is the full engine (tract inside), `lite` the small list-price
//! module the wrapper compiles synchronously before the engine has loaded.

mod convert;
#[cfg(feature = "inference")]
mod engine;
#[cfg(not(feature = "inference"))]
mod lite;

use crate::error::Code;
use crate::item::Item;
use crate::policy::Policy;
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
        crate::time::epoch_ms(&convert::number(now), "now").map_err(convert::error)?
    };
    Ok(convert::json(&crate::pricer::list_quote(
        &item, &policy, None, now_ms, "list",
    )))
}
