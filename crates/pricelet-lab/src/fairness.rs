//! The fairness report (`pricelet fairness`): who gets which price when a population of real
//! sessions goes through the production pricing path.
//!
//! Each Online Shoppers row is one shopper. Its features come from the row through the same code as
//! `pricelet evaluate` (`ShopperSession::summary` → `features::vector`), the model is run
//! by tract, and the items are priced by `Pricer::price_from_features` — the code the Worker runs —
//! with the shopper's experiment arm from `experiment::assign_variant`. Edge pricing never explores,
//! so a treatment shopper's exploration is drawn exactly as the device draws it
//! (`experiment::exploration` over `pricing::candidates`). Every quote is then checked with
//! `verify_quote` against the catalog item and the policy, and the report gives the discount
//! distribution by segment (visitor type, weekend), the share of shoppers offered any discount, and
//! the spread of prices per item against the policy's `maxSpreadPercent`.

use crate::datasets::ShopperSession;
use crate::rng::Rng;
use pricelet::error::Result;
use pricelet::experiment::{self, Variant};
use pricelet::features::{self, Registry, Summaries};
use pricelet::item::Item;
use pricelet::ldp;
use pricelet::policy::Policy;
use pricelet::pricer::{Consent, EdgeRequest, Pricer, PricerConfig};
use pricelet::pricing;
use pricelet::quote::{Reason, VerifyOptions};
use pricelet::scorer::ModelSlot;
use pricelet::time::Clock;
use pricelet::wire::checkout::verify_quote;
use pricelet_onnx::Model;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The catalog used when none is given: one item per kind of rule (cost, excluded category,
/// zero-decimal currency with step endings, floor price, default cost ratio).
pub fn builtin_catalog() -> Vec<Value> {
    vec![
        json!({ "id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00" }),
        json!({ "id": "watch-9", "price": "1299.00", "currency": "EUR", "category": "luxury", "cost": 500 }),
        json!({ "id": "tea-jp", "price": 12800, "currency": "JPY", "category": "home", "cost": 4000 }),
        json!({ "id": "tv-55", "price": 599, "currency": "EUR", "category": "electronics", "floorPrice": "520" }),
        json!({ "id": "tee-3", "price": "19.99", "currency": "EUR", "category": "apparel" }),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentStats {
    pub segment: String,
    pub shoppers: usize,
    pub mean_interest: f64,
    /// Share of shoppers offered a discount on at least one item.
    pub shoppers_with_any_discount: f64,
    pub quotes: usize,
    pub discounted_quote_share: f64,
    /// Mean discount over all quotes (list price counts as 0), percent of list.
    pub mean_discount_percent: f64,
    /// Share of quotes at each policy step (the largest step at or below the actual discount).
    pub step_shares: Vec<f64>,
    /// Share of quotes that were explore quotes.
    pub explore_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemStats {
    pub item_id: String,
    pub currency: String,
    pub list_price: f64,
    pub excluded: bool,
    pub quotes: usize,
    pub discounted_share: f64,
    pub min_price: f64,
    pub max_price: f64,
    /// (max − min) / list, percent.
    pub spread_percent: f64,
    /// The lowest feasible candidate: what exploration can show anyone.
    pub lowest_feasible_price: f64,
    /// The cap in force for the item (caps and `maxSpreadPercent`), percent.
    pub cap_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FairnessReport {
    pub method: &'static str,
    pub rows: usize,
    pub policy: String,
    pub model: String,
    pub steps_percent: Vec<f64>,
    pub max_spread_percent: Option<f64>,
    pub segments: Vec<SegmentStats>,
    pub items: Vec<ItemStats>,
    pub skipped_items: Vec<Value>,
    pub quotes: usize,
    /// Quotes that `verify_quote` rejected, by problem code (should be none).
    pub verification_problems: BTreeMap<String, usize>,
    /// Quotes more than `maxSpreadPercent` below list (should be none).
    pub spread_violations: usize,
}

impl FairnessReport {
    /// Nothing that should not happen happened.
    pub fn ok(&self) -> bool {
        self.verification_problems.is_empty() && self.spread_violations == 0
    }
}

#[derive(Default)]
struct Acc {
    shoppers: usize,
    interest: f64,
    any_discount: usize,
    quotes: usize,
    discounted: usize,
    discount_sum: f64,
    steps: Vec<usize>,
    explored: usize,
}

impl Acc {
    fn stats(&self, segment: &str) -> SegmentStats {
        let q = self.quotes.max(1) as f64;
        SegmentStats {
            segment: segment.to_string(),
            shoppers: self.shoppers,
            mean_interest: self.interest / self.shoppers.max(1) as f64,
            shoppers_with_any_discount: self.any_discount as f64 / self.shoppers.max(1) as f64,
            quotes: self.quotes,
            discounted_quote_share: self.discounted as f64 / q,
            mean_discount_percent: self.discount_sum / q,
            step_shares: self.steps.iter().map(|&c| c as f64 / q).collect(),
            explore_share: self.explored as f64 / q,
        }
    }
}

struct ItemAcc {
    item: Item,
    excluded: bool,
    quotes: usize,
    discounted: usize,
    min: i64,
    max: i64,
    lowest_feasible: i64,
    cap: f64,
}

/// A pricer for the lab's studies of the Worker's path (`Pricer::price_from_features`): consent
/// granted, no stability window (every call is priced afresh), a seeded generator.
pub fn edge_pricer(policy: &Policy, model: Model, anon_id: &str, now_ms: i64) -> Result<Pricer> {
    Pricer::new(
        policy.clone(),
        ModelSlot::Ready(Box::new(model)),
        ModelSlot::Absent,
        None,
        PricerConfig {
            consent: Consent::Granted,
            gpc_opt_out: false,
            anon_id: Some(anon_id.into()),
            stability_ttl_ms: Some(0),
        },
        now_ms,
        Box::new(Rng::new(0)),
    )
}

/// Prices `items` for every row through the production path and summarizes who got what.
pub fn fairness_report(
    model: Model,
    policy: &Policy,
    rows: &[ShopperSession],
    items: &[Value],
    clock: &Clock,
) -> Result<FairnessReport> {
    let names = model.info().features.clone();
    let model_version = model.info().version.clone();
    let specs = Registry::builtin().resolve(&names)?;
    let mut pricer = edge_pricer(policy, model, "fairness", clock.now_ms)?;
    let mut catalog: Vec<ItemAcc> = Vec::new();
    let mut item_json = Vec::new();
    let mut skipped = Vec::new();
    for v in items {
        match Item::from_json(v) {
            Ok(item) => {
                let b = pricing::bounds(&item, policy);
                let excluded = policy.exclusion(&item).is_some();
                let lowest = pricing::candidates(&item, policy, &b)
                    .last()
                    .filter(|_| !excluded)
                    .map_or(item.list_minor, |c| c.price_minor);
                catalog.push(ItemAcc {
                    excluded,
                    quotes: 0,
                    discounted: 0,
                    min: i64::MAX,
                    max: i64::MIN,
                    lowest_feasible: lowest,
                    cap: b.cap.as_percent(),
                    item,
                });
                item_json.push(v.clone());
            }
            Err(e) => skipped.push(json!({ "itemId": Item::id_of(v), "error": e.message })),
        }
    }
    let steps = policy.discount_steps.len() + 1;
    let mut segments: BTreeMap<String, Acc> = BTreeMap::new();
    let order = [
        "all",
        "VisitorType=New_Visitor",
        "VisitorType=Returning_Visitor",
        "VisitorType=Other",
        "Weekend=FALSE",
        "Weekend=TRUE",
    ];
    for s in order {
        segments.insert(
            s.to_string(),
            Acc {
                steps: vec![0; steps],
                ..Default::default()
            },
        );
    }
    let mut problems: BTreeMap<String, usize> = BTreeMap::new();
    let mut spread_violations = 0;
    let mut total_quotes = 0;
    let verify = VerifyOptions {
        now_ms: clock.now_ms,
        ..Default::default()
    };
    for (i, row) in rows.iter().enumerate() {
        let session = row.summary();
        let visitor = row.visitor_type.trim().to_string();
        let weekend = if session.weekend > 0.0 {
            "TRUE"
        } else {
            "FALSE"
        };
        let feature_row = features::vector(
            &specs,
            &Summaries {
                session,
                ..Default::default()
            },
        );
        let anon = format!("shopper-{i}");
        let variant = experiment::assign_variant(&anon, policy);
        let request = EdgeRequest {
            items: pricelet::wire::edge::request_items(&item_json),
            features: Some(vec![feature_row; item_json.len()]),
            feature_names: Some(names.clone()),
            variant: Some(variant.as_str().to_string()),
        };
        let quotes = pricer.price_from_features(&request, clock)?;
        let mut any = false;
        let mut interest = 0.0;
        let keys = [
            "all".to_string(),
            format!("VisitorType={visitor}"),
            format!("Weekend={weekend}"),
        ];
        for (acc, slot) in catalog.iter_mut().zip(quotes) {
            let Some(quote) = slot.quote() else { continue };
            let mut quote = quote.clone();
            interest = quote.interest.unwrap_or(interest);
            let priced = quote.reason != Reason::Excluded && quote.interest.is_some();
            let mut explored = false;
            if variant == Variant::Treatment && priced {
                let b = pricing::bounds(&acc.item, policy);
                let c = pricing::candidates(&acc.item, policy, &b);
                if let Some(j) =
                    experiment::exploration(&anon, &acc.item.id, clock.now_ms, policy, c.len())
                {
                    quote.price_minor = c[j].price_minor;
                    quote.discount_minor = c[j].discount_minor;
                    quote.reason = Reason::Explore;
                    quote = quote.seal();
                    explored = true;
                }
            }
            let v = verify_quote(&quote.to_value(), &acc.item, policy, &verify);
            for p in v.problems {
                *problems.entry(p.code.to_string()).or_default() += 1;
            }
            if let Some(cap) = policy.spread_cap() {
                if i128::from(quote.discount_minor) * 1_000_000
                    > i128::from(acc.item.list_minor) * i128::from(cap.0)
                {
                    spread_violations += 1;
                }
            }
            total_quotes += 1;
            acc.quotes += 1;
            acc.min = acc.min.min(quote.price_minor);
            acc.max = acc.max.max(quote.price_minor);
            let discounted = quote.discount_minor > 0;
            acc.discounted += usize::from(discounted);
            any |= discounted;
            let step = ldp::step_index(
                quote.discount_minor,
                quote.list_price_minor,
                &policy.discount_steps,
            );
            let percent = 100.0 * quote.discount_minor as f64 / acc.item.list_minor.max(1) as f64;
            for k in &keys {
                if let Some(s) = segments.get_mut(k) {
                    s.quotes += 1;
                    s.discounted += usize::from(discounted);
                    s.discount_sum += percent;
                    s.steps[step] += 1;
                    s.explored += usize::from(explored);
                }
            }
        }
        for k in &keys {
            if let Some(s) = segments.get_mut(k) {
                s.shoppers += 1;
                s.interest += interest;
                s.any_discount += usize::from(any);
            }
        }
    }
    let major = |it: &Item, m: i64| it.currency.to_major_f64(m);
    Ok(FairnessReport {
        method: "Online Shoppers rows as sessions: features from the row (as `pricelet evaluate`), the model through tract, prices from Pricer::price_from_features (control/treatment by anonymous id), exploration as on the device, every quote checked by verify_quote",
        rows: rows.len(),
        policy: policy.version.clone(),
        model: model_version,
        steps_percent: ldp::Domain::for_policy(policy).steps_percent,
        max_spread_percent: policy.spread_cap().map(|c| c.as_percent()),
        segments: order
            .iter()
            .filter_map(|s| segments.get(*s).map(|a| a.stats(s)))
            .filter(|s| s.shoppers > 0)
            .collect(),
        items: catalog
            .iter()
            .map(|a| {
                let (min, max) = if a.quotes == 0 {
                    (a.item.list_minor, a.item.list_minor)
                } else {
                    (a.min, a.max)
                };
                ItemStats {
                    item_id: a.item.id.clone(),
                    currency: a.item.currency.code().to_string(),
                    list_price: major(&a.item, a.item.list_minor),
                    excluded: a.excluded,
                    quotes: a.quotes,
                    discounted_share: a.discounted as f64 / a.quotes.max(1) as f64,
                    min_price: major(&a.item, min),
                    max_price: major(&a.item, max),
                    spread_percent: 100.0 * (max - min) as f64 / a.item.list_minor.max(1) as f64,
                    lowest_feasible_price: major(&a.item, a.lowest_feasible),
                    cap_percent: a.cap,
                }
            })
            .collect(),
        skipped_items: skipped,
        quotes: total_quotes,
        verification_problems: problems,
        spread_violations,
    })
}
