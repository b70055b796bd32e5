//! A checked ONNX graph as a tract `TypedModel`: each allowed operator wired with tract-core's own
//! operators, exactly as tract-onnx and tract-hir wire them (the same operators, datum types and
//! broadcasting), but without tract-onnx's parser, tract-hir's shape inference or the NNEF
//! framework tract-onnx links in — code a browser would download and never run. The graph has been
//! through `contract::check_before_tract`: allowed operators with the inputs the spec gives them,
//! numeric tensors, no subgraphs, each tensor named once.

use crate::proto::{attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto};
use crate::tensor::{datum_type, load_tensor, TensorError};
use crate::trees::{Forest, RunForest};
use pricelet::error::quoted;
use std::collections::HashMap;
use std::sync::Arc;
use tract_core::internal::*;
use tract_core::ops;
use tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_core::ops::cast::{cast, wire_cast};
use tract_core::ops::einsum::EinSum;

/// Why a checked graph cannot be wired as a tract model.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GraphError {
    /// tract refused the model's input or output.
    #[error("{0}")]
    Model(TractError),
    #[error("node {} ({operator}) cannot be built: {cause:#}", quoted(node))]
    NodeNotBuilt {
        node: String,
        operator: String,
        cause: TractError,
    },
    #[error("it has no output named `{output}`")]
    NoOutput { output: String },
    #[error("node {} reads {}, which no earlier node, input or initializer provides; export the graph in topological order", quoted(node), quoted(input))]
    InputNotProvided { node: String, input: String },
    #[error(transparent)]
    Tensor(#[from] TensorError),
    #[error("initializer {}: {cause}", quoted(initializer))]
    ConstantNotAdded {
        initializer: String,
        cause: TractError,
    },
}

