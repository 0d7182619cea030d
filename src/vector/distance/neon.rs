//! NEON kernels for aarch64: the row kernels (query against stored bytes at any alignment) and
//! the block kernels (see `block_x86_512.rs` for the layout), four f32 lanes per register.
//!
//! Stored bytes are loaded as bytes (`vld1q_u8`, no alignment demand) and reinterpreted. Rust's
//! NEON half-precision intrinsics are not stable, so f16 is widened with integer operations:
//! the magnitude bits shifted into an f32 and multiplied by 2^112 give the exact value for
//! normal and subnormal halves alike, then the sign is put back. Infinities and NaNs would come
//! out wrong, but no stored vector holds one (they are rejected on write).

use super::block_scalar::{common_dim, four_blocks};
use super::stored_scalar::{common_len, element_at};
use crate::vector::element::Element;
use std::arch::aarch64::{
    float32x4_t, uint16x4_t, vaddq_f32, vaddvq_f32, vandq_u32, vdupq_n_f32, vdupq_n_u32, vfmaq_f32,
    vld1_u8, vld1q_u8, vmovl_u16, vmulq_n_f32, vorrq_u32, vreinterpret_u16_u8,
    vreinterpretq_f32_u8, vreinterpretq_f32_u32, vreinterpretq_u32_f32, vshlq_n_u32, vst1q_f32,
    vsubq_f32,
};

/// 2^112: scales an f16 magnitude shifted into f32 position to its value.
const HALF_TO_SINGLE: f32 = f32::from_bits(0x7780_0000);

/// Four halves widened to f32.
#[target_feature(enable = "neon")]
#[inline]
fn widen_halves(halves: uint16x4_t) -> float32x4_t {
    let wide = vmovl_u16(halves);
    let magnitude = vshlq_n_u32::<13>(vandq_u32(wide, vdupq_n_u32(0x7fff)));
    let value = vmulq_n_f32(vreinterpretq_f32_u32(magnitude), HALF_TO_SINGLE);
    let sign = vshlq_n_u32::<16>(vandq_u32(wide, vdupq_n_u32(0x8000)));
    vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(value), sign))
}

/// Four stored elements starting at element `i`, as f32.
///
/// # Safety
/// `bytes` must hold at least `i + 4` elements.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load_stored(bytes: *const u8, element: Element, i: usize) -> float32x4_t {
    match element {
        // SAFETY: 16 readable bytes at 4i (caller); byte loads have no alignment demand.
        Element::F32 => unsafe { vreinterpretq_f32_u8(vld1q_u8(bytes.add(4 * i))) },
        // SAFETY: 8 readable bytes at 2i (caller).
        Element::F16 => widen_halves(unsafe { vreinterpret_u16_u8(vld1_u8(bytes.add(2 * i))) }),
    }
}

/// Four query elements starting at `i`.
///
/// # Safety
/// `query` must hold at least `i + 4` elements.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load_query(query: &[f32], i: usize) -> float32x4_t {
    // SAFETY: 16 readable bytes at element i (caller), loaded as bytes.
    unsafe { vreinterpretq_f32_u8(vld1q_u8(query.as_ptr().add(i).cast())) }
}

#[target_feature(enable = "neon")]
#[inline]
fn sum4(acc: [float32x4_t; 4]) -> f32 {
    vaddvq_f32(vaddq_f32(
        vaddq_f32(acc[0], acc[1]),
        vaddq_f32(acc[2], acc[3]),
    ))
}

pairwise_kernel!(
    dot_neon,
    "neon",
    4,
    vdupq_n_f32(0.0),
    load_query,
    load_stored,
    sum4,
    |acc, x, y| vfmaq_f32(acc, x, y),
    |q, s| q * s
);

pairwise_kernel!(
    l2_neon,
    "neon",
    4,
    vdupq_n_f32(0.0),
    load_query,
    load_stored,
    sum4,
    |acc, x, y| {
        let d = vsubq_f32(x, y);
        vfmaq_f32(acc, d, d)
    },
    |q, s| (q - s) * (q - s)
);

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn norm_neon(bytes: &[u8], element: Element) -> f32 {
    let n = bytes.len() / element.size();
    let p = bytes.as_ptr();
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n elements are inside `bytes`.
        let y = unsafe { load_stored(p, element, i) };
        let lane = (i / 4) % 4;
        acc[lane] = vfmaq_f32(acc[lane], y, y);
        i += 4;
    }
    let mut sum = sum4(acc);
    for j in i..n {
        let y = element_at(bytes, element, j);
        sum += y * y;
    }
    sum
}

/// `Q` queries against one block: `4 * Q` accumulators (sixteen lanes are four registers).
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn block_dots<const Q: usize>(
    queries: [&[f32]; Q],
    block: &[u8],
    element: Element,
) -> [[f32; 16]; Q] {
    let dim = common_dim(&queries, &[block], element);
    let mut acc = [[vdupq_n_f32(0.0); 4]; Q];
    let p = block.as_ptr();
    let query_ptrs = queries.map(<[f32]>::as_ptr);
    for d in 0..dim {
        let mut lanes = [vdupq_n_f32(0.0); 4];
        for (quarter, lane) in lanes.iter_mut().enumerate() {
            // SAFETY: d < dim: the block holds `dim` components of sixteen lanes.
            *lane = unsafe { load_stored(p, element, 16 * d + 4 * quarter) };
        }
        for (row, query) in acc.iter_mut().zip(query_ptrs) {
            // SAFETY: d < dim <= the query's length.
            let x = vdupq_n_f32(unsafe { *query.add(d) });
            for (sum, lane) in row.iter_mut().zip(lanes) {
                *sum = vfmaq_f32(*sum, x, lane);
            }
        }
    }
    let mut out = [[0.0f32; 16]; Q];
    for (row, sums) in out.iter_mut().zip(acc) {
        for (quarter, sum) in sums.into_iter().enumerate() {
            // SAFETY: `row[4 * quarter..]` has room for four f32.
            unsafe { vst1q_f32(row[4 * quarter..].as_mut_ptr(), sum) };
        }
    }
    out
}

pub(super) fn dot(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    // SAFETY: these wrappers are handed out only by `stored_kernel_sets`, after checking NEON.
    unsafe { dot_neon(query, bytes, element) }
}

pub(super) fn l2_squared(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    // SAFETY: only reachable through `stored_kernel_sets`.
    unsafe { l2_neon(query, bytes, element) }
}

pub(super) fn norm_squared(bytes: &[u8], element: Element) -> f32 {
    // SAFETY: only reachable through `stored_kernel_sets`.
    unsafe { norm_neon(bytes, element) }
}

pub(super) fn block_dots_4x4(
    queries: [&[f32]; 4],
    blocks: [&[u8]; 4],
    element: Element,
) -> [[[f32; 16]; 4]; 4] {
    four_blocks(blocks, |block| {
        // SAFETY: only reachable through `stored_kernel_sets`.
        unsafe { block_dots(queries, block, element) }
    })
}

pub(super) fn block_dots_1(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    // SAFETY: only reachable through `stored_kernel_sets`.
    let [row] = unsafe { block_dots([query], block, element) };
    row
}
