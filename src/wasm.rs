//! The only Rust file that knows JavaScript exists: a thin wasm-bindgen boundary over the core.
//! Values cross as plain JS objects (serde-wasm-bindgen, JSON-compatible), errors as `Error` objects
//! with `code` and `field`. Time comes from `Date.now()` (or an injected clock), randomness from
//! `crypto.getRandomValues` (getrandom's wasm_js backend), browser storage from `localStorage`
//! (web-sys), and the privacy signal from `navigator.globalPrivacyControl`.

use crate::aggregate::{add_report, readout, Expected, Tally};
use crate::error::{Code, Error};
use crate::features::Clock;
use crate::item::Item;
use crate::ldp::{OsRandom, Report};
use crate::model::{check_integrity, integrity_of, ModelKind};
use crate::policy::Policy;
use crate::pricer::{self, Consent, EdgeRequest, ModelSlot, Persistence, Pricer, PricerConfig};
use crate::quote::{checkout_of, verify_quote, Quote, VerifyOptions};
use js_sys::{Function, Reflect};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
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

const DEFAULT_STORAGE_KEY: &str = "pricelet:behaviour";

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

/// The message of a thrown JS value (an Error's message, or the value as text).
fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "a non-Error value".into())
}

fn arg_error(field: &str, message: impl Into<String>) -> JsValue {
    js_error(Error::at(Code::InvalidArgument, field, message))
}

fn to_js<T: Serialize + ?Sized>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

fn from_js(v: JsValue, code: Code, what: &str) -> Result<Value, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| {
        js_error(Error::new(
            code,
            format!("{what} is not plain JSON data: {e}"),
        ))
    })
}

