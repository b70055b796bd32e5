//! Features: the registry read from `models/features.json` (the one spec shared with `train.py`), the
//! summaries a device computes from its event log (and the CLI from dataset rows), and the feature
//! vectors built from them. All maths is f64; values become f32 once, at the model boundary.

use crate::behaviour::{current_session, Event, EventType, PageKind};
use crate::error::quoted;
use crate::error::{Code, Error, Result};
use crate::time::{days_from_civil, Clock, DAY_MS};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

const SPEC_JSON: &str = include_str!("../models/features.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Session,
    Clock,
    History,
    Item,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    Identity,
    Log1p,
    Equals(f64),
}

impl Transform {
    fn parse(s: &str) -> Option<Transform> {
        match s {
            "identity" => Some(Transform::Identity),
            "log1p" => Some(Transform::Log1p),
            _ => s
                .strip_prefix("equals:")?
                .parse()
                .ok()
                .map(Transform::Equals),
        }
    }

    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Identity => x,
            Transform::Log1p => libm::log1p(x),
            Transform::Equals(v) => f64::from(u8::from(x == v)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub scope: Scope,
    /// The summary value it is computed from.
    pub from: String,
    #[serde(rename = "transform")]
    transform_name: String,
    #[serde(skip, default = "identity")]
    pub transform: Transform,
    pub unit: String,
    pub meaning: String,
    pub source: String,
    /// The model input (after the transform) a device can produce from a valid log.
    pub range: (f64, f64),
}

fn identity() -> Transform {
    Transform::Identity
}

#[derive(Debug)]
pub struct Registry {
    features: Vec<FeatureSpec>,
    by_name: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct SpecFile {
    features: Vec<FeatureSpec>,
}

impl Registry {
    /// The registry compiled from `models/features.json`.
    pub fn builtin() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            Registry::parse(SPEC_JSON).expect("models/features.json is checked by the test suite")
        })
    }

    pub fn parse(json: &str) -> Result<Registry> {
        let spec: SpecFile = serde_json::from_str(json)
            .map_err(|e| Error::new(Code::Internal, format!("features.json: {e}")))?;
        let mut by_name = HashMap::new();
        let mut features = spec.features;
        for (i, f) in features.iter_mut().enumerate() {
            f.transform = Transform::parse(&f.transform_name).ok_or_else(|| {
                Error::new(
                    Code::Internal,
                    format!(
                        "features.json: {}: unknown transform {}",
                        f.name,
                        quoted(&f.transform_name)
                    ),
                )
            })?;
            if summary_value(&f.from, &Summaries::default()).is_none() {
                return Err(Error::new(
                    Code::Internal,
                    format!(
                        "features.json: {}: unknown summary value {}",
                        f.name,
                        quoted(&f.from)
                    ),
                ));
            }
            if !(f.range.0.is_finite() && f.range.1.is_finite() && f.range.0 <= f.range.1) {
                return Err(Error::new(
                    Code::Internal,
                    format!("features.json: {}: range must be [low, high]", f.name),
                ));
            }
            if by_name.insert(f.name.clone(), i).is_some() {
                return Err(Error::new(
                    Code::Internal,
                    format!("features.json: duplicate feature {}", f.name),
                ));
            }
        }
        Ok(Registry { features, by_name })
    }

    pub fn get(&self, name: &str) -> Option<&FeatureSpec> {
        self.by_name.get(name).map(|&i| &self.features[i])
    }

    pub fn all(&self) -> &[FeatureSpec] {
        &self.features
    }

    /// Resolves a model's feature names, naming the first unknown one.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<&FeatureSpec>> {
        names
            .iter()
            .map(|n| {
                self.get(n).ok_or_else(|| {
                    Error::new(
                        Code::InvalidFeatures,
                        format!(
                            "unknown feature {}: known features are listed in models/features.json",
                            quoted(n)
                        ),
                    )
                })
            })
            .collect()
    }
}

/// Aggregates of one session, as the Online Shoppers data has them per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSummary {
    pub admin_pages: f64,
    pub admin_seconds: f64,
    pub info_pages: f64,
    pub info_seconds: f64,
    pub product_pages: f64,
    pub product_seconds: f64,
    pub bounce_rate_avg: f64,
    pub exit_rate_avg: f64,
    pub page_value_avg: f64,
    pub special_day: f64,
    pub month: f64,
    pub weekend: f64,
    pub returning_visitor: f64,
}

/// Customer history, as the Hillstrom data has it per customer.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySummary {
    pub recency_months: f64,
    pub spend_12m: f64,
    pub bought_mens: f64,
    pub bought_womens: f64,
    pub new_customer: f64,
}

