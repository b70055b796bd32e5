//! Events as storefronts send them to `track()` and as the log stores them: one JSON form for
//! both, read into a typed [`Event`] (whole milliseconds, exact amounts, a known currency) with
//! every bad field named, and written back with amounts as exact decimal strings.

use super::json::decimal;
use crate::behaviour::{Event, EventType, Page, StoredForm, MAX_FUTURE_SKEW_MS};
use crate::error::{from_serde_path, Code, Error, Result};
use crate::limits;
use crate::money::Currency;
use crate::time::DAY_MS;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Longest dwell accepted on one page (a day).
const MAX_DWELL_MS: f64 = DAY_MS as f64;
/// Most units one cart or purchase event may carry.
const MAX_QUANTITY: u32 = 10_000;

/// The JSON form. Numbers stay JSON numbers as sent (`at` and `quantity` are written as the
/// floats they were always stored as, so stored logs keep their bytes).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventDoc {
    #[serde(rename = "type")]
    kind: EventType,
    /// Optional on input (default: the pricer's clock).
    #[serde(default)]
    at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<Page>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dwell_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quantity: Option<f64>,
    /// Major units like prices (number or decimal string); stored as an exact decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

impl Event {
    /// Parses and validates an event; `now` fills a missing `at`. Every error names its field.
    pub fn from_json(v: &Value, now: i64) -> Result<Event> {
        let doc: EventDoc = serde_path_to_error::deserialize(v)
            .map_err(|e| from_serde_path(Code::InvalidEvent, "invalid event", e))?;
        doc.checked(now)
    }
}

/// The stored JSON form of a validated event.
impl StoredForm for Event {
    fn encode(&self) -> Box<RawValue> {
        stored_form(self)
    }
}

fn stored_form(ev: &Event) -> Box<RawValue> {
    let doc = EventDoc {
        kind: ev.kind,
        at: Some(ev.at_ms as f64),
        page: ev.page.clone(),
        item_id: ev.item_id.clone(),
        category: ev.category.clone(),
        dwell_ms: ev.dwell_ms,
        quantity: ev.quantity.map(f64::from),
        amount: ev
            .amount_minor()
            .map(|(minor, currency)| Value::String(currency.format_major(minor))),
        currency: ev.currency.map(|c| c.code().to_string()),
    };
    serde_json::value::to_raw_value(&doc)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("valid JSON"))
}

fn bad<T>(field: &str, msg: String) -> Result<T> {
    Err(Error::at(Code::InvalidEvent, field, msg))
}

impl EventDoc {
    fn checked(self, now: i64) -> Result<Event> {
        let at = self.at.unwrap_or(now as f64);
        if !(at.is_finite() && at >= 0.0 && at.fract() == 0.0) {
            return bad(
                "at",
                format!("`at` must be whole milliseconds since the epoch (Date.now()), got {at}"),
            );
        }
        if at as i64 > now.saturating_add(MAX_FUTURE_SKEW_MS) {
            return bad("at", format!("`at` ({at}) is more than 5 minutes after the pricer's clock ({now}); send Date.now() of the event, or leave `at` out"));
        }
        let at_ms = (at as i64).min(now);
        if let Some(page) = &self.page {
            check_page(page)?;
        }
        let kind_name = self.kind.name();
        if self.kind == EventType::PageView && self.page.is_none() {
            return bad("page", "a page_view needs `page: { kind: 'administrative' | 'informational' | 'product' }`".into());
        }
        if matches!(self.kind, EventType::AddToCart | EventType::RemoveFromCart)
            && self.item_id.is_none()
        {
            return bad(
                "itemId",
                format!("a {kind_name} event needs the `itemId` it is about"),
            );
        }
        if let Some(id) = &self.item_id {
            if id.is_empty() {
                return bad("itemId", "`itemId` is empty".into());
            }
            limits::check_str("itemId", id, limits::MAX_ID_LEN)?;
        }
        if let Some(c) = &self.category {
            limits::check_str("category", c, limits::MAX_NAME_LEN)?;
        }
        if let Some(d) = self.dwell_ms {
            if !(d.is_finite() && (0.0..=MAX_DWELL_MS).contains(&d)) {
                return bad(
                    "dwellMs",
                    format!("`dwellMs` must be from 0 to {MAX_DWELL_MS} ms, got {d}"),
                );
            }
        }
        let quantity = match self.quantity {
            None => None,
            Some(q)
                if q.is_finite()
                    && q.fract() == 0.0
                    && (1.0..=f64::from(MAX_QUANTITY)).contains(&q) =>
            {
                Some(q as u32)
            }
            Some(q) => {
                return bad(
                    "quantity",
                    format!("`quantity` must be a whole number from 1 to {MAX_QUANTITY}, got {q}"),
                )
            }
        };
        let event_currency =
            |c: &str| Currency::from_code(c).map_err(|e| e.with_code(Code::InvalidEvent));
        let (amount_minor, currency) = match (&self.amount, &self.currency) {
            (None, None) => (None, None),
            (Some(_), None) => {
                return bad(
                    "currency",
                    "an `amount` needs its `currency` (ISO 4217, e.g. \"EUR\")".into(),
                )
            }
            (None, Some(c)) => (None, Some(event_currency(c)?)),
            (Some(amount), Some(c)) => {
                let currency = event_currency(c)?;
                let minor = decimal(amount)
                    .and_then(|d| currency.parse_major(&d))
                    .map_err(|why| {
                        Error::at(Code::InvalidEvent, "amount", format!("`amount` {why}"))
                    })?;
                (Some(minor), Some(currency))
            }
        };
        if self.kind != EventType::PageView && self.dwell_ms.is_some() {
            return bad(
                "dwellMs",
                format!("`dwellMs` belongs to page_view events, not {kind_name}"),
            );
        }
        Ok(Event {
            kind: self.kind,
            at_ms,
            page: self.page,
            item_id: self.item_id,
            category: self.category,
            dwell_ms: self.dwell_ms,
            quantity,
            amount_minor,
            currency,
        })
    }
}

fn check_page(page: &Page) -> Result<()> {
    if let Some(id) = &page.id {
        limits::check_str("page.id", id, limits::MAX_ID_LEN)?;
    }
    for (field, value, max) in [
        ("page.bounceRate", page.bounce_rate, Some(1.0)),
        ("page.exitRate", page.exit_rate, Some(1.0)),
        ("page.pageValue", page.page_value, None),
    ] {
        if let Some(x) = value {
            if !x.is_finite() || x < 0.0 || max.is_some_and(|m| x > m) || x > 1e9 {
                let range = if max.is_some() {
                    "from 0 to 1"
                } else {
                    "a finite number >= 0"
                };
                return bad(field, format!("`{field}` must be {range}, got {x}"));
            }
        }
    }
    Ok(())
}
