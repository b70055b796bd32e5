//! ONNX models through tract (DESIGN.md §2 "Models"). Loading validates the contract — metadata,
//! input `features` f32 [N, F], output `interest` or `uplift` [N, 1], size and width limits — builds
//! the optimized plan once and runs a trial inference. Inference is batched and reuses one plan state.

use crate::error::quoted;
use crate::error::{Code, Error, Result};
use crate::features::to_model_input;
#[cfg(feature = "inference")]
use crate::features::Registry;
use crate::limits;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
#[cfg(feature = "inference")]
use std::io::Cursor;
#[cfg(feature = "inference")]
use tract_onnx::prelude::*;
#[cfg(feature = "inference")]
use tract_onnx::tract_hir::infer::Factoid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Interest,
    Uplift,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Interest => "interest",
            ModelKind::Uplift => "uplift",
        }
    }
    fn option_name(self) -> &'static str {
        match self {
            ModelKind::Interest => "model",
            ModelKind::Uplift => "upliftModel",
        }
    }
}

/// What a loaded model says about itself (`pricer.status`, `explain()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub kind: ModelKind,
    pub version: String,
    pub trained_on: String,
    pub features: Vec<String>,
    pub bytes: usize,
    /// Subresource-integrity form of the file's hash (`sha256-<base64>`).
    pub integrity: String,
}

pub struct Model {
    info: ModelInfo,
    #[cfg(feature = "inference")]
    state: TypedSimpleState,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// `sha256-<base64>` of the bytes, as in Subresource Integrity.
pub fn integrity_of(bytes: &[u8]) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

/// Checks bytes against an SRI string (`sha256-...`); only sha256 is accepted.
pub fn check_integrity(bytes: &[u8], expected: &str, what: &str) -> Result<()> {
    if !expected.starts_with("sha256-") {
        return Err(Error::at(
            Code::InvalidArgument,
            "integrity",
            format!(
                "{what}: integrity must be \"sha256-<base64>\" (got {})",
                quoted(expected)
            ),
        ));
    }
    let actual = integrity_of(bytes);
    if actual != expected {
        return Err(Error::at(
            Code::InvalidModel,
            "integrity",
            format!("{what}: the file's hash {actual} does not match the expected {expected}; the file changed or the wrong one was served"),
        ));
    }
    Ok(())
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

    #[cfg(not(feature = "inference"))]
    fn load_with_tract(_bytes: &[u8], kind: ModelKind) -> Result<Model> {
        Err(invalid(
            kind,
            "this build of pricelet has no inference engine (cargo feature `inference`)",
        ))
    }

    #[cfg(feature = "inference")]
    fn load_with_tract(bytes: &[u8], kind: ModelKind) -> Result<Model> {
        let unreadable = |e: tract_onnx::prelude::TractError| {
            invalid(kind, format!("not an ONNX model tract can read ({e:#})"))
        };
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut Cursor::new(bytes))
            .map_err(unreadable)?;
        if let Some(graph) = &proto.graph {
            check_before_tract(graph).map_err(|why| invalid(kind, why))?;
        }
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

    /// One score per row. Rows must have the model's width.
    pub fn predict(&mut self, rows: &[Vec<f64>]) -> Result<Vec<f64>> {
        let width = self.info.features.len();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut flat = Vec::with_capacity(rows.len() * width);
        for (i, r) in rows.iter().enumerate() {
            if r.len() != width {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}]"),
                    format!("row has {} values, the model takes {width}", r.len()),
                ));
            }
            if let Some(j) = r.iter().position(|x| !x.is_finite()) {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}][{j}]"),
                    "feature values must be finite numbers",
                ));
            }
            flat.extend(to_model_input(r));
        }
        self.run(rows.len(), width, &flat)
    }

    #[cfg(not(feature = "inference"))]
    fn run(&mut self, _n: usize, _width: usize, _flat: &[f32]) -> Result<Vec<f64>> {
        Err(Error::new(
            Code::InvalidModel,
            "this build of pricelet has no inference engine",
        ))
    }

    #[cfg(feature = "inference")]
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

