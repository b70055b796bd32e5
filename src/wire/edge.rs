//! Edge mode's JSON: the body a device sends (its items as the storefront has them, echoed, with
//! the model inputs) and the request a Worker reads back, its items read one by one so that a bad
//! item is an error slot and the others price.

use crate::error::{from_serde_path, Code, Result};
use crate::experiment::Variant;
use crate::item::Item;
use crate::limits;
use crate::pricer::{EdgeRequest, Pricer, RequestItem};
use crate::time::Clock;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `edgeRequest(items)` gives the device to send: the items, and — with consent and
/// behaviour — the model inputs and the experiment arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeRequestBody {
    pub items: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
}

/// The request's JSON form.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EdgeDoc {
    items: Vec<Value>,
    #[serde(default)]
    features: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    feature_names: Option<Vec<String>>,
    #[serde(default)]
    variant: Option<String>,
}

/// Items as JSON, each read into an item or the error its slot will carry.
pub fn request_items(items: &[Value]) -> Vec<RequestItem> {
    items
        .iter()
        .map(|v| Item::from_json(v).map_err(|e| (Item::id_of(v), e)))
        .collect()
}

impl EdgeDoc {
    fn typed(self) -> EdgeRequest {
        EdgeRequest {
            items: request_items(&self.items),
            features: self.features,
            feature_names: self.feature_names,
            variant: self.variant,
        }
    }
}

impl EdgeRequest {
    /// Reads a request, naming the field that is wrong.
    pub fn from_json(v: &Value) -> Result<EdgeRequest> {
        serde_path_to_error::deserialize::<_, EdgeDoc>(v)
            .map(EdgeDoc::typed)
            .map_err(|e| from_serde_path(Code::InvalidArgument, "invalid edge request", e))
    }

    /// Reads a request straight from its text (the Worker's hot path: no JSON tree, no path
    /// tracking); None when it does not parse, and [`EdgeRequest::from_json`] then says why.
    pub fn from_text(text: &str) -> Option<EdgeRequest> {
        serde_json::from_str::<EdgeDoc>(text)
            .ok()
            .map(EdgeDoc::typed)
    }
}

/// Edge mode on the device, from the storefront's items as JSON (`edgeRequest(items)`): every
/// item must be one (the error names its index); the body echoes them with the model inputs.
pub fn edge_request(
    pricer: &mut Pricer,
    items: &[Value],
    clock: &Clock,
) -> Result<EdgeRequestBody> {
    limits::check_count("items", items.len(), limits::MAX_ITEMS_PER_BATCH)?;
    let typed = items
        .iter()
        .enumerate()
        .map(|(i, v)| Item::from_json(v).map_err(|e| e.under(&format!("items[{i}]"))))
        .collect::<Result<Vec<Item>>>()?;
    let inputs = pricer.edge_features(&typed, clock)?;
    Ok(EdgeRequestBody {
        items: items.to_vec(),
        features: inputs.features,
        feature_names: inputs.feature_names,
        variant: inputs.variant,
    })
}
