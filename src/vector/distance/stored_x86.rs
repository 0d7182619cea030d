//! AVX2 + FMA (+ F16C) versions of the query-against-stored kernels. The stored side is read
//! straight from its bytes with unaligned loads, so a value borrowed from a redb page (any
//! alignment) and an aligned in-memory copy go through the same code.

use super::stored_scalar::{common_len, element_at};
use super::x86::{horizontal_sum, sum4, sum8};
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

/// Four queries against one stored vector: each group of eight stored elements is loaded (and,
/// for f16, converted) once and used four times, which is what makes batched search faster than
/// one query at a time.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot4_avx(queries: [&[f32]; 4], bytes: &[u8], element: Element) -> [f32; 4] {
    let n = queries
        .iter()
        .map(|q| common_len(q, bytes, element))
        .min()
        .unwrap_or(0);
    let p = bytes.as_ptr();
    let mut acc = [[_mm256_setzero_ps(); 2]; 4];
    let mut i = 0;
    while i + 16 <= n {
        for half in 0..2 {
            let at = i + 8 * half;
            // SAFETY: at + 8 <= n: inside the stored bytes.
            let y = unsafe { load_stored(p, element, at) };
            for (q, lanes) in queries.iter().zip(acc.iter_mut()) {
                // SAFETY: at + 8 <= n <= q.len().
                let x = unsafe { load_query(q, at) };
                lanes[half] = _mm256_fmadd_ps(x, y, lanes[half]);
            }
        }
        i += 16;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let y = unsafe { load_stored(p, element, i) };
        for (q, lanes) in queries.iter().zip(acc.iter_mut()) {
            // SAFETY: i + 8 <= n <= q.len().
            let x = unsafe { load_query(q, i) };
            lanes[0] = _mm256_fmadd_ps(x, y, lanes[0]);
        }
        i += 8;
    }
    let mut out = [0.0f32; 4];
    for ((o, lanes), q) in out.iter_mut().zip(acc).zip(queries) {
        *o = horizontal_sum(std::arch::x86_64::_mm256_add_ps(lanes[0], lanes[1]));
        for (j, x) in q.iter().enumerate().take(n).skip(i) {
            *o += x * element_at(bytes, element, j);
        }
    }
    out
}

/// Four queries against two stored vectors: eight independent accumulators (enough to hide the
/// FMA latency), and per group of eight components six loads for eight FMAs, so the kernel is
/// bound by FMA throughput rather than by loads. This is the inner loop of batched search.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot4x2_avx(
    queries: [&[f32]; 4],
    first: &[u8],
    second: &[u8],
    element: Element,
) -> [[f32; 4]; 2] {
    let n = queries
        .iter()
        .map(|q| common_len(q, first, element).min(common_len(q, second, element)))
        .min()
        .unwrap_or(0);
    let (p0, p1) = (first.as_ptr(), second.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); 4]; 2];
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n: inside both stored vectors.
        let (y0, y1) = unsafe { (load_stored(p0, element, i), load_stored(p1, element, i)) };
        for (j, q) in queries.iter().enumerate() {
            // SAFETY: i + 8 <= n <= q.len().
            let x = unsafe { load_query(q, i) };
            acc[0][j] = _mm256_fmadd_ps(x, y0, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(x, y1, acc[1][j]);
        }
        i += 8;
    }
    let sums = sum8([
        acc[0][0], acc[0][1], acc[0][2], acc[0][3], acc[1][0], acc[1][1], acc[1][2], acc[1][3],
    ]);
    let mut out = [
        [sums[0], sums[1], sums[2], sums[3]],
        [sums[4], sums[5], sums[6], sums[7]],
    ];
    if i < n {
        for (row, stored) in out.iter_mut().zip([first, second]) {
            for (o, q) in row.iter_mut().zip(queries) {
                for (k, x) in q.iter().enumerate().take(n).skip(i) {
                    *o += x * element_at(stored, element, k);
                }
            }
        }
    }
    out
}

pub(super) fn dot4x2(
    queries: [&[f32]; 4],
    first: &[u8],
    second: &[u8],
    element: Element,
) -> [[f32; 4]; 2] {
    // SAFETY: only reachable through `detect`.
    unsafe { dot4x2_avx(queries, first, second, element) }
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

pub(super) fn dot4(queries: [&[f32]; 4], bytes: &[u8], element: Element) -> [f32; 4] {
    // SAFETY: only reachable through `detect`.
    unsafe { dot4_avx(queries, bytes, element) }
}
