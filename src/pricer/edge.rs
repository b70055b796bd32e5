//! Edge mode: the device sends the model inputs of the items it shows (with consent), and the
//! merchant's Worker prices them — with no behaviour, no shopper id and no exploration.

use super::*;
use crate::features::{self, Registry};
use crate::scorer::ModelKind;

/// The model inputs a device sends with its items (`edgeRequest`), with consent and behaviour.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EdgeFeatures {
    pub features: Option<Vec<Vec<f64>>>,
    pub feature_names: Option<Vec<String>>,
    pub variant: Option<Variant>,
}

/// One item of an edge request as read: the item, or why it is not one (and the id it gave, for
/// its error slot).
pub type RequestItem = std::result::Result<Item, (Option<String>, Error)>;

/// An edge pricing request as the Worker received it (`wire::edge` reads it).
#[derive(Debug, Clone)]
pub struct EdgeRequest {
    pub items: Vec<RequestItem>,
    pub features: Option<Vec<Vec<f64>>>,
    pub feature_names: Option<Vec<String>>,
    pub variant: Option<String>,
}

impl Pricer {
    /// Edge mode, on the device: the model inputs for the items it shows. Needs consent `granted`;
    /// otherwise the request carries no features and the Worker answers list prices.
    pub fn edge_features(&mut self, items: &[Item], clock: &Clock) -> Result<EdgeFeatures> {
        limits::check_count("items", items.len(), limits::MAX_ITEMS_PER_BATCH)?;
        // No consent, no model or no behaviour: nothing personal to send; the Worker answers list prices.
        if self.persistence() != Persistence::Storage
            || self.interest.info().is_none()
            || self.log.events().is_empty()
        {
            return Ok(EdgeFeatures::default());
        }
        let names = self.edge_feature_names();
        let specs = Registry::builtin().resolve(&names)?;
        let base = self.summaries(clock);
        let needs_item = self.needs_item_features();
        let rows: Vec<Vec<f64>> = items
            .iter()
            .map(|it| {
                let mut s = base.clone();
                if needs_item {
                    s.item = Some(features::item_summary(
                        self.log.events(),
                        clock,
                        &it.id,
                        it.category.as_deref(),
                    ));
                }
                features::vector(&specs, &s)
            })
            .collect();
        Ok(EdgeFeatures {
            features: Some(rows),
            feature_names: Some(names),
            variant: Some(if self.in_control() {
                Variant::Control
            } else {
                Variant::Treatment
            }),
        })
    }

