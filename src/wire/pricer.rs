//! The pricer fed JSON as storefronts hold it: items and events are read here, then priced and
//! tracked by the typed core. A batch answers a slot per item, so one bad item prices the rest.

use super::edge::EdgeRequestBody;
use crate::error::Result;
use crate::item::Item;
use crate::limits;
use crate::pricer::{PriceSlot, Pricer, TrackOutcome};
use crate::quote::Quote;
use crate::time::Clock;
use crate::Event;
use serde_json::Value;

/// `Pricer`'s JSON entry points (import the trait to call them).
pub trait JsonPricer {
    /// Prices one item given as JSON.
    fn price_for(&mut self, item: &Value, clock: &Clock) -> Result<Quote>;
    /// Prices a batch; a bad item gives an error slot, the others price.
    fn prices_for(&mut self, items: &[Value], clock: &Clock) -> Result<Vec<PriceSlot>>;
    /// Tracks one event given as JSON.
    fn track_json(&mut self, event: &Value, clock: &Clock) -> Result<TrackOutcome>;
    /// Edge mode on the device: the body to send for these items.
    fn edge_request(&mut self, items: &[Value], clock: &Clock) -> Result<EdgeRequestBody>;
}

impl JsonPricer for Pricer {
    fn price_for(&mut self, item: &Value, clock: &Clock) -> Result<Quote> {
        self.price(&Item::from_json(item)?, clock)
    }

    fn prices_for(&mut self, items: &[Value], clock: &Clock) -> Result<Vec<PriceSlot>> {
        limits::check_count("items", items.len(), limits::MAX_ITEMS_PER_BATCH)?;
        Ok(items
            .iter()
            .map(|v| match self.price_for(v, clock) {
                Ok(q) => PriceSlot::Quote(Box::new(q)),
                Err(e) => PriceSlot::error(Item::id_of(v), &e),
            })
            .collect())
    }

    fn track_json(&mut self, event: &Value, clock: &Clock) -> Result<TrackOutcome> {
        self.track(Event::from_json(event, clock.now_ms)?, clock)
    }

    fn edge_request(&mut self, items: &[Value], clock: &Clock) -> Result<EdgeRequestBody> {
        super::edge::edge_request(self, items, clock)
    }
}
