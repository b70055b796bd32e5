//! `verify_quote`: what a merchant's server checks at checkout against its own catalog item and
//! policy — never trusting the client — and the signature check of edge quotes.

use super::*;
use std::collections::BTreeMap;

/// How far `issuedAt` may be ahead of the verifier's clock (clock skew).
const ISSUE_SKEW_MS: i64 = 5 * 60 * 1000;

crate::named_enum! {
    /// What `verify_quote` found wrong (public strings).
    pub enum ProblemCode {
        MalformedQuote = "malformed_quote",
        ItemMismatch = "item_mismatch",
        CurrencyMismatch = "currency_mismatch",
        ListPriceChanged = "list_price_changed",
        DiscountInconsistent = "discount_inconsistent",
        PriceOutOfRange = "price_out_of_range",
        ExcludedItemDiscounted = "excluded_item_discounted",
        BelowFloor = "below_floor",
        OverCap = "over_cap",
        SpreadExceeded = "spread_exceeded",
        BadEnding = "bad_ending",
        Expired = "expired",
        BadTime = "bad_time",
        UnknownPolicyVersion = "unknown_policy_version",
        InvalidQuantity = "invalid_quantity",
        QuantityOverLimit = "quantity_over_limit",
        QuoteIdMismatch = "quote_id_mismatch",
        BadSignature = "bad_signature",
        UnknownKey = "unknown_key",
        MissingSignature = "missing_signature",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub code: ProblemCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub now_ms: i64,
    /// Units being bought (checked against `maxQuantityPerOrder`).
    pub quantity: Option<Quantity>,
    /// Signing keys by `keyId`. When given, a valid signature is required.
    pub keys: BTreeMap<String, Vec<u8>>,
}

/// The quantity a checkout asks for, as the caller sent it: a positive whole number, or what it was
/// instead (refused by `verify_quote` as `invalid_quantity`, never coerced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quantity {
    Units(u64),
    Invalid(String),
}

/// The verification keys a caller gives, by key id: at least one, each at least [`MIN_KEY_BYTES`]
/// long. Asking for signatures with no usable key would let every unsigned quote through.
pub fn signing_keys(
    entries: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut keys = BTreeMap::new();
    for (id, secret) in entries {
        limits::check_str("keys", &id, limits::MAX_ID_LEN)?;
        if id.is_empty() {
            return Err(Error::at(
                Code::InvalidArgument,
                "keys",
                "a key id is empty: give every key a non-empty id",
            ));
        }
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::at(
                Code::InvalidArgument,
                format!("keys.{id}"),
                format!("the key {} is {} bytes; signing keys are at least {MIN_KEY_BYTES} bytes (generate one with `openssl rand -base64 32`)", quoted(&id), secret.len()),
            ));
        }
        keys.insert(id, secret);
    }
    if keys.is_empty() {
        return Err(Error::at(Code::InvalidArgument, "keys", "keys is empty: to require signed quotes pass at least one { keyId: secret }; to accept unsigned quotes leave keys out"));
    }
    Ok(keys)
}

