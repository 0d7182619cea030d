//! Scalar reference for the block kernels (see `block_x86_512.rs` for the layout): a block is
//! sixteen vectors stored component-major, `16 * dim` little-endian elements.

use super::stored_scalar::element_at;
use crate::vector::element::Element;

/// Vectors per block.
pub const LANES: usize = 16;

/// Bytes of a block of `dim`-component vectors.
pub fn block_bytes(dim: usize, element: Element) -> usize {
    LANES * dim * element.size()
}

/// The number of components every query and every block holds.
pub(crate) fn common_dim(queries: &[&[f32]], blocks: &[&[u8]], element: Element) -> usize {
    let from_queries = queries.iter().map(|q| q.len()).min().unwrap_or(0);
    let from_blocks = blocks
        .iter()
        .map(|b| b.len() / (LANES * element.size()))
        .min()
        .unwrap_or(0);
    from_queries.min(from_blocks)
}

/// Dot products of each query with each of the sixteen vectors of each block.
pub(crate) fn block_dots<const Q: usize, const B: usize>(
    queries: [&[f32]; Q],
    blocks: [&[u8]; B],
    element: Element,
) -> [[[f32; 16]; B]; Q] {
    let dim = common_dim(&queries, &blocks, element);
    let mut out = [[[0.0f32; 16]; B]; Q];
    for (row, query) in out.iter_mut().zip(queries) {
        for (lanes, block) in row.iter_mut().zip(blocks) {
            for (lane, dot) in lanes.iter_mut().enumerate() {
                *dot = (0..dim)
                    .map(|d| query[d] * element_at(block, element, d * LANES + lane))
                    .sum();
            }
        }
    }
    out
}

pub(crate) fn block_dots_4x4(
    queries: [&[f32]; 4],
    blocks: [&[u8]; 4],
    element: Element,
) -> [[[f32; 16]; 4]; 4] {
    block_dots(queries, blocks, element)
}

pub(crate) fn block_dots_1(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    let [[row]] = block_dots([query], [block], element);
    row
}

/// Four queries against four blocks, one block at a time with `one_block` (for instruction sets
/// whose registers cannot hold sixteen accumulators at once).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn four_blocks(
    blocks: [&[u8]; 4],
    mut one_block: impl FnMut(&[u8]) -> [[f32; 16]; 4],
) -> [[[f32; 16]; 4]; 4] {
    let mut out = [[[0.0f32; 16]; 4]; 4];
    for (b, block) in blocks.into_iter().enumerate() {
        for (row, dots) in out.iter_mut().zip(one_block(block)) {
            row[b] = dots;
        }
    }
    out
}