/// The graph as a typed model with input `features` f32 [N, `width`] and output `output`.
pub(crate) fn typed_model(
    graph: &GraphProto,
    opset: i64,
    width: usize,
    output: &str,
) -> Result<TypedModel, GraphError> {
    let mut b = Builder {
        model: TypedModel::default(),
        wires: HashMap::new(),
        initializers: graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect(),
        opset,
    };
    let n = b.model.sym("N");
    let source = b
        .model
        .add_source("features", f32::fact([n.to_dim(), width.to_dim()]))
        .map_err(GraphError::Model)?;
    b.wires.insert("features".to_string(), source);
    for (k, node) in graph.node.iter().enumerate() {
        let inputs = node
            .input
            .iter()
            .map(|name| match name.as_str() {
                "" => Ok(None),
                name => b.wire_of(name, node).map(Some),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Names are for messages; the node's position keeps them unique (ONNX names may be empty).
        let base = if node.name.is_empty() {
            &node.output[0]
        } else {
            &node.name
        };
        let name = format!("{base}#{k}");
        let out = b
            .wire(node, &name, &inputs)
            .map_err(|cause| GraphError::NodeNotBuilt {
                node: node.name.clone(),
                operator: node.op_type.clone(),
                cause,
            })?;
        b.wires.insert(node.output[0].clone(), out);
    }
    let Some(&out) = graph
        .output
        .iter()
        .any(|o| o.name == output)
        .then(|| b.wires.get(output))
        .flatten()
    else {
        return Err(GraphError::NoOutput {
            output: output.to_string(),
        });
    };
    b.model
        .select_output_outlets(&[out])
        .map_err(GraphError::Model)?;
    Ok(b.model)
}

struct Builder<'a> {
    model: TypedModel,
    /// Tensor name → the outlet that holds it (the input, a node output, a constant once used).
    wires: HashMap<String, OutletId>,
    initializers: HashMap<&'a str, &'a crate::proto::TensorProto>,
    opset: i64,
}

impl Builder<'_> {
    fn wire_of(&mut self, name: &str, node: &NodeProto) -> Result<OutletId, GraphError> {
        if let Some(&w) = self.wires.get(name) {
            return Ok(w);
        }
        let Some(t) = self.initializers.get(name) else {
            return Err(GraphError::InputNotProvided {
                node: node.name.clone(),
                input: name.to_string(),
            });
        };
        let tensor = load_tensor(t)?;
        let w =
            self.model
                .add_const(name, tensor)
                .map_err(|cause| GraphError::ConstantNotAdded {
                    initializer: name.to_string(),
                    cause,
                })?;
        self.wires.insert(name.to_string(), w);
        Ok(w)
    }

    fn wire(
        &mut self,
        node: &NodeProto,
        name: &str,
        inputs: &[Option<OutletId>],
    ) -> TractResult<OutletId> {
        let present: Vec<OutletId> = inputs.iter().flatten().copied().collect();
        let m = &mut self.model;
        Ok(match node.op_type.as_str() {
            "Add" => binary(m, name, Box::new(ops::math::Add), &present)?,
            "Sub" => binary(m, name, Box::new(ops::math::Sub), &present)?,
            "Equal" => binary(m, name, ops::logic::comp_eq(), &present)?,
            "LessOrEqual" => binary(m, name, ops::logic::comp_lte(), &present)?,
            "Min" => min(m, name, &present)?,
            "Sigmoid" => {
                let op = ops::nn::sigmoid();
                let dt =
                    op.0.operating_datum_type(m.outlet_fact(present[0])?.datum_type);
                let w = wire_cast(name, m, &present, dt)?;
                m.wire_node(name, op, &w)?[0]
            }
            "Relu" => clip_by_constants(m, name, present[0], Some(0.0), None)?,
            "Clip" if self.opset < 11 => {
                let (lo, hi) = (attr_float(node, "min")?, attr_float(node, "max")?);
                clip_by_constants(m, name, present[0], lo, hi)?
            }
            "Clip" => clip_by_inputs(m, name, inputs)?,
            "Cast" => {
                let to = attr(node, "to", AttributeType::Int)?
                    .and_then(|a| datum_type(a.i as i32))
                    .ok_or_else(|| anyhow!("Cast needs `to`, a numeric ONNX type"))?;
                m.wire_node(name, cast(to), &present)?[0]
            }
            "Gather" => {
                let axis = attr(node, "axis", AttributeType::Int)?.map_or(0, |a| a.i);
                let rank = m.outlet_fact(present[0])?.rank() as i64;
                let axis = if axis < 0 { axis + rank } else { axis };
                ensure!(
                    (0..rank).contains(&axis),
                    "axis {axis} outside the data's {rank} axes"
                );
                let indices = m.wire_node(
                    format!("{name}.cast_to_i64"),
                    cast(i64::datum_type()),
                    &[present[1]],
                )?[0];
                m.wire_node(
                    name,
                    ops::array::Gather::new(axis as usize),
                    &[present[0], indices],
                )?[0]
            }
            "Reshape" => {
                let allowzero =
                    attr(node, "allowzero", AttributeType::Int)?.is_some_and(|a| a.i != 0);
                reshape(m, name, present[0], present[1], allowzero)?
            }
            "MatMul" => matmul(m, name, present[0], present[1], false, false)?,
            "Gemm" => gemm(m, name, node, &present)?,
            "TreeEnsembleRegressor" => {
                let forest = Forest::parse(node)?;
                m.wire_node(name, RunForest(Arc::new(forest)), &present)?[0]
            }
            other => bail!("operator {other} is not one pricelet runs"),
        })
    }
}

/// An attribute of a given type, or None when absent.
fn attr<'n>(
    node: &'n NodeProto,
    name: &str,
    ty: AttributeType,
) -> TractResult<Option<&'n AttributeProto>> {
    match node.attribute.iter().find(|a| a.name == name) {
        None => Ok(None),
        Some(a) if a.r#type == ty as i32 => Ok(Some(a)),
        Some(_) => bail!("attribute {name} must be of type {}", ty.as_str_name()),
    }
}

fn attr_float(node: &NodeProto, name: &str) -> TractResult<Option<f32>> {
    Ok(attr(node, name, AttributeType::Float)?.map(|a| a.f))
}

/// A binary operator with ONNX broadcasting, in the datum type the operator works in.
fn binary(
    m: &mut TypedModel,
    name: &str,
    op: Box<dyn BinMiniOp>,
    inputs: &[OutletId],
) -> TractResult<OutletId> {
    let dt = op.operating_datum_type(
        m.outlet_fact(inputs[0])?.datum_type,
        m.outlet_fact(inputs[1])?.datum_type,
    )?;
    let wires = wire_rank_broadcast(name, m, inputs)?;
    let wires = wire_cast(name, m, &wires, dt)?;
    Ok(m.wire_node(name, TypedBinOp(op, None), &wires)?[0])
}

