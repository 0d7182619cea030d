//! One collection's approximate index in memory: the graph, the node vectors, each node's item
//! id and dead flag. Cloning it is cheap (copy-on-write chunks), which is how commits build the
//! next version while searches read the published one.

use crate::index::chunked::Chunked;
use crate::index::hnsw::NodeTest;
use crate::index::hnsw::{Graph, Neighbour, Visited, search_allowed, search_two_hop};
use crate::vector::ann::allow::{NodeFilter, node_bit};
use crate::vector::ann::codes::{NodeCodes, QueryCodes};
use crate::vector::ann::config::{AnnConfig, AnnMeta};
use crate::vector::ann::space::{CodeScorer, NodeSpace, PreparedQuery, QueryScorer, WalkScorer};
use crate::vector::ann::vectors::NodeVectors;
use crate::vector::element::Element;
use crate::vector::metric::Metric;
use crate::vector::plan::Walk;
use crate::vector::quantize::Quantization;
use crate::vector::topk::{Candidate, TopK};
use std::cell::RefCell;
use std::sync::Arc;
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
    /// The vectors' codes for a quantized first pass (none without quantization).
    pub codes: NodeCodes,
    pub ids: Chunked<u64>,
    pub dead: Chunked<bool>,
    /// Each node's record bytes, when the collection's record type is small and fixed-width
    /// (see [`with_records`](Self::with_records)): predicate filters test them in memory.
    pub records: Option<Chunked<u8>>,
    pub dead_count: usize,
    pub load_time: Duration,
    /// Node records carry checksums (every index created by this version; older ones keep
    /// their form, see [`super::node`]).
    pub node_checks: bool,
}

