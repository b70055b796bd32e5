//! The values the JS wrapper and the TypeScript declarations must agree with, straight from the
//! core: the wrapper reads them at start-up, and a test holds `js/index.d.ts` against them.

use crate::convert;
use pricelet::ldp::Refusal;
use pricelet::pricer::{Consent, NotStored};
use pricelet::quote::{ProblemCode, Reason};
use pricelet::state::LoadOutcome;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Where a browser pricer keeps its state in `localStorage`, unless told otherwise.
pub const DEFAULT_STORAGE_KEY: &str = "pricelet:behaviour";

/// The most items the edge Worker prices in one request (below the engine's batch limit: a
/// Worker request has a CPU budget).
pub const MAX_EDGE_ITEMS: usize = 200;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Constants {
    consents: &'static [Consent],
    storage_key: &'static str,
    reasons: &'static [Reason],
    variants: &'static [pricelet::experiment::Variant],
    error_codes: &'static [pricelet::Code],
    problem_codes: &'static [ProblemCode],
    report_refusals: &'static [Refusal],
    not_stored: &'static [NotStored],
    load_outcomes: &'static [LoadOutcome],
    max_edge_items: usize,
    limits: pricelet::limits::Table,
}

#[wasm_bindgen(js_name = constants)]
pub fn constants() -> JsValue {
    convert::json(&Constants {
        consents: Consent::ALL,
        storage_key: DEFAULT_STORAGE_KEY,
        reasons: Reason::ALL,
        variants: pricelet::experiment::Variant::ALL,
        error_codes: pricelet::Code::ALL,
        problem_codes: ProblemCode::ALL,
        report_refusals: Refusal::ALL,
        not_stored: NotStored::ALL,
        load_outcomes: LoadOutcome::ALL,
        max_edge_items: MAX_EDGE_ITEMS,
        limits: pricelet::limits::TABLE,
    })
}

/// The engine's limits, for the wrapper's checks before it copies an argument into wasm.
#[wasm_bindgen(js_name = limits)]
pub fn limits_js() -> JsValue {
    convert::json(&pricelet::limits::TABLE)
}
