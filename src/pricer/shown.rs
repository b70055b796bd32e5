//! Quotes shown on other pages of the shop. A shop is many documents — a listing, a product page
//! opened in a new tab, a reload — each with its own pricer. Within the stability window an item
//! must keep the price the shopper was shown wherever it appears next, so with consent the quotes a
//! pricer shows go into the stored state (compactly, re-derived on use) and every pricer on that
//! storage re-serves them. A stored quote is re-served only if it rebuilds to the same quote id and
//! still passes `verify_quote` for the current item and policy (the stability rule).

use super::decide::finish_quote;
use super::*;
use crate::pricing;
use crate::quote::{verify, Checkout, VerifyOptions};
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShownDoc {
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

/// Reasons that come from a decision (behaviour, arm, exploration) — the ones another page could
/// decide differently — and `list`, the price a page showed before its engine was ready
/// ([`Pricer::adopt_quote`]). List prices for other reasons are the same everywhere.
fn decided(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::Personalized
            | Reason::ColdStart
            | Reason::Control
            | Reason::Explore
            | Reason::NoFeasiblePrice
            | Reason::List
    )
}

impl Pricer {
    fn model_version(&self) -> &str {
        self.interest.info().map_or("none", |i| i.version.as_str())
    }

    fn fresh_at(&self, issued_at: i64, now_ms: i64) -> bool {
        StabilityWindow::after_issue(issued_at, self.stability_ttl_ms).contains(now_ms)
    }

    /// The shown quotes to store, or None when there are none (or nothing may be stored).
    pub(super) fn shown_document(&self, now_ms: i64) -> Option<ShownDoc> {
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
        Some(ShownDoc {
            policy: self.policy.version.clone(),
            model: self.model_version().to_string(),
            quotes,
        })
    }

    /// Takes in the shown quotes of a stored state (another page's): for an item this pricer has
    /// not shown yet, the earliest quote shown anywhere wins. Malformed or foreign ones are ignored.
    pub(super) fn absorb_shown(&mut self, doc: Option<&ShownDoc>, now_ms: i64) {
        if self.persistence() != Persistence::Storage {
            return;
        }
        let Some(doc) = doc else {
            return;
        };
        if doc.policy != self.policy.version || doc.model != self.model_version() {
            return;
        }
        for s in doc.quotes.iter().take(MAX_SHOWN).cloned() {
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
        let s = self.restored.get(&item.id)?;
        rebuild(
            s,
            item,
            &self.policy,
            self.interest.info().map(|i| i.version.as_str()),
            clock.now_ms,
            self.stability_ttl_ms,
        )
    }

    /// Keeps `quote`, shown for `item` before this pricer was ready (e.g. `listQuote` while the
    /// engine loaded), as the price of `item` for the stability window: a price the shopper saw
    /// does not change in front of them. Only a quote that passes `verify_quote` for this item and
    /// policy now, issued within the window, is kept; an item this pricer already priced keeps its
    /// price. Returns whether `quote` is now what `item` is priced at.
    pub fn adopt_quote(&mut self, item: &Item, quote: &Quote, clock: &Clock) -> bool {
        if let Some(q) = self.stable_quote(item, clock) {
            return q.quote_id == quote.quote_id;
        }
        // Without consent (or under GPC) this pricer shows list prices only, whatever was shown.
        if self.blocked_reason().is_some()
            && (quote.personalized || quote.price_minor != item.list_minor)
        {
            return false;
        }
        let verified = verify(
            &Checkout::of(quote),
            item,
            &self.policy,
            &VerifyOptions {
                now_ms: clock.now_ms,
                ..Default::default()
            },
        );
        if !verified.ok
            || !self.fresh_at(quote.issued_at, clock.now_ms)
            || self.stability_ttl_ms <= 0
        {
            return false;
        }
        self.restored.remove(&item.id);
        self.keep_stable(item, quote);
        if self.persistence() == Persistence::Storage && decided(quote.reason) {
            self.shown_unsaved = true;
        }
        true
    }
}

/// A stored quote rebuilt for `item`, if it still holds: issued within the window, the same quote
/// id, and it passes `verify_quote` for this item and policy at `now_ms`.
fn rebuild(
    s: &ShownQuote,
    item: &Item,
    policy: &Policy,
    model_version: Option<&str>,
    now_ms: i64,
    stability_ttl_ms: i64,
) -> Option<Quote> {
    let ShownQuote(_, price, reason, variant, interest, propensity, issued_at, personalized, id) =
        s.clone();
    let fresh = StabilityWindow::after_issue(issued_at, stability_ttl_ms).contains(now_ms);
    if !fresh || !decided(reason) {
        return None;
    }
    if reason == Reason::List {
        // A price shown before the engine was ready: `listQuote`, which has no model.
        let q = super::list_quote(item, policy, None, issued_at, Reason::List);
        return (q.quote_id == id).then_some(q);
    }
    let bounds = pricing::bounds(item, policy);
    let mut q = super::decide::unsealed_list_quote(item, policy, model_version, issued_at, reason);
    q.price_minor = price;
    q.discount_minor = item.list_minor - price;
    q.interest = interest;
    q.variant = variant;
    q.propensity = propensity;
    q.personalized = personalized;
    let q = finish_quote(q, item, policy, &bounds).seal();
    let verified = verify(
        &Checkout::of(&q),
        item,
        policy,
        &VerifyOptions {
            now_ms,
            ..Default::default()
        },
    );
    (q.quote_id == id && verified.ok).then_some(q)
}

/// Only the shown quotes of a stored state; the rest of the document is skipped unread.
#[derive(Deserialize)]
struct ShownOnly {
    schema: String,
    version: u32,
    #[serde(default)]
    shown: Option<ShownDoc>,
}

/// The quote the shopper was already shown for `item` on another page of the shop, read from a
/// stored state without a pricer or a model: what a page shows before its engine is ready
/// (`quoteBeforeReady`), so a price seen elsewhere is the price seen here. None when the state
/// holds none for this item under this policy, or it no longer holds (see [`rebuild`]); a
/// malformed state is none, never an error.
pub fn shown_quote(
    state_text: &str,
    item: &Item,
    policy: &Policy,
    now_ms: i64,
    stability_ttl_ms: Option<i64>,
) -> Option<Quote> {
    if state_text.len() > crate::limits::MAX_STATE_BYTES {
        return None;
    }
    let stored: ShownOnly = serde_json::from_str(state_text).ok()?;
    if stored.schema != crate::state::STATE_SCHEMA || stored.version != crate::state::STATE_VERSION
    {
        return None;
    }
    let doc = stored.shown?;
    if doc.policy != policy.version {
        return None;
    }
    let ttl = stability_ttl_ms.unwrap_or(policy.stability.ttl_ms);
    let model = (doc.model != "none").then_some(doc.model.as_str());
    // The earliest quote shown anywhere wins, as in a pricer (`absorb_shown`).
    doc.quotes
        .iter()
        .take(MAX_SHOWN)
        .filter(|s| s.item_id() == item.id)
        .min_by_key(|s| s.issued_at())
        .and_then(|s| rebuild(s, item, policy, model, now_ms, ttl))
}
