//! Where a pricer's state goes: the browser's `localStorage`, or a JS `{ load, save }` adapter. Every
//! call into JS goes through wasm-bindgen's catching imports; the adapter contract (synchronous,
//! a string or null) is enforced here.

use crate::convert::{self, get};
use js_sys::Function;
use pricelet::pricer::Persistence;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Where the state goes: the browser's localStorage, or a JS `{ load, save }` adapter.
pub enum Store {
    Local {
        storage: web_sys::Storage,
        key: String,
    },
    Adapter(JsValue),
}

/// Why a stored state could not be read.
pub enum LoadError {
    /// The read failed (a transient error, a quota, a throwing adapter).
    Failed(String),
    /// The adapter breaks its contract: `load()` must return a string or null, synchronously.
    Contract(String),
}

/// Why a state could not be written (or removed).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("localStorage.setItem failed (quota?): {0}")]
    SetItem(String),
    #[error("localStorage.removeItem failed: {0}")]
    RemoveItem(String),
    #[error("the storage adapter has no save() function")]
    NoSave,
    #[error("storage.save() threw: {0}")]
    Threw(String),
}

impl LoadError {
    pub fn message(&self) -> &str {
        match self {
            LoadError::Failed(m) | LoadError::Contract(m) => m,
        }
    }
}

impl Store {
    pub fn load(&self) -> Result<Option<String>, LoadError> {
        match self {
            Store::Local { storage, key } => storage.get_item(key).map_err(|e| {
                LoadError::Failed(format!(
                    "localStorage.getItem failed: {}",
                    convert::message_of(&e)
                ))
            }),
            Store::Adapter(obj) => {
                let f: Function = get(obj, "load")
                    .ok()
                    .and_then(|f| f.dyn_into().ok())
                    .ok_or_else(|| {
                        LoadError::Contract("the storage adapter has no load() function".into())
                    })?;
                let v = f.call0(obj).map_err(|e| {
                    LoadError::Failed(format!("storage.load() threw: {}", convert::message_of(&e)))
                })?;
                if v.is_null() || v.is_undefined() {
                    return Ok(None);
                }
                v.as_string().map(Some).ok_or_else(|| {
                    let what = if v.has_type::<js_sys::Promise>() {
                        "a Promise: adapters are synchronous (read the state before createPricer and serve it from memory)".to_string()
                    } else {
                        format!("{} instead of the string save() was given", convert::kind_of(&v))
                    };
                    LoadError::Contract(format!("storage.load() returned {what}"))
                })
            }
        }
    }

    pub fn save(&self, state: Option<&str>) -> Result<(), SaveError> {
        match (self, state) {
            (Store::Local { storage, key }, Some(s)) => storage
                .set_item(key, s)
                .map_err(|e| SaveError::SetItem(convert::message_of(&e))),
            (Store::Local { storage, key }, None) => storage
                .remove_item(key)
                .map_err(|e| SaveError::RemoveItem(convert::message_of(&e))),
            (Store::Adapter(obj), s) => {
                let f: Function = get(obj, "save")
                    .ok()
                    .and_then(|f| f.dyn_into().ok())
                    .ok_or(SaveError::NoSave)?;
                f.call1(obj, &s.map_or(JsValue::NULL, JsValue::from))
                    .map(|_| ())
                    .map_err(|e| SaveError::Threw(convert::message_of(&e)))
            }
        }
    }
}

/// The store a persistence level writes to.
pub fn store_for<'a>(
    persistence: Persistence,
    persistent: &'a Option<Store>,
    session: &'a Option<Store>,
) -> Option<&'a Store> {
    match persistence {
        Persistence::Storage => persistent.as_ref(),
        Persistence::Memory => session.as_ref(),
        Persistence::None => None,
    }
}