/// The positions of the set bits of a bitset, in order.
fn set_bits(words: &[u64]) -> impl Iterator<Item = u32> + '_ {
    words.iter().enumerate().flat_map(|(w, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let bit = rest.trailing_zeros();
            rest &= rest - 1;
            Some((w * 64) as u32 + bit)
        })
    })
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
            codes: NodeCodes::new(config.quantization, metric, dim),
            ids: Chunked::new(1, NODES_PER_CHUNK),
            dead: Chunked::new(1, NODES_PER_CHUNK),
            records: None,
            dead_count: 0,
            load_time: Duration::ZERO,
            node_checks: true,
        }
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Keeps `width` bytes of record per node from now on (every existing node gets zeros until
    /// [`set_record`](Self::set_record) fills it).
    pub fn with_records(mut self, width: usize) -> AnnIndex {
        let mut records = Chunked::new(width, NODES_PER_CHUNK);
        records.extend_with(self.len(), 0);
        self.records = Some(records);
        self
    }

    /// Sets `node`'s record bytes (ignored without records, or at another width).
    pub fn set_record(&mut self, node: u32, record: &[u8]) {
        if let Some(slot) = self
            .records
            .as_mut()
            .and_then(|records| records.record_mut(node as usize))
            .filter(|slot| slot.len() == record.len())
        {
            slot.copy_from_slice(record);
        }
    }

    /// The live nodes whose record `accept` takes, as a node bitset; `None` without records.
    pub fn nodes_where(&self, accept: impl Fn(&[u8]) -> bool) -> Option<Arc<[u64]>> {
        let records = self.records.as_ref()?;
        let width = records.record_len();
        let mut words = vec![0u64; self.len().div_ceil(64)];
        // Chunk by chunk (the same node count per chunk for both), so each node costs its
        // record's test and no lookups.
        let mut node = 0usize;
        for (chunk, dead) in records.chunks().zip(self.dead.chunks()) {
            for (record, &dead) in chunk.chunks_exact(width).zip(dead) {
                if !dead && accept(record) {
                    words[node / 64] |= 1 << (node % 64);
                }
                node += 1;
            }
        }
        Some(Arc::from(words))
    }

    #[inline]
    pub fn is_dead(&self, node: u32) -> bool {
        self.dead.get(node as usize).copied().unwrap_or(true)
    }

    #[inline]
    pub fn id(&self, node: u32) -> u64 {
        self.ids.get(node as usize).copied().unwrap_or(u64::MAX)
    }

    /// Hints that `node`'s item id is about to be read.
    #[inline]
    pub fn prefetch_id(&self, node: u32) {
        if let Some(id) = self.ids.record(node as usize) {
            crate::index::prefetch::prefetch(id, 1);
        }
    }

    /// Appends an unlinked node for item `id` with vector `stored`.
    pub fn push(&mut self, id: u64, stored: &[u8]) -> u32 {
        let node = self.push_vector_slot();
        self.set_vector(node, stored);
        self.ids.extend_with(1, id);
        self.dead.extend_with(1, false);
        node
    }

    /// Appends an all-zero vector (and codes) row; returns its node number.
    pub fn push_vector_slot(&mut self) -> u32 {
        if let Some(records) = &mut self.records {
            records.extend_with(1, 0);
        }
        self.codes.push_zero();
        self.vectors.push_zero()
    }

    /// Sets node `node`'s vector (and its codes) from the vector's stored bytes.
    pub fn set_vector(&mut self, node: u32, stored: &[u8]) {
        self.vectors.set(node, stored);
        if self.codes.mode() != Quantization::None {
            self.codes.set(node, &self.vectors.to_f32(node));
        }
    }

    pub fn mark_dead(&mut self, node: u32) {
        if !self.is_dead(node) {
            self.dead.set(node as usize, true);
            self.dead_count += 1;
        }
    }

    /// The nodes' item ids and dead flags in node order, [`NODES_PER_CHUNK`] nodes at a time
    /// (the last chunk may be shorter).
    pub fn id_chunks(&self) -> impl Iterator<Item = (&[u64], &[bool])> + '_ {
        self.ids.chunks().zip(self.dead.chunks())
    }

    pub fn meta(&self) -> AnnMeta {
        AnnMeta {
            config: self.config,
            seed: self.seed,
            nodes: self.len() as u32,
            dead: self.dead_count as u32,
            entry: self.graph.entry(),
            node_checks: self.node_checks,
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
    /// Dead nodes are walked through (scored) like live ones: they are a bounded share of the
    /// graph and keep it connected.
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<(f32, u64)> {
        let live = |node: u32| !self.is_dead(node);
        self.walk(query, k, ef, |want, scorer, visited| {
            search_allowed(&self.graph, want, ef, scorer, &live, visited)
        })
    }

    /// Like [`search`](Self::search), among the nodes `filter` accepts (prepared for this
    /// index), by a walk of the kind `walk` (see [`scan_where`](Self::scan_where) for the scan).
    pub fn search_where(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: &NodeFilter<'_>,
        walk: Walk,
    ) -> Vec<(f32, u64)> {
        self.walk(query, k, ef, |want, scorer, visited| match walk {
            // A node bitset is tested by a plain function, so the walks' test loops have no
            // match on the filter's kind inside them.
            Walk::Plain => match filter {
                NodeFilter::Nodes { words } => {
                    let accept = |node: u32| node_bit(words, node);
                    search_allowed(&self.graph, want, ef, scorer, &accept, visited)
                }
                NodeFilter::Ids { .. } | NodeFilter::Deny { .. } => {
                    let accept = |node: u32| filter.accepts(node);
                    search_allowed(&self.graph, want, ef, scorer, &accept, visited)
                }
            },
            Walk::TwoHop => match filter {
                NodeFilter::Nodes { words } => {
                    let accept = |node: u32| node_bit(words, node);
                    search_two_hop(&self.graph, want, ef, scorer, &accept, visited)
                }
                NodeFilter::Ids { .. } | NodeFilter::Deny { .. } => {
                    search_two_hop(&self.graph, want, ef, scorer, filter, visited)
                }
            },
        })
    }

    /// The exact `k` nearest of the nodes set in `nodes` (a node bitset, see [`NodeFilter`]):
    /// `(distance, id)`, nearest first. One distance per accepted node, computed from the
    /// index's row-major vectors with the next rows prefetched.
    pub fn scan_where(&self, query: &[f32], k: usize, nodes: &[u64]) -> Vec<(f32, u64)> {
        /// Rows requested ahead of the one being scored.
        const AHEAD: usize = 8;
        let prepared = PreparedQuery::new(query.to_vec());
        let space = self.space();
        let accepted: Vec<u32> = set_bits(nodes)
            .filter(|&n| (n as usize) < self.len())
            .collect();
        let mut best = TopK::new(k);
        for (i, &node) in accepted.iter().enumerate() {
            if let Some(&ahead) = accepted.get(i + AHEAD) {
                space.vectors.prefetch(ahead);
            }
            best.push(Candidate {
                distance: space.distance(&prepared, node),
                source: 0,
                id: self.id(node),
            });
        }
        best.into_sorted()
            .into_iter()
            .map(|c| (c.distance, c.id))
            .collect()
    }

    /// Runs `search` with a scorer for `query` and this thread's visited marks, and turns its
    /// nodes into `(distance, id)`, the `k` nearest. Without codes, `search` scores exactly and
    /// is asked for `k` nodes. With codes, it scores by code distance and is asked for
    /// `max(ef, k)` nodes, which are then rescored exactly.
    fn walk(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        search: impl FnOnce(usize, &WalkScorer<'_>, &mut Visited) -> Vec<Neighbour>,
    ) -> Vec<(f32, u64)> {
        let prepared = PreparedQuery::new(query.to_vec());
        let exact = QueryScorer {
            space: self.space(),
            query: &prepared,
        };
        let codes = self.codes.prepare(query);
        let (scorer, want) = match codes {
            QueryCodes::None => (WalkScorer::Exact(exact), k),
            codes => (
                WalkScorer::Codes(CodeScorer {
                    codes: &self.codes,
                    query: codes,
                }),
                ef.max(k),
            ),
        };
        let found = VISITED.with(|visited| search(want, &scorer, &mut visited.borrow_mut()));
        let scored: Vec<(f32, u32)> = match scorer {
            // Already the k nearest by exact distance, nearest first.
            WalkScorer::Exact(_) => found.into_iter().map(|n| (n.distance, n.node)).collect(),
            WalkScorer::Codes(_) => {
                let space = self.space();
                for n in &found {
                    space.vectors.prefetch(n.node);
                }
                let mut rescored: Vec<(f32, u32)> = found
                    .into_iter()
                    .map(|n| (space.distance(&prepared, n.node), n.node))
                    .collect();
                rescored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                rescored.truncate(k);
                rescored
            }
        };
        scored
            .into_iter()
            .map(|(distance, node)| (distance, self.id(node)))
            .collect()
    }

    pub fn stats(&self) -> IndexStats {
        IndexStats {
            nodes: self.len(),
            dead: self.dead_count,
            memory_bytes: self.graph.memory_bytes()
                + self.vectors.memory_bytes()
                + self.codes.memory_bytes()
                + self.ids.memory_bytes()
                + self.dead.memory_bytes()
                + self.records.as_ref().map_or(0, Chunked::memory_bytes),
            load_time: self.load_time,
            config: self.config,
        }
    }
}
