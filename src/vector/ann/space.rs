//! Distances over the index's node vectors, by the collection's metric, with the SIMD kernels
//! of [`distance`](crate::vector::distance).

use crate::index::hnsw::{Scorer, Space};
use crate::vector::ann::codes::{NodeCodes, QueryCodes};
use crate::vector::ann::vectors::NodeVectors;
use crate::vector::distance::{dot_f32, dot_stored, l2_squared_stored};
use crate::vector::metric::Metric;

/// A query (or a node's vector) widened to f32, with its norm.
pub(crate) struct PreparedQuery {
    pub values: Vec<f32>,
    pub norm: f32,
}

impl PreparedQuery {
    pub fn new(values: Vec<f32>) -> PreparedQuery {
        let norm = dot_f32(&values, &values).sqrt();
        PreparedQuery { values, norm }
    }
}

pub(crate) struct NodeSpace<'a> {
    pub vectors: &'a NodeVectors,
    pub metric: Metric,
}

impl NodeSpace<'_> {
    /// Distance from a prepared query to node `node`: squared L2, `-dot`, or `1 - cosine`.
    #[inline]
    pub fn distance(&self, query: &PreparedQuery, node: u32) -> f32 {
        let row = self.vectors.row(node);
        let element = self.vectors.element();
        match self.metric {
            Metric::L2 => l2_squared_stored(&query.values, row, element),
            Metric::Dot => -dot_stored(&query.values, row, element),
            Metric::Cosine => {
                let norms = query.norm * self.vectors.norm_squared(node).sqrt();
                if norms == 0.0 {
                    1.0
                } else {
                    1.0 - dot_stored(&query.values, row, element) / norms
                }
            }
        }
    }
}

impl Space for NodeSpace<'_> {
    type Prepared<'b>
        = PreparedQuery
    where
        Self: 'b;

    fn len(&self) -> usize {
        self.vectors.len()
    }

    fn prepare(&self, node: u32) -> PreparedQuery {
        PreparedQuery {
            values: self.vectors.to_f32(node),
            norm: self.vectors.norm_squared(node).sqrt(),
        }
    }

    fn distance_to_node(&self, prepared: &PreparedQuery, node: u32) -> f32 {
        self.distance(prepared, node)
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        self.vectors.prefetch(node);
    }
}

/// A query scoring the nodes of a space (what searches walk the graph with).
pub(crate) struct QueryScorer<'a> {
    pub space: NodeSpace<'a>,
    pub query: &'a PreparedQuery,
}

impl Scorer for QueryScorer<'_> {
    #[inline]
    fn distance(&self, node: u32) -> f32 {
        self.space.distance(self.query, node)
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        self.space.vectors.prefetch(node);
    }
}

/// A query's codes scoring nodes by code distance (a quantized walk's first pass).
pub(crate) struct CodeScorer<'a> {
    pub codes: &'a NodeCodes,
    pub query: QueryCodes,
}

/// What an index search walks with: exact distances, or code distances to be rescored.
pub(crate) enum WalkScorer<'a> {
    Exact(QueryScorer<'a>),
    Codes(CodeScorer<'a>),
}

impl Scorer for WalkScorer<'_> {
    #[inline]
    fn distance(&self, node: u32) -> f32 {
        match self {
            WalkScorer::Exact(exact) => exact.distance(node),
            WalkScorer::Codes(codes) => codes.codes.distance(&codes.query, node),
        }
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        match self {
            WalkScorer::Exact(exact) => exact.prefetch(node),
            WalkScorer::Codes(codes) => codes.codes.prefetch(node),
        }
    }
}
