//! AVX-512 (F) versions of the query-against-stored kernels: sixteen f32 lanes per instruction
//! and twice the registers of AVX2, chosen at run time where the CPU has AVX-512F. Stored
//! vectors are read from their bytes with unaligned loads, as in the AVX2 kernels; f16 is
//! widened with `vcvtph2ps` on 512-bit registers.

use super::stored_scalar::{common_len, element_at};
use super::x86::sum8;
use crate::vector::element::Element;
use std::arch::x86_64::{
    __m256, __m512, _mm256_add_ps, _mm256_castpd_ps, _mm256_loadu_si256, _mm256_setzero_ps,
    _mm512_add_ps, _mm512_castps_pd, _mm512_castps512_ps256, _mm512_cvtph_ps,
    _mm512_extractf64x4_pd, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_reduce_add_ps,
    _mm512_setzero_ps, _mm512_sub_ps,
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

/// Adds the two 256-bit halves of `z`.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
fn fold(z: __m512) -> __m256 {
    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(z)));
    _mm256_add_ps(_mm512_castps512_ps256(z), high)
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

/// Four queries against `N` stored vectors, one accumulator per pair (4N of 32 registers).
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn dot4xn_avx512<const N: usize>(
    queries: [&[f32]; 4],
    stored: [&[u8]; N],
    element: Element,
) -> [[f32; 4]; N] {
    let n = queries
        .iter()
        .flat_map(|q| stored.iter().map(move |s| common_len(q, s, element)))
        .min()
        .unwrap_or(0);
    let pointers = stored.map(<[u8]>::as_ptr);
    let mut acc = [[_mm512_setzero_ps(); 4]; N];
    let mut i = 0;
    while i + 16 <= n {
        let mut ys = [_mm512_setzero_ps(); N];
        for (y, p) in ys.iter_mut().zip(pointers) {
            // SAFETY: i + 16 <= n: inside every stored vector.
            *y = unsafe { load_stored(p, element, i) };
        }
        for (j, q) in queries.iter().enumerate() {
            // SAFETY: i + 16 <= n <= q.len().
            let x = unsafe { load_query(q, i) };
            for (lanes, y) in acc.iter_mut().zip(ys) {
                lanes[j] = _mm512_fmadd_ps(x, y, lanes[j]);
            }
        }
        i += 16;
    }
    let mut out = [[0.0f32; 4]; N];
    for ((row, lanes), bytes) in out.iter_mut().zip(acc).zip(stored) {
        for ((o, lane), q) in row.iter_mut().zip(lanes).zip(queries) {
            *o = _mm512_reduce_add_ps(lane);
            for (k, x) in q.iter().enumerate().take(n).skip(i) {
                *o += x * element_at(bytes, element, k);
            }
        }
    }
    out
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

pub(super) fn dot4(queries: [&[f32]; 4], bytes: &[u8], element: Element) -> [f32; 4] {
    // SAFETY: only reachable through `stored_kernel_sets`.
    let [row] = unsafe { dot4xn_avx512(queries, [bytes], element) };
    row
}

/// Four queries against two stored vectors; the eight sums are folded to 256 bits and added
/// up together ([`sum8`]).
///
/// # Safety
/// The CPU must have AVX-512F (which implies AVX2, FMA and F16C).
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn dot4x2_avx512(
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
    let mut acc = [_mm512_setzero_ps(); 8];
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n: inside both stored vectors.
        let (y0, y1) = unsafe { (load_stored(p0, element, i), load_stored(p1, element, i)) };
        for (j, q) in queries.iter().enumerate() {
            // SAFETY: i + 16 <= n <= q.len().
            let x = unsafe { load_query(q, i) };
            acc[j] = _mm512_fmadd_ps(x, y0, acc[j]);
            acc[4 + j] = _mm512_fmadd_ps(x, y1, acc[4 + j]);
        }
        i += 16;
    }
    // A loop, not `map`: a closure would not inherit this function's target features.
    let mut halves = [_mm256_setzero_ps(); 8];
    for (half, z) in halves.iter_mut().zip(acc) {
        *half = fold(z);
    }
    let sums = sum8(halves);
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
    // SAFETY: only reachable through `stored_kernel_sets`.
    unsafe { dot4x2_avx512(queries, first, second, element) }
}
