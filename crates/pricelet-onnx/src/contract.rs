//! The model contract, checked on the ONNX protobuf before tract builds or runs anything: tract
//! 0.23.9 panics on some malformed graphs (a trap in wasm), so only what was checked and fuzzed
//! runs.

use crate::tensor::TensorError;
use crate::trees::{Forest, TreeError};
use pricelet::error::quoted;
use pricelet::limits;
use std::fmt;
use tract_core::internal::TractError;

const TREES: &str = "ai.onnx.ml.TreeEnsembleRegressor";

/// The ONNX operators a pricelet model may use — exactly those pricelet's exporters write
/// (models/train.py: linear, MLP, tree ensembles natively or as tensor maths, isotonic calibration)
/// — with the inputs each takes: (name, required, most); an operator outside the default domain is
/// named with its domain (`ai.onnx.ml.TreeEnsembleRegressor`, checked in full by `trees::Forest`).
/// tract implements many more, but some panic on bad input (GatherND and GatherElements index
/// without checks; Flatten reads `inputs[0]` before checking there is one and slices by an
/// unchecked axis), which in wasm is a trap. An operator joins this list after a `model_loading`
/// fuzz run with it.
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
    ("ai.onnx.ml.TreeEnsembleRegressor", 1, 1),
];

/// Why a graph breaks the model contract.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContractError {
    #[error("node {} uses operator {}, which pricelet does not run; export the model with these ONNX operators only: {}", quoted(node), quoted(operator), allowed_operator_names())]
    OperatorNotAllowed { node: String, operator: String },
    #[error("node {} ({operator}) has {inputs} inputs and {outputs} outputs; {operator} takes {} named inputs and has one named output", quoted(node), InputRange(*required, *most))]
    WrongArity {
        node: String,
        operator: &'static str,
        inputs: usize,
        outputs: usize,
        required: usize,
        most: usize,
    },
    #[error(transparent)]
    Trees(#[from] TreeError),
    #[error(
        "node {} ({}) has a subgraph: pricelet models use no control flow",
        quoted(node),
        quoted(operator)
    )]
    Subgraph { node: String, operator: String },
    #[error(
        "node {} writes {}, which the graph already has; give every tensor its own name",
        quoted(node),
        quoted(tensor)
    )]
    TensorWrittenTwice { node: String, tensor: String },
    #[error("the graph declares no output")]
    NoGraphOutput,
    #[error(
        "graph output {} is not produced by any node, input or initializer",
        quoted(output)
    )]
    OutputNotProduced { output: String },
    #[error("{place} tensor {} has dimension {dimension}; a dimension is between 0 and the model size limit ({} bytes)", quoted(tensor), limits::MAX_MODEL_BYTES)]
    DimensionOutOfRange {
        place: TensorPlace,
        tensor: String,
        dimension: i64,
    },
    #[error("{place} tensor {} keeps its data in another file; save the model with its data inside (one .onnx file)", quoted(tensor))]
    ExternalData { place: TensorPlace, tensor: String },
    #[error("{place} tensor {} has ONNX data type {data_type}: pricelet models hold only numbers and booleans (float, double, float16, (u)int8..64, bool)", quoted(tensor))]
    NotNumeric {
        place: TensorPlace,
        tensor: String,
        data_type: i32,
    },
    #[error("Gather {} {problem}", quoted(node))]
    Gather {
        node: String,
        problem: GatherProblem,
    },
    #[error(
        "TreeEnsembleRegressor {} reads {}; it must read the model input `features` directly",
        quoted(node),
        quoted(input)
    )]
    TreesReadOtherInput { node: String, input: String },
    #[error("TreeEnsembleRegressor {} tests feature {feature}, but the model has {width} pricelet.features", quoted(node))]
    TreesTestMissingFeature {
        node: String,
        feature: usize,
        width: usize,
    },
}

fn allowed_operator_names() -> String {
    let names: Vec<&str> = ALLOWED_OPERATORS.iter().map(|(name, ..)| *name).collect();
    names.join(", ")
}

/// How many inputs an operator takes: "2", or "1 to 3".
struct InputRange(usize, usize);

impl fmt::Display for InputRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let InputRange(required, most) = *self;
        if required == most {
            write!(f, "{required}")
        } else {
            write!(f, "{required} to {most}")
        }
    }
}

/// Where a tensor sits in the graph, as messages name it.
#[derive(Debug)]
pub(crate) enum TensorPlace {
    Initializer,
    SparseInitializer,
    Attribute { node: String, attribute: String },
}

impl fmt::Display for TensorPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorPlace::Initializer => f.write_str("initializer"),
            TensorPlace::SparseInitializer => f.write_str("sparse initializer"),
            TensorPlace::Attribute { node, attribute } => {
                write!(f, "node {} attribute {}", quoted(node), quoted(attribute))
            }
        }
    }
}

