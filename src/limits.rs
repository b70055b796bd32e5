//! Every size and count limit of the engine, in one place. Exceeding one is an error with code
//! `limit_exceeded` naming the field — never a silent truncation. Documented in README "Limits".

use crate::error::{Error, Result};

/// Item ids, page ids, anonymous ids, key ids (characters).
pub const MAX_ID_LEN: usize = 128;
/// Categories, tags, variant names, currency-ending strings (characters).
pub const MAX_NAME_LEN: usize = 64;
/// Tags per item.
pub const MAX_TAGS: usize = 32;
/// Items per `pricesFor` / `edgeRequest` / CLI batch.
pub const MAX_ITEMS_PER_BATCH: usize = 1000;
/// Events kept in the behaviour log; older ones are evicted first (and counted in the status).
pub const MAX_EVENTS: usize = 2000;
/// Serialized behaviour state (bytes). A stored state above this is discarded on load.
pub const MAX_STATE_BYTES: usize = 256 * 1024;
/// Model file size (bytes).
pub const MAX_MODEL_BYTES: usize = 8 * 1024 * 1024;
/// Model input width (features).
pub const MAX_MODEL_FEATURES: usize = 256;
/// Policy document size (bytes of JSON).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Rules in a policy: discount steps, tiers, category caps, exclusions, endings per currency, labels.
pub const MAX_POLICY_RULES: usize = 256;
/// Labels and explanations (characters).
pub const MAX_TEXT_LEN: usize = 500;

pub fn check_str(field: &str, s: &str, max: usize) -> Result<()> {
    if s.chars().count() > max {
        return Err(Error::limit(
            field,
            &format!("a {}-character string", s.chars().count()),
            format!("{max} characters"),
        ));
    }
    Ok(())
}

pub fn check_count(field: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(Error::limit(field, &format!("{n} entries"), max));
    }
    Ok(())
}

/// The longest JSON document one call takes from JavaScript (an item batch, a policy, a report
/// batch), in UTF-16 code units as the wrapper measures it: checked before it is copied into wasm.
pub const MAX_INPUT_CHARS: usize = 8 * 1024 * 1024;

/// The limits a caller may need before calling the engine (the JS wrapper checks a batch's length
/// before copying it), as one JSON object.
pub fn as_json() -> serde_json::Value {
    serde_json::json!({
        "maxItemsPerBatch": MAX_ITEMS_PER_BATCH,
        "maxInputChars": MAX_INPUT_CHARS,
        "maxIdLength": MAX_ID_LEN,
        "maxNameLength": MAX_NAME_LEN,
        "maxTags": MAX_TAGS,
        "maxEvents": MAX_EVENTS,
        "maxStateBytes": MAX_STATE_BYTES,
        "maxModelBytes": MAX_MODEL_BYTES,
        "maxModelFeatures": MAX_MODEL_FEATURES,
        "maxPolicyBytes": MAX_POLICY_BYTES,
        "maxPolicyRules": MAX_POLICY_RULES,
        "maxTextLength": MAX_TEXT_LEN,
    })
}