/// The ONNX operators a pricelet model may use — exactly those pricelet's exporters write
/// (models/train.py: linear, MLP, tree ensembles as tensor maths, isotonic calibration) — with the
/// inputs each takes: (name, required, most). tract implements many more, but some panic on bad
/// input (GatherND and GatherElements index without checks; Flatten reads `inputs[0]` before
/// checking there is one and slices by an unchecked axis), which in wasm is a trap. An operator
/// joins this list after a `model_loading` fuzz run with it.
pub const ALLOWED_OPERATORS: &[(&str, usize, usize)] = &[
    ("Add", 2, 2),
    ("Cast", 1, 1),
    ("Clip", 1, 3),
    ("Equal", 2, 2),
    ("Gather", 2, 2),
    ("Gemm", 2, 3),
    ("LessOrEqual", 2, 2),
    ("MatMul", 2, 2),
    ("Min", 1, 1 << 16),
    ("Relu", 1, 1),
    ("Reshape", 2, 2),
    ("Sigmoid", 1, 1),
    ("Sub", 2, 2),
];

/// tract 0.23.9 panics (a trap in wasm) on inputs the `model_loading` fuzz target found; they are
/// refused here, before tract builds the graph: a graph output that no node, input or initializer
/// produces; a tensor of a type tract cannot load (strings or complex numbers in raw bytes); an
/// operator outside [`ALLOWED_OPERATORS`] or with the wrong inputs. Pricelet models also never need control flow (subgraphs)
/// or tensors other than numbers and booleans.
#[cfg(feature = "inference")]
fn check_before_tract(graph: &tract_onnx::pb::GraphProto) -> std::result::Result<(), String> {
    use std::collections::HashSet;
    check_tensor_types(graph)?;
    let mut known: HashSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
    known.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for node in &graph.node {
        let standard_domain = node.domain.is_empty() || node.domain == "ai.onnx";
        let allowed = ALLOWED_OPERATORS
            .iter()
            .find(|(name, ..)| standard_domain && *name == node.op_type);
        let Some(&(op, required, most)) = allowed else {
            let op = if standard_domain {
                node.op_type.clone()
            } else {
                format!("{}.{}", node.domain, node.op_type)
            };
            let names: Vec<&str> = ALLOWED_OPERATORS.iter().map(|(name, ..)| *name).collect();
            return Err(format!(
                "node {} uses operator {}, which pricelet does not run; export the model with these ONNX operators only: {}",
                quoted(&node.name),
                quoted(&op),
                names.join(", ")
            ));
        };
        // tract skips empty input names (ONNX's "optional input left out"), so a required one
        // must be named; and every operator here has exactly one output.
        let inputs_fit = node.input.len() <= most
            && node.input.len() >= required
            && node.input[..required].iter().all(|i| !i.is_empty());
        if !inputs_fit || node.output.len() != 1 || node.output[0].is_empty() {
            let takes = if required == most {
                format!("{required}")
            } else {
                format!("{required} to {most}")
            };
            return Err(format!(
                "node {} ({op}) has {} inputs and {} outputs; {op} takes {takes} named inputs and has one named output",
                quoted(&node.name),
                node.input.len(),
                node.output.len()
            ));
        }
        if node
            .attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            return Err(format!(
                "node {} ({}) has a subgraph: pricelet models use no control flow",
                quoted(&node.name),
                quoted(&node.op_type)
            ));
        }
        // ONNX assigns each name once; a second writer would make the checks below read a
        // different tensor than tract does.
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if !known.insert(output) {
                return Err(format!(
                    "node {} writes {}, which the graph already has; give every tensor its own name",
                    quoted(&node.name),
                    quoted(output)
                ));
            }
        }
    }
    if graph.output.is_empty() {
        return Err("the graph declares no output".into());
    }
    for output in &graph.output {
        if !known.contains(output.name.as_str()) {
            return Err(format!(
                "graph output {} is not produced by any node, input or initializer",
                quoted(&output.name)
            ));
        }
    }
    Ok(())
}

