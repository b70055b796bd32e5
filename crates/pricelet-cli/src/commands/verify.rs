//! `pricelet verify`: check a quote against the server's own item and policy.

use crate::error::{CliError, CliResult};
use crate::input::{load_policy, read_json};
use crate::os::now_ms;
use crate::render::print_json;
use pricelet::quote::{signing_keys, Quantity, VerifyOptions};
use pricelet::wire::checkout::verify_quote;
use pricelet::Item;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The catalog item (JSON object).
    #[arg(long)]
    pub item: PathBuf,
    /// The quote or its toCheckout payload (JSON object).
    #[arg(long)]
    pub quote: PathBuf,
    /// Signing secret; a valid signature is then required.
    #[arg(long)]
    pub key: Option<String>,
    /// The key id the secret belongs to (default: the quote's keyId).
    #[arg(long)]
    pub key_id: Option<String>,
    /// The clock, ms since the epoch (default: now).
    #[arg(long)]
    pub now: Option<i64>,
    /// Units being bought: a whole number from 1; anything else fails verification
    /// (`invalid_quantity`), never rounded or clamped.
    #[arg(long, allow_hyphen_values = true)]
    pub quantity: Option<String>,
}

/// Whether the quote verified (exit code 0, else 1).
pub fn run(a: VerifyArgs) -> CliResult<bool> {
    let policy = load_policy(a.policy.as_deref())?;
    let item = Item::from_json(&read_json(&a.item, "item")?)?;
    let quote = read_json(&a.quote, "quote")?;
    let keys = match a.key {
        None => BTreeMap::new(),
        Some(secret) => {
            // Without --key-id the secret is tried as the quote's own keyId (an unsigned quote
            // then fails with missing_signature).
            let id = a
                .key_id
                .or_else(|| {
                    quote
                        .get("keyId")
                        .and_then(Value::as_str)
                        .filter(|id| !id.is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "key".into());
            signing_keys([(id, secret.into_bytes())]).map_err(|source| CliError::OptionRefused {
                option: "--key",
                source,
            })?
        }
    };
    let v = verify_quote(
        &quote,
        &item,
        &policy,
        &VerifyOptions {
            now_ms: a.now.unwrap_or_else(now_ms),
            quantity: a.quantity.as_deref().map(Quantity::from_text),
            keys,
        },
    );
    print_json(&serde_json::to_value(&v).unwrap_or_default());
    Ok(v.ok)
}