/// Why a Gather cannot be checked before it runs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatherProblem {
    #[error("must have 2 inputs, data and indices")]
    NotTwoInputs,
    #[error("gathers from {}: pricelet checks every Gather before it runs, so it may gather only from `features` or a constant tensor", quoted(data))]
    UncheckedData { data: String },
    #[error("has axis {axis}, outside its data's {rank} axes")]
    AxisOutOfRange { axis: i64, rank: i64 },
    #[error("gathers along the batch axis of `features`; gather features along axis 1")]
    BatchAxis,
    #[error("must take its indices from a constant int32 or int64 tensor, so pricelet can check them before it runs")]
    IndicesNotConstant,
    #[error("has unreadable indices ({0})")]
    IndicesNotLoaded(TensorError),
    #[error("has unreadable indices ({0})")]
    IndicesNotIntegers(TractError),
    #[error("has unreadable indices ({0:#})")]
    IndicesNotInMemory(TractError),
    #[error("has index {index}, outside the {len} entries of the axis it gathers")]
    IndexOutOfRange { index: i64, len: i64 },
}

/// tract 0.23.9 panics (a trap in wasm) on inputs the `model_loading` fuzz target found; they are
/// refused here, before tract builds the graph: a graph output that no node, input or initializer
/// produces; a tensor of a type tract cannot load (strings or complex numbers in raw bytes); an
/// operator outside [`ALLOWED_OPERATORS`] or with the wrong inputs. Pricelet models also never need
/// control flow (subgraphs) or tensors other than numbers and booleans.
pub(crate) fn check_before_tract(
    graph: &crate::proto::GraphProto,
) -> Result<TreeWidths, ContractError> {
    use std::collections::HashSet;
    check_tensor_types(graph)?;
    let mut widths = Vec::new();
    let mut known: HashSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
    known.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for (at, node) in graph.node.iter().enumerate() {
        let standard_domain = node.domain.is_empty() || node.domain == "ai.onnx";
        let qualified = if standard_domain {
            node.op_type.clone()
        } else {
            format!("{}.{}", node.domain, node.op_type)
        };
        let allowed = ALLOWED_OPERATORS
            .iter()
            .find(|(name, ..)| *name == qualified);
        let Some(&(op, required, most)) = allowed else {
            return Err(ContractError::OperatorNotAllowed {
                node: node.name.clone(),
                operator: qualified,
            });
        };
        // tract skips empty input names (ONNX's "optional input left out"), so a required one
        // must be named; and every operator here has exactly one output.
        let inputs_fit = node.input.len() <= most
            && node.input.len() >= required
            && node.input[..required].iter().all(|i| !i.is_empty());
        if !inputs_fit || node.output.len() != 1 || node.output[0].is_empty() {
            return Err(ContractError::WrongArity {
                node: node.name.clone(),
                operator: op,
                inputs: node.input.len(),
                outputs: node.output.len(),
                required,
                most,
            });
        }
        if op == TREES {
            widths.push((at, Forest::parse(node)?.width_needed()));
        }
        if node
            .attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            return Err(ContractError::Subgraph {
                node: node.name.clone(),
                operator: node.op_type.clone(),
            });
        }
        // ONNX assigns each name once; a second writer would make the checks below read a
        // different tensor than tract does.
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if !known.insert(output) {
                return Err(ContractError::TensorWrittenTwice {
                    node: node.name.clone(),
                    tensor: output.clone(),
                });
            }
        }
    }
    if graph.output.is_empty() {
        return Err(ContractError::NoGraphOutput);
    }
    for output in &graph.output {
        if !known.contains(output.name.as_str()) {
            return Err(ContractError::OutputNotProduced {
                output: output.name.clone(),
            });
        }
    }
    Ok(TreeWidths(widths))
}