fn storage_key(options: &JsValue) -> String {
    get(options, "storageKey")
        .as_string()
        .unwrap_or_else(|| DEFAULT_STORAGE_KEY.into())
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn parse_policy(policy: JsValue) -> Result<Policy, JsValue> {
    if policy.is_null() || policy.is_undefined() {
        return Ok(Policy::default_policy());
    }
    if let Some(text) = policy.as_string() {
        return Policy::from_json_str(&text).map_err(js_error);
    }
    Policy::from_json(&from_js(policy, Code::InvalidPolicy, "the policy")?).map_err(js_error)
}

/// `navigator.globalPrivacyControl === true` (web-sys has no binding for it yet).
fn global_privacy_control() -> bool {
    let navigator = get(&js_sys::global().into(), "navigator");
    get(&navigator, "globalPrivacyControl").as_bool() == Some(true)
}

/// Where the state goes: the browser's localStorage, or a JS `{ load, save }` adapter.
enum Store {
    Local {
        storage: web_sys::Storage,
        key: String,
    },
    Adapter(JsValue),
}

impl Store {
    fn load(&self) -> Result<Option<String>, String> {
        match self {
            Store::Local { storage, key } => storage
                .get_item(key)
                .map_err(|e| format!("localStorage.getItem failed: {}", js_message(&e))),
            Store::Adapter(obj) => {
                let f: Function = get(obj, "load")
                    .dyn_into()
                    .map_err(|_| "storage adapter has no load() function".to_string())?;
                let v = f
                    .call0(obj)
                    .map_err(|e| format!("storage.load() threw: {}", js_message(&e)))?;
                Ok(v.as_string())
            }
        }
    }

    fn save(&self, state: Option<&str>) -> Result<(), String> {
        match (self, state) {
            (Store::Local { storage, key }, Some(s)) => storage
                .set_item(key, s)
                .map_err(|e| format!("localStorage.setItem failed (quota?): {}", js_message(&e))),
            (Store::Local { storage, key }, None) => storage
                .remove_item(key)
                .map_err(|e| format!("localStorage.removeItem failed: {}", js_message(&e))),
            (Store::Adapter(obj), s) => {
                let f: Function = get(obj, "save")
                    .dyn_into()
                    .map_err(|_| "storage adapter has no save() function".to_string())?;
                f.call1(obj, &s.map_or(JsValue::NULL, JsValue::from))
                    .map(|_| ())
                    .map_err(|e| format!("storage.save() threw: {}", js_message(&e)))
            }
        }
    }
}

/// One shopper's pricer, as the JS wrapper sees it.
#[wasm_bindgen]
pub struct WasmPricer {
    core: Pricer,
    /// The storage used with consent `granted`.
    persistent: Option<Store>,
    /// The page-session memory used with consent `unknown` (a JS adapter, so it survives an engine reset).
    session: Option<Store>,
    now: Option<Function>,
    utc_offset_minutes: Option<i32>,
    storage_note: Option<String>,
}

#[wasm_bindgen]
impl WasmPricer {
    /// `options`: { consent, respectGlobalPrivacyControl, anonId, stabilityTtlMs, storage: 'local' |
    /// 'memory' | { load, save }, sessionStorage: { load, save }, storageKey, now, utcOffsetMinutes,
    /// modelError, upliftModelError }.
    #[wasm_bindgen(constructor)]
    pub fn new(
        policy: JsValue,
        model: Option<Vec<u8>>,
        uplift_model: Option<Vec<u8>>,
        options: JsValue,
    ) -> Result<WasmPricer, JsValue> {
        let policy = parse_policy(policy)?;
        let consent = match get(&options, "consent").as_string() {
            Some(s) => Consent::parse(&s).map_err(js_error)?,
            None if get(&options, "consent").is_undefined() => Consent::Unknown,
            None => {
                return Err(arg_error(
                    "consent",
                    "consent must be 'granted', 'denied' or 'unknown'",
                ))
            }
        };
        let respect_gpc = get(&options, "respectGlobalPrivacyControl")
            .as_bool()
            .unwrap_or(true);
        let anon_id = get(&options, "anonId").as_string();
        let stability_ttl_ms = get(&options, "stabilityTtlMs").as_f64().map(|v| v as i64);
        let now = get(&options, "now").dyn_into::<Function>().ok();
        let utc_offset_minutes = get(&options, "utcOffsetMinutes").as_f64().map(|v| v as i32);
        let mut storage_note = None;
        let storage_opt = get(&options, "storage");
        let local = || web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        let persistent = match storage_opt.as_string().as_deref() {
            _ if storage_opt.is_undefined() => local().map(|storage| Store::Local {
                storage,
                key: storage_key(&options),
            }),
            Some("local") => match local() {
                Some(storage) => Some(Store::Local {
                    storage,
                    key: storage_key(&options),
                }),
                None => {
                    storage_note = Some(
                        "localStorage is not available here; behaviour is kept in memory only"
                            .to_string(),
                    );
                    None
                }
            },
            Some("memory") => None,
            _ if storage_opt.is_object() => Some(Store::Adapter(storage_opt)),
            _ => {
                return Err(arg_error(
                    "storage",
                    "storage must be 'local', 'memory' or an object with load() and save()",
                ))
            }
        };
        let session = Some(get(&options, "sessionStorage"))
            .filter(|v| v.is_object())
            .map(Store::Adapter);
        let config = PricerConfig {
            consent,
            gpc_opt_out: respect_gpc && global_privacy_control(),
            anon_id,
            stability_ttl_ms,
        };
        let slot = |bytes: Option<Vec<u8>>, err: JsValue, kind| match (bytes, err.as_string()) {
            (_, Some(why)) => ModelSlot::Unavailable(why),
            (b, None) => ModelSlot::load(b.as_deref(), kind),
        };
        let interest = slot(model, get(&options, "modelError"), ModelKind::Interest);
        let uplift = slot(
            uplift_model,
            get(&options, "upliftModelError"),
            ModelKind::Uplift,
        );
        let mut this = WasmPricer {
            core: Pricer::new(policy, interest, uplift, None, config, 0).map_err(js_error)?,
            persistent,
            session,
            now,
            utc_offset_minutes,
            storage_note,
        };
        this.load_from_store()?;
        Ok(this)
    }

    fn clock(&self) -> Clock {
        let now_ms = match &self.now {
            Some(f) => f
                .call0(&JsValue::NULL)
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or_else(js_sys::Date::now),
            None => js_sys::Date::now(),
        } as i64;
        let utc_offset_minutes = self.utc_offset_minutes.unwrap_or_else(|| {
            -(js_sys::Date::new(&JsValue::from_f64(now_ms as f64)).get_timezone_offset() as i32)
        });
        Clock {
            now_ms,
            utc_offset_minutes,
        }
    }

    fn active_store(&self) -> Option<&Store> {
        match self.core.persistence() {
            Persistence::Storage => self.persistent.as_ref(),
            Persistence::Memory => self.session.as_ref(),
            Persistence::None => None,
        }
    }

    fn load_from_store(&mut self) -> Result<(), JsValue> {
        let clock = self.clock();
        if self.core.persistence() == Persistence::None {
            // Nothing may be kept: erase what an earlier visit stored.
            if let Some(s) = &self.persistent {
                let _ = s.save(None);
            }
            self.core.load_state(None, clock.now_ms);
            return Ok(());
        }
        let state = match self.active_store().map(Store::load).transpose() {
            Ok(s) => s.flatten(),
            Err(why) => {
                self.storage_note = Some(why);
                None
            }
        };
        self.core.load_state(state.as_deref(), clock.now_ms);
        // Storage must hold what the engine uses: an unusable state is removed at once and a
        // repaired one rewritten, so exportData() never shows bytes the engine threw away.
        match self.core.load_report().outcome {
            "discarded" => {
                if let Some(Err(why)) = self.active_store().map(|s| s.save(None)) {
                    self.storage_note = Some(why);
                }
            }
            "repaired" => {
                self.persist();
            }
            _ => {}
        }
        Ok(())
    }

    fn persist(&mut self) -> bool {
        let state = self.core.state_to_save();
        match self.active_store().map(|s| s.save(state.as_deref())) {
            Some(Err(why)) => {
                self.storage_note = Some(why);
                false
            }
            Some(Ok(())) => true,
            None => false,
        }
    }

    #[wasm_bindgen(js_name = priceFor)]
    pub fn price_for(&mut self, item: JsValue) -> Result<JsValue, JsValue> {
        let item = from_js(item, Code::InvalidItem, "the item")?;
        let clock = self.clock();
        self.core
            .price_for(&item, &clock)
            .map(|q| to_js(&q))
            .map_err(js_error)
    }

    #[wasm_bindgen(js_name = pricesFor)]
    pub fn prices_for(&mut self, items: JsValue) -> Result<JsValue, JsValue> {
        let Value::Array(items) = from_js(items, Code::InvalidItem, "the items")? else {
            return Err(js_error(Error::at(
                Code::InvalidItem,
                "items",
                "pricesFor takes an array of items",
            )));
        };
        let clock = self.clock();
        self.core
            .prices_for(&items, &clock)
            .map(|q| to_js(&q))
            .map_err(js_error)
    }

    pub fn track(&mut self, event: JsValue) -> Result<JsValue, JsValue> {
        let event = from_js(event, Code::InvalidEvent, "the event")?;
        let clock = self.clock();
        let outcome = self.core.track(&event, &clock).map_err(js_error)?;
        let persisted = outcome.stored && self.persist();
        let v = to_js(&outcome);
        let _ = Reflect::set(&v, &"persisted".into(), &persisted.into());
        Ok(v)
    }

    pub fn explain(&self, item_id: String) -> Result<JsValue, JsValue> {
        self.core
            .explain(&item_id)
            .map(|v| to_js(&v))
            .map_err(js_error)
    }

    /// Deletes all stored behaviour and the anonymous id, everywhere it was kept.
    pub fn forget(&mut self) -> Result<(), JsValue> {
        self.core.forget().map_err(js_error)?;
        for s in [&self.persistent, &self.session].into_iter().flatten() {
            let _ = s.save(None);
        }
        Ok(())
    }

    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&mut self, consent: String) -> Result<(), JsValue> {
        let before = self.core.persistence();
        self.core
            .set_consent(Consent::parse(&consent).map_err(js_error)?);
        let after = self.core.persistence();
        if after != before {
            // Move the log where it now belongs and erase it from where it no longer may be.
            for (store, keep) in [
                (&self.persistent, after == Persistence::Storage),
                (&self.session, after == Persistence::Memory),
            ] {
                if let (Some(s), false) = (store, keep) {
                    let _ = s.save(None);
                }
            }
            self.persist();
        }
        Ok(())
    }

    /// Re-reads the stored state (another tab wrote it: the `storage` event).
    #[wasm_bindgen(js_name = reloadState)]
    pub fn reload_state(&mut self) -> Result<(), JsValue> {
        self.load_from_store()
    }

    #[wasm_bindgen(js_name = exportData)]
    /// Everything stored about the shopper, read back from where it is stored (localStorage, the
    /// adapter, or this page's memory) — not what the engine would write.
    pub fn export_data(&self) -> JsValue {
        let mut v = self.core.export_data();
        let stored = self.active_store().and_then(|s| s.load().ok().flatten());
        v["storedBytes"] = Value::from(stored.as_ref().map_or(0, String::len));
        v["state"] = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        if v["state"].is_null() {
            v["anonId"] = Value::Null;
        }
        to_js(&v)
    }

    #[wasm_bindgen(getter)]
    pub fn status(&self) -> JsValue {
        let mut v = self.core.status();
        if let Some(note) = &self.storage_note {
            v["storage"] = Value::String(note.clone());
        }
        // Linear memory never shrinks, so this is the instance's high-water mark (for soak checks
        // and for apps that watch their memory).
        v["wasmMemoryBytes"] = Value::from(core::arch::wasm32::memory_size(0) * 65536);
        to_js(&v)
    }

    #[wasm_bindgen(getter)]
    pub fn policy(&self) -> JsValue {
        to_js(&self.core.policy().to_json())
    }

    /// A local-DP measurement report for a quote that was shown (`converted`: it was bought at that
    /// quote), randomized here with the policy's ε within the day's budget; or why there is none.
    /// pricelet sends nothing: the host decides whether and where the report goes.
    pub fn report(&mut self, quote: JsValue, converted: bool) -> Result<JsValue, JsValue> {
        let quote: Quote = serde_json::from_value(from_js(quote, Code::InvalidQuote, "the quote")?)
            .map_err(|e| {
                js_error(Error::new(
                    Code::InvalidQuote,
                    format!("not a pricelet quote ({e}); pass a quote that priceFor returned"),
                ))
            })?;
        let clock = self.clock();
        let mut rng = OsRandom::new().map_err(js_error)?;
        let outcome = self
            .core
            .report(&quote, converted, &clock, &mut rng)
            .map_err(js_error)?;
        if outcome.report.is_some() {
            // The day's privacy spend is part of the stored state.
            self.persist();
        }
        Ok(to_js(&outcome))
    }

    #[wasm_bindgen(js_name = edgeRequest)]
    pub fn edge_request(&mut self, items: JsValue) -> Result<JsValue, JsValue> {
        let Value::Array(items) = from_js(items, Code::InvalidItem, "the items")? else {
            return Err(js_error(Error::at(
                Code::InvalidItem,
                "items",
                "edgeRequest takes an array of items",
            )));
        };
        let clock = self.clock();
        self.core
            .edge_request(&items, &clock)
            .map(|v| to_js(&v))
            .map_err(js_error)
    }

    #[wasm_bindgen(js_name = priceFromFeatures)]
    pub fn price_from_features(&mut self, request: JsValue) -> Result<JsValue, JsValue> {
        let request =
            EdgeRequest::from_json(&from_js(request, Code::InvalidArgument, "the request")?)
                .map_err(js_error)?;
        let clock = self.clock();
        self.core
            .price_from_features(&request, &clock)
            .map(|v| to_js(&v))
            .map_err(js_error)
    }

    /// A list-price quote with a reason (the wrapper's answer right after an engine reset).
    #[wasm_bindgen(js_name = listQuoteWithReason)]
    pub fn list_quote_with_reason(
        &self,
        item: JsValue,
        reason: String,
    ) -> Result<JsValue, JsValue> {
        let item =
            Item::from_json(&from_js(item, Code::InvalidItem, "the item")?).map_err(js_error)?;
        Ok(to_js(&self.core.list_quote(&item, &self.clock(), &reason)))
    }
}

