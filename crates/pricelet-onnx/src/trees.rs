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

use crate::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};
use pricelet::error::quoted;
use std::collections::HashMap;
use std::sync::Arc;
use tract_core::internal::*;

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

/// The attributes a TreeEnsembleRegressor may carry; anything else is refused rather than ignored.
const KNOWN: &[&str] = &[
    "aggregate_function",
    "base_values",
    "n_targets",
    "nodes_falsenodeids",
    "nodes_featureids",
    "nodes_hitrates",
    "nodes_missing_value_tracks_true",
    "nodes_modes",
    "nodes_nodeids",
    "nodes_treeids",
    "nodes_truenodeids",
    "nodes_values",
    "post_transform",
    "target_ids",
    "target_nodeids",
    "target_treeids",
    "target_weights",
];

struct Attributes<'a> {
    node: &'a NodeProto,
    by_name: HashMap<&'a str, &'a AttributeProto>,
}

impl<'a> Attributes<'a> {
    fn of(node: &'a NodeProto) -> Result<Self, String> {
        let mut by_name = HashMap::new();
        for a in &node.attribute {
            if !KNOWN.contains(&a.name.as_str()) {
                let hint = if a.name.ends_with("_as_tensor") {
                    "; write the float list attribute instead (e.g. nodes_values)"
                } else {
                    ""
                };
                return Err(format!(
                    "TreeEnsembleRegressor {} has attribute {}, which pricelet does not read{hint}",
                    quoted(&node.name),
                    quoted(&a.name)
                ));
            }
            if by_name.insert(a.name.as_str(), a).is_some() {
                return Err(format!(
                    "TreeEnsembleRegressor {} has attribute {} twice",
                    quoted(&node.name),
                    quoted(&a.name)
                ));
            }
        }
        Ok(Attributes { node, by_name })
    }

    fn typed(&self, name: &str, ty: AttributeType) -> Result<Option<&'a AttributeProto>, String> {
        match self.by_name.get(name) {
            None => Ok(None),
            Some(a) if a.r#type == ty as i32 => Ok(Some(a)),
            Some(_) => Err(format!(
                "TreeEnsembleRegressor {}: attribute {} must be of type {}",
                quoted(&self.node.name),
                quoted(name),
                ty.as_str_name()
            )),
        }
    }

    fn ints(&self, name: &str) -> Result<&'a [i64], String> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map_or(&[][..], |a| &a.ints[..]))
    }

    fn floats(&self, name: &str) -> Result<&'a [f32], String> {
        Ok(self
            .typed(name, AttributeType::Floats)?
            .map_or(&[][..], |a| &a.floats[..]))
    }

    fn text(&self, name: &str, default: &str) -> Result<String, String> {
        Ok(self.typed(name, AttributeType::String)?.map_or_else(
            || default.to_string(),
            |a| String::from_utf8_lossy(&a.s).into_owned(),
        ))
    }
}

