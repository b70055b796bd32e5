//! pricelet: personalized prices computed on the shopper's device.
//!
//! The whole decision lives in this crate and knows nothing of JavaScript:
//! behaviour log → session features → ONNX interest model (tract) → merchant policy → exact quote.
//! `src/wasm/` (wasm32 only) is the one thin boundary to JS; `src/bin/pricelet.rs` is the native CLI.

pub mod aggregate;
pub mod behaviour;
pub mod datasets;
pub mod error;
pub mod evaluate;
pub mod experiment;
#[cfg(feature = "inference")]
pub mod fairness;
pub mod features;
#[doc(hidden)]
#[cfg(feature = "inference")]
pub mod harness;
pub mod item;
pub mod ldp;
pub mod limits;
pub mod model;
pub mod money;
pub mod policy;
pub mod pricer;
pub mod pricing;
pub mod quote;
pub mod simulate;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use error::{Code, Error, Result};
pub use features::Clock;
pub use item::Item;
pub use policy::Policy;
pub use pricer::{Consent, ModelSlot, Pricer, PricerConfig};
pub use quote::{verify_quote, Quote, Verification, VerifyOptions};