fn reporting_setup(policy: JsValue) -> Result<Expected, JsValue> {
    let policy = parse_policy(policy)?;
    Expected::from_policy(&policy)
        .map_err(|m| js_error(Error::at(Code::InvalidPolicy, "reporting", m)))
}

fn tally_of(tally: JsValue, expected: &Expected) -> Result<Tally, JsValue> {
    let size = expected.domain.size();
    if tally.is_null() || tally.is_undefined() {
        return Ok(Tally::new(size));
    }
    let t: Tally = serde_json::from_value(from_js(tally, Code::InvalidReport, "the tally")?)
        .map_err(|e| js_error(Error::at(Code::InvalidReport, "tally", format!("not a report tally ({e}); pass what tallyReports returned, or null to start one"))))?;
    if !t.fits(size) {
        return Err(js_error(Error::at(Code::InvalidReport, "tally", format!("the tally does not fit the policy's reporting domain ({size} cells), or its counts are impossible (edited?): pass null to start a new tally"))));
    }
    Ok(t)
}

/// Adds measurement reports to a running tally (`null` starts one), all or nothing: a report not
/// made under the policy's reporting setup is refused with its index.
#[wasm_bindgen(js_name = tallyReports)]
pub fn tally_reports(
    reports: JsValue,
    tally: JsValue,
    policy: JsValue,
) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(policy)?;
    let mut next = tally_of(tally, &expected)?;
    let Value::Array(list) = from_js(reports, Code::InvalidReport, "the reports")? else {
        return Err(js_error(Error::at(
            Code::InvalidReport,
            "reports",
            "tallyReports takes an array of reports",
        )));
    };
    crate::limits::check_count("reports", list.len(), crate::limits::MAX_ITEMS_PER_BATCH)
        .map_err(js_error)?;
    for (i, v) in list.into_iter().enumerate() {
        let field = format!("reports[{i}]");
        let r: Report = serde_json::from_value(v).map_err(|e| {
            js_error(Error::at(Code::InvalidReport, &field, format!("{field} is not a measurement report ({e}); a report has exactly day, mechanism, epsilon, domain, domainVersion and bits or value")))
        })?;
        add_report(&mut next, &r, &expected).map_err(|m| {
            js_error(Error::at(
                Code::InvalidReport,
                &field,
                format!("{field}: {m}"),
            ))
        })?;
    }
    Ok(to_js(&next))
}

