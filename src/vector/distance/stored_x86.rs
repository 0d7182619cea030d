//! AVX2 + FMA (+ F16C) versions of the query-against-stored kernels. The stored side is read
//! straight from its bytes with unaligned loads, so a value borrowed from a redb page (any
//! alignment) and an aligned in-memory copy go through the same code.

use super::stored_scalar::{common_len, element_at};
use super::x86::sum4;
use crate::vector::element::Element;
use std::arch::x86_64::{
    __m256, _mm_loadu_si128, _mm256_cvtph_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps,
    _mm256_sub_ps,
};

/// Eight stored elements starting at element `i`, widened to f32.
///
/// # Safety
/// `bytes` must hold at least `i + 8` elements, and the CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn load_stored(bytes: *const u8, element: Element, i: usize) -> __m256 {
    match element {
        // SAFETY: 32 readable bytes at offset 4i (caller); loadu has no alignment demand.
        Element::F32 => unsafe { _mm256_loadu_ps(bytes.add(4 * i).cast()) },
        // SAFETY: 16 readable bytes at offset 2i (caller), eight IEEE half floats; the unaligned
        // integer load has no alignment demand.
        Element::F16 => unsafe { _mm256_cvtph_ps(_mm_loadu_si128(bytes.add(2 * i).cast())) },
    }
}

/// Eight query elements starting at `i`.
///
/// # Safety
/// `query` must hold at least `i + 8` elements, and the CPU must have AVX2.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn load_query(query: &[f32], i: usize) -> __m256 {
    // SAFETY: the caller guarantees i + 8 <= query.len().
    unsafe { _mm256_loadu_ps(query.as_ptr().add(i)) }
}

pairwise_kernel!(
    dot_avx,
    "avx2,fma,f16c",
    8,
    _mm256_setzero_ps(),
    load_query,
    load_stored,
    sum4,
    |acc, x, y| _mm256_fmadd_ps(x, y, acc),
    |q, s| q * s
);

pairwise_kernel!(
    l2_avx,
    "avx2,fma,f16c",
    8,
    _mm256_setzero_ps(),
    load_query,
    load_stored,
    sum4,
    |acc, x, y| {
        let d = _mm256_sub_ps(x, y);
        _mm256_fmadd_ps(d, d, acc)
    },
    |q, s| (q - s) * (q - s)
);

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn norm_avx(bytes: &[u8], element: Element) -> f32 {
    let n = bytes.len() / element.size();
    let p = bytes.as_ptr();
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n elements are inside `bytes`.
        let y = unsafe { load_stored(p, element, i) };
        let lane = (i / 8) % 4;
        acc[lane] = _mm256_fmadd_ps(y, y, acc[lane]);
        i += 8;
    }
    let mut sum = sum4(acc);
    for j in i..n {
        let y = element_at(bytes, element, j);
        sum += y * y;
    }
    sum
}

pub(super) fn dot(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    // SAFETY: these wrappers are handed out only by `detect`, after checking the CPU.
    unsafe { dot_avx(query, bytes, element) }
}

pub(super) fn l2_squared(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    // SAFETY: only reachable through `detect`.
    unsafe { l2_avx(query, bytes, element) }
}

pub(super) fn norm_squared(bytes: &[u8], element: Element) -> f32 {
    // SAFETY: only reachable through `detect`.
    unsafe { norm_avx(bytes, element) }
}
