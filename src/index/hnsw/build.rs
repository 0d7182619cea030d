//! The bulk build: rounds of nodes planned in parallel against the graph as it stood before the
//! round, then linked; deterministic whatever the thread count.

use super::graph::Graph;
use super::insert::{Plan, merged_list, plan, raise_entry};
use super::params::HnswParams;
use super::space::Space;
use super::visited::Visited;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Nodes inserted one by one before rounds start (a small graph has no room for parallelism).
const SEQUENTIAL_PREFIX: usize = 1024;
/// A round holds at most this fraction of the graph (1 / ROUND_DIVISOR), so that a node seldom
/// misses a near neighbour that happens to be in its own round.
const ROUND_DIVISOR: usize = 32;

/// Builds a graph over nodes `0..n` of `space` using all of rayon's threads.
///
/// ```
/// use quiver::index::hnsw::{build, DenseSpace, HnswParams};
/// use quiver::vector::Metric;
/// let data: Vec<f32> = (0..2000).map(|i| (i % 97) as f32).collect();
/// let graph = build(HnswParams::default(), &DenseSpace::new(data, 1, Metric::L2), 2000);
/// assert_eq!(graph.len(), 2000);
/// ```
pub fn build(params: HnswParams, space: &impl Space, n: usize) -> Graph {
    let mut graph = Graph::new(params);
    extend(&mut graph, space, n);
    graph
}

/// Adds and links nodes `graph.len()..n` of `space`.
pub fn extend(graph: &mut Graph, space: &impl Space, n: usize) {
    let mut visited = Visited::new(n);
    while graph.len() < n.min(SEQUENTIAL_PREFIX) {
        super::insert(graph, space, &mut visited);
    }
    while graph.len() < n {
        let start = graph.len();
        let round = (start / ROUND_DIVISOR).clamp(1, n - start);
        let nodes: Vec<u32> = (start..start + round)
            .map(|node| graph.add_node(graph.params().level_of(node as u32)))
            .collect();
        let plans: Vec<Plan> = {
            let graph = &*graph;
            nodes
                .par_iter()
                .map_init(
                    || Visited::new(n),
                    |visited, node| plan(graph, space, *node, visited),
                )
                .collect()
        };
        link_round(graph, space, &plans);
    }
}

/// Sets the round's own lists, then adds the reverse links grouped by target (each target's new
/// list is computed in parallel, from its list before the round plus the round's nodes that
/// chose it, in node order).
fn link_round(graph: &mut Graph, space: &impl Space, plans: &[Plan]) {
    let mut reverse: BTreeMap<(u32, u8), Vec<u32>> = BTreeMap::new();
    for plan in plans {
        for (level, neighbours) in &plan.levels {
            graph.set_neighbours(plan.node, *level, neighbours);
            for target in neighbours {
                reverse
                    .entry((*target, *level))
                    .or_default()
                    .push(plan.node);
            }
        }
    }
    let updates: Vec<((u32, u8), Vec<u32>)> = {
        let graph = &*graph;
        reverse
            .into_par_iter()
            .map(|((target, level), added)| {
                let list = merged_list(graph, space, target, level, &added);
                ((target, level), list)
            })
            .collect()
    };
    for ((target, level), list) in updates {
        graph.set_neighbours(target, level, &list);
    }
    for plan in plans {
        raise_entry(graph, plan.node);
    }
}
