//! Searching the graph: greedy descent through the upper levels, then a best-first search with a
//! bounded candidate list on the level asked for.

use super::graph::Graph;
use super::visited::Visited;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A node and its distance from the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Distance from the query (smaller is nearer).
    pub distance: f32,
    /// Node number.
    pub node: u32,
}

impl Eq for Neighbour {}

impl Ord for Neighbour {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.node.cmp(&other.node))
    }
}

impl PartialOrd for Neighbour {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Greedy descent on `level`: moves to a nearer neighbour while there is one.
pub(crate) fn greedy(
    graph: &Graph,
    mut current: Neighbour,
    level: u8,
    distance: &impl Fn(u32) -> f32,
) -> Neighbour {
    loop {
        let mut moved = false;
        for &next in graph.neighbours(current.node, level) {
            let d = distance(next);
            if d < current.distance {
                current = Neighbour {
                    distance: d,
                    node: next,
                };
                moved = true;
            }
        }
        if !moved {
            return current;
        }
    }
}

/// Best-first search on `level` from `entries`, keeping the `ef` nearest seen; returns them
/// nearest first.
pub(crate) fn search_level(
    graph: &Graph,
    entries: &[Neighbour],
    ef: usize,
    level: u8,
    distance: &impl Fn(u32) -> f32,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    let ef = ef.max(1);
    visited.start(graph.len());
    let mut candidates: BinaryHeap<Reverse<Neighbour>> = BinaryHeap::with_capacity(ef * 2);
    let mut nearest: BinaryHeap<Neighbour> = BinaryHeap::with_capacity(ef + 1);
    for entry in entries {
        if visited.insert(entry.node) {
            candidates.push(Reverse(*entry));
            nearest.push(*entry);
        }
    }
    while nearest.len() > ef {
        nearest.pop();
    }
    while let Some(Reverse(candidate)) = candidates.pop() {
        let worst = nearest.peek().map_or(f32::INFINITY, |n| n.distance);
        if candidate.distance > worst && nearest.len() >= ef {
            break;
        }
        for &next in graph.neighbours(candidate.node, level) {
            if !visited.insert(next) {
                continue;
            }
            let d = distance(next);
            let worst = nearest.peek().map_or(f32::INFINITY, |n| n.distance);
            if nearest.len() < ef || d < worst {
                let found = Neighbour {
                    distance: d,
                    node: next,
                };
                candidates.push(Reverse(found));
                nearest.push(found);
                if nearest.len() > ef {
                    nearest.pop();
                }
            }
        }
    }
    nearest.into_sorted_vec()
}

/// The (approximately) `k` nearest nodes to a query, nearest first: greedy descent from the entry
/// point to level 1, then a search of level 0 with a candidate list of `max(ef, k)`. `distance`
/// gives the query's distance to a node.
///
/// ```
/// use quiver::index::hnsw::{build, search, DenseSpace, HnswParams, Visited};
/// use quiver::vector::Metric;
/// let data: Vec<f32> = (0..100).map(|i| i as f32).collect();
/// let space = DenseSpace::new(data, 1, Metric::L2);
/// let graph = build(HnswParams::default(), &space, 100);
/// let mut visited = Visited::new(100);
/// let hits = search(&graph, 3, 10, &|n| space.distance_to(&[41.2], n), &mut visited);
/// let nodes: Vec<u32> = hits.iter().map(|h| h.node).collect();
/// assert_eq!(nodes, vec![41, 42, 40]);
/// ```
pub fn search(
    graph: &Graph,
    k: usize,
    ef: usize,
    distance: &impl Fn(u32) -> f32,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    let Some((entry, top)) = graph.entry() else {
        return Vec::new();
    };
    let mut current = Neighbour {
        distance: distance(entry),
        node: entry,
    };
    for level in (1..=top).rev() {
        current = greedy(graph, current, level, distance);
    }
    let mut found = search_level(graph, &[current], ef.max(k), 0, distance, visited);
    found.truncate(k);
    found
}
