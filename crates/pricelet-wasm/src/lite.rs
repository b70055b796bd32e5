//! The "lite" wasm: list-price quotes and checkout payloads only, no inference engine. Small enough
//! that the JS wrapper compiles it synchronously, so `listQuote(item)` works before the full
//! engine has loaded.

use crate::convert;
use pricelet::error::Code;
use wasm_bindgen::prelude::*;

extern "C" {
    fn __wasm_call_ctors();
}

/// Runs the static constructors once, at instantiation (see the engine's `start`).
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: wasm-ld's synthesized constructor runner, called once per instance before any export.
    unsafe { __wasm_call_ctors() }
}

#[wasm_bindgen(js_name = listQuote)]
pub fn list_quote(item: JsValue, policy: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
    super::list_quote(&item, &policy, &now)
}

#[wasm_bindgen(js_name = quoteBeforeReady)]
pub fn quote_before_ready(
    item: JsValue,
    state: JsValue,
    policy: JsValue,
    now: JsValue,
    stability_ttl_ms: JsValue,
) -> Result<JsValue, JsValue> {
    super::quote_before_ready(&item, &state, &policy, &now, &stability_ttl_ms)
}

#[wasm_bindgen(js_name = toCheckout)]
pub fn to_checkout(quote: JsValue) -> Result<JsValue, JsValue> {
    let quote = convert::document(&quote, Code::InvalidQuote, "the quote")?;
    Ok(convert::json(&pricelet::wire::checkout::checkout_of(
        &quote,
    )))
}
