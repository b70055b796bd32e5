//! Why a TreeEnsembleRegressor node is refused; each message says what to fix.

use super::MAX_TREE_NODES;
use crate::proto::attribute_proto::AttributeType;
use pricelet::error::quoted;

/// A TreeEnsembleRegressor node (by its name) that is not a forest pricelet runs.
#[derive(Debug, thiserror::Error)]
#[error("TreeEnsembleRegressor {}{}{problem}", quoted(node), problem.separator())]
pub(crate) struct TreeError {
    pub node: String,
    pub problem: TreeProblem,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TreeProblem {
    #[error(
        "has attribute {}, which pricelet does not read{}",
        quoted(attribute),
        list_instead_hint(attribute)
    )]
    UnknownAttribute { attribute: String },
    #[error("has attribute {} twice", quoted(attribute))]
    DuplicateAttribute { attribute: String },
    #[error("attribute {} must be of type {}", quoted(attribute), expected.as_str_name())]
    AttributeType {
        attribute: String,
        expected: AttributeType,
    },
    #[error("n_targets is {}, pricelet models have exactly one target (n_targets = 1)", found.map_or("missing".to_string(), |n| n.to_string()))]
    TargetCount { found: Option<i64> },
    #[error(
        "aggregate_function {} is not supported; pricelet sums the trees (SUM)",
        quoted(found)
    )]
    Aggregate { found: String },
    #[error(
        "post_transform {} is not supported; use NONE and a Sigmoid node after the ensemble",
        quoted(found)
    )]
    PostTransform { found: String },
    #[error("base_values must be one finite number, found {found:?}")]
    BaseValues { found: Vec<f32> },
    #[error("it has no nodes")]
    NoNodes,
    #[error("it has {count} nodes; pricelet runs at most {MAX_TREE_NODES}")]
    TooManyNodes { count: usize },
    #[error("{attribute} has {len} entries but nodes_treeids has {count}; every nodes_* list has one entry per node")]
    ListLength {
        attribute: &'static str,
        len: usize,
        count: usize,
    },
    #[error("the nodes of tree {tree} are not listed together; list each tree's nodes in one run, root first")]
    TreeNotContiguous { tree: i64 },
    #[error("tree {tree} has node id {node_id} twice")]
    DuplicateNodeId { tree: i64, node_id: i64 },
    #[error("target_treeids, target_nodeids, target_ids and target_weights must have one entry per leaf weight")]
    TargetListLengths,
    #[error("target {target} names node {node_id} of tree {tree}, which does not exist")]
    TargetNodeMissing {
        target: usize,
        tree: i64,
        node_id: i64,
    },
    #[error(
        "target {target} gives a weight to node {node_id} of tree {tree}, which is not a LEAF"
    )]
    TargetNotLeaf {
        target: usize,
        tree: i64,
        node_id: i64,
    },
    #[error("target {target} has target id {target_id}; with one target every id is 0")]
    TargetId { target: usize, target_id: i64 },
    #[error("target {target} has weight {weight}")]
    TargetWeight { target: usize, weight: f32 },
    #[error(
        "node {node_id} of tree {tree} points to node {child_id}, which tree {tree} does not have"
    )]
    ChildOutsideTree {
        tree: i64,
        node_id: i64,
        child_id: i64,
    },
    #[error(
        "node {node_id} of tree {tree} is reached twice from the root; each tree must be a tree"
    )]
    ReachedTwice { tree: i64, node_id: i64 },
    #[error(
        "node {node_id} of tree {tree} cannot be reached from the tree's root (its first node)"
    )]
    Unreachable { tree: i64, node_id: i64 },
    #[error("node {node_id} of tree {tree} has mode {}; modes are LEAF and BRANCH_LEQ, _LT, _GTE, _GT, _EQ, _NEQ", quoted(mode))]
    UnknownMode {
        tree: i64,
        node_id: i64,
        mode: String,
    },
    #[error("node {node_id} of tree {tree} tests feature {feature}")]
    FeatureOutOfRange {
        tree: i64,
        node_id: i64,
        feature: i64,
    },
    #[error("node {node_id} of tree {tree} has threshold {threshold}")]
    Threshold {
        tree: i64,
        node_id: i64,
        threshold: f32,
    },
}

impl TreeProblem {
    /// "has attribute …" continues the sentence that names the node; the other problems follow a colon.
    fn separator(&self) -> &'static str {
        match self {
            TreeProblem::UnknownAttribute { .. } | TreeProblem::DuplicateAttribute { .. } => " ",
            _ => ": ",
        }
    }
}

/// ai.onnx.ml 3 added tensor forms of the float lists (`nodes_values_as_tensor`, …); pricelet reads the lists.
fn list_instead_hint(attribute: &str) -> &'static str {
    if attribute.ends_with("_as_tensor") {
        "; write the float list attribute instead (e.g. nodes_values)"
    } else {
        ""
    }
}
