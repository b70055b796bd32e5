//! A TreeEnsembleRegressor node's attributes, checked and compiled into a [`Forest`].

use super::error::{TreeError, TreeProblem};
use super::positions::{Positions, Run};
use super::{Forest, Node, Test, MAX_TREE_NODES};
use crate::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};
use std::collections::{HashMap, HashSet};

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

impl Forest {
    /// Parses and checks a TreeEnsembleRegressor node; the error says what to fix.
    pub fn parse(node: &NodeProto) -> Result<Forest, TreeError> {
        parse_forest(node).map_err(|problem| TreeError {
            node: node.name.clone(),
            problem,
        })
    }
}

fn parse_forest(node: &NodeProto) -> Result<Forest, TreeProblem> {
    let attributes = Attributes::of(node)?;
    let base = check_settings(&attributes)?;
    let lists = NodeLists::read(&attributes)?;
    let runs = tree_runs(lists.tree_ids)?;
    let positions = Positions::of(&runs, lists.node_ids)?;
    let leaf_values = leaf_values(&attributes, &lists, &positions)?;
    let mut compiler = Compiler {
        lists: &lists,
        positions: &positions,
        leaf_values,
        compiled: vec![None; lists.count()],
        nodes: Vec::with_capacity(lists.count()),
        max_feature: 0,
    };
    let roots = runs
        .iter()
        .map(|&run| compiler.tree(run))
        .collect::<Result<Vec<u32>, _>>()?;
    Ok(Forest {
        nodes: compiler.nodes,
        roots,
        base,
        max_feature: compiler.max_feature,
    })
}

/// The node's attributes by name, each known and given once.
struct Attributes<'a> {
    by_name: HashMap<&'a str, &'a AttributeProto>,
}

impl<'a> Attributes<'a> {
    fn of(node: &'a NodeProto) -> Result<Self, TreeProblem> {
        let mut by_name = HashMap::new();
        for a in &node.attribute {
            if !KNOWN.contains(&a.name.as_str()) {
                return Err(TreeProblem::UnknownAttribute {
                    attribute: a.name.clone(),
                });
            }
            if by_name.insert(a.name.as_str(), a).is_some() {
                return Err(TreeProblem::DuplicateAttribute {
                    attribute: a.name.clone(),
                });
            }
        }
        Ok(Attributes { by_name })
    }

    fn typed(
        &self,
        name: &str,
        expected: AttributeType,
    ) -> Result<Option<&'a AttributeProto>, TreeProblem> {
        match self.by_name.get(name) {
            None => Ok(None),
            Some(a) if a.r#type == expected as i32 => Ok(Some(a)),
            Some(_) => Err(TreeProblem::AttributeType {
                attribute: name.to_string(),
                expected,
            }),
        }
    }

    fn ints(&self, name: &str) -> Result<&'a [i64], TreeProblem> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map_or(&[][..], |a| &a.ints[..]))
    }

    fn floats(&self, name: &str) -> Result<&'a [f32], TreeProblem> {
        Ok(self
            .typed(name, AttributeType::Floats)?
            .map_or(&[][..], |a| &a.floats[..]))
    }

    fn text(&self, name: &str, default: &str) -> Result<String, TreeProblem> {
        Ok(self.typed(name, AttributeType::String)?.map_or_else(
            || default.to_string(),
            |a| String::from_utf8_lossy(&a.s).into_owned(),
        ))
    }
}

/// One target, summed trees, no post-transform; returns the base value.
fn check_settings(a: &Attributes) -> Result<f64, TreeProblem> {
    match a.typed("n_targets", AttributeType::Int)?.map(|a| a.i) {
        Some(1) => {}
        found => return Err(TreeProblem::TargetCount { found }),
    }
    let aggregate = a.text("aggregate_function", "SUM")?;
    if aggregate != "SUM" {
        return Err(TreeProblem::Aggregate { found: aggregate });
    }
    let post = a.text("post_transform", "NONE")?;
    if post != "NONE" {
        return Err(TreeProblem::PostTransform { found: post });
    }
    match a.floats("base_values")? {
        [] => Ok(0.0),
        [b] if b.is_finite() => Ok(f64::from(*b)),
        found => Err(TreeProblem::BaseValues {
            found: found.to_vec(),
        }),
    }
}

