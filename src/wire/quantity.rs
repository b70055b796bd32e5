//! Quantities as a checkout sends them: a positive whole number, or what was sent instead.

use super::json::{kind, whole_number};
use crate::error::quoted;
use crate::quote::Quantity;
use serde_json::Value;

impl Quantity {
    /// From JSON: a whole number from 1 to 2^53 − 1 (a JS safe integer); anything else is invalid.
    pub fn from_json(v: &Value) -> Quantity {
        match whole_number(v) {
            Some(n) if n >= 1 => Quantity::Units(n as u64),
            _ => Quantity::Invalid(match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => format!("the string {}", quoted(s)),
                other => kind(other).to_string(),
            }),
        }
    }

    /// From command-line text: a JSON number, else the text itself (which is then invalid).
    pub fn from_text(s: &str) -> Quantity {
        match serde_json::from_str::<Value>(s.trim()) {
            Ok(v @ Value::Number(_)) => Quantity::from_json(&v),
            _ => Quantity::from_json(&Value::String(s.to_string())),
        }
    }
}
