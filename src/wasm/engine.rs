//! The engine's wasm-bindgen exports: a thin boundary over the core. Arguments and results cross
//! as described in `convert.rs`; time comes from `Date.now()` (or an injected clock), randomness
//! from `crypto.getRandomValues` (getrandom's wasm_js backend), browser storage from
//! `localStorage` (web-sys), and the privacy signal from `navigator.globalPrivacyControl`.

use super::convert::{self, arg_error, error, get};
use super::parse_policy;
use crate::aggregate::{add_report, readout, Expected, Tally};
use crate::error::{Code, Error};
use crate::features::Clock;
use crate::item::Item;
use crate::ldp::{OsRandom, Report};
use crate::model::{check_integrity, integrity_of, ModelKind};
use crate::pricer::{Consent, EdgeRequest, ModelSlot, Persistence, Pricer, PricerConfig};
use crate::quote::{checkout_of, signing_keys, verify_quote, Quantity, Quote, VerifyOptions};
use js_sys::Function;
use serde::Deserialize;
use serde_json::Value;
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

/// `navigator.globalPrivacyControl === true` (web-sys has no binding for it yet).
fn global_privacy_control() -> bool {
    let navigator = get(&js_sys::global().into(), "navigator").unwrap_or(JsValue::UNDEFINED);
    get(&navigator, "globalPrivacyControl")
        .ok()
        .and_then(|v| v.as_bool())
        == Some(true)
}

/// Where the state goes: the browser's localStorage, or a JS `{ load, save }` adapter.
enum Store {
    Local {
        storage: web_sys::Storage,
        key: String,
    },
    Adapter(JsValue),
}

/// Why a stored state could not be read.
enum LoadError {
    /// The read failed (a transient error, a quota, a throwing adapter).
    Failed(String),
    /// The adapter breaks its contract: `load()` must return a string or null, synchronously.
    Contract(String),
}

impl LoadError {
    fn message(&self) -> &str {
        match self {
            LoadError::Failed(m) | LoadError::Contract(m) => m,
        }
    }
}

impl Store {
    fn load(&self) -> Result<Option<String>, LoadError> {
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

    fn save(&self, state: Option<&str>) -> Result<(), String> {
        match (self, state) {
            (Store::Local { storage, key }, Some(s)) => storage.set_item(key, s).map_err(|e| {
                format!(
                    "localStorage.setItem failed (quota?): {}",
                    convert::message_of(&e)
                )
            }),
            (Store::Local { storage, key }, None) => storage.remove_item(key).map_err(|e| {
                format!(
                    "localStorage.removeItem failed: {}",
                    convert::message_of(&e)
                )
            }),
            (Store::Adapter(obj), s) => {
                let f: Function = get(obj, "save")
                    .ok()
                    .and_then(|f| f.dyn_into().ok())
                    .ok_or("the storage adapter has no save() function")?;
                f.call1(obj, &s.map_or(JsValue::NULL, JsValue::from))
                    .map(|_| ())
                    .map_err(|e| format!("storage.save() threw: {}", convert::message_of(&e)))
            }
        }
    }
}

/// The store a persistence level writes to.
fn store_for<'a>(
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

/// The data part of `createPricer`'s options, as the wrapper serializes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    respect_global_privacy_control: Option<bool>,
    #[serde(default)]
    anon_id: Option<String>,
    #[serde(default)]
    stability_ttl_ms: Option<Value>,
    #[serde(default)]
    utc_offset_minutes: Option<Value>,
    /// `local` (localStorage, the default where there is one) or `adapter` (`hooks.storage`).
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    storage_key: Option<String>,
    #[serde(default)]
    model_error: Option<String>,
    #[serde(default)]
    uplift_model_error: Option<String>,
}

/// The longest stability TTL a test may inject (a year).
const MAX_STABILITY_TTL_MS: i64 = 365 * 24 * 3_600_000;

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
    /// Why storage is not used as asked (no localStorage here), for `status.storage`.
    storage_note: Option<String>,
    /// The last storage failure, cleared when storage works again (`status.storage`).
    storage_error: Option<String>,
}

