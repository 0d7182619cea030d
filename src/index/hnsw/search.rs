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

/// What a search measures: the distance from its query to any node (smaller is nearer).
/// Closures `Fn(u32) -> f32` are scorers; a scorer over stored vectors also implements
/// [`prefetch`](Scorer::prefetch), so that a search can ask for the vectors of a node's
/// neighbours before it computes their distances one by one.
pub trait Scorer {
    /// Distance from the query to `node`.
    fn distance(&self, node: u32) -> f32;

    /// Hints that `node`'s vector is about to be read (default: nothing).
    #[inline]
    fn prefetch(&self, _node: u32) {}
}

impl<F: Fn(u32) -> f32> Scorer for F {
    #[inline]
    fn distance(&self, node: u32) -> f32 {
        self(node)
    }
}

/// Which nodes a filtered search may return. Closures `Fn(u32) -> bool` are node tests; a test
/// that reads per-node data (an item id, a flag) also implements
/// [`prefetch`](NodeTest::prefetch), so the walk can ask for that data for a whole neighbour
/// list before it tests the nodes one by one.
pub trait NodeTest {
    /// Whether `node` may be returned.
    fn accepts(&self, node: u32) -> bool;

    /// Hints that `node` is about to be tested (default: nothing).
    #[inline]
    fn prefetch(&self, _node: u32) {}
}

impl<F: Fn(u32) -> bool> NodeTest for F {
    #[inline]
    fn accepts(&self, node: u32) -> bool {
        self(node)
    }
}

