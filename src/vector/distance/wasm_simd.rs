//! wasm32 `simd128` kernels: the query-against-stored and block kernels for f32 data, four lanes
//! at a time. WebAssembly has no run-time feature detection, so these are chosen at compile time:
//! `.cargo/config.toml` builds wasm32 with `-C target-feature=+simd128`, which every current
//! browser runs. f16 data uses the scalar reference (wasm has no half-precision conversion).
//!
//! Per lane, the block kernels add the products in the same order as the scalar reference, so
//! they give the same sums; the row kernels sum in four partial sums and differ from it only by
//! rounding. The browser tests (`wasm/tests/browser.rs`) check both against an f64 reference.

use super::block_scalar::{self, LANES, common_dim};
use super::stored_scalar::{self, common_len};
use crate::vector::element::Element;
use core::arch::wasm32::{
    f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, f32x4_sub, v128, v128_load,
};

/// Loads four f32 values from 16 little-endian bytes.
#[inline]
fn load4(bytes: &[u8; 16]) -> v128 {
    // SAFETY: `bytes` is a reference to exactly 16 readable bytes, and `v128_load` has no
    // alignment requirement on wasm32 (unaligned loads are defined).
    unsafe { v128_load(bytes.as_ptr().cast::<v128>()) }
}

/// Loads four f32 values from a query slice.
#[inline]
fn load_query(query: &[f32; 4]) -> v128 {
    // SAFETY: `query` is a reference to four f32 values, 16 readable bytes; unaligned loads are
    // defined on wasm32.
    unsafe { v128_load(query.as_ptr().cast::<v128>()) }
}

#[inline]
fn sum_lanes(v: v128) -> f32 {
    (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
        + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
}

/// Runs `step` on each full group of four components and returns the summed accumulator and the
/// number of components handled.
#[inline]
fn fold4(query: &[f32], bytes: &[u8], n: usize, step: impl Fn(v128, v128) -> v128) -> (f32, usize) {
    let mut acc = f32x4_splat(0.0);
    let groups = n / 4;
    for (q, b) in query[..groups * 4]
        .chunks_exact(4)
        .zip(bytes[..groups * 16].chunks_exact(16))
    {
        // chunks_exact yields slices of exactly 4 and 16 elements, so the conversions succeed.
        let (Ok(q), Ok(b)) = (<&[f32; 4]>::try_from(q), <&[u8; 16]>::try_from(b)) else {
            continue;
        };
        acc = f32x4_add(acc, step(load_query(q), load4(b)));
    }
    (sum_lanes(acc), groups * 4)
}

pub(crate) fn dot(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    if element != Element::F32 {
        return stored_scalar::dot(query, bytes, element);
    }
    let n = common_len(query, bytes, element);
    let (sum, done) = fold4(query, bytes, n, |q, b| f32x4_mul(q, b));
    sum + stored_scalar::dot(&query[done..n], &bytes[done * 4..n * 4], element)
}

pub(crate) fn l2_squared(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    if element != Element::F32 {
        return stored_scalar::l2_squared(query, bytes, element);
    }
    let n = common_len(query, bytes, element);
    let (sum, done) = fold4(query, bytes, n, |q, b| {
        let d = f32x4_sub(q, b);
        f32x4_mul(d, d)
    });
    sum + stored_scalar::l2_squared(&query[done..n], &bytes[done * 4..n * 4], element)
}

pub(crate) fn norm_squared(bytes: &[u8], element: Element) -> f32 {
    if element != Element::F32 {
        return stored_scalar::norm_squared(bytes, element);
    }
    let n = bytes.len() / 4;
    let mut acc = f32x4_splat(0.0);
    let groups = n / 4;
    for b in bytes[..groups * 16].chunks_exact(16) {
        if let Ok(b) = <&[u8; 16]>::try_from(b) {
            let v = load4(b);
            acc = f32x4_add(acc, f32x4_mul(v, v));
        }
    }
    sum_lanes(acc) + stored_scalar::norm_squared(&bytes[groups * 16..n * 4], element)
}

pub(crate) fn block_dots_1(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    if element != Element::F32 {
        return block_scalar::block_dots_1(query, block, element);
    }
    let dim = common_dim(&[query], &[block], element);
    let mut acc = [f32x4_splat(0.0); 4];
    // One row of the block per component: its sixteen vectors' values, 64 bytes.
    for (&q, row) in query[..dim]
        .iter()
        .zip(block[..dim * LANES * 4].chunks_exact(LANES * 4))
    {
        let q = f32x4_splat(q);
        for (a, lanes) in acc.iter_mut().zip(row.chunks_exact(16)) {
            if let Ok(lanes) = <&[u8; 16]>::try_from(lanes) {
                *a = f32x4_add(*a, f32x4_mul(q, load4(lanes)));
            }
        }
    }
    let mut out = [0.0f32; 16];
    for (chunk, a) in out.chunks_exact_mut(4).zip(acc) {
        chunk[0] = f32x4_extract_lane::<0>(a);
        chunk[1] = f32x4_extract_lane::<1>(a);
        chunk[2] = f32x4_extract_lane::<2>(a);
        chunk[3] = f32x4_extract_lane::<3>(a);
    }
    out
}

pub(crate) fn block_dots_4x4(
    queries: [&[f32]; 4],
    blocks: [&[u8]; 4],
    element: Element,
) -> [[[f32; 16]; 4]; 4] {
    if element != Element::F32 {
        return block_scalar::block_dots_4x4(queries, blocks, element);
    }
    // Kernels are given one common dimension: trim every input to it, as the scalar one does.
    let dim = common_dim(&queries, &blocks, element);
    let mut out = [[[0.0f32; 16]; 4]; 4];
    for (row, query) in out.iter_mut().zip(queries) {
        for (dots, block) in row.iter_mut().zip(blocks) {
            *dots = block_dots_1(&query[..dim], &block[..dim * LANES * 4], element);
        }
    }
    out
}
