//! pricelet's ONNX models through tract: the only crate that knows tract. Loading decodes the
//! protobuf (`proto`), checks the model contract on it (`contract`: what tract would panic on is
//! refused before tract sees it), validates metadata, input `features` f32 [N, F], output
//! `interest` or `uplift` [N, 1], size and width limits, wires the graph with tract-core's
//! operators (`graph`), builds the optimized plan once and runs a trial inference. Inference is
//! batched and reuses one plan state. A loaded [`Model`] is the core's [`Scorer`].

mod contract;
mod graph;
mod loading;
pub mod proto;
mod tensor;
mod trees;

pub use contract::ALLOWED_OPERATORS;
pub use loading::Loading;
/// The ONNX protobuf messages pricelet reads (for tests and tools that edit a model).
pub use proto as pb;

use pricelet::error::{Code, Error, Result};
use pricelet::features::to_model_input;
use pricelet::scorer::{check_rows, ModelInfo, ModelKind, ModelSlot, Scorer};
use prost::Message;
use tract_core::internal::*;

pub struct Model {
    pub(crate) info: ModelInfo,
    pub(crate) state: TypedSimpleState,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

pub(crate) fn invalid(kind: ModelKind, msg: impl std::fmt::Display) -> Error {
    Error::at(
        Code::InvalidModel,
        kind.option_name(),
        format!("{} model: {msg}", kind.as_str()),
    )
}

/// The file's protobuf, or why it is not an ONNX model.
pub(crate) fn decode(bytes: &[u8], kind: ModelKind) -> Result<proto::ModelProto> {
    proto::ModelProto::decode(bytes)
        .map_err(|e| invalid(kind, format!("not an ONNX model pricelet can read ({e})")))
}

/// The version of the default ONNX operator set the model imports (the highest named).
pub(crate) fn default_opset(model: &proto::ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(0)
}

impl Model {
    /// Loads a model in one go (see [`Loading`] for the same work in steps).
    pub fn load(bytes: &[u8], kind: ModelKind) -> Result<Model> {
        Loading::begin(bytes, kind)?.finish()
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// One score per row. Rows must have the model's width and finite values.
    pub fn predict(&mut self, rows: &[Vec<f64>]) -> Result<Vec<f64>> {
        let width = self.info.features.len();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        check_rows(&self.info, rows)?;
        let flat: Vec<f32> = rows.iter().flat_map(|r| to_model_input(r)).collect();
        self.run(rows.len(), width, &flat)
    }

    fn run(&mut self, n: usize, width: usize, flat: &[f32]) -> Result<Vec<f64>> {
        let input = Tensor::from_shape(&[n, width], flat)
            .map_err(|e| Error::new(Code::Internal, e.to_string()))?;
        let outputs = self
            .state
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| Error::new(Code::InvalidModel, format!("inference failed: {e:#}")))?;
        let out = outputs
            .first()
            .ok_or_else(|| Error::new(Code::InvalidModel, "the model produced no output"))?;
        if out.shape() != [n, 1] {
            return Err(Error::new(
                Code::InvalidModel,
                format!(
                    "output has shape [{}], expected [{n}, 1]",
                    out.shape()
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let values = out
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>().map(|s| s.to_vec()))
            .map_err(|e| Error::new(Code::InvalidModel, format!("output is not float32 ({e})")))?;
        let (lo, hi) = match self.info.kind {
            ModelKind::Interest => (0.0, 1.0),
            ModelKind::Uplift => (-1.0, 1.0),
        };
        values
            .into_iter()
            .map(|v| {
                let v = f64::from(v);
                if v.is_finite() && (lo..=hi).contains(&v) {
                    Ok(v)
                } else {
                    Err(Error::new(
                        Code::InvalidModel,
                        format!(
                            "{} output {v} is outside [{lo}, {hi}]",
                            self.info.kind.as_str()
                        ),
                    ))
                }
            })
            .collect()
    }
}

impl Scorer for Model {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn score(&mut self, rows: &[Vec<f64>]) -> Result<Vec<f64>> {
        self.predict(rows)
    }
}

/// A pricer's model slot from optional model bytes: loaded, unavailable with the reason, or absent.
pub fn slot(bytes: Option<&[u8]>, kind: ModelKind) -> ModelSlot {
    ModelSlot::from_result(bytes.map(|b| Model::load(b, kind)))
}

/// The kind a model file declares in its `pricelet.kind` metadata, if it says and can be read.
pub fn declared_kind(bytes: &[u8]) -> Option<ModelKind> {
    let proto = proto::ModelProto::decode(bytes).ok()?;
    match proto
        .metadata_props
        .iter()
        .find(|e| e.key == "pricelet.kind")
        .map(|e| e.value.as_str())
    {
        Some("uplift") => Some(ModelKind::Uplift),
        Some("interest") => Some(ModelKind::Interest),
        _ => None,
    }
}
