//! AVX-512 block kernels: a block holds sixteen vectors component-major (component `d` of all
//! sixteen, then component `d + 1`, ...), so one 512-bit register holds component `d` of the
//! whole block and a broadcast query component times that register advances sixteen dot
//! products at once. No horizontal sums: the sixteen results come out in one register.

use super::block_scalar::common_dim;
use crate::vector::element::Element;
use std::arch::x86_64::{
    __m512, _mm256_loadu_si256, _mm512_add_ps, _mm512_cvtph_ps, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

/// Component `d` of the sixteen vectors of a block, as f32.
///
/// # Safety
/// `block` must hold at least `d + 1` components of sixteen lanes of `element`, and the CPU must
/// have AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
unsafe fn load_lanes(block: *const u8, element: Element, d: usize) -> __m512 {
    match element {
        // SAFETY: 64 readable bytes at 64d (caller); loadu has no alignment demand.
        Element::F32 => unsafe { _mm512_loadu_ps(block.add(64 * d).cast()) },
        // SAFETY: 32 readable bytes at 32d (caller), sixteen IEEE half floats.
        Element::F16 => unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(block.add(32 * d).cast())) },
    }
}

/// `Q` queries against `B` blocks: `Q * B` accumulators of sixteen lanes. Four queries by four
/// blocks measured fastest for batches (each broadcast query component feeds four FMAs, each
/// block load four).
///
/// # Safety
/// The CPU must have AVX-512F (which implies AVX2, FMA and F16C).
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn block_dots<const Q: usize, const B: usize>(
    queries: [&[f32]; Q],
    blocks: [&[u8]; B],
    element: Element,
) -> [[[f32; 16]; B]; Q] {
    let dim = common_dim(&queries, &blocks, element);
    let mut acc = [[_mm512_setzero_ps(); B]; Q];
    let block_ptrs = blocks.map(<[u8]>::as_ptr);
    let query_ptrs = queries.map(<[f32]>::as_ptr);
    for d in 0..dim {
        let mut lanes = [_mm512_setzero_ps(); B];
        for b in 0..B {
            // SAFETY: d < dim: every block holds `dim` components (checked by `common_dim`).
            lanes[b] = unsafe { load_lanes(block_ptrs[b], element, d) };
        }
        for q in 0..Q {
            // SAFETY: d < dim <= the query's length.
            let x = _mm512_set1_ps(unsafe { *query_ptrs[q].add(d) });
            for b in 0..B {
                acc[q][b] = _mm512_fmadd_ps(x, lanes[b], acc[q][b]);
            }
        }
    }
    let mut out = [[[0.0f32; 16]; B]; Q];
    for q in 0..Q {
        for b in 0..B {
            // SAFETY: `out[q][b]` has room for sixteen f32; storeu has no alignment demand.
            unsafe { _mm512_storeu_ps(out[q][b].as_mut_ptr(), acc[q][b]) };
        }
    }
    out
}

/// One query against one block, the components split over four accumulators (component `d`
/// goes to accumulator `d % 4`), so a single-query scan reads the mirror as one sequential
/// stream, block after block.
///
/// # Safety
/// The CPU must have AVX-512F (which implies AVX2, FMA and F16C).
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn block_dots_single(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    let dim = common_dim(&[query], &[block], element);
    let mut acc = [_mm512_setzero_ps(); 4];
    let (p, q) = (block.as_ptr(), query.as_ptr());
    let mut d = 0;
    while d + 4 <= dim {
        for (j, lane) in acc.iter_mut().enumerate() {
            // SAFETY: d + j < dim: inside the block and the query.
            let (y, x) = unsafe { (load_lanes(p, element, d + j), *q.add(d + j)) };
            *lane = _mm512_fmadd_ps(_mm512_set1_ps(x), y, *lane);
        }
        d += 4;
    }
    while d < dim {
        // SAFETY: d < dim.
        let (y, x) = unsafe { (load_lanes(p, element, d), *q.add(d)) };
        acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(x), y, acc[0]);
        d += 1;
    }
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    let mut out = [0.0f32; 16];
    // SAFETY: `out` has room for sixteen f32; storeu has no alignment demand.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), sum) };
    out
}

pub(super) fn block_dots_4x4(
    queries: [&[f32]; 4],
    blocks: [&[u8]; 4],
    element: Element,
) -> [[[f32; 16]; 4]; 4] {
    // SAFETY: only reachable through `stored_kernel_sets`, after checking the CPU.
    unsafe { block_dots(queries, blocks, element) }
}

pub(super) fn block_dots_1(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    // SAFETY: only reachable through `stored_kernel_sets`, after checking the CPU.
    unsafe { block_dots_single(query, block, element) }
}
