//! pricelet: personalized prices computed on the shopper's device — the core.
//!
//! behaviour log → session features → a model (a [`scorer::Scorer`]) → merchant policy → exact
//! quote, and the local-DP report of what was shown. The core knows nothing of JavaScript, of tract
//! or of the operating system: time, randomness, models and storage are injected. The crates
//! around it (docs/architecture.md): `pricelet-onnx` (the tract runner), `pricelet-wasm` (the only
//! code that knows JS), `pricelet-measure` (the collector), `pricelet-lab` and `pricelet-cli`.

#[macro_use]
mod names;

pub mod behaviour;
pub mod error;
pub mod experiment;
pub mod features;
pub mod item;
pub mod ldp;
pub mod limits;
pub mod math;
pub mod money;
pub mod policy;
pub mod pricer;
pub mod pricing;
pub mod quote;
pub mod random;
pub mod scorer;
pub mod time;
pub mod wire;

pub use behaviour::Event;
pub use error::{Code, Error, Result};
pub use item::Item;
pub use policy::Policy;
pub use pricer::{Consent, Pricer, PricerConfig};
pub use quote::{Quote, Reason, Verification, VerifyOptions};
pub use scorer::{ModelSlot, Scorer};
pub use time::Clock;
pub use wire::checkout::verify_quote;
pub use wire::pricer::JsonPricer;
pub use wire::state;