/// The de-biased read-out of a tally: conversion by arm, step and segment with intervals that
/// include the privacy noise, the A/B difference and the refitted β.
#[wasm_bindgen(js_name = estimates)]
pub fn estimates_js(tally: JsValue, policy: JsValue) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(policy)?;
    let t = tally_of(tally, &expected)?;
    if t.n == 0 {
        return Err(js_error(Error::at(
            Code::InvalidReport,
            "tally",
            "no reports yet: estimates need at least one report",
        )));
    }
    Ok(to_js(&readout(&t, &expected)))
}

/// Checks a quote (or its checkout payload) against the server's own item. `options`: { now,
/// quantity, keys: { [keyId]: secret } }.
#[wasm_bindgen(js_name = verifyQuote)]
pub fn verify_quote_js(
    quote: JsValue,
    item: JsValue,
    policy: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let quote = from_js(quote, Code::InvalidQuote, "the quote")?;
    let item = Item::from_json(&from_js(item, Code::InvalidItem, "the item")?).map_err(js_error)?;
    let policy = parse_policy(policy)?;
    let mut keys = BTreeMap::new();
    let keys_js = get(&options, "keys");
    if keys_js.is_object() {
        for entry in js_sys::Object::entries(keys_js.unchecked_ref()).iter() {
            let pair: js_sys::Array = entry.unchecked_into();
            let (Some(id), Some(secret)) = (pair.get(0).as_string(), pair.get(1).as_string())
            else {
                return Err(arg_error("keys", "keys must map key ids to secret strings"));
            };
            keys.insert(id, secret.into_bytes());
        }
    }
    let now_ms = get(&options, "now")
        .as_f64()
        .unwrap_or_else(js_sys::Date::now) as i64;
    let quantity = get(&options, "quantity")
        .as_f64()
        .map(|q| q.clamp(0.0, f64::from(u32::MAX)) as u32);
    Ok(to_js(&verify_quote(
        &quote,
        &item,
        &policy,
        &VerifyOptions {
            now_ms,
            quantity,
            keys,
        },
    )))
}