/// Greedy descent on `level`: moves to a nearer neighbour while there is one.
pub(crate) fn greedy(
    graph: &Graph,
    mut current: Neighbour,
    level: u8,
    scorer: &impl Scorer,
) -> Neighbour {
    loop {
        let mut moved = false;
        let neighbours = graph.neighbours(current.node, level);
        for &next in neighbours {
            scorer.prefetch(next);
        }
        for &next in neighbours {
            let d = scorer.distance(next);
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

/// The most neighbours a list holds (2 * 128, the largest `m` a collection accepts, on level 0;
/// graphs built with a larger `m` through this module's API are handled in slices of this).
const BATCH: usize = 256;

/// Best-first search on `level` from `entries`, keeping the `ef` nearest seen that `accept`
/// allows (all others are walked through but not kept); returns them nearest first.
fn best_first(
    graph: &Graph,
    entries: &[Neighbour],
    ef: usize,
    level: u8,
    scorer: &impl Scorer,
    accept: &impl Fn(u32) -> bool,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    // No walk keeps more nodes than the graph has: a caller's huge ef (or k) costs nothing.
    let ef = ef.clamp(1, graph.len().max(1));
    visited.start(graph.len());
    let mut candidates: BinaryHeap<Reverse<Neighbour>> = BinaryHeap::with_capacity(ef * 2);
    let mut nearest: BinaryHeap<Neighbour> = BinaryHeap::with_capacity(ef + 1);
    for entry in entries {
        if visited.insert(entry.node) {
            candidates.push(Reverse(*entry));
            if accept(entry.node) {
                nearest.push(*entry);
            }
        }
    }
    while nearest.len() > ef {
        nearest.pop();
    }
    let mut fresh = [0u32; BATCH];
    while let Some(Reverse(candidate)) = candidates.pop() {
        let worst = nearest.peek().map_or(f32::INFINITY, |n| n.distance);
        if candidate.distance > worst && nearest.len() >= ef {
            break;
        }
        for neighbours in graph.neighbours(candidate.node, level).chunks(BATCH) {
            // The unvisited neighbours first, their vectors requested all at once, then the
            // distances: the memory reads overlap instead of queueing one after another.
            let mut count = 0;
            for &next in neighbours {
                if visited.insert(next) {
                    fresh[count] = next;
                    count += 1;
                    scorer.prefetch(next);
                }
            }
            for &next in &fresh[..count] {
                let d = scorer.distance(next);
                let worst = nearest.peek().map_or(f32::INFINITY, |n| n.distance);
                if nearest.len() < ef || d < worst {
                    let found = Neighbour {
                        distance: d,
                        node: next,
                    };
                    candidates.push(Reverse(found));
                    if accept(next) {
                        nearest.push(found);
                        if nearest.len() > ef {
                            nearest.pop();
                        }
                    }
                }
            }
        }
    }
    nearest.into_sorted_vec()
}

/// Best-first search on level 0 that scores only the nodes `accept` allows: a neighbour that
/// `accept` rejects is not scored but stands in for its own neighbours (two hops, as in ACORN by
/// Patel et al., 2024), and each expansion scores at most `cap` new accepted nodes, direct
/// neighbours first. The walk thus moves over the subgraph of accepted nodes at about the cost of
/// an unfiltered walk, instead of scoring every rejected node on its way; returns the `ef`
/// nearest accepted nodes, nearest first.
fn best_first_two_hop(
    graph: &Graph,
    entry: Neighbour,
    ef: usize,
    scorer: &impl Scorer,
    accept: &impl NodeTest,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    // As in `best_first`: never more than the graph holds.
    let ef = ef.clamp(1, graph.len().max(1));
    let cap = graph.max_degree(0).clamp(1, BATCH);
    visited.start(graph.len());
    let mut candidates: BinaryHeap<Reverse<Neighbour>> = BinaryHeap::with_capacity(ef * 2);
    let mut nearest: BinaryHeap<Neighbour> = BinaryHeap::with_capacity(ef + 1);
    visited.insert(entry.node);
    candidates.push(Reverse(entry));
    if accept.accepts(entry.node) {
        nearest.push(entry);
    }
    let mut fresh = [0u32; BATCH];
    let mut rejected = [0u32; BATCH];
    let mut passed = [0u32; BATCH];
    while let Some(Reverse(candidate)) = candidates.pop() {
        let worst = nearest.peek().map_or(f32::INFINITY, |n| n.distance);
        if candidate.distance > worst && nearest.len() >= ef {
            break;
        }
        // Direct neighbours: the accepted ones are scored, the rejected ones are set aside.
        let mut count = 0;
        let mut detours = 0;
        let direct = graph.neighbours(candidate.node, 0);
        for &next in direct.iter().take(BATCH) {
            accept.prefetch(next);
        }
        for &next in direct.iter().take(BATCH) {
            if count == cap || !visited.insert(next) {
                continue;
            }
            if accept.accepts(next) {
                fresh[count] = next;
                count += 1;
                scorer.prefetch(next);
            } else {
                rejected[detours] = next;
                detours += 1;
            }
        }
        // Second hop: the accepted neighbours of rejected neighbours, until the cap. The lists
        // are requested together, and each list's nodes' test data before the tests.
        if count < cap {
            for &through in &rejected[..detours] {
                graph.prefetch_neighbours(through);
            }
        }
        'detours: for &through in &rejected[..detours] {
            if count == cap {
                break;
            }
            let second = graph.neighbours(through, 0);
            let second = &second[..second.len().min(BATCH)];
            for &next in second {
                accept.prefetch(next);
            }
            // The node test first, for the whole list: most second-hop nodes are rejected, and
            // with a node bitset the test reads a small array that stays in cache, where the
            // visited marks (four bytes per node) would be a cache miss for every one of them.
            // Each node is written to `passed` and kept by advancing the count, so the test is
            // not a branch on an unpredictable outcome (a dozen lists per expansion at a tenth
            // accepted).
            let mut kept = 0;
            for &next in second {
                passed[kept] = next;
                kept += usize::from(accept.accepts(next));
            }
            for &next in &passed[..kept] {
                if visited.insert(next) {
                    fresh[count] = next;
                    count += 1;
                    scorer.prefetch(next);
                    if count == cap {
                        break 'detours;
                    }
                }
            }
        }
        for &next in &fresh[..count] {
            let d = scorer.distance(next);
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

/// Best-first search on `level` from `entries`, keeping the `ef` nearest seen; returns them
/// nearest first.
pub(crate) fn search_level(
    graph: &Graph,
    entries: &[Neighbour],
    ef: usize,
    level: u8,
    scorer: &impl Scorer,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    best_first(graph, entries, ef, level, scorer, &|_| true, visited)
}

/// Greedy descent from the entry point down to level 1; `None` for an empty graph.
fn descend(graph: &Graph, scorer: &impl Scorer) -> Option<Neighbour> {
    let (entry, top) = graph.entry()?;
    let mut current = Neighbour {
        distance: scorer.distance(entry),
        node: entry,
    };
    for level in (1..=top).rev() {
        current = greedy(graph, current, level, scorer);
    }
    Some(current)
}

/// The (approximately) `k` nearest nodes to a query, nearest first: greedy descent from the entry
/// point to level 1, then a search of level 0 with a candidate list of `max(ef, k)`. `scorer`
/// gives the query's distance to a node (any `Fn(u32) -> f32`).
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
    scorer: &impl Scorer,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    search_allowed(graph, k, ef, scorer, &|_| true, visited)
}

/// Like [`search`], but only nodes `allowed` accepts are returned: the others (deleted items,
/// rows a filter rejects) are still walked through, so the graph stays connected, and the search
/// goes on until it holds `max(ef, k)` accepted nodes or runs out of candidates nearer than the
/// worst of them. Returns fewer than `k` only when the walk reached no more accepted nodes.
///
/// ```
/// use quiver::index::hnsw::{build, search_allowed, DenseSpace, HnswParams, Visited};
/// use quiver::vector::Metric;
/// let data: Vec<f32> = (0..100).map(|i| i as f32).collect();
/// let space = DenseSpace::new(data, 1, Metric::L2);
/// let graph = build(HnswParams::default(), &space, 100);
/// let mut visited = Visited::new(100);
/// let even = |n: u32| n % 2 == 0;
/// let hits = search_allowed(&graph, 3, 10, &|n| space.distance_to(&[41.2], n), &even, &mut visited);
/// let nodes: Vec<u32> = hits.iter().map(|h| h.node).collect();
/// assert_eq!(nodes, vec![42, 40, 44]);
/// ```
pub fn search_allowed(
    graph: &Graph,
    k: usize,
    ef: usize,
    scorer: &impl Scorer,
    allowed: &impl Fn(u32) -> bool,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    let Some(start) = descend(graph, scorer) else {
        return Vec::new();
    };
    let mut found = best_first(graph, &[start], ef.max(k), 0, scorer, allowed, visited);
    found.truncate(k);
    found
}

/// Like [`search_allowed`], for filters that reject many nodes: only accepted nodes are scored,
/// and a rejected neighbour is walked through to its own accepted neighbours (two hops, capped
/// at a level-0 list's length per expansion), so the cost stays close to an unfiltered search's
/// as the accepted share falls, where [`search_allowed`] scores about `1/share` times as many
/// nodes. The accepted nodes must be reachable in two hops of one another for the walk to find
/// them: with very few accepted nodes it can come back short of `k` (an exact scan is the answer
/// there).
///
/// ```
/// use quiver::index::hnsw::{build, search_two_hop, DenseSpace, HnswParams, Visited};
/// use quiver::vector::Metric;
/// // Points on a line: each node links to its two neighbours, so every even node is two
/// // hops from the next one and the walk passes over the odd ones without scoring them.
/// let data: Vec<f32> = (0..100).map(|i| i as f32).collect();
/// let space = DenseSpace::new(data, 1, Metric::L2);
/// let graph = build(HnswParams::default(), &space, 100);
/// let mut visited = Visited::new(100);
/// let even = |n: u32| n % 2 == 0;
/// let hits = search_two_hop(&graph, 3, 10, &|n| space.distance_to(&[41.2], n), &even, &mut visited);
/// let nodes: Vec<u32> = hits.iter().map(|h| h.node).collect();
/// assert_eq!(nodes, vec![42, 40, 44]);
/// ```
pub fn search_two_hop(
    graph: &Graph,
    k: usize,
    ef: usize,
    scorer: &impl Scorer,
    allowed: &impl NodeTest,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    let Some(start) = descend(graph, scorer) else {
        return Vec::new();
    };
    let mut found = best_first_two_hop(graph, start, ef.max(k), scorer, allowed, visited);
    found.truncate(k);
    found
}