/// The `nodes_*` lists, one entry per node.
struct NodeLists<'a> {
    tree_ids: &'a [i64],
    node_ids: &'a [i64],
    features: &'a [i64],
    thresholds: &'a [f32],
    yes_ids: &'a [i64],
    no_ids: &'a [i64],
    modes: &'a [Vec<u8>],
    /// Empty when the attribute is absent: then no missing value goes the yes way.
    missing_tracks_true: &'a [i64],
}

impl<'a> NodeLists<'a> {
    fn read(a: &Attributes<'a>) -> Result<Self, TreeProblem> {
        let tree_ids = a.ints("nodes_treeids")?;
        let count = tree_ids.len();
        if count == 0 {
            return Err(TreeProblem::NoNodes);
        }
        if count > MAX_TREE_NODES {
            return Err(TreeProblem::TooManyNodes { count });
        }
        let lists = NodeLists {
            tree_ids,
            node_ids: a.ints("nodes_nodeids")?,
            features: a.ints("nodes_featureids")?,
            thresholds: a.floats("nodes_values")?,
            yes_ids: a.ints("nodes_truenodeids")?,
            no_ids: a.ints("nodes_falsenodeids")?,
            modes: a
                .typed("nodes_modes", AttributeType::Strings)?
                .map_or(&[][..], |m| &m.strings[..]),
            missing_tracks_true: a.ints("nodes_missing_value_tracks_true")?,
        };
        let missing_len = match lists.missing_tracks_true.len() {
            0 => count,
            len => len,
        };
        for (attribute, len) in [
            ("nodes_nodeids", lists.node_ids.len()),
            ("nodes_featureids", lists.features.len()),
            ("nodes_values", lists.thresholds.len()),
            ("nodes_truenodeids", lists.yes_ids.len()),
            ("nodes_falsenodeids", lists.no_ids.len()),
            ("nodes_modes", lists.modes.len()),
            ("nodes_missing_value_tracks_true", missing_len),
        ] {
            if len != count {
                return Err(TreeProblem::ListLength {
                    attribute,
                    len,
                    count,
                });
            }
        }
        Ok(lists)
    }

    fn count(&self) -> usize {
        self.tree_ids.len()
    }

    fn is_leaf(&self, i: usize) -> bool {
        self.modes[i] == b"LEAF"
    }

    fn missing_goes_yes(&self, i: usize) -> bool {
        self.missing_tracks_true.get(i).is_some_and(|&m| m != 0)
    }
}

/// The trees as contiguous runs of the lists, in list order.
fn tree_runs(tree_ids: &[i64]) -> Result<Vec<Run>, TreeProblem> {
    let mut runs: Vec<Run> = Vec::new();
    let mut seen_trees = HashSet::new();
    for (i, &tree) in tree_ids.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if run.tree == tree => run.end = i + 1,
            _ => {
                if !seen_trees.insert(tree) {
                    return Err(TreeProblem::TreeNotContiguous { tree });
                }
                runs.push(Run {
                    tree,
                    first: i,
                    end: i + 1,
                });
            }
        }
    }
    Ok(runs)
}

/// Each node's leaf value: the sum of the target weights given to it (only leaves get any).
fn leaf_values(
    a: &Attributes,
    lists: &NodeLists,
    positions: &Positions,
) -> Result<Vec<f64>, TreeProblem> {
    let target_trees = a.ints("target_treeids")?;
    let target_nodes = a.ints("target_nodeids")?;
    let target_ids = a.ints("target_ids")?;
    let weights = a.floats("target_weights")?;
    let targets = target_trees.len();
    if [target_nodes.len(), target_ids.len(), weights.len()] != [targets; 3] {
        return Err(TreeProblem::TargetListLengths);
    }
    let mut values = vec![0.0f64; lists.count()];
    for target in 0..targets {
        let (tree, node_id) = (target_trees[target], target_nodes[target]);
        let Some(i) = positions.find(tree, node_id) else {
            return Err(TreeProblem::TargetNodeMissing {
                target,
                tree,
                node_id,
            });
        };
        if !lists.is_leaf(i) {
            return Err(TreeProblem::TargetNotLeaf {
                target,
                tree,
                node_id,
            });
        }
        if target_ids[target] != 0 {
            return Err(TreeProblem::TargetId {
                target,
                target_id: target_ids[target],
            });
        }
        if !weights[target].is_finite() {
            return Err(TreeProblem::TargetWeight {
                target,
                weight: weights[target],
            });
        }
        values[i] += f64::from(weights[target]);
    }
    Ok(values)
}

