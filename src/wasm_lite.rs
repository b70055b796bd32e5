//! The "lite" wasm: list-price quotes only, no inference engine. Small enough that the JS wrapper
//! compiles it synchronously, so `listQuote(item)` works before the full engine has loaded.

use crate::error::{Code, Error};
use crate::item::Item;
use crate::policy::Policy;
use crate::pricer;
use js_sys::Reflect;
use serde::Serialize;
use wasm_bindgen::prelude::*;

extern "C" {
    fn __wasm_call_ctors();
}

/// Runs the static constructors (tract registers its kernels through `inventory`) once, at
/// instantiation. Referencing `__wasm_call_ctors` explicitly also stops wasm-ld from wrapping every
/// export in a call to it, which otherwise re-ran all constructors on every call (~0.3 ms each).
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: wasm-ld's synthesized constructor runner, called once per instance before any export.
    unsafe { __wasm_call_ctors() }
}

fn js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    let _ = Reflect::set(&err, &"code".into(), &e.code.as_str().into());
    let _ = Reflect::set(
        &err,
        &"field".into(),
        &e.field.map_or(JsValue::NULL, |f| f.into()),
    );
    err.into()
}

#[wasm_bindgen(js_name = listQuote)]
pub fn list_quote(item: JsValue, policy: JsValue, now: Option<f64>) -> Result<JsValue, JsValue> {
    let item: serde_json::Value = serde_wasm_bindgen::from_value(item).map_err(|e| {
        js_error(Error::new(
            Code::InvalidItem,
            format!("the item is not plain JSON data: {e}"),
        ))
    })?;
    let item = Item::from_json(&item).map_err(js_error)?;
    let policy = match policy.as_string() {
        Some(text) => Policy::from_json_str(&text).map_err(js_error)?,
        None if policy.is_null() || policy.is_undefined() => Policy::default_policy(),
        None => {
            return Err(js_error(Error::at(
                Code::InvalidPolicy,
                "policy",
                "listQuote takes the policy as JSON text",
            )))
        }
    };
    let q = pricer::list_quote(
        &item,
        &policy,
        None,
        now.unwrap_or_else(js_sys::Date::now) as i64,
        "list",
    );
    Ok(
        q.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .unwrap_or(JsValue::NULL),
    )
}

#[wasm_bindgen(js_name = toCheckout)]
pub fn to_checkout(quote: JsValue) -> Result<JsValue, JsValue> {
    let quote: serde_json::Value = serde_wasm_bindgen::from_value(quote).map_err(|e| {
        js_error(Error::new(
            Code::InvalidQuote,
            format!("the quote is not plain JSON data: {e}"),
        ))
    })?;
    Ok(crate::quote::checkout_of(&quote)
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL))
}
