//! The graph's memory layout: level 0 in contiguous arrays with a fixed stride per node (chunks
//! of 256 nodes, copy-on-write, so cloning a graph is cheap and a writer's copy shares every
//! chunk it has not changed), the upper levels in small per-node vectors.

use super::params::HnswParams;
use crate::index::chunked::Chunked;
use std::collections::BTreeSet;

/// Nodes per copy-on-write chunk.
const NODES_PER_CHUNK: usize = 256;

/// An HNSW graph over nodes `0..len()`.
///
/// ```
/// use quiver::index::hnsw::{Graph, HnswParams};
/// let mut graph = Graph::new(HnswParams::default());
/// graph.add_node(0);
/// graph.add_node(0);
/// graph.set_neighbours(0, 0, &[1]);
/// assert_eq!(graph.neighbours(0, 0), &[1]);
/// assert_eq!(graph.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Graph {
    params: HnswParams,
    /// Level-0 lists: per node, a count then `max_degree0` slots.
    layer0: Chunked<u32>,
    /// Per node, its level.
    levels: Chunked<u8>,
    /// Per node above level 0: its lists for levels `1..=level`, each a count then `max_degree`
    /// slots, back to back. Empty for level-0 nodes.
    upper: Chunked<Vec<u32>>,
    /// The node searches start from (one of the highest) and its level.
    entry: Option<(u32, u8)>,
    /// Nodes whose lists changed since [`Graph::track_changes`], when tracking.
    changed: Option<BTreeSet<u32>>,
}

impl Graph {
    /// An empty graph.
    pub fn new(params: HnswParams) -> Graph {
        Graph {
            params,
            layer0: Chunked::new(params.max_degree0() + 1, NODES_PER_CHUNK),
            levels: Chunked::new(1, NODES_PER_CHUNK),
            upper: Chunked::new(1, NODES_PER_CHUNK),
            entry: None,
            changed: None,
        }
    }

    /// Starts recording which nodes' lists change (new nodes included), for writing them out.
    ///
    /// ```
    /// use quiver::index::hnsw::{Graph, HnswParams};
    /// let mut graph = Graph::new(HnswParams::default());
    /// graph.add_node(0);
    /// graph.track_changes();
    /// graph.add_node(0);
    /// graph.set_neighbours(0, 0, &[1]);
    /// assert_eq!(graph.take_changes(), vec![0, 1]);
    /// ```
    pub fn track_changes(&mut self) {
        self.changed = Some(BTreeSet::new());
    }

    /// The nodes changed since [`track_changes`](Self::track_changes), in order; stops tracking.
    pub fn take_changes(&mut self) -> Vec<u32> {
        self.changed
            .take()
            .map(|set| set.into_iter().collect())
            .unwrap_or_default()
    }

    fn mark(&mut self, node: u32) {
        if let Some(changed) = &mut self.changed {
            changed.insert(node);
        }
    }

    /// Build parameters.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.levels.len() == 0
    }

    /// The entry point and its level, if any node has been linked in.
    pub fn entry(&self) -> Option<(u32, u8)> {
        self.entry
    }

    /// Makes `node` the entry point (at `level`).
    pub fn set_entry(&mut self, node: u32, level: u8) {
        self.entry = Some((node, level));
    }

    /// The level of `node` (0 for nodes past the end).
    pub fn level(&self, node: u32) -> u8 {
        self.levels.get(node as usize).copied().unwrap_or(0)
    }

    /// The highest level of any node (0 for an empty graph).
    pub fn top_level(&self) -> u8 {
        self.entry.map_or(0, |(_, level)| level)
    }

    fn stride(&self) -> usize {
        self.params.max_degree() + 1
    }

    /// Appends a node with no neighbours at `level`; returns its number.
    pub fn add_node(&mut self, level: u8) -> u32 {
        let node = self.levels.len() as u32;
        self.layer0.extend_with(1, 0);
        self.levels.extend_with(1, level);
        self.upper
            .extend_with(1, vec![0; usize::from(level) * self.stride()]);
        self.mark(node);
        node
    }

    /// Capacity of a list on `level`.
    pub fn max_degree(&self, level: u8) -> usize {
        if level == 0 {
            self.params.max_degree0()
        } else {
            self.params.max_degree()
        }
    }

    /// The list of `node` on `level` (count and slots), if the node reaches that level.
    fn list(&self, node: u32, level: u8) -> Option<&[u32]> {
        let node = node as usize;
        if level == 0 {
            self.layer0.record(node)
        } else {
            let start = usize::from(level - 1) * self.stride();
            self.upper.get(node)?.get(start..start + self.stride())
        }
    }

    fn list_mut(&mut self, node: u32, level: u8) -> Option<&mut [u32]> {
        let node = node as usize;
        if level == 0 {
            self.layer0.record_mut(node)
        } else {
            let stride = self.stride();
            let start = usize::from(level - 1) * stride;
            self.upper
                .record_mut(node)?
                .first_mut()?
                .get_mut(start..start + stride)
        }
    }

    /// The neighbours of `node` on `level` (empty if it does not reach that level).
    pub fn neighbours(&self, node: u32, level: u8) -> &[u32] {
        match self.list(node, level) {
            Some(list) => {
                let count = (list[0] as usize).min(list.len() - 1);
                &list[1..=count]
            }
            None => &[],
        }
    }

    /// Hints that the level-0 list of `node` is about to be read.
    #[inline]
    pub fn prefetch_neighbours(&self, node: u32) {
        if let Some(list) = self.layer0.record(node as usize) {
            crate::index::prefetch::prefetch(list, 3);
        }
    }

    /// Replaces the neighbours of `node` on `level` (at most the level's capacity are kept).
    pub fn set_neighbours(&mut self, node: u32, level: u8, neighbours: &[u32]) {
        if let Some(list) = self.list_mut(node, level) {
            let count = neighbours.len().min(list.len() - 1);
            list[0] = count as u32;
            list[1..=count].copy_from_slice(&neighbours[..count]);
            self.mark(node);
        }
    }

    /// Heap bytes held by the graph.
    pub fn memory_bytes(&self) -> usize {
        let upper_lists: usize = (0..self.len())
            .filter_map(|node| self.upper.get(node))
            .map(|lists| lists.capacity() * 4)
            .sum();
        self.layer0.memory_bytes()
            + self.levels.memory_bytes()
            + self.upper.memory_bytes()
            + upper_lists
    }
}