#[wasm_bindgen]
impl WasmPricer {
    /// `policy`: JSON text or null; `model`, `uplift_model`: Uint8Array or null; `options`: JSON
    /// text of [`Options`]; `hooks`: `{ storage?, sessionStorage?: { load, save }, now?: () => ms }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        policy: JsValue,
        model: JsValue,
        uplift_model: JsValue,
        options: JsValue,
        hooks: JsValue,
    ) -> Result<WasmPricer, JsValue> {
        let policy = parse_policy(&policy)?;
        let model = convert::bytes(&model, "model")?;
        let uplift_model = convert::bytes(&uplift_model, "upliftModel")?;
        let options: Options =
            match convert::optional_document(&options, Code::InvalidArgument, "the options")? {
                None => serde_json::from_value(Value::Object(Default::default()))
                    .map_err(|e| arg_error("options", e.to_string()))?,
                Some(v) => serde_path_to_error::deserialize(v).map_err(|e| {
                    error(crate::error::from_serde_path(
                        Code::InvalidArgument,
                        "invalid createPricer option",
                        e,
                    ))
                })?,
            };
        let consent = match options.consent.as_deref() {
            None => Consent::Unknown,
            Some(s) => Consent::parse(s).map_err(error)?,
        };
        let stability_ttl_ms = options
            .stability_ttl_ms
            .as_ref()
            .map(|v| crate::time::duration_ms(v, "stabilityTtlMs", MAX_STABILITY_TTL_MS))
            .transpose()
            .map_err(error)?;
        let utc_offset_minutes = options
            .utc_offset_minutes
            .as_ref()
            .map(|v| crate::time::utc_offset_minutes(v, "utcOffsetMinutes"))
            .transpose()
            .map_err(error)?;
        let now = match get(&hooks, "now")? {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(v.dyn_into::<Function>().map_err(|v| {
                arg_error(
                    "now",
                    format!(
                        "`now` must be a function returning Date.now()-style milliseconds, not {}",
                        convert::kind_of(&v)
                    ),
                )
            })?),
        };
        let storage_key = options
            .storage_key
            .clone()
            .unwrap_or_else(|| DEFAULT_STORAGE_KEY.into());
        let mut storage_note = None;
        let local = || web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        let persistent = match options.storage.as_deref() {
            None | Some("local") => match local() {
                Some(storage) => Some(Store::Local {
                    storage,
                    key: storage_key,
                }),
                None => {
                    if options.storage.is_some() {
                        storage_note = Some(
                            "localStorage is not available here; behaviour is kept in memory only"
                                .to_string(),
                        );
                    }
                    None
                }
            },
            Some("adapter") => {
                let adapter = get(&hooks, "storage")?;
                if !adapter.is_object() {
                    return Err(arg_error(
                        "storage",
                        "storage must be 'local', 'memory' or an object with load() and save()",
                    ));
                }
                Some(Store::Adapter(adapter))
            }
            Some(_) => {
                return Err(arg_error(
                    "storage",
                    "storage must be 'local', 'memory' or an object with load() and save()",
                ))
            }
        };
        let session = Some(get(&hooks, "sessionStorage")?)
            .filter(|v| v.is_object())
            .map(Store::Adapter);
        let config = PricerConfig {
            consent,
            gpc_opt_out: options.respect_global_privacy_control.unwrap_or(true)
                && global_privacy_control(),
            anon_id: options.anon_id,
            stability_ttl_ms,
        };
        let slot = |bytes: Option<Vec<u8>>, err: Option<String>, kind| match (bytes, err) {
            (_, Some(why)) => ModelSlot::Unavailable(why),
            (b, None) => ModelSlot::load(b.as_deref(), kind),
        };
        let interest = slot(model, options.model_error, ModelKind::Interest);
        let uplift = slot(uplift_model, options.uplift_model_error, ModelKind::Uplift);
        let mut this = WasmPricer {
            core: Pricer::new(policy, interest, uplift, None, config, 0).map_err(error)?,
            persistent,
            session,
            now,
            utc_offset_minutes,
            storage_note,
            storage_error: None,
        };
        this.load_from_store(true)?;
        Ok(this)
    }

    /// The pricer's clock: the injected `now()` (checked) or `Date.now()`, and the UTC offset.
    fn clock(&self) -> Result<Clock, JsValue> {
        let now_ms = match &self.now {
            Some(f) => {
                let v = f.call0(&JsValue::NULL).map_err(|e| {
                    arg_error("now", format!("now() threw: {}", convert::message_of(&e)))
                })?;
                crate::time::epoch_ms(&convert::number(&v), "now").map_err(|_| {
                    let got = v.as_f64().map_or_else(|| convert::kind_of(&v), |x| x.to_string());
                    arg_error("now", format!("now() must return whole milliseconds since the epoch (like Date.now()); it returned {got}"))
                })?
            }
            None => js_sys::Date::now() as i64,
        };
        let utc_offset_minutes = self.utc_offset_minutes.unwrap_or_else(|| {
            -(js_sys::Date::new(&JsValue::from_f64(now_ms as f64)).get_timezone_offset() as i32)
        });
        Ok(Clock {
            now_ms,
            utc_offset_minutes,
        })
    }

    fn active_store(&self) -> Option<&Store> {
        store_for(self.core.persistence(), &self.persistent, &self.session)
    }

    /// Reads the stored state into the engine. `initial`: at construction, where an adapter that
    /// breaks its contract is an error; later (another tab wrote) a failure is only reported.
    fn load_from_store(&mut self, initial: bool) -> Result<(), JsValue> {
        let clock = self.clock()?;
        if self.core.persistence() == Persistence::None {
            // Nothing may be kept: erase what an earlier visit stored. (Later, when another tab
            // writes, that is its own new state, not this page's to erase.)
            if initial {
                if let Some(s) = &self.persistent {
                    let _ = s.save(None);
                }
                self.core.load_state(None, clock.now_ms);
            }
            return Ok(());
        }
        let state = match self.active_store().map(Store::load).transpose() {
            Ok(s) => {
                self.storage_error = None;
                s.flatten()
            }
            Err(LoadError::Contract(why)) if initial => return Err(arg_error("storage", why)),
            Err(e) => {
                // Never treat an unreadable store as empty: nothing is written until a read
                // succeeds, so what it holds is not overwritten.
                self.storage_error = Some(format!(
                    "{}; nothing is saved until storage can be read again, so what it holds is not overwritten",
                    e.message()
                ));
                if initial {
                    self.core.load_state(None, clock.now_ms);
                }
                return Ok(());
            }
        };
        if initial {
            self.core.load_state(state.as_deref(), clock.now_ms);
        } else {
            self.core.sync(state.as_deref(), clock.now_ms);
            return Ok(());
        }
        // Storage must hold what the engine uses: an unusable state is removed at once and a
        // repaired one rewritten, so exportData() never shows bytes the engine threw away.
        match self.core.load_report().outcome {
            "discarded" => {
                if let Some(Err(why)) = self.active_store().map(|s| s.save(None)) {
                    self.storage_error = Some(why);
                }
            }
            "repaired" => {
                self.persist(clock.now_ms);
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes the state: re-reads storage first and merges (another tab may have written or
    /// forgotten since), and writes nothing while storage cannot be read.
    fn persist(&mut self, now_ms: i64) -> bool {
        let Some(store) = store_for(self.core.persistence(), &self.persistent, &self.session)
        else {
            return false;
        };
        let stored = match store.load() {
            Ok(s) => s,
            Err(e) => {
                self.storage_error = Some(format!(
                    "{}; nothing is saved until storage can be read again, so what it holds is not overwritten",
                    e.message()
                ));
                return false;
            }
        };
        self.core.sync(stored.as_deref(), now_ms);
        let state = self.core.state_to_save();
        match store.save(state.as_deref()) {
            Ok(()) => {
                self.storage_error = None;
                self.core.saved(state);
                true
            }
            Err(why) => {
                self.storage_error = Some(why);
                false
            }
        }
    }

    #[wasm_bindgen(js_name = priceFor)]
    pub fn price_for(&mut self, item: JsValue) -> Result<JsValue, JsValue> {
        let item = convert::document(&item, Code::InvalidItem, "the item")?;
        let clock = self.clock()?;
        self.core
            .price_for(&item, &clock)
            .map(|q| convert::json(&q))
            .map_err(error)
    }

    #[wasm_bindgen(js_name = pricesFor)]
    pub fn prices_for(&mut self, items: JsValue) -> Result<JsValue, JsValue> {
        let items = batch(&items, "pricesFor")?;
        let clock = self.clock()?;
        self.core
            .prices_for(&items, &clock)
            .map(|q| convert::json(&q))
            .map_err(error)
    }

    pub fn track(&mut self, event: JsValue) -> Result<JsValue, JsValue> {
        let event = convert::document(&event, Code::InvalidEvent, "the event")?;
        let clock = self.clock()?;
        let outcome = self.core.track(&event, &clock).map_err(error)?;
        let persisted = outcome.stored && self.persist(clock.now_ms);
        let mut v = serde_json::to_value(&outcome).unwrap_or_default();
        v["persisted"] = Value::Bool(persisted);
        Ok(convert::json(&v))
    }

    pub fn explain(&self, item_id: JsValue) -> Result<JsValue, JsValue> {
        let item_id = convert::id(&item_id, "itemId")?;
        self.core
            .explain(&item_id)
            .map(|v| convert::json(&v))
            .map_err(error)
    }

    /// Deletes all stored behaviour and the anonymous id, everywhere it was kept.
    pub fn forget(&mut self) -> Result<(), JsValue> {
        self.core.forget().map_err(error)?;
        for s in [&self.persistent, &self.session].into_iter().flatten() {
            if let Err(why) = s.save(None) {
                self.storage_error = Some(why);
            }
        }
        Ok(())
    }

    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&mut self, consent: JsValue) -> Result<(), JsValue> {
        let consent = Consent::parse(&convert::text(&consent, "consent")?).map_err(error)?;
        let before = self.core.persistence();
        self.core.set_consent(consent);
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
            let now_ms = self.clock()?.now_ms;
            self.persist(now_ms);
        }
        Ok(())
    }

    /// Re-reads the stored state (another tab wrote it: the `storage` event).
    #[wasm_bindgen(js_name = reloadState)]
    pub fn reload_state(&mut self) -> Result<(), JsValue> {
        self.load_from_store(false)
    }

    /// Everything stored about the shopper, read back from where it is stored (localStorage, the
    /// adapter, or this page's memory) — not what the engine would write.
    #[wasm_bindgen(js_name = exportData)]
    pub fn export_data(&self) -> JsValue {
        let mut v = self.core.export_data();
        let stored = match self.active_store().map(Store::load).transpose() {
            Ok(s) => s.flatten(),
            Err(e) => {
                // Unreadable is not "nothing stored": say so.
                v["storageError"] = Value::String(e.message().to_string());
                None
            }
        };
        v["storedBytes"] = Value::from(stored.as_ref().map_or(0, String::len));
        v["state"] = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        if v["state"].is_null() {
            v["anonId"] = Value::Null;
        }
        convert::json(&v)
    }

    #[wasm_bindgen(getter)]
    pub fn status(&self) -> JsValue {
        let mut v = self.core.status();
        if let Some(note) = self.storage_error.as_ref().or(self.storage_note.as_ref()) {
            v["storage"] = Value::String(note.clone());
        }
        // Linear memory never shrinks, so this is the instance's high-water mark (for soak checks
        // and for apps that watch their memory).
        v["wasmMemoryBytes"] = Value::from(core::arch::wasm32::memory_size(0) * 65536);
        convert::json(&v)
    }

    #[wasm_bindgen(getter)]
    pub fn policy(&self) -> JsValue {
        convert::json(&self.core.policy().to_json())
    }

    /// A local-DP measurement report for a quote that was shown (`converted`: it was bought at that
    /// quote), randomized here with the policy's ε within the day's budget; or why there is none.
    /// pricelet sends nothing: the host decides whether and where the report goes.
    pub fn report(&mut self, quote: JsValue, converted: JsValue) -> Result<JsValue, JsValue> {
        let quote = parse_quote(&quote)?;
        let converted = convert::boolean(&converted, "converted")?;
        let clock = self.clock()?;
        let mut rng = OsRandom::new().map_err(error)?;
        let outcome = self
            .core
            .report(&quote, converted, &clock, &mut rng)
            .map_err(error)?;
        if outcome.report.is_some() {
            // The day's privacy spend is part of the stored state.
            self.persist(clock.now_ms);
        }
        Ok(convert::json(&outcome))
    }

    #[wasm_bindgen(js_name = edgeRequest)]
    pub fn edge_request(&mut self, items: JsValue) -> Result<JsValue, JsValue> {
        let items = batch(&items, "edgeRequest")?;
        let clock = self.clock()?;
        self.core
            .edge_request(&items, &clock)
            .map(|v| convert::json(&v))
            .map_err(error)
    }

    #[wasm_bindgen(js_name = priceFromFeatures)]
    pub fn price_from_features(&mut self, request: JsValue) -> Result<JsValue, JsValue> {
        let request = convert::document(&request, Code::InvalidArgument, "the request")?;
        let request = EdgeRequest::from_json(&request).map_err(error)?;
        let clock = self.clock()?;
        self.core
            .price_from_features(&request, &clock)
            .map(|v| convert::json(&v))
            .map_err(error)
    }

    /// A list-price quote with a reason (the wrapper's answer right after an engine reset).
    #[wasm_bindgen(js_name = listQuoteWithReason)]
    pub fn list_quote_with_reason(
        &self,
        item: JsValue,
        reason: JsValue,
    ) -> Result<JsValue, JsValue> {
        let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
            .map_err(error)?;
        let reason = convert::text(&reason, "reason")?;
        Ok(convert::json(&self.core.list_quote(
            &item,
            &self.clock()?,
            &reason,
        )))
    }
}

/// A JSON array of items (the wrapper has already refused a batch over the limit by its length).
fn batch(items: &JsValue, what: &str) -> Result<Vec<Value>, JsValue> {
    match convert::document(items, Code::InvalidItem, "the items")? {
        Value::Array(items) => Ok(items),
        _ => Err(error(Error::at(
            Code::InvalidItem,
            "items",
            format!("{what} takes an array of items"),
        ))),
    }
}

fn parse_quote(quote: &JsValue) -> Result<Quote, JsValue> {
    serde_json::from_value(convert::document(quote, Code::InvalidQuote, "the quote")?).map_err(
        |e| {
            error(Error::new(
                Code::InvalidQuote,
                format!("not a pricelet quote ({e}); pass a quote that priceFor returned"),
            ))
        },
    )
}

fn reporting_setup(policy: &JsValue) -> Result<Expected, JsValue> {
    let policy = parse_policy(policy)?;
    let mut expected = Expected::from_policy(&policy)
        .map_err(|m| error(Error::at(Code::InvalidPolicy, "reporting", m)))?;
    expected.latest_day = Some(crate::ldp::latest_day(js_sys::Date::now() as i64));
    Ok(expected)
}

fn tally_of(tally: &JsValue, expected: &Expected) -> Result<Tally, JsValue> {
    let size = expected.domain.size();
    let Some(t) = convert::optional_document(tally, Code::InvalidReport, "the tally")? else {
        return Ok(Tally::new(size));
    };
    let t: Tally = serde_json::from_value(t).map_err(|e| {
        error(Error::at(
            Code::InvalidReport,
            "tally",
            format!(
                "not a report tally ({e}); pass what tallyReports returned, or null to start one"
            ),
        ))
    })?;
    if !t.fits(size) {
        return Err(error(Error::at(Code::InvalidReport, "tally", format!("the tally does not fit the policy's reporting domain ({size} cells), or its counts are impossible (edited?): pass null to start a new tally"))));
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
    let expected = reporting_setup(&policy)?;
    let mut next = tally_of(&tally, &expected)?;
    let Value::Array(list) = convert::document(&reports, Code::InvalidReport, "the reports")?
    else {
        return Err(error(Error::at(
            Code::InvalidReport,
            "reports",
            "tallyReports takes an array of reports",
        )));
    };
    crate::limits::check_count("reports", list.len(), crate::limits::MAX_ITEMS_PER_BATCH)
        .map_err(error)?;
    for (i, v) in list.into_iter().enumerate() {
        let field = format!("reports[{i}]");
        let r: Report = serde_json::from_value(v).map_err(|e| {
            error(Error::at(Code::InvalidReport, &field, format!("{field} is not a measurement report ({e}); a report has exactly day, mechanism, epsilon, domain, domainVersion and bits or value")))
        })?;
        add_report(&mut next, &r, &expected).map_err(|m| {
            error(Error::at(
                Code::InvalidReport,
                &field,
                format!("{field}: {m}"),
            ))
        })?;
    }
    Ok(convert::json(&next))
}

/// The de-biased read-out of a tally: conversion by arm, step and segment with intervals that
/// include the privacy noise, the A/B difference and the refitted β.
#[wasm_bindgen(js_name = estimates)]
pub fn estimates_js(tally: JsValue, policy: JsValue) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(&policy)?;
    let t = tally_of(&tally, &expected)?;
    if t.n == 0 {
        return Err(error(Error::at(
            Code::InvalidReport,
            "tally",
            "no reports yet: estimates need at least one report",
        )));
    }
    Ok(convert::json(&readout(&t, &expected)))
}

/// The options of `verifyQuote`, as the wrapper serializes them (`keys` as [id, secret] pairs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyArgs {
    #[serde(default)]
    now: Option<Value>,
    /// Present (even null) means the caller sent a quantity: it must be a positive whole number.
    #[serde(default, deserialize_with = "present")]
    quantity: Option<Value>,
    #[serde(default)]
    keys: Option<Vec<(Value, Value)>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Checks a quote (or its checkout payload) against the server's own item. `options`: JSON text
/// of `{ now?, quantity?, keys?: [[keyId, secret], …] }`.
#[wasm_bindgen(js_name = verifyQuote)]
pub fn verify_quote_js(
    quote: JsValue,
    item: JsValue,
    policy: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let quote = convert::document(&quote, Code::InvalidQuote, "the quote")?;
    let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
        .map_err(error)?;
    let policy = parse_policy(&policy)?;
    let args: VerifyArgs =
        match convert::optional_document(&options, Code::InvalidArgument, "the options")? {
            None => VerifyArgs {
                now: None,
                quantity: None,
                keys: None,
            },
            Some(v) => serde_path_to_error::deserialize(v).map_err(|e| {
                error(crate::error::from_serde_path(
                    Code::InvalidArgument,
                    "invalid verifyQuote option",
                    e,
                ))
            })?,
        };
    let now_ms = match &args.now {
        Some(v) => crate::time::epoch_ms(v, "now").map_err(error)?,
        None => js_sys::Date::now() as i64,
    };
    let keys = match args.keys {
        None => Default::default(),
        Some(pairs) => {
            let entries = pairs
                .into_iter()
                .map(|(id, secret)| match (id, secret) {
                    (Value::String(id), Value::String(s)) => Ok((id, s.into_bytes())),
                    _ => Err(arg_error("keys", "keys must map key ids to secret strings")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            signing_keys(entries).map_err(error)?
        }
    };
    Ok(convert::json(&verify_quote(
        &quote,
        &item,
        &policy,
        &VerifyOptions {
            now_ms,
            quantity: args.quantity.as_ref().map(Quantity::from_json),
            keys,
        },
    )))
}

#[wasm_bindgen(js_name = toCheckout)]
pub fn to_checkout(quote: JsValue) -> Result<JsValue, JsValue> {
    let quote = convert::document(&quote, Code::InvalidQuote, "the quote")?;
    Ok(convert::json(&checkout_of(&quote)))
}

/// Signs a quote for edge mode: sets `keyId` and `sig` (HMAC-SHA256 over its JCS checkout fields).
#[wasm_bindgen(js_name = signQuote)]
pub fn sign_quote(quote: JsValue, key_id: JsValue, key: JsValue) -> Result<JsValue, JsValue> {
    let q = parse_quote(&quote)?;
    let key_id = convert::text(&key_id, "keyId")?;
    let key = convert::text(&key, "key")?;
    q.sign(&key_id, key.as_bytes())
        .map(|q| convert::json(&q))
        .map_err(error)
}

#[wasm_bindgen(js_name = listQuote)]
pub fn list_quote(item: JsValue, policy: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
    super::list_quote(&item, &policy, &now)
}

#[wasm_bindgen(js_name = integrityOf)]
pub fn integrity_of_js(bytes: JsValue) -> Result<String, JsValue> {
    Ok(integrity_of(
        &convert::bytes(&bytes, "bytes")?.unwrap_or_default(),
    ))
}

#[wasm_bindgen(js_name = checkIntegrity)]
pub fn check_integrity_js(bytes: JsValue, expected: JsValue, what: JsValue) -> Result<(), JsValue> {
    let bytes = convert::bytes(&bytes, "bytes")?.unwrap_or_default();
    let expected = convert::text(&expected, "integrity")?;
    let what = convert::text(&what, "what")?;
    check_integrity(&bytes, &expected, &what).map_err(error)
}

#[wasm_bindgen(js_name = validatePolicy)]
pub fn validate_policy(policy: JsValue) -> Result<JsValue, JsValue> {
    Ok(convert::json(&parse_policy(&policy)?.to_json()))
}

/// The engine's limits, for the wrapper's checks before it copies an argument into wasm.
#[wasm_bindgen(js_name = limits)]
pub fn limits_js() -> JsValue {
    convert::json(&crate::limits::as_json())
}

/// Executes `unreachable`: the test hook for the engine-reset path (a trap kills the instance).
#[wasm_bindgen(js_name = __forceTrap)]
pub fn force_trap() {
    core::arch::wasm32::unreachable()
}
