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
/// before copying it). Fields in the order of their names, as the object always listed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub max_events: usize,
    #[serde(rename = "maxIdLength")]
    pub max_id_len: usize,
    pub max_input_chars: usize,
    pub max_items_per_batch: usize,
    pub max_model_bytes: usize,
    pub max_model_features: usize,
    #[serde(rename = "maxNameLength")]
    pub max_name_len: usize,
    pub max_policy_bytes: usize,
    pub max_policy_rules: usize,
    pub max_state_bytes: usize,
    pub max_tags: usize,
    #[serde(rename = "maxTextLength")]
    pub max_text_len: usize,
}

pub const TABLE: Table = Table {
    max_events: MAX_EVENTS,
    max_id_len: MAX_ID_LEN,
    max_input_chars: MAX_INPUT_CHARS,
    max_items_per_batch: MAX_ITEMS_PER_BATCH,
    max_model_bytes: MAX_MODEL_BYTES,
    max_model_features: MAX_MODEL_FEATURES,
    max_name_len: MAX_NAME_LEN,
    max_policy_bytes: MAX_POLICY_BYTES,
    max_policy_rules: MAX_POLICY_RULES,
    max_state_bytes: MAX_STATE_BYTES,
    max_tags: MAX_TAGS,
    max_text_len: MAX_TEXT_LEN,
};
