//! Quotes shown on other pages of the shop. A shop is many documents — a listing, a product page
//! opened in a new tab, a reload — each with its own pricer. Within the stability window an item
//! must keep the price the shopper was shown wherever it appears next, so with consent the quotes a
//! pricer shows go into the stored state (compactly, re-derived on use) and every pricer on that
//! storage re-serves them. A stored quote is re-served only if it rebuilds to the same quote id and
//! still passes `verify_quote` for the current item and policy (the stability rule).

use super::decide::finish_quote;
use super::*;
use crate::pricing;
use crate::quote::{verify_quote, VerifyOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// At most this many shown quotes are stored (the newest); each is about 100 bytes.
const MAX_SHOWN: usize = 256;

/// What a shown quote needs to be rebuilt: the decision, not the text derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ShownQuote(
    /// item id
    String,
    /// price (minor units)
    i64,
    Reason,
    Variant,
    /// interest
    Option<f64>,
    /// propensity
    f64,
    /// issued at
    i64,
    /// personalized
    bool,
    /// quote id: the rebuilt quote must hash to it
    String,
);

/// The stored form: quotes are valid only under the policy and model version that made them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShownDoc {
    policy: String,
    model: String,
    quotes: Vec<ShownQuote>,
}

impl ShownQuote {
    fn of(q: &Quote) -> ShownQuote {
        ShownQuote(
            q.item_id.clone(),
            q.price_minor,
            q.reason,
            q.variant,
            q.interest,
            q.propensity,
            q.issued_at,
            q.personalized,
            q.quote_id.clone(),
        )
    }

    fn item_id(&self) -> &str {
        &self.0
    }

    fn issued_at(&self) -> i64 {
        self.6
    }
}

/// Reasons that come from a decision (behaviour, arm, exploration): the ones another page could
/// decide differently. List prices for other reasons are the same everywhere.
fn decided(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::Personalized
            | Reason::ColdStart
            | Reason::Control
            | Reason::Explore
            | Reason::NoFeasiblePrice
    )
}

impl Pricer {
    fn model_version(&self) -> &str {
        self.interest.info().map_or("none", |i| i.version.as_str())
    }

    fn fresh_at(&self, issued_at: i64, now_ms: i64) -> bool {
        now_ms >= issued_at && now_ms < issued_at.saturating_add(self.stability_ttl_ms)
    }

    /// The shown quotes to store, or None when there are none (or nothing may be stored).
    pub(super) fn shown_document(&self, now_ms: i64) -> Option<Value> {
        if self.persistence() != Persistence::Storage || self.stability_ttl_ms <= 0 {
            return None;
        }
        let mut quotes: Vec<ShownQuote> = self
            .stable_quotes
            .values()
            .map(|(_, q)| q)
            .filter(|q| decided(q.reason) && self.fresh_at(q.issued_at, now_ms))
            .map(ShownQuote::of)
            .collect();
        quotes.extend(
            self.restored
                .values()
                .filter(|s| {
                    !self.stable_quotes.contains_key(s.item_id())
                        && self.fresh_at(s.issued_at(), now_ms)
                })
                .cloned(),
        );
        if quotes.is_empty() {
            return None;
        }
        // Newest first when the cap bites; then by item, so the text is stable.
        quotes.sort_by(|a, b| b.issued_at().cmp(&a.issued_at()).then(a.0.cmp(&b.0)));
        quotes.truncate(MAX_SHOWN);
        serde_json::to_value(ShownDoc {
            policy: self.policy.version.clone(),
            model: self.model_version().to_string(),
            quotes,
        })
        .ok()
    }

    /// Takes in the shown quotes of a stored state (another page's): for an item this pricer has
    /// not shown yet, the earliest quote shown anywhere wins. Malformed or foreign ones are ignored.
    pub(super) fn absorb_shown(&mut self, doc: Option<&Value>, now_ms: i64) {
        if self.persistence() != Persistence::Storage {
            return;
        }
        let Some(doc) = doc.and_then(|d| serde_json::from_value::<ShownDoc>(d.clone()).ok()) else {
            return;
        };
        if doc.policy != self.policy.version || doc.model != self.model_version() {
            return;
        }
        for s in doc.quotes.into_iter().take(MAX_SHOWN) {
            if !self.fresh_at(s.issued_at(), now_ms) || self.stable_quotes.contains_key(s.item_id())
            {
                continue;
            }
            let keep = self
                .restored
                .get(s.item_id())
                .is_none_or(|have| s.issued_at() < have.issued_at());
            if keep {
                self.restored.insert(s.item_id().to_string(), s);
            }
        }
    }

    /// A quote another page showed for `item`, rebuilt, if it still holds: same quote id, and it
    /// passes `verify_quote` for this item and policy now.
    pub(super) fn restored_quote(&mut self, item: &Item, clock: &Clock) -> Option<Quote> {
        let s = self.restored.get(&item.id)?.clone();
        let ShownQuote(
            _,
            price,
            reason,
            variant,
            interest,
            propensity,
            issued_at,
            personalized,
            id,
        ) = s;
        if !self.fresh_at(issued_at, clock.now_ms) || !decided(reason) {
            return None;
        }
        let at = Clock {
            now_ms: issued_at,
            utc_offset_minutes: clock.utc_offset_minutes,
        };
        let bounds = pricing::bounds(item, &self.policy);
        let mut q = self.base_quote(item, &at, reason);
        q.price_minor = price;
        q.discount_minor = item.list_minor - price;
        q.interest = interest;
        q.variant = variant;
        q.propensity = propensity;
        q.personalized = personalized;
        let q = finish_quote(q, item, &self.policy, &bounds).seal();
        let verified = verify_quote(
            &q.to_value(),
            item,
            &self.policy,
            &VerifyOptions {
                now_ms: clock.now_ms,
                ..Default::default()
            },
        );
        (q.quote_id == id && verified.ok).then_some(q)
    }
}