impl Default for HistorySummary {
    fn default() -> Self {
        HistorySummary {
            recency_months: 12.0,
            spend_12m: 0.0,
            bought_mens: 0.0,
            bought_womens: 0.0,
            new_customer: 1.0,
        }
    }
}

/// What the log says about one item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemSummary {
    pub item_views: f64,
    pub item_in_cart: f64,
    pub category_share: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summaries {
    pub session: SessionSummary,
    pub history: HistorySummary,
    pub item: Option<ItemSummary>,
}

fn summary_value(key: &str, s: &Summaries) -> Option<f64> {
    let (ss, h) = (&s.session, &s.history);
    let item = s.item.clone().unwrap_or_default();
    Some(match key {
        "admin_pages" => ss.admin_pages,
        "admin_seconds" => ss.admin_seconds,
        "info_pages" => ss.info_pages,
        "info_seconds" => ss.info_seconds,
        "product_pages" => ss.product_pages,
        "product_seconds" => ss.product_seconds,
        "bounce_rate_avg" => ss.bounce_rate_avg,
        "exit_rate_avg" => ss.exit_rate_avg,
        "page_value_avg" => ss.page_value_avg,
        "special_day" => ss.special_day,
        "month" => ss.month,
        "weekend" => ss.weekend,
        "returning_visitor" => ss.returning_visitor,
        "recency_months" => h.recency_months,
        "spend_12m" => h.spend_12m,
        "bought_mens" => h.bought_mens,
        "bought_womens" => h.bought_womens,
        "new_customer" => h.new_customer,
        "item_views" => item.item_views,
        "item_in_cart" => item.item_in_cart,
        "category_share" => item.category_share,
        _ => return None,
    })
}

/// The feature vector in f64, in the order of `specs`.
pub fn vector(specs: &[&FeatureSpec], s: &Summaries) -> Vec<f64> {
    specs
        .iter()
        .map(|f| f.transform.apply(summary_value(&f.from, s).unwrap_or(0.0)))
        .collect()
}

impl FeatureSpec {
    /// The value before the transform, in the spec's unit (what `explain()` shows a shopper).
    pub fn raw(&self, s: &Summaries) -> f64 {
        summary_value(&self.from, s).unwrap_or(0.0)
    }

    pub fn transform_name(&self) -> &str {
        &self.transform_name
    }
}

/// The single rounding of features to the model's f32 input.
pub fn to_model_input(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// The dataset's "closeness to a special day": 1 six days before Valentine's Day or Mother's Day
/// (second Sunday of May), 0.2 less per day of distance. An approximation of Sakar et al.'s rule.
pub fn special_day(clock: &Clock) -> f64 {
    let (y, m, d, _) = clock.local_date();
    let today = days_from_civil(y, m, d);
    let may1 = days_from_civil(y, 5, 1);
    let may1_weekday = (may1 + 3).rem_euclid(7); // 0 = Monday
    let mothers_day = may1 + (6 - may1_weekday) + 7;
    let closeness = [days_from_civil(y, 2, 14), mothers_day]
        .iter()
        .map(|&day| (5 - (today - (day - 6)).abs()).max(0))
        .max()
        .unwrap_or(0);
    closeness as f64 / 5.0
}

/// Session aggregates of the current session, the way Google Analytics built the training rows.
pub fn session_summary(events: &[Event], clock: &Clock) -> SessionSummary {
    let session = current_session(events, clock.now_ms);
    let views: Vec<&Event> = session
        .iter()
        .filter(|e| e.kind == EventType::PageView)
        .collect();
    let mut s = SessionSummary::default();
    let (mut bounce, mut exit, mut value) = (Mean::default(), Mean::default(), Mean::default());
    for (i, ev) in views.iter().enumerate() {
        let Some(page) = &ev.page else { continue };
        let seconds = match (ev.dwell_ms, views.get(i + 1)) {
            (Some(ms), _) => ms / 1000.0,
            (None, Some(next)) => (next.at_ms() - ev.at_ms()) as f64 / 1000.0,
            (None, None) => 0.0,
        };
        let (pages, secs) = match page.kind {
            PageKind::Administrative => (&mut s.admin_pages, &mut s.admin_seconds),
            PageKind::Informational => (&mut s.info_pages, &mut s.info_seconds),
            PageKind::Product => (&mut s.product_pages, &mut s.product_seconds),
        };
        *pages += 1.0;
        *secs += seconds;
        bounce.add(page.bounce_rate);
        exit.add(page.exit_rate);
        value.add(page.page_value);
    }
    s.bounce_rate_avg = bounce.get();
    s.exit_rate_avg = exit.get();
    s.page_value_avg = value.get();
    let (_, month, _, weekday) = clock.local_date();
    s.month = f64::from(month);
    s.weekend = f64::from(u8::from(weekday >= 5));
    s.special_day = special_day(clock);
    let session_start = session.first().map_or(clock.now_ms, Event::at_ms);
    s.returning_visitor =
        f64::from(u8::from(events.iter().any(|e| {
            e.kind == EventType::PageView && e.at_ms() < session_start
        })));
    s
}

#[derive(Default)]
struct Mean {
    sum: f64,
    n: u32,
}

impl Mean {
    fn add(&mut self, x: Option<f64>) {
        if let Some(x) = x {
            self.sum += x;
            self.n += 1;
        }
    }
    fn get(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / f64::from(self.n)
        }
    }
}