    fn edge_feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for info in [self.interest.info(), self.uplift.info()]
            .into_iter()
            .flatten()
        {
            for f in &info.features {
                if !names.contains(f) {
                    names.push(f.clone());
                }
            }
        }
        names
    }

    /// Edge mode, on the server: prices items from features a device computed. No behaviour is
    /// stored; no exploration (the server has no shopper id); the variant is the device's.
    pub fn price_from_features(
        &mut self,
        request: &EdgeRequest,
        clock: &Clock,
    ) -> Result<Vec<PriceSlot>> {
        let n = request.items.len();
        limits::check_count("items", n, limits::MAX_ITEMS_PER_BATCH)?;
        let Some(rows) = &request.features else {
            return Ok(request
                .items
                .iter()
                .map(|slot| match slot {
                    Ok(item) => {
                        let mut q = self.base_quote(item, clock, Reason::NoFeatures);
                        q.explanation = "List price: the request carried no features (personalization needs the shopper's consent).".into();
                        PriceSlot::Quote(Box::new(q.seal()))
                    }
                    Err((id, e)) => PriceSlot::error(id.clone(), e),
                })
                .collect());
        };
        let names = request.feature_names.clone().unwrap_or_default();
        if names.is_empty() {
            return Err(Error::at(
                Code::InvalidFeatures,
                "featureNames",
                "featureNames is required with features",
            ));
        }
        limits::check_count("featureNames", names.len(), limits::MAX_MODEL_FEATURES)?;
        let specs = Registry::builtin()
            .resolve(&names)
            .map_err(|e| e.under("featureNames"))?;
        if rows.len() != n {
            return Err(Error::at(
                Code::InvalidFeatures,
                "features",
                format!(
                    "{} feature rows for {n} items: send one row per item",
                    rows.len()
                ),
            ));
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != names.len() {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}]"),
                    format!(
                        "row has {} values for {} featureNames",
                        r.len(),
                        names.len()
                    ),
                ));
            }
            if let Some(j) = r.iter().position(|x| !x.is_finite()) {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}][{j}]"),
                    "feature values must be finite numbers",
                ));
            }
            // Only what a device can compute from a valid log is priced (models/features.json
            // `range`): made-up vectors far outside it are refused, not signed.
            if let Some((j, spec)) = specs
                .iter()
                .enumerate()
                .find(|(j, s)| !(s.range.0..=s.range.1).contains(&r[*j]))
            {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}][{j}]"),
                    format!(
                        "{} = {} is outside what a device computes ({} to {}, after {}); send the features pricer.edgeRequest() made",
                        spec.name, r[j], spec.range.0, spec.range.1, spec.transform_name()
                    ),
                ));
            }
        }
        let variant = match request.variant.as_deref() {
            None => Variant::Treatment,
            Some(v) => match Variant::parse(v) {
                Some(Variant::None) | None => {
                    return Err(Error::at(
                        Code::InvalidArgument,
                        "variant",
                        "variant must be 'control' or 'treatment'",
                    ))
                }
                Some(v) => v,
            },
        };
        // Which column of a row each model reads, found once per request.
        let columns = |info: Option<&ModelInfo>, kind: ModelKind| -> Option<Result<Vec<usize>>> {
            let info = info?;
            let found: Option<Vec<usize>> = info
                .features
                .iter()
                .map(|f| names.iter().position(|n| n == f))
                .collect();
            Some(found.ok_or_else(|| {
                Error::at(
                    Code::InvalidFeatures,
                    "featureNames",
                    format!(
                        "the {} model needs features {}",
                        kind.as_str(),
                        info.features.join(", ")
                    ),
                )
            }))
        };
        let interest_columns = columns(self.interest.info(), ModelKind::Interest);
        let uplift_columns = columns(self.uplift.info(), ModelKind::Uplift);
        let mut out = Vec::with_capacity(n);
        for (slot, row) in request.items.iter().zip(rows) {
            let item = match slot {
                Ok(item) => item,
                Err((id, e)) => {
                    out.push(PriceSlot::error(id.clone(), e));
                    continue;
                }
            };
            let mut scores = Scores {
                interest: None,
                uplift: None,
            };
            for (kind, columns) in [
                (ModelKind::Interest, &interest_columns),
                (ModelKind::Uplift, &uplift_columns),
            ] {
                let Some(columns) = columns else { continue };
                let columns = columns.as_ref().map_err(Clone::clone)?;
                let cols: Vec<f64> = columns.iter().map(|&j| row[j]).collect();
                let slot = if kind == ModelKind::Interest {
                    &mut self.interest
                } else {
                    &mut self.uplift
                };
                let v = Self::score(slot, &mut self.score_cache, &cols)?;
                if kind == ModelKind::Interest {
                    scores.interest = v
                } else {
                    scores.uplift = v
                }
            }
            let base = Decision::at_list(item, self.base_quote(item, clock, Reason::List));
            let quote = if let Some(why) = self.policy.exclusion(item) {
                let mut q = self.base_quote(item, clock, Reason::Excluded);
                q.explanation = format!("List price: {why}.");
                q.seal()
            } else {
                self.decide_with_scores(item, clock, scores, variant, false, base)?
                    .quote
            };
            out.push(PriceSlot::Quote(Box::new(quote)));
        }
        Ok(out)
    }
}
