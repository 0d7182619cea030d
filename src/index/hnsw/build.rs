//! The bulk build: rounds of nodes planned in parallel against the graph as it stood before the
//! round, then linked; deterministic whatever the thread count.

use super::graph::Graph;
use super::insert::{Found, Plan, choose, link, merged_list, raise_entry, search_candidates};
use super::params::HnswParams;
use super::search::Neighbour;
use super::space::Space;
use super::visited::Visited;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Nodes inserted one by one before rounds start (a small graph has no room for parallelism).
const SEQUENTIAL_PREFIX: usize = 1024;
/// A round holds at most this fraction of the graph (1 / ROUND_DIVISOR) ...
const ROUND_DIVISOR: usize = 32;
/// ... and at most this many nodes: the nodes of a round are also compared with each other
/// (a round's square), so that nodes added together (one commit's batch of related documents)
/// can link to each other.
const MAX_ROUND: usize = 256;

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
///
/// The nodes are linked in a pseudo-random order drawn from the graph's seed, not in node order:
/// callers often add related vectors next to each other (one document's chunks, one lemma's
/// senses), and nodes linked in the same round cannot see each other.
pub fn extend(graph: &mut Graph, space: &impl Space, n: usize) {
    let start = graph.len();
    if n <= start {
        return;
    }
    for node in start..n {
        graph.add_node(graph.params().level_of(node as u32));
    }
    let order = shuffled(start as u32..n as u32, graph.params().seed);
    let mut visited = Visited::new(n);
    let mut next = 0;
    while next < order.len() && start + next < SEQUENTIAL_PREFIX {
        link(graph, space, order[next], &mut visited);
        next += 1;
    }
    while next < order.len() {
        let round = ((start + next) / ROUND_DIVISOR).clamp(1, MAX_ROUND.min(order.len() - next));
        let nodes = &order[next..next + round];
        let plans: Vec<Plan> = {
            let graph = &*graph;
            let mut found: Vec<Found> = nodes
                .par_iter()
                .map_init(
                    || Visited::new(n),
                    |visited, node| search_candidates(graph, space, *node, visited),
                )
                .collect();
            add_round_mates(graph, space, &mut found);
            found.par_iter().map(|f| choose(graph, space, f)).collect()
        };
        link_round(graph, space, &plans);
        next += round;
    }
}

/// Adds to each node's candidates the other nodes of its round (on the levels both reach), so
/// that nodes linked in the same round can choose each other.
fn add_round_mates(graph: &Graph, space: &impl Space, found: &mut [Found]) {
    let nodes: Vec<u32> = found.iter().map(|f| f.node).collect();
    let mates: Vec<Vec<Neighbour>> = nodes
        .par_iter()
        .map(|node| {
            let prepared = space.prepare(*node);
            nodes
                .iter()
                .filter(|other| *other != node)
                .map(|other| Neighbour {
                    distance: space.distance_to_node(&prepared, *other),
                    node: *other,
                })
                .collect()
        })
        .collect();
    found.par_iter_mut().zip(mates).for_each(|(found, mates)| {
        for (level, candidates) in &mut found.levels {
            let before = candidates.len();
            candidates.extend(mates.iter().filter(|m| graph.level(m.node) >= *level));
            if candidates.len() > before {
                candidates.sort_unstable();
            }
        }
    });
}

/// `nodes` in a pseudo-random order (a Fisher-Yates shuffle driven by SplitMix64 from `seed`).
fn shuffled(nodes: std::ops::Range<u32>, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = nodes.collect();
    let mut state = seed ^ 0x6a09_e667_f3bc_c909;
    for i in (1..order.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = (z % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
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
