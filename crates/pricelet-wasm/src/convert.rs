//! Every conversion between JavaScript values and Rust, in one place.
#![cfg_attr(not(feature = "device"), allow(dead_code))]
//!
//! Documents (items, events, quotes, policies, reports, options) cross as JSON text that the JS
//! wrapper made with `JSON.stringify`, and results go back as JSON text: a getter that throws, a
//! revoked Proxy or a BigInt fails in JavaScript, before the engine is entered, so no JS exception
//! can unwind through Rust while it holds a borrow of a pricer (which would leave that pricer
//! unusable). Every exported function takes `JsValue` and checks its type here: a wrong type is a
//! coded error, never a trap in wasm-bindgen's glue. The only JS the engine calls itself (storage
//! adapters, the injected clock, `Reflect.get`) is called through wasm-bindgen's catching imports.

use js_sys::{Reflect, Uint8Array};
use pricelet::error::{Code, Error};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A core error as a JS `Error` with `code` and `field`.
pub fn error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    let _ = Reflect::set(&err, &"code".into(), &e.code.as_str().into());
    let _ = Reflect::set(
        &err,
        &"field".into(),
        &e.field.map_or(JsValue::NULL, |f| f.into()),
    );
    err.into()
}

pub fn arg_error(field: &str, message: impl Into<String>) -> JsValue {
    error(Error::at(Code::InvalidArgument, field, message))
}

/// `typeof v` in words, for messages ("a number", "null", "an object"). Only `typeof` is used:
/// it cannot throw, where `Array.isArray` throws on a revoked Proxy.
pub fn kind_of(v: &JsValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v.js_typeof().as_string().as_deref() {
        Some("object") => "an object".into(),
        Some("undefined") => "undefined".into(),
        Some(t) => format!("a {t}"),
        None => "a value".into(),
    }
}

/// A JSON document from the wrapper (`JSON.stringify` output). A lone surrogate (text that is not
/// well-formed Unicode) is refused here: it would otherwise become U+FFFD and let two different
/// ids collide.
pub fn document(v: &JsValue, code: Code, what: &str) -> Result<Value, JsValue> {
    let text = v.as_string().ok_or_else(|| {
        error(Error::new(
            code,
            format!(
                "{what} must reach the engine as JSON text (the pricelet wrapper sends it so), not {}",
                kind_of(v)
            ),
        ))
    })?;
    document_text(&text, code, what)
}

/// [`document`] of text already taken from JS.
pub fn document_text(text: &str, code: Code, what: &str) -> Result<Value, JsValue> {
    pricelet::limits::check_count("input", text.len(), pricelet::limits::MAX_INPUT_CHARS * 3)
        .map_err(error)?;
    serde_json::from_str(text).map_err(|e| {
        let why = e.to_string();
        let message = if why.contains("surrogate") || why.contains("hex escape") {
            format!("{what} holds text that is not well-formed Unicode (a lone surrogate such as '\\ud800'); ids and names must be well-formed strings")
        } else {
            format!("{what} is not plain JSON data ({why})")
        };
        error(Error::new(code, message))
    })
}

/// A document that may be absent (`null`/`undefined`, or the JSON text `null`).
pub fn optional_document(v: &JsValue, code: Code, what: &str) -> Result<Option<Value>, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    document(v, code, what).map(|d| Some(d).filter(|d| !d.is_null()))
}

/// A string argument.
pub fn text(v: &JsValue, field: &str) -> Result<String, JsValue> {
    v.as_string().ok_or_else(|| {
        arg_error(
            field,
            format!("`{field}` must be a string, not {}", kind_of(v)),
        )
    })
}

/// An id argument: a string, or a whole number (items may have numeric ids, which become their
/// decimal text, so `explain(item.id)` works for both).
pub fn id(v: &JsValue, field: &str) -> Result<String, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    match v.as_f64() {
        Some(x)
            if x.is_finite()
                && x.fract() == 0.0
                && x.abs() <= pricelet::time::MAX_SAFE_INTEGER as f64 =>
        {
            Ok(format!("{}", x as i64))
        }
        _ => Err(arg_error(
            field,
            format!(
                "`{field}` must be a string (or a whole-number id), not {}",
                kind_of(v)
            ),
        )),
    }
}

pub fn boolean(v: &JsValue, field: &str) -> Result<bool, JsValue> {
    v.as_bool().ok_or_else(|| {
        arg_error(
            field,
            format!("`{field}` must be true or false, not {}", kind_of(v)),
        )
    })
}

/// Bytes (a `Uint8Array`), or None for `null`/`undefined`.
pub fn bytes(v: &JsValue, field: &str) -> Result<Option<Vec<u8>>, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    // The wrapper passes a plain Uint8Array view (a subclass could override `length`).
    let array = v.dyn_ref::<Uint8Array>().ok_or_else(|| {
        arg_error(
            field,
            format!("`{field}` must be a Uint8Array, not {}", kind_of(v)),
        )
    })?;
    let n = array.length() as usize;
    pricelet::limits::check_count(field, n, pricelet::limits::MAX_MODEL_BYTES).map_err(error)?;
    Ok(Some(array.to_vec()))
}

/// `obj[key]`, through the catching `Reflect.get` (a throwing getter is an error, not an unwind).
pub fn get(obj: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    if !obj.is_object() {
        return Ok(JsValue::UNDEFINED);
    }
    Reflect::get(obj, &key.into())
        .map_err(|e| arg_error(key, format!("reading `{key}` threw: {}", message_of(&e))))
}

/// The message of a thrown JS value (its `message` string, or the value if it is a string), read
/// through the catching `Reflect.get`: a thrown object's own getters may throw too.
pub fn message_of(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.is_object()
                .then(|| Reflect::get(e, &"message".into()).ok())
                .flatten()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{} was thrown", kind_of(e)))
}

/// A result as JSON text (the wrapper parses it, so every call returns fresh objects).
pub fn json<T: Serialize + ?Sized>(v: &T) -> JsValue {
    JsValue::from_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

/// A JS value that should be a number (e.g. what `now()` returned), as JSON for the core's checks:
/// numbers stay numbers (NaN and ±Infinity become text, which the checks refuse by name).
pub fn number(v: &JsValue) -> Value {
    if let Some(x) = v.as_f64() {
        return serde_json::Number::from_f64(x)
            .map_or_else(|| Value::String(x.to_string()), Value::Number);
    }
    if let Some(s) = v.as_string() {
        return Value::String(s);
    }
    match v.as_bool() {
        Some(b) => Value::Bool(b),
        None if v.is_null() || v.is_undefined() => Value::Null,
        None => Value::Object(Default::default()),
    }
}
