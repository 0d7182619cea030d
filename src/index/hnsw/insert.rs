//! Linking a node into the graph, in two phases: planning (searches on the graph as it stands;
//! read-only, so many nodes can plan in parallel) and applying (the node's own lists, and itself
//! added to its neighbours' lists, re-pruned when full).

use super::graph::Graph;
use super::search::{Neighbour, Scorer, greedy, search_level};
use super::space::{Space, SpaceScorer};
use super::visited::Visited;

/// A node's chosen neighbours per level, from its top level down to 0.
pub(crate) struct Plan {
    pub node: u32,
    pub levels: Vec<(u8, Vec<u32>)>,
}

/// The paper's neighbour-selection heuristic: walking `candidates` nearest first, keep one only
/// if it is nearer to the base node than to every neighbour kept so far; at most `max`. The kept
/// neighbours are prepared once each (at most `max` of them) and every candidate is scored
/// against them, rather than preparing every candidate.
pub(crate) fn select(space: &impl Space, candidates: &[Neighbour], max: usize) -> Vec<u32> {
    let mut kept: Vec<u32> = Vec::with_capacity(max);
    let mut prepared = Vec::with_capacity(max);
    for candidate in candidates {
        if kept.len() >= max {
            break;
        }
        if prepared
            .iter()
            .all(|p| space.distance_to_node(p, candidate.node) > candidate.distance)
        {
            kept.push(candidate.node);
            if kept.len() < max {
                prepared.push(space.prepare(candidate.node));
            }
        }
    }
    kept
}

/// The candidates a node found for its links, per level from its top level down to 0, nearest
/// first (before the selection heuristic).
pub(crate) struct Found {
    pub node: u32,
    pub levels: Vec<(u8, Vec<Neighbour>)>,
}

/// Searches the graph for the candidates of `node` (already added to `graph` with its level,
/// not yet linked): greedy descent to the node's level, then a search with `ef_construction` on
/// each level from there down.
pub(crate) fn search_candidates(
    graph: &Graph,
    space: &impl Space,
    node: u32,
    visited: &mut Visited,
) -> Found {
    let level = graph.level(node);
    let Some((entry, top)) = graph.entry() else {
        return Found {
            node,
            levels: Vec::new(),
        };
    };
    let prepared = space.prepare(node);
    let scorer = SpaceScorer {
        space,
        prepared: &prepared,
    };
    let mut current = Neighbour {
        distance: scorer.distance(entry),
        node: entry,
    };
    for l in (level.saturating_add(1)..=top).rev() {
        current = greedy(graph, current, l, &scorer);
    }
    let ef = graph.params().ef_construction;
    let mut entries = vec![current];
    let mut levels = Vec::with_capacity(usize::from(level) + 1);
    for l in (0..=level.min(top)).rev() {
        let found = search_level(graph, &entries, ef, l, &scorer, visited);
        // A node never links to itself (it is unreachable while planning, but be explicit).
        let found: Vec<Neighbour> = found.into_iter().filter(|n| n.node != node).collect();
        if !found.is_empty() {
            entries = found.clone();
        }
        levels.push((l, found));
    }
    Found { node, levels }
}

/// Chooses the neighbours among the candidates with the heuristic, per level.
pub(crate) fn choose(graph: &Graph, space: &impl Space, found: &Found) -> Plan {
    Plan {
        node: found.node,
        levels: found
            .levels
            .iter()
            .map(|(level, candidates)| {
                (*level, select(space, candidates, graph.max_degree(*level)))
            })
            .collect(),
    }
}

/// Plans the links of `node` (already added to `graph` with its level, not yet linked).
pub(crate) fn plan(graph: &Graph, space: &impl Space, node: u32, visited: &mut Visited) -> Plan {
    choose(
        graph,
        space,
        &search_candidates(graph, space, node, visited),
    )
}

/// The new list of `target` on `level` after adding `added` to it: the union, re-pruned with the
/// heuristic when it exceeds the level's capacity.
pub(crate) fn merged_list(
    graph: &Graph,
    space: &impl Space,
    target: u32,
    level: u8,
    added: &[u32],
) -> Vec<u32> {
    let mut list: Vec<u32> = graph.neighbours(target, level).to_vec();
    for node in added {
        if !list.contains(node) && *node != target {
            list.push(*node);
        }
    }
    let max = graph.max_degree(level);
    if list.len() <= max {
        return list;
    }
    let prepared = space.prepare(target);
    let mut candidates: Vec<Neighbour> = list
        .iter()
        .map(|n| Neighbour {
            distance: space.distance_to_node(&prepared, *n),
            node: *n,
        })
        .collect();
    candidates.sort_unstable();
    select(space, &candidates, max)
}

/// Applies a plan whose targets are already-linked nodes: the node's own lists, then the reverse
/// links (sequentially; the bulk build groups and parallelises these).
pub(crate) fn apply(graph: &mut Graph, space: &impl Space, plan: &Plan) {
    for (level, neighbours) in &plan.levels {
        graph.set_neighbours(plan.node, *level, neighbours);
        for target in neighbours {
            let list = merged_list(graph, space, *target, *level, &[plan.node]);
            graph.set_neighbours(*target, *level, &list);
        }
    }
    raise_entry(graph, plan.node);
}

/// Makes `node` the entry point if the graph has none or it is higher than the current one.
pub(crate) fn raise_entry(graph: &mut Graph, node: u32) {
    let level = graph.level(node);
    if graph.entry().is_none_or(|(_, top)| level > top) {
        graph.set_entry(node, level);
    }
}

/// Adds node `graph.len()` (which `space` must hold) and links it in.
///
/// ```
/// use quiver::index::hnsw::{insert, search, DenseSpace, Graph, HnswParams, Visited};
/// use quiver::vector::Metric;
/// let space = DenseSpace::new(vec![0.0, 5.0, 9.0], 1, Metric::L2);
/// let mut graph = Graph::new(HnswParams::default());
/// let mut visited = Visited::new(3);
/// for _ in 0..3 {
///     insert(&mut graph, &space, &mut visited);
/// }
/// let hits = search(&graph, 1, 4, &|n| space.distance_to(&[6.0], n), &mut visited);
/// assert_eq!(hits[0].node, 1);
/// ```
pub fn insert(graph: &mut Graph, space: &impl Space, visited: &mut Visited) -> u32 {
    let node = graph.add_node(graph.params().level_of(graph.len() as u32));
    link(graph, space, node, visited);
    node
}

/// Links `node` (added to the graph, not yet linked) into it.
pub(crate) fn link(graph: &mut Graph, space: &impl Space, node: u32, visited: &mut Visited) {
    let plan = plan(graph, space, node, visited);
    apply(graph, space, &plan);
}
