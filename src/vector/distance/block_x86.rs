//! AVX2 + FMA + F16C block kernels (layout in `block_x86_512.rs`): a block's sixteen lanes are
//! two 256-bit registers per component.

use super::block_scalar::{common_dim, four_blocks};
use crate::vector::element::Element;
use std::arch::x86_64::{
    __m256, _mm_loadu_si128, _mm256_add_ps, _mm256_cvtph_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

/// Lanes `8h..8h+8` of component `d` of a block, as f32.
///
/// # Safety
/// `block` must hold at least `d + 1` components of sixteen lanes of `element`, and the CPU must
/// have AVX2 and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn load_half(block: *const u8, element: Element, d: usize, h: usize) -> __m256 {
    match element {
        // SAFETY: 32 readable bytes at 64d + 32h (caller); loadu has no alignment demand.
        Element::F32 => unsafe { _mm256_loadu_ps(block.add(64 * d + 32 * h).cast()) },
        // SAFETY: 16 readable bytes at 32d + 16h (caller), eight IEEE half floats.
        Element::F16 => unsafe {
            _mm256_cvtph_ps(_mm_loadu_si128(block.add(32 * d + 16 * h).cast()))
        },
    }
}

/// `Q` queries against `B` blocks: `2 * Q * B` accumulators (at most 8 fit with the loads).
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block_dots<const Q: usize, const B: usize>(
    queries: [&[f32]; Q],
    blocks: [&[u8]; B],
    element: Element,
) -> [[[f32; 16]; B]; Q] {
    let dim = common_dim(&queries, &blocks, element);
    let mut acc = [[[_mm256_setzero_ps(); 2]; B]; Q];
    let block_ptrs = blocks.map(<[u8]>::as_ptr);
    let query_ptrs = queries.map(<[f32]>::as_ptr);
    for d in 0..dim {
        let mut lanes = [[_mm256_setzero_ps(); 2]; B];
        for (pair, block) in lanes.iter_mut().zip(block_ptrs) {
            for (h, half) in pair.iter_mut().enumerate() {
                // SAFETY: d < dim: every block holds `dim` components (checked by `common_dim`).
                *half = unsafe { load_half(block, element, d, h) };
            }
        }
        for q in 0..Q {
            // SAFETY: d < dim <= the query's length.
            let x = _mm256_set1_ps(unsafe { *query_ptrs[q].add(d) });
            for b in 0..B {
                for h in 0..2 {
                    acc[q][b][h] = _mm256_fmadd_ps(x, lanes[b][h], acc[q][b][h]);
                }
            }
        }
    }
    let mut out = [[[0.0f32; 16]; B]; Q];
    for q in 0..Q {
        for b in 0..B {
            for h in 0..2 {
                // SAFETY: `out[q][b][8h..]` has room for eight f32; storeu has no alignment demand.
                unsafe { _mm256_storeu_ps(out[q][b][8 * h..].as_mut_ptr(), acc[q][b][h]) };
            }
        }
    }
    out
}

pub(super) fn block_dots_4x4(
    queries: [&[f32]; 4],
    blocks: [&[u8]; 4],
    element: Element,
) -> [[[f32; 16]; 4]; 4] {
    four_blocks(blocks, |block| {
        // SAFETY: only reachable through `stored_kernel_sets`, after checking the CPU.
        let dots = unsafe { block_dots(queries, [block], element) };
        dots.map(|[row]| row)
    })
}

/// One query against one block, the components split over two accumulators per half (component
/// `d` goes to accumulator `d % 2`), reading the block as one sequential stream.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block_dots_single(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    let dim = common_dim(&[query], &[block], element);
    let mut acc = [[_mm256_setzero_ps(); 2]; 2];
    let (p, q) = (block.as_ptr(), query.as_ptr());
    let mut d = 0;
    while d < dim {
        // Two components per step, one per accumulator pair (the second only if present).
        for (j, pair) in acc.iter_mut().enumerate() {
            if d + j < dim {
                // SAFETY: d + j < dim: inside the query and the block.
                let x = _mm256_set1_ps(unsafe { *q.add(d + j) });
                for (h, lane) in pair.iter_mut().enumerate() {
                    // SAFETY: as above.
                    let y = unsafe { load_half(p, element, d + j, h) };
                    *lane = _mm256_fmadd_ps(x, y, *lane);
                }
            }
        }
        d += 2;
    }
    let mut out = [0.0f32; 16];
    for h in 0..2 {
        // SAFETY: `out[8h..]` has room for eight f32; storeu has no alignment demand.
        unsafe {
            _mm256_storeu_ps(
                out[8 * h..].as_mut_ptr(),
                _mm256_add_ps(acc[0][h], acc[1][h]),
            );
        }
    }
    out
}

pub(super) fn block_dots_1(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    // SAFETY: only reachable through `stored_kernel_sets`, after checking the CPU.
    unsafe { block_dots_single(query, block, element) }
}
