//! `pricelet verify`: check a quote against the server's own item and policy.

use crate::{core_error, load_policy, now_ms, print, read_json, CliResult, Failure};
use pricelet::quote::{signing_keys, verify_quote, Quantity, VerifyOptions};
use pricelet::Item;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub fn run(
    policy: Option<&Path>,
    item: &Path,
    quote: &Path,
    key: Option<String>,
    key_id: Option<String>,
    now: Option<i64>,
    quantity: Option<String>,
) -> CliResult<bool> {
    let policy = load_policy(policy)?;
    let item = Item::from_json(&read_json(item, "item")?).map_err(Failure::from)?;
    let quote = read_json(quote, "quote")?;
    let keys = match key {
        None => BTreeMap::new(),
        Some(secret) => {
            // Without --key-id the secret is tried as the quote's own keyId (an unsigned quote
            // then fails with missing_signature).
            let id = key_id
                .or_else(|| {
                    quote
                        .get("keyId")
                        .and_then(Value::as_str)
                        .filter(|id| !id.is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "key".into());
            signing_keys([(id, secret.into_bytes())])
                .map_err(|e| format!("--key: {}", core_error(e)))?
        }
    };
    let v = verify_quote(
        &quote,
        &item,
        &policy,
        &VerifyOptions {
            now_ms: now.unwrap_or_else(now_ms),
            quantity: quantity.as_deref().map(Quantity::from_text),
            keys,
        },
    );
    print(&serde_json::to_value(&v).unwrap_or_default());
    Ok(v.ok)
}