/// Compiles the trees one by one into [`Forest`] nodes, each tree depth first from its root.
struct Compiler<'l, 'a> {
    lists: &'l NodeLists<'a>,
    positions: &'l Positions<'l>,
    leaf_values: Vec<f64>,
    /// A list position's index among the compiled nodes, once the walk has reached it.
    compiled: Vec<Option<u32>>,
    nodes: Vec<Node>,
    max_feature: usize,
}

impl Compiler<'_, '_> {
    /// Compiles one tree; returns its root's index.
    fn tree(&mut self, run: Run) -> Result<u32, TreeProblem> {
        for i in self.visit_order(run)? {
            let node = self.node(i, run)?;
            self.nodes.push(node);
        }
        Ok(self.compiled[run.first].expect("the root is reached"))
    }

    /// Reaches every node of the tree once from its root, giving each its index in visit order.
    fn visit_order(&mut self, run: Run) -> Result<Vec<usize>, TreeProblem> {
        let lists = self.lists;
        let mut order = Vec::with_capacity(run.len());
        let mut stack = vec![run.first];
        while let Some(i) = stack.pop() {
            if self.compiled[i].is_some() {
                return Err(TreeProblem::ReachedTwice {
                    tree: run.tree,
                    node_id: lists.node_ids[i],
                });
            }
            self.compiled[i] = Some((self.nodes.len() + order.len()) as u32);
            order.push(i);
            if !lists.is_leaf(i) {
                stack.push(self.child(run, lists.no_ids[i], i)?);
                stack.push(self.child(run, lists.yes_ids[i], i)?);
            }
        }
        if order.len() != run.len() {
            let lost = run
                .positions()
                .find(|&i| self.compiled[i].is_none())
                .unwrap_or(run.first);
            return Err(TreeProblem::Unreachable {
                tree: run.tree,
                node_id: lists.node_ids[lost],
            });
        }
        Ok(order)
    }

    /// The list position of the child `child_id` of the node at `parent`, in the same tree.
    fn child(&self, run: Run, child_id: i64, parent: usize) -> Result<usize, TreeProblem> {
        match self.positions.find(run.tree, child_id) {
            Some(j) if run.positions().contains(&j) => Ok(j),
            _ => Err(TreeProblem::ChildOutsideTree {
                tree: run.tree,
                node_id: self.lists.node_ids[parent],
                child_id,
            }),
        }
    }

    /// The node at list position `i`, its children already given indices by `visit_order`.
    fn node(&mut self, i: usize, run: Run) -> Result<Node, TreeProblem> {
        let lists = self.lists;
        if lists.is_leaf(i) {
            return Ok(Node::Leaf {
                value: self.leaf_values[i],
            });
        }
        let (tree, node_id) = (run.tree, lists.node_ids[i]);
        let test = Test::of_mode(&lists.modes[i]).ok_or_else(|| TreeProblem::UnknownMode {
            tree,
            node_id,
            mode: String::from_utf8_lossy(&lists.modes[i]).into_owned(),
        })?;
        let feature = usize::try_from(lists.features[i])
            .ok()
            .filter(|&f| f < MAX_TREE_NODES)
            .ok_or(TreeProblem::FeatureOutOfRange {
                tree,
                node_id,
                feature: lists.features[i],
            })?;
        let threshold = lists.thresholds[i];
        if !threshold.is_finite() {
            return Err(TreeProblem::Threshold {
                tree,
                node_id,
                threshold,
            });
        }
        self.max_feature = self.max_feature.max(feature);
        let index = |j: usize| self.compiled[j].expect("visit_order reached every child");
        Ok(Node::Branch {
            feature: feature as u32,
            threshold,
            test,
            missing_goes_yes: lists.missing_goes_yes(i),
            yes: index(self.child(run, lists.yes_ids[i], i)?),
            no: index(self.child(run, lists.no_ids[i], i)?),
        })
    }
}
