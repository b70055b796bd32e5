//! Finding a node of a tree by its ids, for the targets and the children that name it.

use super::error::TreeProblem;
use std::collections::HashMap;
use std::ops::Range;

/// One tree: its id and the contiguous run of list positions that holds its nodes, root first.
#[derive(Clone, Copy, Debug)]
pub(super) struct Run {
    pub tree: i64,
    pub first: usize,
    pub end: usize,
}

impl Run {
    pub fn positions(&self) -> Range<usize> {
        self.first..self.end
    }

    pub fn len(&self) -> usize {
        self.end - self.first
    }
}

/// Where node (tree, id) sits in the lists. Exporters number each tree's nodes 0, 1, 2, … in order
/// and the trees 0, 1, 2, …, which is found by arithmetic; anything else by a sorted search.
pub(super) struct Positions<'a> {
    runs: &'a [Run],
    /// Tree id → run, when the tree ids are not simply 0..trees in order.
    trees: Option<HashMap<i64, usize>>,
    /// Per run: (id, position) sorted by id, when its ids are not 0..len in order.
    sorted: Vec<Option<Vec<(i64, usize)>>>,
}

impl<'a> Positions<'a> {
    pub fn of(runs: &'a [Run], node_ids: &[i64]) -> Result<Self, TreeProblem> {
        let in_order = runs.iter().enumerate().all(|(r, run)| run.tree == r as i64);
        let trees = (!in_order).then(|| {
            runs.iter()
                .enumerate()
                .map(|(r, run)| (run.tree, r))
                .collect()
        });
        let mut sorted = Vec::with_capacity(runs.len());
        for run in runs {
            let ids = &node_ids[run.positions()];
            if ids.iter().enumerate().all(|(k, &id)| id == k as i64) {
                sorted.push(None);
                continue;
            }
            let mut by_id: Vec<(i64, usize)> = ids
                .iter()
                .enumerate()
                .map(|(k, &id)| (id, run.first + k))
                .collect();
            by_id.sort_unstable();
            if let Some(w) = by_id.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(TreeProblem::DuplicateNodeId {
                    tree: run.tree,
                    node_id: w[0].0,
                });
            }
            sorted.push(Some(by_id));
        }
        Ok(Positions {
            runs,
            trees,
            sorted,
        })
    }

    pub fn find(&self, tree: i64, id: i64) -> Option<usize> {
        let run = match &self.trees {
            None => usize::try_from(tree)
                .ok()
                .filter(|&r| r < self.runs.len())?,
            Some(map) => *map.get(&tree)?,
        };
        let Run { first, end, .. } = self.runs[run];
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
