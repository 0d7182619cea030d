//! Where the graph's distances come from.

use crate::vector::Metric;

/// Distances between the graph's nodes (smaller is nearer). Implemented over whatever holds the
/// vectors: the collection's node vectors, a quantized copy, or a plain array ([`DenseSpace`]).
///
/// A node's vector is first *prepared* (for stored f16 values: widened to f32 once), then
/// compared with many nodes: a build compares each new node with thousands of others.
pub trait Space: Sync {
    /// A node's vector ready for comparisons.
    type Prepared<'a>
    where
        Self: 'a;

    /// Number of nodes.
    fn len(&self) -> usize;

    /// Whether there are no nodes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Node `node`'s vector, prepared.
    fn prepare(&self, node: u32) -> Self::Prepared<'_>;

    /// Distance between a prepared vector and node `node`.
    fn distance_to_node(&self, prepared: &Self::Prepared<'_>, node: u32) -> f32;

    /// Distance between nodes `a` and `b`.
    fn distance(&self, a: u32, b: u32) -> f32 {
        self.distance_to_node(&self.prepare(a), b)
    }

    /// Hints that node `node`'s vector is about to be read (default: nothing).
    #[inline]
    fn prefetch(&self, _node: u32) {}
}

/// A prepared vector scoring nodes of its space: what construction searches with.
pub(crate) struct SpaceScorer<'s, 'p, S: Space + 's> {
    pub space: &'s S,
    pub prepared: &'p S::Prepared<'s>,
}

impl<'s, S: Space> super::search::Scorer for SpaceScorer<'s, '_, S> {
    #[inline]
    fn distance(&self, node: u32) -> f32 {
        self.space.distance_to_node(self.prepared, node)
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        self.space.prefetch(node);
    }
}

/// Row-major f32 vectors with a metric: the reference space for tests and benchmarks.
///
/// ```
/// use quiver::index::hnsw::{DenseSpace, Space};
/// use quiver::vector::Metric;
/// let space = DenseSpace::new(vec![0.0, 0.0, 3.0, 4.0], 2, Metric::L2);
/// assert_eq!(space.distance(0, 1), 25.0);
/// assert_eq!(space.distance_to(&[3.0, 0.0], 1), 16.0);
/// ```
#[derive(Debug, Clone)]
pub struct DenseSpace {
    data: Vec<f32>,
    dim: usize,
    metric: Metric,
}

impl DenseSpace {
    /// `data` holds rows of `dim` values.
    pub fn new(data: Vec<f32>, dim: usize, metric: Metric) -> DenseSpace {
        DenseSpace { data, dim, metric }
    }

    /// Row `node`.
    pub fn row(&self, node: u32) -> &[f32] {
        let start = node as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    /// Distance from `query` to node `node`, by the space's metric (squared for L2, `1 - cosine`,
    /// `-dot`).
    pub fn distance_to(&self, query: &[f32], node: u32) -> f32 {
        distance(self.metric, query, self.row(node))
    }
}

fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Metric::Dot => -a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>(),
        Metric::Cosine => {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            if na == 0.0 || nb == 0.0 {
                1.0
            } else {
                1.0 - dot / (na * nb)
            }
        }
    }
}

impl Space for DenseSpace {
    type Prepared<'a> = &'a [f32];

    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    fn prepare(&self, node: u32) -> &[f32] {
        self.row(node)
    }

    fn distance_to_node(&self, prepared: &&[f32], node: u32) -> f32 {
        distance(self.metric, prepared, self.row(node))
    }
}
