//! The device engine's wasm-bindgen exports (what every shopper's browser runs): a thin boundary
//! over the core. Arguments and results cross
//! as described in `convert.rs`; time comes from `Date.now()` (or an injected clock), randomness
//! from `crypto.getRandomValues` (getrandom's wasm_js backend), browser storage from
//! `localStorage` (web-sys), and the privacy signal from `navigator.globalPrivacyControl`.

use crate::convert::{self, arg_error, error, get};
use crate::model_load::ModelLoad;
use crate::parse_policy;
use crate::random::OsRandom;
use crate::store::{store_for, LoadError, Store};
use js_sys::Function;
use pricelet::error::{Code, Error};
use pricelet::item::Item;
use pricelet::pricer::{
    Consent, Persistence, PriceSlot, Pricer, PricerConfig, StabilityWindow, Status,
};
use pricelet::quote::{Quote, Reason};
use pricelet::scorer::ModelSlot;
use pricelet::state::LoadOutcome;
use pricelet::{time::Clock, JsonPricer};
use serde::{Deserialize, Serialize};
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

/// `navigator.globalPrivacyControl === true` (web-sys has no binding for it yet).
fn global_privacy_control() -> bool {
    let navigator = get(&js_sys::global().into(), "navigator").unwrap_or(JsValue::UNDEFINED);
    get(&navigator, "globalPrivacyControl")
        .ok()
        .and_then(|v| v.as_bool())
        == Some(true)
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
    /// `local` or `adapter` ([`StorageMode`]), text here so that another string is refused with the
    /// binding's own message (listing what the wrapper accepts), not serde's.
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    storage_key: Option<String>,
}

/// `pricer.status`: the core's, and what only the binding knows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusOut {
    #[serde(flatten)]
    core: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<String>,
    wasm_memory_bytes: usize,
}

/// `pricer.exportData()`: read back from the store, and why it could not be read.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportOut {
    #[serde(flatten)]
    data: pricelet::wire::export::ExportData,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_error: Option<String>,
}

mod storage;
use storage::StorageMode;

/// One shopper's pricer, as the JS wrapper sees it.
#[wasm_bindgen]
pub struct WasmPricer {
    pub(crate) core: Pricer,
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
    /// `[from, until)` per quote the last `priceFor`, `pricesFor` or `adoptQuote` answered: when the
    /// engine serves it again (`reservableWindows`).
    windows: Vec<f64>,
}