/// Min of any number of inputs, folded left, in their common super type.
fn min(m: &mut TypedModel, name: &str, inputs: &[OutletId]) -> TractResult<OutletId> {
    let types = inputs
        .iter()
        .map(|i| Ok(m.outlet_fact(*i)?.datum_type))
        .collect::<TractResult<Vec<_>>>()?;
    let dt =
        DatumType::super_type_for(&types).ok_or_else(|| anyhow!("no common type for {types:?}"))?;
    let dt = ops::math::Min.operating_datum_type(dt, dt)?;
    let inputs = wire_cast(name, m, inputs, dt)?;
    let mut wire = inputs[0];
    for (ix, i) in inputs[1..].iter().enumerate() {
        let wires = wire_rank_broadcast(format!("{name}.{ix}"), m, &[wire, *i])?;
        wire = m.wire_node(
            format!("{name}.{ix}"),
            TypedBinOp(Box::new(ops::math::Min), None),
            &wires,
        )?[0];
    }
    Ok(wire)
}

/// Relu and Clip before opset 11: max with a low and min with a high constant of the input's type and rank.
fn clip_by_constants(
    m: &mut TypedModel,
    name: &str,
    x: OutletId,
    low: Option<f32>,
    high: Option<f32>,
) -> TractResult<OutletId> {
    let fact = m.outlet_fact(x)?.clone();
    let constant = |v: f32| -> TractResult<Tensor> {
        let mut t = tensor0(v).cast_to_dt(fact.datum_type)?.into_owned();
        while t.rank() < fact.rank() {
            t.insert_axis(0)?;
        }
        Ok(t)
    };
    let mut wire = x;
    if let Some(low) = low {
        let c = m.add_const(format!("{name}.low.cst"), constant(low)?)?;
        wire = m.wire_node(format!("{name}.low"), ops::math::max(), &[wire, c])?[0];
    }
    if let Some(high) = high {
        let c = m.add_const(format!("{name}.high.cst"), constant(high)?)?;
        wire = m.wire_node(format!("{name}.high"), ops::math::min(), &[wire, c])?[0];
    }
    Ok(wire)
}

/// Clip from opset 11: `min` and `max` are optional inputs (an empty name leaves one out).
fn clip_by_inputs(
    m: &mut TypedModel,
    name: &str,
    inputs: &[Option<OutletId>],
) -> TractResult<OutletId> {
    let x = inputs[0].ok_or_else(|| anyhow!("Clip needs its input"))?;
    let dt = m.outlet_fact(x)?.datum_type;
    let mut wire = x;
    for (bound, op, tag) in [
        (inputs.get(1).copied().flatten(), ops::math::max(), "min"),
        (inputs.get(2).copied().flatten(), ops::math::min(), "max"),
    ] {
        let Some(mut b) = bound else { continue };
        if m.outlet_fact(b)?.datum_type != dt {
            b = m.wire_node(format!("{name}.{tag}.cast"), cast(dt), &[b])?[0];
        }
        wire = wire_with_rank_broadcast(format!("{name}.{tag}"), m, op, &[wire, b])?[0];
    }
    Ok(wire)
}

/// Reshape to a constant shape, by ONNX's rules (0 copies a dimension unless `allowzero`, −1 infers one).
fn reshape(
    m: &mut TypedModel,
    name: &str,
    x: OutletId,
    shape: OutletId,
    allowzero: bool,
) -> TractResult<OutletId> {
    let Some(spec) = m.outlet_fact(shape)?.konst.clone() else {
        bail!("the shape of a Reshape must be a constant");
    };
    let spec = spec.cast_to::<TDim>()?;
    let spec = spec.try_as_plain_ram()?.as_slice::<TDim>()?.to_vec();
    let input: TVec<TDim> = m.outlet_fact(x)?.shape.to_tvec();
    let mut wire = tvec!(x);
    for (ix, op) in to_axis_ops_with_onnx_rules(&input, &spec, allowzero)?
        .into_iter()
        .enumerate()
    {
        wire = m.wire_node(format!("{name}.{ix}"), op, &wire)?;
    }
    Ok(wire[0])
}

