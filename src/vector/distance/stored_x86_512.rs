//! AVX-512 (F) versions of the query-against-stored kernels: sixteen f32 lanes per instruction
//! and twice the registers of AVX2, chosen at run time where the CPU has AVX-512F. Stored
//! vectors are read from their bytes with unaligned loads, as in the AVX2 kernels; f16 is
//! widened with `vcvtph2ps` on 512-bit registers.

use super::stored_scalar::{common_len, element_at};
use crate::vector::element::Element;
use std::arch::x86_64::{
    __m512, _mm256_loadu_si256, _mm512_add_ps, _mm512_cvtph_ps, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_reduce_add_ps, _mm512_setzero_ps, _mm512_sub_ps,
};

/// Sixteen stored elements starting at element `i`, widened to f32.
///
/// # Safety
/// `bytes` must hold at least `i + 16` elements, and the CPU must have AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
unsafe fn load_stored(bytes: *const u8, element: Element, i: usize) -> __m512 {
    match element {
        // SAFETY: 64 readable bytes at offset 4i (caller); loadu has no alignment demand.
        Element::F32 => unsafe { _mm512_loadu_ps(bytes.add(4 * i).cast()) },
        // SAFETY: 32 readable bytes at offset 2i (caller), sixteen IEEE half floats; the
        // unaligned integer load has no alignment demand.
        Element::F16 => unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(bytes.add(2 * i).cast())) },
    }
}

/// Sixteen query elements starting at `i`.
///
/// # Safety
/// `query` must hold at least `i + 16` elements, and the CPU must have AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
unsafe fn load_query(query: &[f32], i: usize) -> __m512 {
    // SAFETY: the caller guarantees i + 16 <= query.len().
    unsafe { _mm512_loadu_ps(query.as_ptr().add(i)) }
}

/// Sum of the lanes of four registers.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
fn sum4(acc: [__m512; 4]) -> f32 {
    _mm512_reduce_add_ps(_mm512_add_ps(
        _mm512_add_ps(acc[0], acc[1]),
        _mm512_add_ps(acc[2], acc[3]),
    ))
}

pairwise_kernel!(
    dot_avx512,
    "avx512f,avx2,fma,f16c",
    16,
    _mm512_setzero_ps(),
    load_query,
    load_stored,
    sum4,
    |acc, x, y| _mm512_fmadd_ps(x, y, acc),
    |q, s| q * s
);

pairwise_kernel!(
    l2_avx512,
    "avx512f,avx2,fma,f16c",
    16,
    _mm512_setzero_ps(),
    load_query,
    load_stored,
    sum4,
    |acc, x, y| {
        let d = _mm512_sub_ps(x, y);
        _mm512_fmadd_ps(d, d, acc)
    },
    |q, s| (q - s) * (q - s)
);

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn norm_avx512(bytes: &[u8], element: Element) -> f32 {
    let n = bytes.len() / element.size();
    let p = bytes.as_ptr();
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n elements are inside `bytes`.
        let y = unsafe { load_stored(p, element, i) };
        let lane = (i / 16) % 2;
        acc[lane] = _mm512_fmadd_ps(y, y, acc[lane]);
        i += 16;
    }
    let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
    for j in i..n {
        let y = element_at(bytes, element, j);
        sum += y * y;
    }
    sum
}

pub(super) fn dot(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    // SAFETY: these wrappers are handed out only by `stored_kernel_sets`, after checking
    // that the CPU has AVX-512F, AVX2, FMA and F16C.
    unsafe { dot_avx512(query, bytes, element) }
}

pub(super) fn l2_squared(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    // SAFETY: only reachable through `stored_kernel_sets`.
    unsafe { l2_avx512(query, bytes, element) }
}

pub(super) fn norm_squared(bytes: &[u8], element: Element) -> f32 {
    // SAFETY: only reachable through `stored_kernel_sets`.
    unsafe { norm_avx512(bytes, element) }
}