#[wasm_bindgen]
impl WasmPricer {
    /// `policy`: JSON text or null; `model`, `uplift_model`: the models, loaded or loading
    /// ([`ModelLoad`], whose remaining steps run here), or none; `options`: JSON text of
    /// [`Options`]; `hooks`: `{ storage?, sessionStorage?: { load, save }, now?: () => ms }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        policy: JsValue,
        model: Option<ModelLoad>,
        uplift_model: Option<ModelLoad>,
        options: JsValue,
        hooks: JsValue,
    ) -> Result<WasmPricer, JsValue> {
        let policy = parse_policy(&policy)?;
        let options: Options =
            match convert::optional_document(&options, Code::InvalidArgument, "the options")? {
                None => serde_json::from_value(Value::Object(Default::default()))
                    .map_err(|e| arg_error("options", e.to_string()))?,
                Some(v) => serde_path_to_error::deserialize(v).map_err(|e| {
                    error(pricelet::error::from_serde_path(
                        Code::InvalidArgument,
                        "invalid createPricer option",
                        e,
                    ))
                })?,
            };
        let consent = match options.consent.as_deref() {
            None => Consent::Unknown,
            Some(s) => s.parse::<Consent>().map_err(error)?,
        };
        let stability_ttl_ms = options
            .stability_ttl_ms
            .as_ref()
            .map(crate::stability_ttl_ms)
            .transpose()
            .map_err(error)?;
        let utc_offset_minutes = options
            .utc_offset_minutes
            .as_ref()
            .map(|v| pricelet::wire::json::utc_offset_minutes(v, "utcOffsetMinutes"))
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
            .unwrap_or_else(|| crate::constants::DEFAULT_STORAGE_KEY.into());
        let mut storage_note = None;
        let local = || web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        let persistent = match options.storage.as_deref().map(StorageMode::parse) {
            None | Some(Some(StorageMode::Local)) => match local() {
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
            Some(Some(StorageMode::Adapter)) => {
                let adapter = get(&hooks, "storage")?;
                if !adapter.is_object() {
                    return Err(arg_error(
                        "storage",
                        "storage must be 'local', 'memory' or an object with load() and save()",
                    ));
                }
                Some(Store::Adapter(adapter))
            }
            Some(None) => {
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
        let slot = |load: Option<ModelLoad>| load.map_or(ModelSlot::Absent, ModelLoad::into_slot);
        let (interest, uplift) = (slot(model), slot(uplift_model));
        let mut this = WasmPricer {
            core: Pricer::new(
                policy,
                interest,
                uplift,
                None,
                config,
                0,
                Box::new(OsRandom::new().map_err(error)?),
            )
            .map_err(error)?,
            persistent,
            session,
            now,
            utc_offset_minutes,
            storage_note,
            storage_error: None,
            windows: Vec::new(),
        };
        this.load_from_store(true)?;
        Ok(this)
    }

    /// The pricer's clock: the injected `now()` (checked) or `Date.now()`, and the UTC offset.
    pub(crate) fn clock(&self) -> Result<Clock, JsValue> {
        let now_ms = match &self.now {
            Some(f) => {
                let v = f.call0(&JsValue::NULL).map_err(|e| {
                    arg_error("now", format!("now() threw: {}", convert::message_of(&e)))
                })?;
                pricelet::wire::json::epoch_ms(&convert::number(&v), "now").map_err(|_| {
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

    #[wasm_bindgen(js_name = priceFor)]
    pub fn price_for(&mut self, item: JsValue) -> Result<JsValue, JsValue> {
        self.windows.clear();
        let item = convert::document(&item, Code::InvalidItem, "the item")?;
        let clock = self.clock()?;
        let quote = self.core.price_for(&item, &clock).map_err(error)?;
        self.note_windows([Some(&quote)]);
        Ok(convert::json(&quote))
    }

    #[wasm_bindgen(js_name = pricesFor)]
    pub fn prices_for(&mut self, items: JsValue) -> Result<JsValue, JsValue> {
        self.windows.clear();
        let items = batch(&items, "pricesFor")?;
        let clock = self.clock()?;
        let slots = self.core.prices_for(&items, &clock).map_err(error)?;
        self.note_windows(slots.iter().map(PriceSlot::quote));
        Ok(convert::json(&slots))
    }

    /// Two numbers `from, until` per quote the last `priceFor`, `pricesFor` or `adoptQuote`
    /// answered: the engine serves that quote again while `from <= now < until` and `stableEpoch`
    /// stands still (an error slot, or a quote it does not keep, gets a window holding no clock
    /// value). The wrapper's quote cache keeps these instead of a stability rule of its own.
    #[wasm_bindgen(getter, js_name = reservableWindows)]
    pub fn reservable_windows(&self) -> Vec<f64> {
        self.windows.clone()
    }

    pub fn track(&mut self, event: JsValue) -> Result<JsValue, JsValue> {
        let event = convert::document(&event, Code::InvalidEvent, "the event")?;
        let clock = self.clock()?;
        let outcome = self.core.track_json(&event, &clock).map_err(error)?;
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

    /// Deletes all stored behaviour and the anonymous id, everywhere it was kept. Only today's
    /// report budget stays where this pricer stores (what was disclosed today stays counted).
    pub fn forget(&mut self) -> Result<(), JsValue> {
        let clock = self.clock()?;
        // Another pricer of this device may have reported since this one last read storage.
        if let Some(Ok(text)) = self.active_store().map(Store::load) {
            self.core.merge_stored_budget(text.as_deref());
        }
        self.core.forget();
        let kept = self.core.state_after_forget(&clock);
        for (s, active) in [
            (
                &self.persistent,
                self.core.persistence() == Persistence::Storage,
            ),
            (
                &self.session,
                self.core.persistence() == Persistence::Memory,
            ),
        ] {
            let Some(s) = s else { continue };
            if let Err(why) = s.save(if active { kept.as_deref() } else { None }) {
                self.storage_error = Some(why.to_string());
            }
        }
        Ok(())
    }

    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&mut self, consent: JsValue) -> Result<(), JsValue> {
        let consent = convert::text(&consent, "consent")?
            .parse::<Consent>()
            .map_err(error)?;
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
        let mut data = self.core.export_data();
        let (stored, storage_error) = match self.active_store().map(Store::load).transpose() {
            Ok(s) => (s.flatten(), None),
            // Unreadable is not "nothing stored": say so.
            Err(e) => (None, Some(e.message().to_string())),
        };
        data.stored_bytes = stored.as_ref().map_or(0, String::len);
        data.state = stored.and_then(|s| serde_json::from_str(&s).ok());
        // The id as stored (none after forget(), when only the day's report budget is kept).
        data.anon_id = data
            .state
            .as_ref()
            .and_then(|s| s.get("anonId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        convert::json(&ExportOut {
            data,
            storage_error,
        })
    }

    #[wasm_bindgen(getter)]
    pub fn status(&self) -> JsValue {
        convert::json(&StatusOut {
            core: self.core.status(),
            storage: self
                .storage_error
                .clone()
                .or_else(|| self.storage_note.clone()),
            // Linear memory never shrinks, so this is the instance's high-water mark (for soak
            // checks and for apps that watch their memory).
            wasm_memory_bytes: core::arch::wasm32::memory_size(0) * 65536,
        })
    }

    /// Keeps a quote the page showed for `item` before this pricer was ready (`listQuote`) as the
    /// item's price for the stability window, if it still verifies; see `Pricer::adopt_quote`.
    #[wasm_bindgen(js_name = adoptQuote)]
    pub fn adopt_quote(&mut self, item: JsValue, quote: JsValue) -> Result<bool, JsValue> {
        self.windows.clear();
        let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
            .map_err(error)?;
        let quote = parse_quote(&quote)?;
        let clock = self.clock()?;
        let kept = self.core.adopt_quote(&item, &quote, &clock);
        self.note_windows([Some(&quote)]);
        Ok(kept)
    }

    /// Quotes were shown that storage does not hold yet: the wrapper calls `saveQuotes()` once the
    /// current batch of prices is done, so other pages of the shop re-serve them.
    #[wasm_bindgen(getter, js_name = unsavedQuotes)]
    pub fn unsaved_quotes(&self) -> bool {
        self.core.has_unsaved_quotes()
    }

    /// Writes the state now (merged with what other pages stored), with the quotes shown.
    #[wasm_bindgen(js_name = saveQuotes)]
    pub fn save_quotes(&mut self) -> Result<(), JsValue> {
        let now_ms = self.clock()?.now_ms;
        if self.core.has_unsaved_quotes() {
            self.persist(now_ms);
        }
        Ok(())
    }

    /// Moves whenever a re-servable quote is dropped or replaced (the wrapper's quote cache).
    #[wasm_bindgen(getter, js_name = stableEpoch)]
    pub fn stable_epoch(&self) -> f64 {
        self.core.stable_epoch() as f64
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
        // Every pricer sharing this storage spends the same daily budget: read what the others
        // spent before deciding. (An unreadable store adds nothing here; the write below then
        // waits for a successful read, as every write does.)
        if let Some(Ok(text)) = self.active_store().map(Store::load) {
            self.core.merge_stored_budget(text.as_deref());
        }
        let outcome = self.core.report(&quote, converted, &clock);
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

    /// A list-price quote with a reason (the wrapper's answer right after an engine reset).
    #[wasm_bindgen(js_name = listQuoteWithReason)]
    pub fn list_quote_with_reason(
        &self,
        item: JsValue,
        reason: JsValue,
    ) -> Result<JsValue, JsValue> {
        let item = Item::from_json(&convert::document(&item, Code::InvalidItem, "the item")?)
            .map_err(error)?;
        let text = convert::text(&reason, "reason")?;
        let reason = Reason::parse(&text).ok_or_else(|| {
            arg_error(
                "reason",
                format!("{} is not a quote reason", pricelet::error::quoted(&text)),
            )
        })?;
        Ok(convert::json(&self.core.list_quote(
            &item,
            &self.clock()?,
            reason,
        )))
    }
}

impl WasmPricer {
    /// Records the windows of the quotes just answered, for `reservableWindows`.
    fn note_windows<'q>(&mut self, quotes: impl IntoIterator<Item = Option<&'q Quote>>) {
        for quote in quotes {
            let window = quote
                .and_then(|q| self.core.reservable_window(q))
                .unwrap_or(StabilityWindow::EMPTY);
            self.windows
                .extend([window.from as f64, window.until as f64]);
        }
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

pub(crate) fn parse_quote(quote: &JsValue) -> Result<Quote, JsValue> {
    serde_json::from_value(convert::document(quote, Code::InvalidQuote, "the quote")?).map_err(
        |e| {
            error(Error::new(
                Code::InvalidQuote,
                format!("not a pricelet quote ({e}); pass a quote that priceFor returned"),
            ))
        },
    )
}

/// Executes `unreachable`: the test hook for the engine-reset path (a trap kills the instance).
#[wasm_bindgen(js_name = __forceTrap)]
pub fn force_trap() {
    core::arch::wasm32::unreachable()
}