/// MatMul as tract-hir writes it: an EinSum over the matrix axes, batch axes broadcast.
fn matmul(
    m: &mut TypedModel,
    name: &str,
    a: OutletId,
    b: OutletId,
    a_trans: bool,
    b_trans: bool,
) -> TractResult<OutletId> {
    let (a_rank, b_rank) = (m.outlet_fact(a)?.rank(), m.outlet_fact(b)?.rank());
    ensure!(a_rank > 1 || b_rank > 1, "MatMul of two vectors");
    // tract's kernels assert that the summed axis agrees and would panic on a mismatch, so it is
    // checked here: both a known size (never the batch axis) and equal.
    let contracted = |o: OutletId, rank: usize, k_last: bool| -> TractResult<TDim> {
        let axis = match (rank, k_last) {
            (1, _) => 0,
            (_, true) => rank - 1,
            (_, false) => rank - 2,
        };
        Ok(m.outlet_fact(o)?.shape[axis].clone())
    };
    let a_k = contracted(a, a_rank, !a_trans)?;
    let b_k = contracted(b, b_rank, b_trans)?;
    ensure!(
        a_k.to_i64().is_ok() && a_k == b_k,
        "MatMul sums {a_k} columns of its first operand against {b_k} rows of its second: they must be the same fixed size"
    );
    let mk = if a_trans { "km" } else { "mk" };
    let kn = if b_trans { "nk" } else { "kn" };
    let axes: AxesMapping = if a_rank == 1 {
        let prefix: String = ('a'..).take(b_rank - 2).collect();
        format!("k,{prefix}{kn}->{prefix}n").parse()?
    } else if b_rank == 1 {
        let prefix: String = ('a'..).take(a_rank - 2).collect();
        format!("{prefix}{mk},k->{prefix}m").parse()?
    } else {
        let c_rank = b_rank.max(a_rank);
        let a_prefix: String = ('a'..)
            .take(c_rank - 2)
            .skip(b_rank.saturating_sub(a_rank))
            .collect();
        let b_prefix: String = ('a'..)
            .take(c_rank - 2)
            .skip(a_rank.saturating_sub(b_rank))
            .collect();
        let c_prefix: String = ('a'..).take(c_rank - 2).collect();
        format!("{a_prefix}{mk},{b_prefix}{kn}->{c_prefix}mn").parse()?
    };
    let dt = m.outlet_fact(a)?.datum_type;
    ensure!(m.outlet_fact(b)?.datum_type == dt, "MatMul of two types");
    Ok(m.wire_node(
        name,
        EinSum {
            axes,
            operating_dt: dt,
            q_params: None,
        },
        &[a, b],
    )?[0])
}

/// Gemm: alpha · A′B′ + beta · C, A′ and B′ optionally transposed, C optional and broadcast.
fn gemm(
    m: &mut TypedModel,
    name: &str,
    node: &NodeProto,
    inputs: &[OutletId],
) -> TractResult<OutletId> {
    let alpha = attr_float(node, "alpha")?.unwrap_or(1.0);
    let beta = attr_float(node, "beta")?.unwrap_or(1.0);
    let trans = |n: &str| -> TractResult<bool> {
        Ok(attr(node, n, AttributeType::Int)?.is_some_and(|a| a.i != 0))
    };
    for i in &inputs[..2] {
        ensure!(m.outlet_fact(*i)?.rank() == 2, "Gemm takes matrices");
    }
    let mut wire = matmul(
        m,
        &format!("{name}.ab"),
        inputs[0],
        inputs[1],
        trans("transA")?,
        trans("transB")?,
    )?;
    let dt = m.outlet_fact(wire)?.datum_type;
    let scaled =
        |m: &mut TypedModel, wire: OutletId, by: f32, tag: &str| -> TractResult<OutletId> {
            if by == 1.0 {
                return Ok(wire);
            }
            let k = tensor0(by)
                .cast_to_dt(dt)?
                .into_owned()
                .broadcast_into_rank(m.outlet_fact(wire)?.rank())?;
            let k = m.add_const(format!("{name}.{tag}"), k)?;
            Ok(m.wire_node(format!("{name}.{tag}.mul"), ops::math::mul(), &[k, wire])?[0])
        };
    wire = scaled(m, wire, alpha, "alpha")?;
    if let (Some(&c), true) = (inputs.get(2), beta != 0.0) {
        let c = scaled(m, c, beta, "beta")?;
        wire = wire_with_rank_broadcast(format!("{name}.c"), m, ops::math::add(), &[wire, c])?[0];
    }
    Ok(wire)
}
