//! The ONNX parser with only the operators pricelet's model contract allows. tract-onnx's `onnx()`
//! registers a builder for every ONNX operator, so every operator's code is linked into the wasm;
//! registering only these lets the linker drop the rest (the device wasm: 1,908 → 1,616 KB gzip).
//! The builders are pricelet's own, from tract-hir's public operators (tract-onnx keeps its private);
//! `tests/models.rs` holds every shipped model to onnxruntime's outputs through them.

use crate::trees;
use tract_onnx::model::{optional_inputs, OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops;
use tract_onnx::tract_hir::tract_core::ops::change_axes::wire_with_rank_broadcast;

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

pub fn onnx() -> tract_onnx::Onnx {
    let mut reg = OnnxOpRegister::default();
    reg.insert("Add", |_, _| Ok((ops::math::Add.into_hir(), vec![])));
    reg.insert("Sub", |_, _| Ok((ops::math::Sub.into_hir(), vec![])));
    reg.insert("Equal", |_, _| Ok((ops::logic::CompEq.into_hir(), vec![])));
    reg.insert("LessOrEqual", |_, _| {
        Ok((ops::logic::CompLTE.into_hir(), vec![]))
    });
    reg.insert("Sigmoid", |_, _| {
        Ok((ops::nn::sigmoid().into_hir(), vec![]))
    });
    reg.insert("Relu", |_, _| {
        Ok((expand(ops::activations::Clip::new(Some(0.0), None)), vec![]))
    });
    reg.insert("Min", |_, _| {
        Ok((
            Box::new(ops::binary::Nary(Box::new(ops::math::Min), false)),
            vec![],
        ))
    });
    reg.insert("MatMul", |_, _| {
        Ok((expand(ops::matmul::MatMulInference::default()), vec![]))
    });
    reg.insert("Gather", gather);
    reg.insert("Reshape", reshape);
    reg.insert("Cast", cast);
    reg.insert("Clip", clip);
    reg.insert("Gemm", gemm);
    reg.insert("TreeEnsembleRegressor", trees::build);
    tract_onnx::Onnx {
        op_register: reg,
        ..tract_onnx::Onnx::default()
    }
}

fn gather(_: &ParsingContext, node: &NodeProto) -> Built {
    let axis = node.get_attr_opt("axis")?.unwrap_or(0);
    Ok((expand(ops::array::Gather::new(axis)), vec![]))
}

fn reshape(_: &ParsingContext, node: &NodeProto) -> Built {
    let allowzero = node.get_attr_opt::<i64>("allowzero")?.unwrap_or(0) != 0;
    Ok((expand(ops::array::Reshape::new(allowzero)), vec![]))
}

fn cast(_: &ParsingContext, node: &NodeProto) -> Built {
    let to = node.get_attr::<DatumType>("to")?;
    Ok((Box::new(ops::cast::cast(to)), vec![]))
}

/// Clip: opset 11 takes `min` and `max` as optional inputs (an empty name leaves one out); before
/// that they were attributes.
fn clip(ctx: &ParsingContext, node: &NodeProto) -> Built {
    if ctx.onnx_operator_set_version < 11 {
        let min: Option<f32> = node.get_attr_opt("min")?;
        let max: Option<f32> = node.get_attr_opt("max")?;
        return Ok((expand(ops::activations::Clip::new(min, max)), vec![]));
    }
    let mut present = optional_inputs(node).skip(1);
    let (min, max) = (present.next().flatten(), present.next().flatten());
    Ok((expand(Clip { min, max }), vec![]))
}

/// Clip with its bounds as inputs: `min` and `max` are their positions among the present inputs.
#[derive(Debug, Clone)]
struct Clip {
    min: Option<usize>,
    max: Option<usize>,
}

impl Expansion for Clip {
    fn name(&self) -> StaticName {
        "Clip".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(
            inputs,
            1 + self.min.is_some() as usize + self.max.is_some() as usize,
        )?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        let mut wire = inputs[0];
        for (bound, op, tag) in [
            (self.min, ops::math::max(), "min"),
            (self.max, ops::math::min(), "max"),
        ] {
            let Some(at) = bound else { continue };
            let mut b = inputs[at];
            if model.outlet_fact(b)?.datum_type != dt {
                b = model.wire_node(format!("{name}.{tag}.cast"), ops::cast::cast(dt), &[b])?[0];
            }
            wire = wire_with_rank_broadcast(format!("{name}.{tag}"), model, op, &[wire, b])?[0];
        }
        Ok(tvec!(wire))
    }
}

/// Gemm: alpha · A′B′ + beta · C, A′ and B′ optionally transposed, C optional and broadcast.
fn gemm(_: &ParsingContext, node: &NodeProto) -> Built {
    Ok((
        expand(Gemm {
            alpha: node.get_attr_opt("alpha")?.unwrap_or(1.0),
            beta: node.get_attr_opt("beta")?.unwrap_or(1.0),
            trans_a: node.get_attr_opt("transA")?.unwrap_or(false),
            trans_b: node.get_attr_opt("transB")?.unwrap_or(false),
        }),
        vec![],
    ))
}

#[derive(Debug, Clone)]
struct Gemm {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
}

impl Expansion for Gemm {
    fn name(&self) -> StaticName {
        "Gemm".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        if !(2..=3).contains(&inputs.len()) {
            bail!("Gemm takes 2 or 3 inputs, got {}", inputs.len());
        }
        check_output_arity(outputs, 1)?;
        for input in inputs {
            s.equals(&input.datum_type, &outputs[0].datum_type)?;
        }
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&inputs[1].rank, 2)?;
        s.equals(&outputs[0].rank, 2)?;
        let (m, k_a) = if self.trans_a { (1, 0) } else { (0, 1) };
        let (k_b, n) = if self.trans_b { (1, 0) } else { (0, 1) };
        s.equals(&inputs[0].shape[m], &outputs[0].shape[0])?;
        s.equals(&inputs[0].shape[k_a], &inputs[1].shape[k_b])?;
        s.equals(&inputs[1].shape[n], &outputs[0].shape[1])?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let product = ops::matmul::MatMulInference::default()
            .with_a_trans(self.trans_a)
            .with_b_trans(self.trans_b);
        let mut wire = product.wire(&format!("{name}.ab"), model, &inputs[..2])?[0];
        let dt = model.outlet_fact(wire)?.datum_type;
        let scaled =
            |model: &mut TypedModel, wire: OutletId, by: f32, tag: &str| -> TractResult<OutletId> {
                if by == 1.0 {
                    return Ok(wire);
                }
                let k = tensor0(by)
                    .cast_to_dt(dt)?
                    .into_owned()
                    .broadcast_into_rank(model.outlet_fact(wire)?.rank())?;
                let k = model.add_const(format!("{name}.{tag}"), k)?;
                Ok(model.wire_node(format!("{name}.{tag}.mul"), ops::math::mul(), &[k, wire])?[0])
            };
        wire = scaled(model, wire, self.alpha, "alpha")?;
        if let (Some(&c), true) = (inputs.get(2), self.beta != 0.0) {
            let c = scaled(model, c, self.beta, "beta")?;
            wire =
                wire_with_rank_broadcast(format!("{name}.c"), model, ops::math::add(), &[wire, c])?
                    [0];
        }
        Ok(tvec!(wire))
    }
}