#[wasm_bindgen(js_name = toCheckout)]
pub fn to_checkout(quote: JsValue) -> Result<JsValue, JsValue> {
    Ok(to_js(&checkout_of(&from_js(
        quote,
        Code::InvalidQuote,
        "the quote",
    )?)))
}

/// Signs a quote for edge mode: sets `keyId` and `sig` (HMAC-SHA256 over its JCS checkout fields).
#[wasm_bindgen(js_name = signQuote)]
pub fn sign_quote(quote: JsValue, key_id: String, key: String) -> Result<JsValue, JsValue> {
    let q: Quote = serde_json::from_value(from_js(quote, Code::InvalidQuote, "the quote")?)
        .map_err(|e| {
            js_error(Error::new(
                Code::InvalidQuote,
                format!("not a pricelet quote: {e}"),
            ))
        })?;
    q.sign(&key_id, key.as_bytes())
        .map(|q| to_js(&q))
        .map_err(js_error)
}

#[wasm_bindgen(js_name = listQuote)]
pub fn list_quote(item: JsValue, policy: JsValue, now: Option<f64>) -> Result<JsValue, JsValue> {
    let item = Item::from_json(&from_js(item, Code::InvalidItem, "the item")?).map_err(js_error)?;
    let policy = parse_policy(policy)?;
    Ok(to_js(&pricer::list_quote(
        &item,
        &policy,
        None,
        now.unwrap_or_else(js_sys::Date::now) as i64,
        "list",
    )))
}

#[wasm_bindgen(js_name = integrityOf)]
pub fn integrity_of_js(bytes: Vec<u8>) -> String {
    integrity_of(&bytes)
}

#[wasm_bindgen(js_name = checkIntegrity)]
pub fn check_integrity_js(bytes: Vec<u8>, expected: String, what: String) -> Result<(), JsValue> {
    check_integrity(&bytes, &expected, &what).map_err(js_error)
}

#[wasm_bindgen(js_name = validatePolicy)]
pub fn validate_policy(policy: JsValue) -> Result<JsValue, JsValue> {
    Ok(to_js(&parse_policy(policy)?.to_json()))
}

/// Executes `unreachable`: the test hook for the engine-reset path (a trap kills the instance).
#[wasm_bindgen(js_name = __forceTrap)]
pub fn force_trap() {
    core::arch::wasm32::unreachable()
}
