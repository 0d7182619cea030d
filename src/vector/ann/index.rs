//! One collection's approximate index in memory: the graph, the node vectors, each node's item
//! id and dead flag. Cloning it is cheap (copy-on-write chunks), which is how commits build the
//! next version while searches read the published one.

use crate::index::chunked::Chunked;
use crate::index::hnsw::{Graph, Visited, search_allowed};
use crate::vector::ann::config::{AnnConfig, AnnMeta};
use crate::vector::ann::space::{NodeSpace, PreparedQuery, QueryScorer};
use crate::vector::ann::vectors::NodeVectors;
use crate::vector::element::Element;
use crate::vector::metric::Metric;
use std::cell::RefCell;
use std::time::Duration;

/// Nodes per chunk of the id and flag arrays.
const NODES_PER_CHUNK: usize = 1024;

/// Size and state of a collection's approximate index.
///
/// ```
/// let stats = quiver::vector::IndexStats::default();
/// assert_eq!(stats.nodes, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IndexStats {
    /// Graph nodes, deleted ones included.
    pub nodes: usize,
    /// Nodes of deleted or replaced items, still used for routing until the next compaction.
    pub dead: usize,
    /// Heap bytes of the graph, its node vectors, ids and flags.
    pub memory_bytes: usize,
    /// How long loading it took when the collection was opened.
    pub load_time: Duration,
    /// The parameters it was built with.
    pub config: AnnConfig,
}

#[derive(Debug, Clone)]
pub(crate) struct AnnIndex {
    pub config: AnnConfig,
    pub seed: u64,
    pub metric: Metric,
    pub graph: Graph,
    pub vectors: NodeVectors,
    pub ids: Chunked<u64>,
    pub dead: Chunked<bool>,
    pub dead_count: usize,
    pub load_time: Duration,
}

thread_local! {
    /// Each search thread's visited marks, reused across searches.
    static VISITED: RefCell<Visited> = RefCell::new(Visited::new(0));
}

impl AnnIndex {
    pub fn new(
        config: AnnConfig,
        seed: u64,
        metric: Metric,
        element: Element,
        dim: usize,
    ) -> AnnIndex {
        AnnIndex {
            config,
            seed,
            metric,
            graph: Graph::new(config.hnsw(seed)),
            vectors: NodeVectors::new(element, dim),
            ids: Chunked::new(NODES_PER_CHUNK),
            dead: Chunked::new(NODES_PER_CHUNK),
            dead_count: 0,
            load_time: Duration::ZERO,
        }
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    pub fn is_dead(&self, node: u32) -> bool {
        self.dead.get(node as usize).copied().unwrap_or(true)
    }

    pub fn id(&self, node: u32) -> u64 {
        self.ids.get(node as usize).copied().unwrap_or(u64::MAX)
    }

    /// Appends an unlinked node for item `id` with vector `stored`.
    pub fn push(&mut self, id: u64, stored: &[u8]) -> u32 {
        let node = self.vectors.push_zero();
        self.vectors.set(node, stored);
        self.ids.extend_with(1, id);
        self.dead.extend_with(1, false);
        node
    }

    pub fn mark_dead(&mut self, node: u32) {
        if !self.is_dead(node) {
            self.dead.set(node as usize, true);
            self.dead_count += 1;
        }
    }

    pub fn meta(&self) -> AnnMeta {
        AnnMeta {
            config: self.config,
            seed: self.seed,
            nodes: self.len() as u32,
            dead: self.dead_count as u32,
            entry: self.graph.entry(),
        }
    }

    pub fn space(&self) -> NodeSpace<'_> {
        NodeSpace {
            vectors: &self.vectors,
            metric: self.metric,
        }
    }

    /// Live items.
    pub fn live_count(&self) -> usize {
        self.len() - self.dead_count
    }

    /// The approximately `k` nearest live items to `query`: `(distance, id)`, nearest first.
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<(f32, u64)> {
        self.search_where(query, k, ef, |_| true)
    }

    /// Like [`search`](Self::search), among the live items whose id `allowed` accepts.
    pub fn search_where(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allowed: impl Fn(u64) -> bool,
    ) -> Vec<(f32, u64)> {
        let prepared = PreparedQuery::new(query.to_vec());
        let scorer = QueryScorer {
            space: self.space(),
            query: &prepared,
        };
        let live = |node: u32| !self.is_dead(node) && allowed(self.id(node));
        VISITED.with(|visited| {
            let mut visited = visited.borrow_mut();
            search_allowed(&self.graph, k, ef, &scorer, &live, &mut visited)
                .into_iter()
                .map(|n| (n.distance, self.id(n.node)))
                .collect()
        })
    }

    pub fn stats(&self) -> IndexStats {
        IndexStats {
            nodes: self.len(),
            dead: self.dead_count,
            memory_bytes: self.graph.memory_bytes()
                + self.vectors.memory_bytes()
                + self.ids.memory_bytes()
                + self.dead.memory_bytes(),
            load_time: self.load_time,
            config: self.config,
        }
    }
}
