//! pricelet's ONNX models through tract: the only crate that knows tract. Loading checks the model
//! contract on the protobuf first (`contract`: what tract would panic on is refused before tract
//! sees it), then validates metadata, input `features` f32 [N, F], output `interest` or `uplift`
//! [N, 1], size and width limits, builds the optimized plan once and runs a trial inference.
//! Inference is batched and reuses one plan state. A loaded [`Model`] is the core's [`Scorer`].

mod contract;
mod operators;
mod trees;

pub use contract::ALLOWED_OPERATORS;
/// The ONNX protobuf types (for tests that edit a model).
pub use tract_onnx::pb;

use contract::{check_before_tract, check_gathers, check_trees};
use pricelet::error::{quoted, Code, Error, Result};
use pricelet::features::{to_model_input, Registry};
use pricelet::limits;
use pricelet::scorer::{check_rows, integrity_of, ModelInfo, ModelKind, ModelSlot, Scorer};
use std::io::Cursor;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

pub struct Model {
    info: ModelInfo,
    state: TypedSimpleState,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn invalid(kind: ModelKind, msg: impl std::fmt::Display) -> Error {
    Error::at(
        Code::InvalidModel,
        kind.option_name(),
        format!("{} model: {msg}", kind.as_str()),
    )
}

impl Model {
    pub fn load(bytes: &[u8], kind: ModelKind) -> Result<Model> {
        if bytes.len() > limits::MAX_MODEL_BYTES {
            return Err(Error::limit(
                kind.option_name(),
                &format!("a {}-byte model", bytes.len()),
                format!("{} bytes", limits::MAX_MODEL_BYTES),
            ));
        }
        if bytes.is_empty() {
            return Err(invalid(kind, "the file is empty"));
        }
        Self::load_with_tract(bytes, kind)
    }

    fn load_with_tract(bytes: &[u8], kind: ModelKind) -> Result<Model> {
        let unreadable = |e: tract_onnx::prelude::TractError| {
            invalid(kind, format!("not an ONNX model tract can read ({e:#})"))
        };
        let onnx = onnx();
        let proto = onnx
            .proto_model_for_read(&mut Cursor::new(bytes))
            .map_err(unreadable)?;
        let tree_widths = match &proto.graph {
            Some(graph) => Some(check_before_tract(graph).map_err(|why| invalid(kind, why))?),
            None => None,
        };
        let mut model = onnx.model_for_proto_model(&proto).map_err(unreadable)?;
        let meta = |key: &str| -> Option<String> {
            let t = model
                .properties
                .get(&format!("onnx.metadata_props.{key}"))?;
            t.try_as_plain_ram()
                .ok()?
                .to_scalar::<String>()
                .ok()
                .cloned()
        };
        let declared_kind = meta("pricelet.kind").ok_or_else(|| invalid(kind, "metadata_props has no pricelet.kind; export it with the pricelet metadata (see models/README.md)"))?;
        if declared_kind != kind.as_str() {
            let hint = if declared_kind == "uplift" {
                "pass it as `upliftModel`"
            } else {
                "pass it as `model`"
            };
            return Err(invalid(
                kind,
                format!("the file is a {} model; {hint}", quoted(&declared_kind)),
            ));
        }
        let names: Vec<String> = meta("pricelet.features")
            .ok_or_else(|| invalid(kind, "metadata_props has no pricelet.features"))?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return Err(invalid(kind, "pricelet.features is empty"));
        }
        if names.len() > limits::MAX_MODEL_FEATURES {
            return Err(Error::limit(
                kind.option_name(),
                &format!("a model with {} features", names.len()),
                limits::MAX_MODEL_FEATURES,
            ));
        }
        Registry::builtin()
            .resolve(&names)
            .map_err(|e| invalid(kind, e.message))?;
        let version = meta("pricelet.model_version")
            .ok_or_else(|| invalid(kind, "metadata_props has no pricelet.model_version"))?;
        let trained_on = meta("pricelet.trained_on").unwrap_or_default();

        // The contract: one input `features` f32 [N, F] and an output named after the kind, [N, 1].
        let inputs = model
            .input_outlets()
            .map_err(|e| invalid(kind, e))?
            .to_vec();
        if inputs.len() != 1 || model.node(inputs[0].node).name != "features" {
            return Err(invalid(
                kind,
                "it must have exactly one input, named `features`",
            ));
        }
        let width = names.len();
        if let Ok(declared) = model.input_fact(0) {
            if let Some(shape) = declared.shape.concretize() {
                if shape.len() != 2 || matches!(shape[1], TDim::Val(w) if w != width as i64) {
                    return Err(invalid(kind, format!("input `features` has shape [{}], expected [N, {width}] for its {width} pricelet.features", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))));
                }
            }
        }
        if let Some(graph) = &proto.graph {
            check_gathers(graph, &*onnx.provider, width).map_err(|why| invalid(kind, why))?;
            if let Some(needed) = &tree_widths {
                check_trees(graph, needed, width).map_err(|why| invalid(kind, why))?;
            }
        }
        let batch = model.sym("N");
        model
            .set_input_fact(0, f32::fact(&[batch.to_dim(), width.to_dim()]).into())
            .map_err(|e| invalid(kind, e))?;
        model
            .select_outputs_by_name([kind.as_str()])
            .map_err(|_| invalid(kind, format!("it has no output named `{}`", kind.as_str())))?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| invalid(kind, format!("tract cannot run it ({e:#})")))?;
        let state = plan.spawn().map_err(|e| invalid(kind, e))?;
        let mut loaded = Model {
            info: ModelInfo {
                kind,
                version,
                trained_on,
                features: names,
                bytes: bytes.len(),
                integrity: integrity_of(bytes),
            },
            state,
        };
        // Trial inference: two rows of zeros must give two finite values in range.
        loaded
            .predict(&[vec![0.0; width], vec![0.0; width]])
            .map_err(|e| invalid(kind, format!("trial inference failed: {}", e.message)))?;
        Ok(loaded)
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

use operators::onnx;

/// A pricer's model slot from optional model bytes: loaded, unavailable with the reason, or absent.
pub fn slot(bytes: Option<&[u8]>, kind: ModelKind) -> ModelSlot {
    ModelSlot::from_result(bytes.map(|b| Model::load(b, kind)))
}

/// The kind a model file declares in its `pricelet.kind` metadata, if it says and can be read.
pub fn declared_kind(bytes: &[u8]) -> Option<ModelKind> {
    let proto = onnx().proto_model_for_read(&mut Cursor::new(bytes)).ok()?;
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
