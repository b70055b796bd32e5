//! What a page can do before (or without) a pricer, in both the engine and the lite module: the list
//! quote, the quote another page already showed, and a quote's checkout payload.

use crate::convert;
use crate::parse_policy;
use pricelet::error::Code;
use pricelet::item::Item;
use pricelet::quote::Reason;
use pricelet::wire::checkout::checkout_of;
use wasm_bindgen::prelude::*;

/// A `now` argument: epoch milliseconds, or the JS clock when absent.
fn now_ms(now: &JsValue) -> Result<i64, JsValue> {
    if now.is_undefined() || now.is_null() {
        return Ok(js_sys::Date::now() as i64);
    }
    pricelet::wire::json::epoch_ms(&convert::number(now), "now").map_err(convert::error)
}

#[wasm_bindgen(js_name = listQuote)]
pub fn list_quote(item: JsValue, policy: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
    let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
        .map_err(convert::error)?;
    let policy = parse_policy(&policy)?;
    Ok(convert::json(&pricelet::pricer::list_quote(
        &item,
        &policy,
        None,
        now_ms(&now)?,
        Reason::List,
    )))
}

/// `quoteBeforeReady(item, state, policy, now, stabilityTtlMs)`: the quote the stored `state`
/// (text, or null) says was shown for `item` on another page, else the list quote.
#[wasm_bindgen(js_name = quoteBeforeReady)]
pub fn quote_before_ready(
    item: JsValue,
    state: JsValue,
    policy: JsValue,
    now: JsValue,
    stability_ttl_ms: JsValue,
) -> Result<JsValue, JsValue> {
    let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
        .map_err(convert::error)?;
    let policy = parse_policy(&policy)?;
    let now_ms = now_ms(&now)?;
    let ttl = match stability_ttl_ms.is_undefined() || stability_ttl_ms.is_null() {
        true => None,
        false => Some(
            crate::stability_ttl_ms(&convert::number(&stability_ttl_ms)).map_err(convert::error)?,
        ),
    };
    let shown = state
        .as_string()
        .and_then(|state| pricelet::pricer::shown_quote(&state, &item, &policy, now_ms, ttl));
    Ok(convert::json(&shown.unwrap_or_else(|| {
        pricelet::pricer::list_quote(&item, &policy, None, now_ms, Reason::List)
    })))
}

#[wasm_bindgen(js_name = toCheckout)]
pub fn to_checkout(quote: JsValue) -> Result<JsValue, JsValue> {
    let quote = convert::document(&quote, Code::InvalidQuote, "the quote")?;
    Ok(convert::json(&checkout_of(&quote)))
}
