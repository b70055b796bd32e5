//! The wire layer: every conversion between JSON and the core's typed values lives here — items,
//! events, policies, quotes and checkouts, stored state, reports — so the rest of the core computes
//! on exact types and never sees a `serde_json::Value`. Bindings (wasm, CLI, lab) call these; the
//! error codes and messages they produce are part of pricelet's API.

pub mod checkout;
pub mod edge;
pub mod event;
pub mod export;
pub mod item;
pub mod json;
pub mod policy;
pub mod pricer;
pub mod quantity;
pub mod report;
pub mod state;
