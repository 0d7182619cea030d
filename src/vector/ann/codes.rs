//! The index's quantized copy of its node vectors (see [`quantize`](crate::vector::quantize)),
//! row-major in node order and copy-on-write like the node vectors, and the code distance a
//! quantized walk scores nodes with.
//!
//! An int8 row is one 8-byte header and the codes, padded to whole 8-byte words:
//! `factor f32 | offset f32 | codes`. The header folds the metric in, so one integer dot
//! product and one multiply-add give the distance:
//! - L2: `factor` is the row's scale, `offset` its exact squared norm, and the distance is
//!   `|q|^2 + offset - 2 * q_scale * factor * dot`;
//! - dot: `factor` is the scale, the distance `-q_scale * factor * dot`;
//! - cosine: `factor` is the scale over the exact norm, the distance
//!   `1 - (q_scale / |q|) * factor * dot` (1 for a zero vector, as the exact distance).
//!
//! A binary row is the vector's bits; its distance is the Hamming distance, whatever the
//! metric (the rescoring restores the metric's order).

use crate::index::chunked::Chunked;
use crate::vector::metric::Metric;
use crate::vector::quantize::{Quantization, binarize, dot_i8, hamming, quantize_int8};

/// Rows per copy-on-write chunk.
const ROWS_PER_CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub(crate) struct NodeCodes {
    mode: Quantization,
    metric: Metric,
    dim: usize,
    /// Words per row.
    row_words: usize,
    /// One record per node (none when `mode` is `None`).
    rows: Chunked<u64>,
}

/// A query's codes, made by [`NodeCodes::prepare`].
pub(crate) enum QueryCodes {
    None,
    Int8 {
        codes: Vec<i8>,
        /// `q_scale` (L2, dot) or `q_scale / |q|` (cosine).
        factor: f32,
        /// `|q|^2` (L2), else 0.
        offset: f32,
    },
    Binary(Vec<u64>),
}

impl NodeCodes {
    pub fn new(mode: Quantization, metric: Metric, dim: usize) -> NodeCodes {
        let row_words = match mode {
            Quantization::None => 0,
            Quantization::Int8 => 1 + dim.div_ceil(8),
            Quantization::Binary => dim.div_ceil(64),
        };
        NodeCodes {
            mode,
            metric,
            dim,
            row_words,
            rows: Chunked::new(row_words, ROWS_PER_CHUNK),
        }
    }

    /// Rows held (0 without codes).
    pub fn len(&self) -> usize {
        self.rows.len().checked_div(self.row_words).unwrap_or(0)
    }

    /// Row `node` as a query: what a build compares other nodes with. An int8 row's header is
    /// already its query form (the same scale and norm terms).
    pub fn row_as_query(&self, node: u32) -> QueryCodes {
        let Some(row) = self.rows.record(node as usize) else {
            return QueryCodes::None;
        };
        match self.mode {
            Quantization::None => QueryCodes::None,
            Quantization::Int8 => {
                let (factor, offset) = unpack_header(row[0]);
                QueryCodes::Int8 {
                    codes: bytemuck::cast_slice(&row[1..]).to_vec(),
                    factor,
                    offset,
                }
            }
            Quantization::Binary => QueryCodes::Binary(row.to_vec()),
        }
    }

    pub fn mode(&self) -> Quantization {
        self.mode
    }

    /// Appends an all-zero row (nothing without codes).
    pub fn push_zero(&mut self) {
        if self.mode != Quantization::None {
            self.rows.extend_with(1, 0);
        }
    }

    /// Sets row `node` from its vector (ignored past the end).
    pub fn set(&mut self, node: u32, values: &[f32]) {
        let (mode, metric) = (self.mode, self.metric);
        let Some(row) = self.rows.record_mut(node as usize) else {
            return;
        };
        match mode {
            Quantization::None => {}
            Quantization::Int8 => {
                let (header, codes) = row.split_at_mut(1);
                let codes: &mut [i8] = bytemuck::cast_slice_mut(codes);
                let scale = quantize_int8(values, codes);
                let (factor, offset) = fold(metric, scale, values);
                header[0] = pack_header(factor, offset);
            }
            Quantization::Binary => binarize(values, row),
        }
    }

    /// The codes of a query (or of a node's vector).
    pub fn prepare(&self, query: &[f32]) -> QueryCodes {
        match self.mode {
            Quantization::None => QueryCodes::None,
            Quantization::Int8 => {
                let mut codes = vec![0i8; self.dim.div_ceil(8) * 8];
                let scale = quantize_int8(query, &mut codes);
                let (factor, offset) = fold(self.metric, scale, query);
                QueryCodes::Int8 {
                    codes,
                    factor,
                    offset,
                }
            }
            Quantization::Binary => {
                let mut words = vec![0u64; self.dim.div_ceil(64)];
                binarize(query, &mut words);
                QueryCodes::Binary(words)
            }
        }
    }

    /// Code distance from a query to node `node` (smaller is nearer; comparable only with
    /// other code distances of the same query). 0 when there are no codes.
    #[inline]
    pub fn distance(&self, query: &QueryCodes, node: u32) -> f32 {
        if let QueryCodes::None = query {
            return 0.0;
        }
        let Some(row) = self.rows.record(node as usize) else {
            return f32::INFINITY;
        };
        match query {
            QueryCodes::None => 0.0,
            QueryCodes::Int8 {
                codes,
                factor,
                offset,
            } => {
                let (row_factor, row_offset) = unpack_header(row[0]);
                let dot = dot_i8(codes, bytemuck::cast_slice(&row[1..])) as f32;
                let product = factor * row_factor * dot;
                match self.metric {
                    Metric::L2 => offset + row_offset - 2.0 * product,
                    Metric::Dot => -product,
                    Metric::Cosine => 1.0 - product,
                }
            }
            QueryCodes::Binary(words) => hamming(words, row) as f32,
        }
    }