impl Forest {
    /// Parses and checks a TreeEnsembleRegressor node; the error says what to fix.
    pub fn parse(node: &NodeProto) -> Result<Forest, String> {
        let name = quoted(&node.name);
        let bad = |what: String| format!("TreeEnsembleRegressor {name}: {what}");
        let a = Attributes::of(node)?;
        match a.typed("n_targets", AttributeType::Int)?.map(|a| a.i) {
            Some(1) => {}
            other => {
                return Err(bad(format!(
                    "n_targets is {}, pricelet models have exactly one target (n_targets = 1)",
                    other.map_or("missing".to_string(), |n| n.to_string())
                )))
            }
        }
        let aggregate = a.text("aggregate_function", "SUM")?;
        if aggregate != "SUM" {
            return Err(bad(format!(
                "aggregate_function {} is not supported; pricelet sums the trees (SUM)",
                quoted(&aggregate)
            )));
        }
        let post = a.text("post_transform", "NONE")?;
        if post != "NONE" {
            return Err(bad(format!(
                "post_transform {} is not supported; use NONE and a Sigmoid node after the ensemble",
                quoted(&post)
            )));
        }
        let base = match a.floats("base_values")? {
            [] => 0.0,
            [b] if b.is_finite() => f64::from(*b),
            other => {
                return Err(bad(format!(
                    "base_values must be one finite number, found {other:?}"
                )))
            }
        };

        let tree_ids = a.ints("nodes_treeids")?;
        let count = tree_ids.len();
        if count == 0 {
            return Err(bad("it has no nodes".into()));
        }
        if count > MAX_TREE_NODES {
            return Err(bad(format!(
                "it has {count} nodes; pricelet runs at most {MAX_TREE_NODES}"
            )));
        }
        let node_ids = a.ints("nodes_nodeids")?;
        let features = a.ints("nodes_featureids")?;
        let thresholds = a.floats("nodes_values")?;
        let yes_ids = a.ints("nodes_truenodeids")?;
        let no_ids = a.ints("nodes_falsenodeids")?;
        let modes = match a.typed("nodes_modes", AttributeType::Strings)? {
            Some(m) => &m.strings[..],
            None => &[][..],
        };
        let mut missing = a.ints("nodes_missing_value_tracks_true")?;
        let no_missing = vec![0; count];
        if missing.is_empty() {
            missing = &no_missing;
        }
        for (attr, len) in [
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", features.len()),
            ("nodes_values", thresholds.len()),
            ("nodes_truenodeids", yes_ids.len()),
            ("nodes_falsenodeids", no_ids.len()),
            ("nodes_modes", modes.len()),
            ("nodes_missing_value_tracks_true", missing.len()),
        ] {
            if len != count {
                return Err(bad(format!(
                    "{attr} has {len} entries but nodes_treeids has {count}; every nodes_* list has one entry per node"
                )));
            }
        }

        // Trees as contiguous runs; the position of (tree, node id) in the lists.
        let mut runs: Vec<(i64, usize, usize)> = Vec::new(); // (tree id, first, end)
        let mut seen_trees = std::collections::HashSet::new();
        for (i, &tree) in tree_ids.iter().enumerate() {
            match runs.last_mut() {
                Some((t, _, end)) if *t == tree => *end = i + 1,
                _ => {
                    if !seen_trees.insert(tree) {
                        return Err(bad(format!("the nodes of tree {tree} are not listed together; list each tree's nodes in one run, root first")));
                    }
                    runs.push((tree, i, i + 1));
                }
            }
        }
        let position = Positions::of(&runs, node_ids).map_err(bad)?;

        // Leaf values from the targets.
        let target_trees = a.ints("target_treeids")?;
        let target_nodes = a.ints("target_nodeids")?;
        let target_ids = a.ints("target_ids")?;
        let weights = a.floats("target_weights")?;
        let targets = target_trees.len();
        if [target_nodes.len(), target_ids.len(), weights.len()] != [targets; 3] {
            return Err(bad("target_treeids, target_nodeids, target_ids and target_weights must have one entry per leaf weight".into()));
        }
        let mut leaf_value = vec![0.0f64; count];
        for k in 0..targets {
            let (tree, id) = (target_trees[k], target_nodes[k]);
            let Some(i) = position.find(tree, id) else {
                return Err(bad(format!(
                    "target {k} names node {id} of tree {tree}, which does not exist"
                )));
            };
            if modes[i] != b"LEAF" {
                return Err(bad(format!(
                    "target {k} gives a weight to node {id} of tree {tree}, which is not a LEAF"
                )));
            }
            if target_ids[k] != 0 {
                return Err(bad(format!(
                    "target {k} has target id {}; with one target every id is 0",
                    target_ids[k]
                )));
            }
            if !weights[k].is_finite() {
                return Err(bad(format!("target {k} has weight {}", weights[k])));
            }
            leaf_value[i] += f64::from(weights[k]);
        }

        // Compile each tree from its root, depth first: `compiled[i]` is node i's new index.
        let mut nodes: Vec<Node> = Vec::with_capacity(count);
        let mut roots = Vec::with_capacity(runs.len());
        let mut compiled: Vec<Option<u32>> = vec![None; count];
        let mut max_feature = 0usize;
        for &(tree, first, end) in &runs {
            roots.push(first as u32);
            let child = |id: i64, of: i64| -> Result<usize, String> {
                match position.find(tree, id) {
                    Some(j) if (first..end).contains(&j) => Ok(j),
                    _ => Err(bad(format!(
                        "node {of} of tree {tree} points to node {id}, which tree {tree} does not have"
                    ))),
                }
            };
            // Pass 1: reach every node once from the root, assigning new indices in visit order.
            let mut order = Vec::with_capacity(end - first);
            let mut stack = vec![first];
            while let Some(i) = stack.pop() {
                if compiled[i].is_some() {
                    return Err(bad(format!("node {} of tree {tree} is reached twice from the root; each tree must be a tree", node_ids[i])));
                }
                compiled[i] = Some((nodes.len() + order.len()) as u32);
                order.push(i);
                if modes[i] != b"LEAF" {
                    stack.push(child(no_ids[i], node_ids[i])?);
                    stack.push(child(yes_ids[i], node_ids[i])?);
                }
            }
            if order.len() != end - first {
                let lost = (first..end)
                    .find(|&i| compiled[i].is_none())
                    .unwrap_or(first);
                return Err(bad(format!(
                    "node {} of tree {tree} cannot be reached from the tree's root (its first node)",
                    node_ids[lost]
                )));
            }
            // Pass 2: build the nodes with their children's new indices.
            for i in order {
                let mode = &modes[i];
                let node = if mode == b"LEAF" {
                    Node::Leaf {
                        value: leaf_value[i],
                    }
                } else {
                    let test = match mode.as_slice() {
                        b"BRANCH_LEQ" => Test::Leq,
                        b"BRANCH_LT" => Test::Lt,
                        b"BRANCH_GTE" => Test::Gte,
                        b"BRANCH_GT" => Test::Gt,
                        b"BRANCH_EQ" => Test::Eq,
                        b"BRANCH_NEQ" => Test::Neq,
                        other => {
                            return Err(bad(format!(
                                "node {} of tree {tree} has mode {}; modes are LEAF and BRANCH_LEQ, _LT, _GTE, _GT, _EQ, _NEQ",
                                node_ids[i],
                                quoted(&String::from_utf8_lossy(other))
                            )))
                        }
                    };
                    let feature = usize::try_from(features[i])
                        .ok()
                        .filter(|&f| f < MAX_TREE_NODES)
                        .ok_or_else(|| {
                            bad(format!(
                                "node {} of tree {tree} tests feature {}",
                                node_ids[i], features[i]
                            ))
                        })?;
                    if !thresholds[i].is_finite() {
                        return Err(bad(format!(
                            "node {} of tree {tree} has threshold {}",
                            node_ids[i], thresholds[i]
                        )));
                    }
                    max_feature = max_feature.max(feature);
                    let new = |j: usize| compiled[j].expect("pass 1 reached every child");
                    Node::Branch {
                        feature: feature as u32,
                        threshold: thresholds[i],
                        test,
                        missing_goes_yes: missing[i] != 0,
                        yes: new(child(yes_ids[i], node_ids[i])?),
                        no: new(child(no_ids[i], node_ids[i])?),
                    }
                };
                nodes.push(node);
            }
            *roots.last_mut().expect("pushed above") =
                compiled[first].expect("the root is reached");
        }
        Ok(Forest {
            nodes,
            roots,
            base,
            max_feature,
        })
    }

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

/// Where node (tree, id) sits in the lists. Exporters number each tree's nodes 0, 1, 2, … in order
/// and the trees 0, 1, 2, …, which is found by arithmetic; anything else by a sorted search.
struct Positions<'a> {
    runs: &'a [(i64, usize, usize)],
    /// Tree id → run, when the tree ids are not simply 0..trees in order.
    trees: Option<HashMap<i64, usize>>,
    /// Per run: (id, position) sorted by id, when its ids are not 0..len in order.
    sorted: Vec<Option<Vec<(i64, usize)>>>,
}

