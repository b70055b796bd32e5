//! The forest as an operator in tract's plan.

use super::Forest;
use std::sync::Arc;
use tract_core::internal::*;

/// The operator in tract's plan: [N, F] f32 in, [N, 1] f32 out.
#[derive(Clone, Debug)]
pub(crate) struct RunForest(pub(crate) Arc<Forest>);

impl PartialEq for RunForest {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

// Thresholds, weights and the base are finite (checked by `Forest::parse`), so equality is total.
impl Eq for RunForest {}

impl Op for RunForest {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for RunForest {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let view = input.to_plain_array_view::<f32>()?;
        let &[rows, width] = view.shape() else {
            bail!(
                "TreeEnsembleRegressor takes [N, F] input, got {:?}",
                view.shape()
            );
        };
        if width < self.0.width_needed() {
            bail!(
                "TreeEnsembleRegressor tests feature {} but its input has {width} columns",
                self.0.max_feature
            );
        }
        let flat = view
            .as_slice()
            .ok_or_else(|| anyhow!("TreeEnsembleRegressor input is not contiguous"))?;
        let out: Vec<f32> = flat
            .chunks_exact(width)
            .map(|row| self.0.predict_row(row) as f32)
            .collect();
        Ok(tvec!(Tensor::from_shape(&[rows, 1], &out)?.into_tvalue()))
    }
}

impl TypedOp for RunForest {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&[inputs[0].shape[0].clone(), 1.to_dim()])))
    }

    as_op!();
}
