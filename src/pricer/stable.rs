//! The stability rule: a quote shown for an item is served again, unchanged, while the item is
//! unchanged and the clock is within the quote's window. The window is written here once; the
//! engine re-serves by it, and a host-side copy of the kept quotes (the JS wrapper's quote cache)
//! is handed the window itself instead of working it out again.

use super::*;

/// The clock values `from <= now < until` (milliseconds since the epoch) during which a kept quote
/// is served again. `from >= until` holds no clock value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StabilityWindow {
    pub from: i64,
    pub until: i64,
}

impl StabilityWindow {
    /// Holds no clock value: the window of a quote that is not kept.
    pub const EMPTY: StabilityWindow = StabilityWindow { from: 0, until: 0 };

    /// From the moment a quote was issued, for the stability TTL (a TTL of 0 holds nothing).
    pub(super) fn after_issue(issued_at: i64, stability_ttl_ms: i64) -> StabilityWindow {
        StabilityWindow {
            from: issued_at,
            until: issued_at.saturating_add(stability_ttl_ms),
        }
    }

    /// A quote verifies up to and including `expires_at`: it is never served after that.
    fn until_expiry(self, expires_at: i64) -> StabilityWindow {
        StabilityWindow {
            until: self.until.min(expires_at.saturating_add(1)),
            ..self
        }
    }

    pub fn contains(&self, now_ms: i64) -> bool {
        self.from <= now_ms && now_ms < self.until
    }
}

impl Pricer {
    /// The stability rule's window for `quote`: issued, within the TTL, not expired. Kept quotes
    /// were made under this pricer's policy for the item kept with them, so within the window
    /// "still verifies" is exactly "the item is unchanged".
    fn stability_window(&self, quote: &Quote) -> StabilityWindow {
        StabilityWindow::after_issue(quote.issued_at, self.stability_ttl_ms)
            .until_expiry(quote.expires_at)
    }

    /// When this pricer serves `quote` again for the item it was kept with: its window if it is the
    /// quote kept for its item now, else None (a TTL of 0, an `engine_reset` quote, or a quote
    /// dropped or replaced since — see `stable_epoch`).
    pub fn reservable_window(&self, quote: &Quote) -> Option<StabilityWindow> {
        let (_, kept) = self.stable_quotes.get(&quote.item_id)?;
        (kept == quote).then(|| self.stability_window(kept))
    }

    /// Keeps `quote` to re-serve for `item` within its window.
    pub(super) fn keep_stable(&mut self, item: &Item, quote: &Quote) {
        if self.stability_ttl_ms > 0 && quote.reason != Reason::EngineReset {
            if self.stable_quotes.len() >= MAX_CACHED_ITEMS {
                self.stable_quotes.clear();
                self.stable_epoch += 1;
            }
            let replaced = self
                .stable_quotes
                .insert(item.id.clone(), (item.clone(), quote.clone()));
            if replaced.is_some() {
                self.stable_epoch += 1;
            }
        }
    }

    /// The quote kept for `item`, if the item is unchanged and the clock is within its window.
    pub(super) fn stable_quote(&self, item: &Item, clock: &Clock) -> Option<Quote> {
        let (priced, q) = self.stable_quotes.get(&item.id)?;
        (self.stability_window(q).contains(clock.now_ms) && priced == item).then(|| q.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::StabilityWindow;

    const ISSUED: i64 = 1_795_950_000_000;

    fn window(ttl_ms: i64, expires_at: i64) -> StabilityWindow {
        StabilityWindow::after_issue(ISSUED, ttl_ms).until_expiry(expires_at)
    }

    #[test]
    fn the_ttl_ends_the_window_when_the_quote_expires_later() {
        let w = window(60_000, ISSUED + 15 * 60_000);
        assert_eq!(
            w,
            StabilityWindow {
                from: ISSUED,
                until: ISSUED + 60_000
            }
        );
        assert!(!w.contains(ISSUED - 1), "before the quote was issued");
        assert!(w.contains(ISSUED), "from the moment it was issued");
        assert!(w.contains(w.until - 1));
        assert!(!w.contains(w.until), "the TTL's end is outside");
    }

    #[test]
    fn the_expiry_ends_the_window_when_it_comes_first() {
        let expires_at = ISSUED + 30_000;
        let w = window(60_000, expires_at);
        assert_eq!(w.until, expires_at + 1);
        assert!(
            w.contains(expires_at),
            "a quote verifies up to and including its expiry"
        );
        assert!(!w.contains(expires_at + 1));
        // Expiry and TTL end on the same millisecond: the TTL's end is still outside.
        let w = window(60_000, ISSUED + 60_000);
        assert!(w.contains(ISSUED + 59_999));
        assert!(!w.contains(ISSUED + 60_000));
    }

    #[test]
    fn a_ttl_of_zero_or_an_empty_window_holds_no_clock_value() {
        for w in [window(0, ISSUED + 60_000), StabilityWindow::EMPTY] {
            for now in [w.from - 1, w.from, w.from + 1, 0, ISSUED] {
                assert!(!w.contains(now), "{w:?} at {now}");
            }
        }
        // An already expired quote is never re-served either.
        assert!(!window(60_000, ISSUED - 1).contains(ISSUED));
    }

    #[test]
    fn the_far_future_saturates_instead_of_overflowing() {
        let w = StabilityWindow::after_issue(i64::MAX - 10, 60_000).until_expiry(i64::MAX);
        assert_eq!(w.until, i64::MAX);
        assert!(w.contains(i64::MAX - 1));
    }
}