impl<'a> Positions<'a> {
    fn of(runs: &'a [(i64, usize, usize)], node_ids: &[i64]) -> Result<Self, String> {
        let in_order = runs.iter().enumerate().all(|(r, &(t, ..))| t == r as i64);
        let trees = (!in_order).then(|| {
            runs.iter()
                .enumerate()
                .map(|(r, &(t, ..))| (t, r))
                .collect()
        });
        let mut sorted = Vec::with_capacity(runs.len());
        for &(tree, first, end) in runs {
            let ids = &node_ids[first..end];
            if ids.iter().enumerate().all(|(k, &id)| id == k as i64) {
                sorted.push(None);
                continue;
            }
            let mut by_id: Vec<(i64, usize)> = ids
                .iter()
                .enumerate()
                .map(|(k, &id)| (id, first + k))
                .collect();
            by_id.sort_unstable();
            if let Some(w) = by_id.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(format!("tree {tree} has node id {} twice", w[0].0));
            }
            sorted.push(Some(by_id));
        }
        Ok(Positions {
            runs,
            trees,
            sorted,
        })
    }

    fn find(&self, tree: i64, id: i64) -> Option<usize> {
        let run = match &self.trees {
            None => usize::try_from(tree)
                .ok()
                .filter(|&r| r < self.runs.len())?,
            Some(map) => *map.get(&tree)?,
        };
        let (_, first, end) = self.runs[run];
        match &self.sorted[run] {
            None => usize::try_from(id)
                .ok()
                .filter(|&k| k < end - first)
                .map(|k| first + k),
            Some(by_id) => by_id
                .binary_search_by_key(&id, |&(k, _)| k)
                .ok()
                .map(|p| by_id[p].1),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Ints as i32,
            ints: v.to_vec(),
            ..Default::default()
        }
    }
    fn floats(name: &str, v: &[f32]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Floats as i32,
            floats: v.to_vec(),
            ..Default::default()
        }
    }
    fn strings(name: &str, v: &[&str]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Strings as i32,
            strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        }
    }
    fn text(name: &str, v: &str) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::String as i32,
            s: v.as_bytes().to_vec(),
            ..Default::default()
        }
    }
    fn int(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Int as i32,
            i: v,
            ..Default::default()
        }
    }

    /// Tree 0: node 0 tests x1 ≤ 0.5 → leaf 1 (1.0), else node 2 tests x0 < 2 → leaf 3 (10), leaf 4 (20);
    /// NaN at node 0 goes to the yes side. Tree 1: a single leaf (0.25). Base 0.5.
    fn attributes() -> Vec<AttributeProto> {
        vec![
            int("n_targets", 1),
            text("aggregate_function", "SUM"),
            text("post_transform", "NONE"),
            floats("base_values", &[0.5]),
            ints("nodes_treeids", &[0, 0, 0, 0, 0, 1]),
            ints("nodes_nodeids", &[0, 1, 2, 3, 4, 0]),
            ints("nodes_featureids", &[1, 0, 0, 0, 0, 0]),
            strings(
                "nodes_modes",
                &["BRANCH_LEQ", "LEAF", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
            ),
            floats("nodes_values", &[0.5, 0.0, 2.0, 0.0, 0.0, 0.0]),
            ints("nodes_truenodeids", &[1, 0, 3, 0, 0, 0]),
            ints("nodes_falsenodeids", &[2, 0, 4, 0, 0, 0]),
            ints("nodes_missing_value_tracks_true", &[1, 0, 0, 0, 0, 0]),
            ints("target_treeids", &[0, 0, 0, 1]),
            ints("target_nodeids", &[1, 3, 4, 0]),
            ints("target_ids", &[0, 0, 0, 0]),
            floats("target_weights", &[1.0, 10.0, 20.0, 0.25]),
        ]
    }

    fn node(attribute: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            name: "trees".into(),
            op_type: "TreeEnsembleRegressor".into(),
            domain: "ai.onnx.ml".into(),
            input: vec!["features".into()],
            output: vec!["z".into()],
            attribute,
            ..Default::default()
        }
    }

    fn with(change: impl FnOnce(&mut Vec<AttributeProto>)) -> Result<Forest, String> {
        let mut a = attributes();
        change(&mut a);
        Forest::parse(&node(a))
    }

    fn set(a: &mut [AttributeProto], new: AttributeProto) {
        let slot = a.iter_mut().find(|x| x.name == new.name).unwrap();
        *slot = new;
    }

    #[test]
    fn walks_each_tree_from_its_root_and_sums_the_leaves() {
        let forest = Forest::parse(&node(attributes())).unwrap();
        assert_eq!(forest.width_needed(), 2);
        // base 0.5 + tree 1's 0.25, plus tree 0's leaf
        assert_eq!(forest.predict_row(&[0.0, 0.5]), 1.75); // x1 ≤ 0.5 (equal) → 1.0
        assert_eq!(forest.predict_row(&[1.9, 0.6]), 10.75); // x0 < 2 → 10
        assert_eq!(forest.predict_row(&[2.0, 0.6]), 20.75); // x0 = 2 is not < 2 → 20
        assert_eq!(forest.predict_row(&[2.0, f32::NAN]), 1.75); // missing tracks true
        assert_eq!(forest.predict_row(&[f32::NAN, 1.0]), 20.75); // NaN < 2 is false, no missing flag
    }

    #[test]
    fn each_branch_mode_compares_as_the_onnx_spec_says() {
        for (mode, below, equal, above) in [
            ("BRANCH_LEQ", true, true, false),
            ("BRANCH_LT", true, false, false),
            ("BRANCH_GTE", false, true, true),
            ("BRANCH_GT", false, false, true),
            ("BRANCH_EQ", false, true, false),
            ("BRANCH_NEQ", true, false, true),
        ] {
            let forest = with(|a| {
                set(
                    a,
                    strings(
                        "nodes_modes",
                        &[mode, "LEAF", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
                    ),
                )
            })
            .unwrap();
            let yes = |x1: f32| forest.predict_row(&[5.0, x1]) == 1.75;
            assert_eq!(
                [yes(0.4), yes(0.5), yes(0.6)],
                [below, equal, above],
                "{mode}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_forest_with_a_reason() {
        type Change = Box<dyn FnOnce(&mut Vec<AttributeProto>)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "does not have",
                Box::new(|a| set(a, ints("nodes_falsenodeids", &[7, 0, 4, 0, 0, 0]))),
            ),
            (
                "reached twice",
                Box::new(|a| set(a, ints("nodes_falsenodeids", &[0, 0, 4, 0, 0, 0]))),
            ),
            (
                "reached twice",
                Box::new(|a| set(a, ints("nodes_falsenodeids", &[2, 0, 3, 0, 0, 0]))),
            ),
            (
                "cannot be reached",
                Box::new(|a| {
                    set(
                        a,
                        strings(
                            "nodes_modes",
                            &["BRANCH_LEQ", "LEAF", "LEAF", "LEAF", "LEAF", "LEAF"],
                        ),
                    )
                }),
            ),
            (
                "not listed together",
                Box::new(|a| set(a, ints("nodes_treeids", &[0, 0, 1, 0, 0, 1]))),
            ),
            (
                "node id 1 twice",
                Box::new(|a| set(a, ints("nodes_nodeids", &[0, 1, 1, 3, 4, 0]))),
            ),
            (
                "not a LEAF",
                Box::new(|a| set(a, ints("target_nodeids", &[0, 3, 4, 0]))),
            ),
            (
                "which does not exist",
                Box::new(|a| set(a, ints("target_treeids", &[0, 0, 0, 2]))),
            ),
            (
                "target id 1",
                Box::new(|a| set(a, ints("target_ids", &[0, 1, 0, 0]))),
            ),
            (
                "weight inf",
                Box::new(|a| {
                    set(
                        a,
                        floats("target_weights", &[1.0, f32::INFINITY, 20.0, 0.25]),
                    )
                }),
            ),
            (
                "threshold NaN",
                Box::new(|a| {
                    set(
                        a,
                        floats("nodes_values", &[f32::NAN, 0.0, 2.0, 0.0, 0.0, 0.0]),
                    )
                }),
            ),
            (
                "tests feature -1",
                Box::new(|a| set(a, ints("nodes_featureids", &[-1, 0, 0, 0, 0, 0]))),
            ),
            (
                "has mode \"BRANCH_XX\"",
                Box::new(|a| {
                    set(
                        a,
                        strings(
                            "nodes_modes",
                            &["BRANCH_XX", "LEAF", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
                        ),
                    )
                }),
            ),
            (
                "nodes_values has 5 entries",
                Box::new(|a| set(a, floats("nodes_values", &[0.5, 0.0, 2.0, 0.0, 0.0]))),
            ),
            ("n_targets is 2", Box::new(|a| set(a, int("n_targets", 2)))),
            (
                "n_targets is missing",
                Box::new(|a| a.retain(|x| x.name != "n_targets")),
            ),
            (
                "aggregate_function \"MAX\"",
                Box::new(|a| set(a, text("aggregate_function", "MAX"))),
            ),
            (
                "post_transform \"LOGISTIC\"",
                Box::new(|a| set(a, text("post_transform", "LOGISTIC"))),
            ),
            (
                "base_values must be one finite",
                Box::new(|a| set(a, floats("base_values", &[0.5, 0.5]))),
            ),
            (
                "must be of type INTS",
                Box::new(|a| set(a, floats("nodes_treeids", &[0.0; 6]))),
            ),
            (
                "does not read; write the float list",
                Box::new(|a| a.push(floats("nodes_values_as_tensor", &[]))),
            ),
            ("twice", Box::new(|a| a.push(int("n_targets", 1)))),
            (
                "has no nodes",
                Box::new(|a| {
                    for name in [
                        "nodes_treeids",
                        "nodes_nodeids",
                        "nodes_featureids",
                        "nodes_truenodeids",
                        "nodes_falsenodeids",
                        "nodes_missing_value_tracks_true",
                    ] {
                        set(a, ints(name, &[]));
                    }
                }),
            ),
        ];
        for (expected, change) in cases {
            let err = with(change).expect_err(expected);
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
            assert!(err.starts_with("TreeEnsembleRegressor \"trees\""), "{err}");
        }
    }

    #[test]
    fn any_numbering_of_trees_and_nodes_walks_the_same_forest() {
        // Tree 0 becomes tree 7 with node k numbered 100 - k; tree 1 becomes tree 3.
        let forest = with(|a| {
            set(a, ints("nodes_treeids", &[7, 7, 7, 7, 7, 3]));
            set(a, ints("nodes_nodeids", &[100, 99, 98, 97, 96, 0]));
            set(a, ints("nodes_truenodeids", &[99, 0, 97, 0, 0, 0]));
            set(a, ints("nodes_falsenodeids", &[98, 0, 96, 0, 0, 0]));
            set(a, ints("target_treeids", &[7, 7, 7, 3]));
            set(a, ints("target_nodeids", &[99, 97, 96, 0]));
        })
        .unwrap();
        assert_eq!(forest.predict_row(&[0.0, 0.5]), 1.75);
        assert_eq!(forest.predict_row(&[1.9, 0.6]), 10.75);
        assert_eq!(forest.predict_row(&[2.0, 0.6]), 20.75);
    }

    #[test]
    fn sums_several_weights_on_one_leaf() {
        let forest = with(|a| {
            set(a, ints("target_treeids", &[0, 0, 0, 1, 1]));
            set(a, ints("target_nodeids", &[1, 3, 4, 0, 0]));
            set(a, ints("target_ids", &[0; 5]));
            set(a, floats("target_weights", &[1.0, 10.0, 20.0, 0.25, 0.25]));
        })
        .unwrap();
        assert_eq!(forest.predict_row(&[0.0, 0.0]), 2.0);
    }
}
