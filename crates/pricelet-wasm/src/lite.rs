//! The "lite" wasm: list-price quotes and checkout payloads only (the `list` module's exports), no
//! inference engine. Small enough that the JS wrapper compiles it synchronously, so
//! `listQuote(item)` works before the full engine has loaded.

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