/// Every tensor in the graph (initializers, sparse initializers, tensor attributes) has sane dims
/// and holds numbers or booleans: ONNX FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, BOOL,
/// FLOAT16, DOUBLE, UINT32, UINT64 — the types tract loads from any encoding.
pub(crate) fn check_tensor_types(graph: &crate::proto::GraphProto) -> Result<(), ContractError> {
    const NUMERIC: [i32; 12] = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13];
    let check = |t: &crate::proto::TensorProto, place: &dyn Fn() -> TensorPlace| {
        // A dimension larger than the file could hold is malformed; checked here also because tract
        // reads dims with `as usize`, which on wasm32 would cut one above 2^32 down to a small one.
        if let Some(&dimension) = t
            .dims
            .iter()
            .find(|&&d| !(0..=limits::MAX_MODEL_BYTES as i64).contains(&d))
        {
            return Err(ContractError::DimensionOutOfRange {
                place: place(),
                tensor: t.name.clone(),
                dimension,
            });
        }
        if t.data_location != 0 {
            return Err(ContractError::ExternalData {
                place: place(),
                tensor: t.name.clone(),
            });
        }
        if NUMERIC.contains(&t.data_type) {
            Ok(())
        } else {
            Err(ContractError::NotNumeric {
                place: place(),
                tensor: t.name.clone(),
                data_type: t.data_type,
            })
        }
    };
    for t in &graph.initializer {
        check(t, &|| TensorPlace::Initializer)?;
    }
    for s in &graph.sparse_initializer {
        for t in s.values.iter().chain(&s.indices) {
            check(t, &|| TensorPlace::SparseInitializer)?;
        }
    }
    for node in &graph.node {
        for a in &node.attribute {
            let sparse = a
                .sparse_tensor
                .iter()
                .flat_map(|s| s.values.iter().chain(&s.indices));
            let place = || TensorPlace::Attribute {
                node: node.name.clone(),
                attribute: a.name.clone(),
            };
            for t in a.t.iter().chain(&a.tensors).chain(sparse) {
                check(t, &place)?;
            }
        }
    }
    Ok(())
}

/// tract's Gather does not check its indices: one past the gathered axis panics (a trap in wasm) or
/// reads a neighbouring row's value. So every Gather must take constant integer indices (an
/// initializer) and gather from `features` (its feature axis, `width` long) or
/// from a constant tensor; each index must lie in `[-len, len)` of that axis.
pub(crate) fn check_gathers(
    graph: &crate::proto::GraphProto,
    width: usize,
) -> Result<(), ContractError> {
    // A constant is an initializer (Constant nodes are not on the operator list); after
    // `check_before_tract` no node writes an initializer's name. One map keeps this linear.
    let initializers: std::collections::HashMap<&str, &crate::proto::TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let constant = |name: &str| initializers.get(name).copied();
    for node in graph.node.iter().filter(|n| n.op_type == "Gather") {
        check_gather(node, width, &constant).map_err(|problem| ContractError::Gather {
            node: node.name.clone(),
            problem,
        })?;
    }
    Ok(())
}

fn check_gather<'g>(
    node: &crate::proto::NodeProto,
    width: usize,
    constant: &dyn Fn(&str) -> Option<&'g crate::proto::TensorProto>,
) -> Result<(), GatherProblem> {
    let [data, indices] = node.input.as_slice() else {
        return Err(GatherProblem::NotTwoInputs);
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
        return Err(GatherProblem::UncheckedData { data: data.clone() });
    };
    let rank = data_dims.len() as i64;
    if !(-rank..rank).contains(&axis) {
        return Err(GatherProblem::AxisOutOfRange { axis, rank });
    }
    let len = data_dims[axis.rem_euclid(rank) as usize];
    // Only `features` has a negative (unknown) dimension: `check_tensor_types` refused the rest.
    if len < 0 {
        return Err(GatherProblem::BatchAxis);
    }
    let Some(indices_tensor) = constant(indices).filter(|t| matches!(t.data_type, 6 | 7)) else {
        return Err(GatherProblem::IndicesNotConstant);
    };
    let values = crate::tensor::load_tensor(indices_tensor)
        .map_err(GatherProblem::IndicesNotLoaded)?
        .cast_to::<i64>()
        .map(|t| t.into_owned())
        .map_err(GatherProblem::IndicesNotIntegers)?;
    let values = values
        .try_as_plain_ram()
        .and_then(|v| Ok(v.as_slice::<i64>()?.to_vec()))
        .map_err(GatherProblem::IndicesNotInMemory)?;
    if let Some(&index) = values.iter().find(|&&i| !(-len..len).contains(&i)) {
        return Err(GatherProblem::IndexOutOfRange { index, len });
    }
    Ok(())
}

/// Each TreeEnsembleRegressor of a graph (its node's position) with the input columns it tests at
/// least (found while `check_before_tract` checks the forests, so they are parsed once there).
pub(crate) struct TreeWidths(Vec<(usize, usize)>);

/// Every tree ensemble reads `features` and tests only features the model has (`width` columns).
pub(crate) fn check_trees(
    graph: &crate::proto::GraphProto,
    trees: &TreeWidths,
    width: usize,
) -> Result<(), ContractError> {
    for &(at, needed) in &trees.0 {
        let node = &graph.node[at];
        if node.input.first().map(String::as_str) != Some("features") {
            return Err(ContractError::TreesReadOtherInput {
                node: node.name.clone(),
                input: node.input.first().cloned().unwrap_or_default(),
            });
        }
        if needed > width {
            return Err(ContractError::TreesTestMissingFeature {
                node: node.name.clone(),
                feature: needed - 1,
                width,
            });
        }
    }
    Ok(())
}