/// Customer history from purchase events (Hillstrom's columns).
pub fn history_summary(events: &[Event], clock: &Clock) -> HistorySummary {
    let year_ago = clock.now_ms - 365 * DAY_MS;
    let purchases: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventType::Purchase && e.at_ms() <= clock.now_ms)
        .collect();
    let Some(newest) = purchases.iter().map(|e| e.at_ms()).max() else {
        return HistorySummary::default();
    };
    let days = (clock.now_ms - newest) as f64 / DAY_MS as f64;
    let recent: Vec<&&Event> = purchases.iter().filter(|e| e.at_ms() >= year_ago).collect();
    let bought = |cat: &str| {
        f64::from(u8::from(
            recent.iter().any(|e| e.category.as_deref() == Some(cat)),
        ))
    };
    HistorySummary {
        recency_months: (days / 30.4375).ceil().clamp(1.0, 12.0),
        spend_12m: recent
            .iter()
            .filter_map(|e| e.amount_minor())
            .map(|(minor, c)| c.to_major_f64(minor))
            .sum(),
        bought_mens: bought("mens"),
        bought_womens: bought("womens"),
        new_customer: f64::from(u8::from(!purchases.iter().any(|e| e.at_ms() < year_ago))),
    }
}

/// What the log says about one item (item-scope features).
pub fn item_summary(
    events: &[Event],
    clock: &Clock,
    item_id: &str,
    category: Option<&str>,
) -> ItemSummary {
    let is_product_view = |e: &&Event| {
        e.kind == EventType::PageView
            && e.page.as_ref().is_some_and(|p| p.kind == PageKind::Product)
    };
    let item_views = events
        .iter()
        .filter(is_product_view)
        .filter(|e| e.page.as_ref().and_then(|p| p.id.as_deref()) == Some(item_id))
        .count();
    let cart: f64 = events
        .iter()
        .filter(|e| e.item_id.as_deref() == Some(item_id))
        .map(|e| match e.kind {
            EventType::AddToCart => f64::from(e.quantity.unwrap_or(1)),
            EventType::RemoveFromCart => -f64::from(e.quantity.unwrap_or(1)),
            _ => 0.0,
        })
        .sum();
    let session_views: Vec<&Event> = current_session(events, clock.now_ms)
        .iter()
        .filter(is_product_view)
        .collect();
    let in_category = session_views
        .iter()
        .filter(|e| category.is_some() && e.category.as_deref() == category)
        .count();
    ItemSummary {
        item_views: item_views as f64,
        item_in_cart: f64::from(u8::from(cart > 0.0)),
        category_share: if session_views.is_empty() {
            0.0
        } else {
            in_category as f64 / session_views.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_file_parses_and_names_are_canonical() {
        let r = Registry::builtin();
        for name in [
            "admin_pages",
            "page_value_avg",
            "month_nov",
            "returning_visitor",
            "recency_months",
            "spend_12m",
            "category_share",
        ] {
            assert!(r.get(name).is_some(), "{name}");
        }
        assert!(
            r.get("month_jan").is_none(),
            "January is never in the training data"
        );
        assert_eq!(
            r.resolve(&["nope".to_string()]).unwrap_err().code,
            Code::InvalidFeatures
        );
    }

    #[test]
    fn special_days_peak_six_days_before() {
        let at = |y, m, d| Clock {
            now_ms: days_from_civil(y, m, d) * DAY_MS + 12 * 3_600_000,
            utc_offset_minutes: 0,
        };
        assert_eq!(special_day(&at(2026, 2, 8)), 1.0);
        assert_eq!(special_day(&at(2026, 2, 10)), 0.6);
        assert_eq!(special_day(&at(2026, 2, 3)), 0.0);
        assert_eq!(special_day(&at(2026, 2, 14)), 0.0);
        // Mother's Day 2026 is Sunday 10 May: peak on 4 May.
        assert_eq!(special_day(&at(2026, 5, 4)), 1.0);
        assert_eq!(special_day(&at(2026, 7, 4)), 0.0);
    }
}