/// Every tensor in the graph (initializers, sparse initializers, tensor attributes) has sane dims
/// and holds numbers or booleans: ONNX FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, BOOL, FLOAT16, DOUBLE,
/// UINT32, UINT64 — the types tract loads from any encoding.
#[cfg(feature = "inference")]
fn check_tensor_types(graph: &tract_onnx::pb::GraphProto) -> std::result::Result<(), String> {
    const NUMERIC: [i32; 12] = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13];
    let check = |t: &tract_onnx::pb::TensorProto, place: &str| {
        // A dimension larger than the file could hold is malformed; checked here also because tract
        // reads dims with `as usize`, which on wasm32 would cut one above 2^32 down to a small one.
        if let Some(d) = t
            .dims
            .iter()
            .find(|&&d| !(0..=limits::MAX_MODEL_BYTES as i64).contains(&d))
        {
            return Err(format!(
                "{place} tensor {} has dimension {d}; a dimension is between 0 and the model size limit ({} bytes)",
                quoted(&t.name),
                limits::MAX_MODEL_BYTES
            ));
        }
        if NUMERIC.contains(&t.data_type) {
            Ok(())
        } else {
            Err(format!(
                "{place} tensor {} has ONNX data type {}: pricelet models hold only numbers and booleans (float, double, float16, (u)int8..64, bool)",
                quoted(&t.name),
                t.data_type
            ))
        }
    };
    for t in &graph.initializer {
        check(t, "initializer")?;
    }
    for s in &graph.sparse_initializer {
        for t in s.values.iter().chain(&s.indices) {
            check(t, "sparse initializer")?;
        }
    }
    for node in &graph.node {
        for a in &node.attribute {
            let sparse = a
                .sparse_tensor
                .iter()
                .flat_map(|s| s.values.iter().chain(&s.indices));
            for t in a.t.iter().chain(&a.tensors).chain(sparse) {
                check(
                    t,
                    &format!("node {} attribute {}", quoted(&node.name), quoted(&a.name)),
                )?;
            }
        }
    }
    Ok(())
}

/// tract's Gather does not check its indices: one past the gathered axis panics (a trap in wasm) or
/// reads a neighbouring row's value. So every Gather must take constant integer indices (an
/// initializer) and gather from `features` (its feature axis, `width` long) or
/// from a constant tensor; each index must lie in `[-len, len)` of that axis.
#[cfg(feature = "inference")]
fn check_gathers(
    graph: &tract_onnx::pb::GraphProto,
    provider: &dyn tract_onnx::data_resolver::ModelDataResolver,
    width: usize,
) -> std::result::Result<(), String> {
    // A constant is an initializer (Constant nodes are not on the operator list); after
    // `check_before_tract` no node writes an initializer's name. One map keeps this linear.
    let initializers: std::collections::HashMap<&str, &tract_onnx::pb::TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let constant = |name: &str| initializers.get(name).copied();
    for node in graph.node.iter().filter(|n| n.op_type == "Gather") {
        let name = quoted(&node.name);
        let [data, indices] = node.input.as_slice() else {
            return Err(format!(
                "Gather {name} must have 2 inputs, data and indices"
            ));
        };
        let axis = node
            .attribute
            .iter()
            .find(|a| a.name == "axis")
            .map_or(0, |a| a.i);
        let data_dims: Vec<i64> = if data == "features" {
            vec![-1, width as i64] // the batch axis is not known until a call
        } else if let Some(t) = constant(data) {
            t.dims.clone()
        } else {
            return Err(format!("Gather {name} gathers from {}: pricelet checks every Gather before it runs, so it may gather only from `features` or a constant tensor", quoted(data)));
        };
        let rank = data_dims.len() as i64;
        if !(-rank..rank).contains(&axis) {
            return Err(format!(
                "Gather {name} has axis {axis}, outside its data's {rank} axes"
            ));
        }
        let len = data_dims[axis.rem_euclid(rank) as usize];
        // Only `features` has a negative (unknown) dimension: `check_tensor_types` refused the rest.
        if len < 0 {
            return Err(format!("Gather {name} gathers along the batch axis of `features`; gather features along axis 1"));
        }
        let Some(indices_tensor) = constant(indices).filter(|t| matches!(t.data_type, 6 | 7))
        else {
            return Err(format!("Gather {name} must take its indices from a constant int32 or int64 tensor, so pricelet can check them before it runs"));
        };
        let values = tract_onnx::tensor::load_tensor(provider, indices_tensor, None)
            .and_then(|t| Ok(t.cast_to::<i64>()?.into_owned()))
            .map_err(|e| format!("Gather {name} has unreadable indices ({e:#})"))?;
        let values = values
            .try_as_plain_ram()
            .and_then(|v| Ok(v.as_slice::<i64>()?.to_vec()))
            .map_err(|e| format!("Gather {name} has unreadable indices ({e:#})"))?;
        if let Some(bad) = values.iter().find(|&&i| !(-len..len).contains(&i)) {
            return Err(format!(
                "Gather {name} has index {bad}, outside the {len} entries of the axis it gathers"
            ));
        }
    }
    Ok(())
}