/// Checks a quote (full or checkout payload) against the server's own item and policy. Never trusts
/// the client: a tampered quote gains at most what the policy already allows.
pub fn verify(
    checkout: &Checkout,
    item: &Item,
    policy: &Policy,
    opts: &VerifyOptions,
) -> Verification {
    let mut problems = Vec::new();
    let mut fail = |code: ProblemCode, message: String| problems.push(Problem { code, message });
    let q = match &checkout.terms {
        Ok(q) => q,
        Err(e) => {
            fail(ProblemCode::MalformedQuote, format!("the quote is missing fields or has wrong types ({e}); send the object from toCheckout(quote)"));
            return Verification {
                ok: false,
                problems,
            };
        }
    };
    if q.item_id != item.id {
        fail(
            ProblemCode::ItemMismatch,
            format!(
                "quote is for item {}, not {}",
                quoted(&q.item_id),
                quoted(&item.id)
            ),
        );
    }
    if q.currency != item.currency.code() {
        fail(
            ProblemCode::CurrencyMismatch,
            format!("quote is in {}, the item in {}", q.currency, item.currency),
        );
    }
    if q.list_price_minor != item.list_minor {
        fail(
            ProblemCode::ListPriceChanged,
            format!(
                "quote list price {} differs from the catalog's {}",
                q.list_price_minor, item.list_minor
            ),
        );
    }
    if q.discount_minor != q.list_price_minor - q.price_minor {
        fail(
            ProblemCode::DiscountInconsistent,
            format!(
                "discountMinor {} != listPriceMinor {} - priceMinor {}",
                q.discount_minor, q.list_price_minor, q.price_minor
            ),
        );
    }
    if q.price_minor < 0 || q.price_minor > item.list_minor {
        fail(
            ProblemCode::PriceOutOfRange,
            format!(
                "price {} is not between 0 and the list price {}",
                q.price_minor, item.list_minor
            ),
        );
    }
    if q.price_minor < item.list_minor {
        if let Some(why) = policy.exclusion(item) {
            fail(
                ProblemCode::ExcludedItemDiscounted,
                format!("{why}, but the quote has a discount"),
            );
        }
        let b = bounds(item, policy);
        if q.price_minor < b.floor_minor {
            fail(
                ProblemCode::BelowFloor,
                format!(
                    "price {} is below the floor {}",
                    q.price_minor, b.floor_minor
                ),
            );
        }
        if q.price_minor < b.cap_price_minor {
            // `bounds` applies the tightest of the caps and `maxSpreadPercent`; say which one is broken.
            let caps = policy.caps_for(item.category.as_deref());
            let caps_price = cap_price(item.list_minor, caps);
            if q.price_minor < caps_price {
                fail(
                    ProblemCode::OverCap,
                    format!(
                        "discount {} exceeds the {} % cap (lowest price {})",
                        item.list_minor - q.price_minor,
                        caps.as_percent(),
                        caps_price
                    ),
                );
            }
            if let Some(spread) = policy.spread_cap() {
                let spread_price = cap_price(item.list_minor, spread);
                if q.price_minor < spread_price {
                    fail(ProblemCode::SpreadExceeded,
                        format!(
                            "price {} is more than the policy's maxSpreadPercent {} % below list (lowest price {})",
                            q.price_minor,
                            spread.as_percent(),
                            spread_price
                        ),
                    );
                }
            }
        }
        if !policy
            .endings_for(item.currency)
            .iter()
            .any(|e| e.allows(q.price_minor))
        {
            fail(
                ProblemCode::BadEnding,
                format!(
                    "price {} does not have an allowed ending for {}",
                    q.price_minor, item.currency
                ),
            );
        }
    }
    if opts.now_ms > q.expires_at {
        fail(
            ProblemCode::Expired,
            format!(
                "the quote expired at {} (now {})",
                q.expires_at, opts.now_ms
            ),
        );
    }
    if q.issued_at > opts.now_ms + ISSUE_SKEW_MS || q.expires_at < q.issued_at {
        fail(
            ProblemCode::BadTime,
            format!(
                "issuedAt {} / expiresAt {} are not plausible at {}",
                q.issued_at, q.expires_at, opts.now_ms
            ),
        );
    }
    if q.expires_at - q.issued_at > policy.quote_ttl_ms {
        fail(
            ProblemCode::BadTime,
            format!(
                "the quote lives {} ms, longer than the policy's quoteTtlMs {}",
                q.expires_at - q.issued_at,
                policy.quote_ttl_ms
            ),
        );
    }
    let known_version = q.policy_version == policy.version
        || policy
            .previous_version
            .as_ref()
            .is_some_and(|p| p.version == q.policy_version && opts.now_ms <= p.accept_until);
    if !known_version {
        fail(ProblemCode::UnknownPolicyVersion, format!("policy version {} is not the current {} nor a previous one within its grace period", quoted(&q.policy_version), quoted(&policy.version)));
    }
    if let Some(Quantity::Invalid(what)) = &opts.quantity {
        fail(
            ProblemCode::InvalidQuantity,
            format!("the quantity must be a whole number of units from 1 up, not {what}"),
        );
    }
    if let Some(Quantity::Units(n)) = opts.quantity {
        if n > u64::from(policy.max_quantity_per_order) {
            fail(
                ProblemCode::QuantityOverLimit,
                format!(
                    "quantity {n} exceeds maxQuantityPerOrder {}",
                    policy.max_quantity_per_order
                ),
            );
        }
    }
    if checkout.content_id() != q.quote_id {
        fail(
            ProblemCode::QuoteIdMismatch,
            "quoteId does not match the quote's content: a field was changed after issue".into(),
        );
    }
    if !opts.keys.is_empty() {
        match (checkout.text("keyId"), checkout.text("sig")) {
            (Some(key_id), Some(sig)) => match opts.keys.get(key_id) {
                Some(key) => {
                    if !checkout.signature_matches(key, sig) {
                        fail(ProblemCode::BadSignature, "the signature does not match: the quote was changed or signed with another key".into());
                    }
                }
                None => fail(
                    ProblemCode::UnknownKey,
                    format!("keyId {} is not a known signing key", quoted(key_id)),
                ),
            },
            _ => fail(
                ProblemCode::MissingSignature,
                "a signed (edge) quote is required: keyId and sig are missing".into(),
            ),
        }
    }
    Verification {
        ok: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests;
