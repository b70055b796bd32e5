//! The standard `ai.onnx.ml` TreeEnsembleRegressor, run natively: the form scikit-learn's ONNX
//! converters write and onnxruntime runs natively. tract 0.23.9 has no regressor (its classifier walks
//! the leaf table linearly for every tree), and encoding trees as tensor maths costs 200 small matmuls
//! a row; a walk from each root costs one comparison per level.
//!
//! Parsing is strict, because a forest that is not a forest would loop or index out of bounds: every
//! tree is a contiguous run of nodes whose first is its root (the layout exporters write and
//! onnxruntime assumes), node ids are unique in their tree, every child is in the same tree and is
//! reached once from the root, every node is reached, thresholds and weights are finite, weights sit
//! on leaves. The compiled walk then cannot fail: children are checked indices, depth is bounded by
//! the node count, and the only check left per call is the input's width.

mod error;
mod op;
mod parse;
mod positions;
#[cfg(test)]
mod tests;

pub(crate) use error::TreeError;
pub(crate) use op::RunForest;

/// At most this many nodes in one ensemble (the shipped model has about 3,000).
pub const MAX_TREE_NODES: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Test {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

impl Test {
    /// The test a `nodes_modes` entry names (None for LEAF and unknown modes).
    fn of_mode(mode: &[u8]) -> Option<Test> {
        Some(match mode {
            b"BRANCH_LEQ" => Test::Leq,
            b"BRANCH_LT" => Test::Lt,
            b"BRANCH_GTE" => Test::Gte,
            b"BRANCH_GT" => Test::Gt,
            b"BRANCH_EQ" => Test::Eq,
            b"BRANCH_NEQ" => Test::Neq,
            _ => return None,
        })
    }

    fn holds(self, x: f32, threshold: f32) -> bool {
        match self {
            Test::Leq => x <= threshold,
            Test::Lt => x < threshold,
            Test::Gte => x >= threshold,
            Test::Gt => x > threshold,
            Test::Eq => x == threshold,
            Test::Neq => x != threshold,
        }
    }
}

/// One compiled node: a branch tests `x[feature]` and goes to `yes` or `no`; a leaf adds `value`.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Branch {
        feature: u32,
        threshold: f32,
        test: Test,
        missing_goes_yes: bool,
        yes: u32,
        no: u32,
    },
    Leaf {
        value: f64,
    },
}

/// A checked tree ensemble with one target, summed, no post-transform.
#[derive(Clone, Debug, PartialEq)]
pub struct Forest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    base: f64,
    /// The input must have more columns than this.
    max_feature: usize,
}

impl Forest {
    /// The number of input columns the forest needs at least.
    pub fn width_needed(&self) -> usize {
        self.max_feature + 1
    }

    /// base + Σ over trees of the leaf reached, summed in f64 in tree order (the same on every CPU).
    pub fn predict_row(&self, row: &[f32]) -> f64 {
        let mut sum = self.base;
        for &root in &self.roots {
            let mut i = root as usize;
            loop {
                match self.nodes[i] {
                    Node::Leaf { value } => {
                        sum += value;
                        break;
                    }
                    Node::Branch {
                        feature,
                        threshold,
                        test,
                        missing_goes_yes,
                        yes,
                        no,
                    } => {
                        let x = row[feature as usize];
                        let goes_yes = if x.is_nan() {
                            missing_goes_yes
                        } else {
                            test.holds(x, threshold)
                        };
                        i = if goes_yes { yes } else { no } as usize;
                    }
                }
            }
        }
        sum
    }
}
