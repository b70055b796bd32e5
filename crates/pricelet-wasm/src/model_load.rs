//! A model loading in steps (`pricelet_onnx::Loading`), as the wrapper drives it: one step per
//! call, so a page can yield to the shopper between steps instead of blocking for the whole load.

use crate::convert;
use pricelet::scorer::{ModelKind, ModelSlot};
use pricelet_onnx::Loading;
use wasm_bindgen::prelude::*;

enum State {
    Loading(Box<Loading>),
    Ready(Box<pricelet_onnx::Model>),
    Unavailable(String),
    Absent,
}

/// A model for a pricer: loading, loaded, unavailable (and why), or none given. Never throws: a
/// model that cannot load leaves the pricer at list price with the reason in its status.
#[wasm_bindgen]
pub struct ModelLoad {
    state: State,
}

#[wasm_bindgen]
impl ModelLoad {
    /// `bytes`: the model file (Uint8Array) or null; `kind`: `interest` or `uplift`; `error`: why
    /// the wrapper has no bytes (a failed fetch, an integrity mismatch), if it has none.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: JsValue, kind: &str, error: Option<String>) -> ModelLoad {
        let kind = if kind == "uplift" {
            ModelKind::Uplift
        } else {
            ModelKind::Interest
        };
        let state = match (convert::bytes(&bytes, kind.option_name()), error) {
            (_, Some(why)) => State::Unavailable(why),
            (Err(e), None) => State::Unavailable(convert::message_of(&e)),
            (Ok(None), None) => State::Absent,
            (Ok(Some(b)), None) => match Loading::begin(&b, kind) {
                Ok(loading) => State::Loading(Box::new(loading)),
                Err(e) => State::Unavailable(e.message),
            },
        };
        ModelLoad { state }
    }

    /// Does the next step of the load; true once there is nothing left to do.
    pub fn step(&mut self) -> bool {
        let State::Loading(loading) = &mut self.state else {
            return true;
        };
        match loading.step() {
            Ok(false) => return false,
            Ok(true) => {}
            Err(e) => {
                self.state = State::Unavailable(e.message);
                return true;
            }
        }
        let State::Loading(loading) = std::mem::replace(&mut self.state, State::Absent) else {
            unreachable!("matched above")
        };
        self.state = match loading.finish() {
            Ok(model) => State::Ready(Box::new(model)),
            Err(e) => State::Unavailable(e.message),
        };
        true
    }
}

impl ModelLoad {
    /// The pricer's model slot, finishing the load first if steps are left.
    pub(crate) fn into_slot(self) -> ModelSlot {
        match self.state {
            State::Loading(loading) => ModelSlot::from_result(Some(loading.finish())),
            State::Ready(model) => ModelSlot::from_result(Some(Ok(*model))),
            State::Unavailable(why) => ModelSlot::Unavailable(why),
            State::Absent => ModelSlot::Absent,
        }
    }
}