    /// Hints that node `node`'s codes are about to be read.
    #[inline]
    pub fn prefetch(&self, node: u32) {
        if let Some(row) = self.rows.record(node as usize) {
            crate::index::prefetch::prefetch(row, 16);
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.rows.memory_bytes()
    }
}

/// An int8 row's header word: `factor` in the low half, `offset` in the high half.
fn pack_header(factor: f32, offset: f32) -> u64 {
    u64::from(factor.to_bits()) | (u64::from(offset.to_bits()) << 32)
}

/// `(factor, offset)` from an int8 row's header word.
#[inline]
fn unpack_header(header: u64) -> (f32, f32) {
    (
        f32::from_bits(header as u32),
        f32::from_bits((header >> 32) as u32),
    )
}

/// The header of an int8 row (or query) with scale `scale` for `metric`: `(factor, offset)`.
fn fold(metric: Metric, scale: f32, values: &[f32]) -> (f32, f32) {
    let norm_squared: f32 = values.iter().map(|v| v * v).sum();
    match metric {
        Metric::L2 => (scale, norm_squared),
        Metric::Dot => (scale, 0.0),
        Metric::Cosine => {
            let norm = norm_squared.sqrt();
            if norm > 0.0 {
                (scale / norm, 0.0)
            } else {
                (0.0, 0.0)
            }
        }
    }
}

/// The nodes' codes as a [`Space`](crate::index::hnsw::Space): what an int8 index links new
/// nodes with (node-to-node code distances, so a build reads a quarter of the bytes).
pub(crate) struct CodeSpace<'a> {
    pub codes: &'a NodeCodes,
}

impl crate::index::hnsw::Space for CodeSpace<'_> {
    type Prepared<'b>
        = QueryCodes
    where
        Self: 'b;

    fn len(&self) -> usize {
        self.codes.len()
    }

    fn prepare(&self, node: u32) -> QueryCodes {
        self.codes.row_as_query(node)
    }

    fn distance_to_node(&self, prepared: &QueryCodes, node: u32) -> f32 {
        self.codes.distance(prepared, node)
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        self.codes.prefetch(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::hnsw::DenseSpace;

    fn rows(n: usize, dim: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|r| {
                (0..dim)
                    .map(|d| (((r * 31 + d * 17) % 97) as f32 - 40.0) / 13.0)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn int8_distances_track_exact_ones_for_every_metric() {
        let dim = 67;
        let data = rows(50, dim);
        for metric in [Metric::L2, Metric::Dot, Metric::Cosine] {
            let mut codes = NodeCodes::new(Quantization::Int8, metric, dim);
            for (node, row) in data.iter().enumerate() {
                codes.push_zero();
                codes.set(node as u32, row);
            }
            let space = DenseSpace::new(data.concat(), dim, metric);
            let query = &data[7];
            let prepared = codes.prepare(query);
            // Scale of the metric's values, to state the tolerance relatively.
            let spread = (0..50u32)
                .map(|n| space.distance_to(query, n).abs())
                .fold(0.0f32, f32::max);
            for node in 0..50u32 {
                let exact = space.distance_to(query, node);
                let approx = codes.distance(&prepared, node);
                assert!(
                    (exact - approx).abs() <= 0.02 * spread,
                    "{metric:?} node {node}: {approx} vs {exact}"
                );
            }
            assert_eq!(codes.distance(&prepared, 50), f32::INFINITY);
        }
    }

    #[test]
    fn binary_distance_is_the_hamming_distance_of_the_bits() {
        let dim = 130;
        let data = rows(20, dim);
        let mut codes = NodeCodes::new(Quantization::Binary, Metric::Cosine, dim);
        for (node, row) in data.iter().enumerate() {
            codes.push_zero();
            codes.set(node as u32, row);
        }
        for node in 0..20u32 {
            let query = codes.prepare(&data[node as usize]);
            assert_eq!(codes.distance(&query, node), 0.0);
            let other = &data[(node as usize + 1) % 20];
            let mean_q = data[node as usize].iter().sum::<f32>() / dim as f32;
            let mean_o = other.iter().sum::<f32>() / dim as f32;
            let differing = data[node as usize]
                .iter()
                .zip(other)
                .filter(|(a, b)| (**a > mean_q) != (**b > mean_o))
                .count();
            assert_eq!(codes.distance(&query, (node + 1) % 20), differing as f32);
        }
    }

    #[test]
    fn a_row_as_query_scores_like_its_vector_prepared_as_one() {
        use crate::index::hnsw::Space;
        let dim = 40;
        let data = rows(10, dim);
        for metric in [Metric::L2, Metric::Dot, Metric::Cosine] {
            let mut codes = NodeCodes::new(Quantization::Int8, metric, dim);
            for (node, row) in data.iter().enumerate() {
                codes.push_zero();
                codes.set(node as u32, row);
            }
            let space = CodeSpace { codes: &codes };
            assert_eq!(space.len(), 10);
            for a in 0..10u32 {
                let from_vector = codes.prepare(&data[a as usize]);
                for b in 0..10u32 {
                    assert_eq!(space.distance(a, b), codes.distance(&from_vector, b));
                }
            }
        }
    }

    #[test]
    fn a_zero_vector_is_at_cosine_distance_one() {
        let mut codes = NodeCodes::new(Quantization::Int8, Metric::Cosine, 4);
        codes.push_zero();
        codes.set(0, &[0.0; 4]);
        let query = codes.prepare(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(codes.distance(&query, 0), 1.0);
    }
}
