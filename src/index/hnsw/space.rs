//! Where the graph's distances come from.

use crate::vector::Metric;

/// Distances between the graph's nodes (smaller is nearer). Implemented over whatever holds the
/// vectors: the collection mirror, a quantized copy, or a plain array ([`DenseSpace`]).
pub trait Space: Sync {
    /// Number of nodes.
    fn len(&self) -> usize;

    /// Whether there are no nodes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Distance between nodes `a` and `b`.
    fn distance(&self, a: u32, b: u32) -> f32;
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
    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    fn distance(&self, a: u32, b: u32) -> f32 {
        distance(self.metric, self.row(a), self.row(b))
    }
}
