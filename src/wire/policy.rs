//! Policies as merchants write them: JSON read with the bad field named (through one
//! path-tracking deserializer), percents and durations read exactly, and written back.

use super::json::{decimal, whole_number};
use crate::error::{from_serde_path, Code, Error, Result};
use crate::limits;
use crate::money::Ppm;
use crate::policy::{Percent, Policy};
use serde::{Deserialize, Deserializer};

/// Durations and times in whole milliseconds: `1800000` or `1.8e6`, never `1800000.5`.
pub(crate) fn whole_ms<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    whole_number(&v)
        .ok_or_else(|| serde::de::Error::custom(format!("must be whole milliseconds, not {v}")))
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let dec = decimal(&v).map_err(|e| serde::de::Error::custom(format!("a percent {e}")))?;
        let ppm = Ppm::from_percent(&dec)
            .map_err(|e| serde::de::Error::custom(format!("a percent {e}")))?;
        if ppm > Ppm::ONE {
            return Err(serde::de::Error::custom(format!(
                "a percent must be from 0 to 100, got {}",
                dec.as_str()
            )));
        }
        Ok(Percent(ppm))
    }
}

impl Policy {
    pub fn from_json_str(text: &str) -> Result<Policy> {
        if text.len() > limits::MAX_POLICY_BYTES {
            return Err(Error::limit(
                "policy",
                &format!("a {}-byte policy", text.len()),
                format!("{} bytes", limits::MAX_POLICY_BYTES),
            ));
        }
        // Through a Value, so one path-tracking deserializer serves both entry points (wasm size).
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::at(
                Code::InvalidPolicy,
                "policy",
                format!("invalid policy: not valid JSON ({e})"),
            )
        })?;
        Policy::from_json(&value)
    }

    pub fn from_json(v: &serde_json::Value) -> Result<Policy> {
        let size = serde_json::to_string(v)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > limits::MAX_POLICY_BYTES {
            return Err(Error::limit(
                "policy",
                &format!("a {size}-byte policy"),
                format!("{} bytes", limits::MAX_POLICY_BYTES),
            ));
        }
        let policy: Policy = serde_path_to_error::deserialize(v)
            .map_err(|e| from_serde_path(Code::InvalidPolicy, "invalid policy", e))?;
        policy.validated()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
