//! Distance kernels for f32 and f16 vectors.
//!
//! Two families:
//! - **Slice kernels** ([`dot_f32`], [`cosine_sums_f16`], ...): both vectors as slices of the
//!   same element type; AVX2 + FMA (+ F16C) or scalar.
//! - **Stored kernels** ([`dot_stored`], [`l2_squared_stored`], [`norm_squared_stored`]): an f32
//!   query against a stored vector given as little-endian bytes at any alignment (a value
//!   borrowed from a redb page), read with unaligned loads; AVX-512F, AVX2 + FMA + F16C, NEON
//!   (aarch64) or scalar.
//! - **Block kernels** ([`block_dots_1`], [`block_dots_4x4`]), the search path: queries against
//!   blocks of sixteen stored vectors laid out component-major, as the mirror keeps them; same
//!   instruction sets.
//!
//! On wasm32 built with `simd128` (as `.cargo/config.toml` does) the stored and block kernels have
//! a `simd128` version for f32 data, checked in Chromium by the browser tests.
//!
//! The NEON kernels are tested under qemu by `.ci/run` (`cargo test --target
//! aarch64-unknown-linux-gnu --lib vector::distance` with `qemu-aarch64` as the runner).
//!
//! Each family is chosen at run time, the first time it is used ([`kernel_name`],
//! [`slice_kernel_name`]); other targets use the scalar code, which is also the reference every
//! SIMD kernel is tested against, over every length 0-299 (including lengths that are not
//! multiples of the vector width) and at unaligned offsets. Under Miri the AVX2 kernels run when
//! the features are enabled at compile time:
//! `RUSTFLAGS="-C target-feature=+avx2,+fma,+f16c" cargo +nightly miri test --lib kernels`
//! checks the f32 slice kernels, the scalar and AVX2 stored kernels (lengths 0-79, byte offsets
//! 0-3) and the scalar and AVX2 block kernels (dimensions 0-19) on f32 data: no undefined
//! behaviour found (about four minutes each, so not in CI). Miri implements neither the F16C
//! conversions nor AVX-512, so those kernels are checked only by the tests.
//!
//! ```
//! use quiver::vector::distance::{cosine_distance_f32, dot_f32, l2_squared_f32};
//! let a = [1.0, 2.0, 3.0];
//! let b = [4.0, 5.0, 6.0];
//! assert_eq!(dot_f32(&a, &b), 32.0);
//! assert_eq!(l2_squared_f32(&a, &b), 27.0);
//! assert!(cosine_distance_f32(&a, &a).abs() < 1e-6);
//! ```

pub(crate) mod block_scalar;
#[cfg(target_arch = "x86_64")]
mod block_x86;
#[cfg(target_arch = "x86_64")]
mod block_x86_512;
pub mod scalar;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[macro_use]
mod stored_macros;
#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod stored_scalar;
#[cfg(target_arch = "x86_64")]
mod stored_x86;
#[cfg(target_arch = "x86_64")]
mod stored_x86_512;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::vector::element::Element;

use half::f16;
use std::sync::OnceLock;

/// The three sums of a cosine distance: `a.b`, `a.a`, `b.b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineSums {
    /// Dot product.
    pub dot: f32,
    /// Squared norm of the first vector.
    pub norm_a: f32,
    /// Squared norm of the second vector.
    pub norm_b: f32,
}

impl CosineSums {
    /// `1 - cos(a, b)`; 1 when either vector is zero.
    ///
    /// ```
    /// let sums = quiver::vector::distance::CosineSums { dot: 0.0, norm_a: 1.0, norm_b: 1.0 };
    /// assert_eq!(sums.distance(), 1.0);
    /// ```
    pub fn distance(self) -> f32 {
        let denominator = (self.norm_a * self.norm_b).sqrt();
        if denominator > 0.0 {
            1.0 - self.dot / denominator
        } else {
            1.0
        }
    }
}

/// Four queries against four blocks of sixteen vectors.
type Block4x4Kernel = fn([&[f32]; 4], [&[u8]; 4], Element) -> [[[f32; 16]; 4]; 4];
/// One query against one block of sixteen vectors.
type Block1Kernel = fn(&[f32], &[u8], Element) -> [f32; 16];

/// The kernels chosen for this machine.
struct Kernels {
    dot_f32: fn(&[f32], &[f32]) -> f32,
    l2_f32: fn(&[f32], &[f32]) -> f32,
    cosine_f32: fn(&[f32], &[f32]) -> CosineSums,
    dot_f16: fn(&[f16], &[f16]) -> f32,
    l2_f16: fn(&[f16], &[f16]) -> f32,
    cosine_f16: fn(&[f16], &[f16]) -> CosineSums,
    name: &'static str,
}

const SCALAR: Kernels = Kernels {
    dot_f32: scalar::dot_f32,
    l2_f32: scalar::l2_squared_f32,
    cosine_f32: scalar::cosine_f32,
    dot_f16: scalar::dot_f16,
    l2_f16: scalar::l2_squared_f16,
    cosine_f16: scalar::cosine_f16,
    name: "scalar",
};

/// The query-against-stored kernels (the search path), chosen separately: they have an AVX-512
/// version.
pub(crate) struct StoredKernels {
    pub dot: fn(&[f32], &[u8], Element) -> f32,
    pub l2: fn(&[f32], &[u8], Element) -> f32,
    pub norm: fn(&[u8], Element) -> f32,
    pub block_4x4: Block4x4Kernel,
    pub block_1: Block1Kernel,
    pub name: &'static str,
}

const STORED_SCALAR: StoredKernels = StoredKernels {
    dot: stored_scalar::dot,
    l2: stored_scalar::l2_squared,
    norm: stored_scalar::norm_squared,
    block_4x4: block_scalar::block_dots_4x4,
    block_1: block_scalar::block_dots_1,
    name: "scalar",
};

#[cfg(target_arch = "x86_64")]
const STORED_AVX2: StoredKernels = StoredKernels {
    dot: stored_x86::dot,
    l2: stored_x86::l2_squared,
    norm: stored_x86::norm_squared,
    block_4x4: block_x86::block_dots_4x4,
    block_1: block_x86::block_dots_1,
    name: "avx2+fma+f16c",
};

#[cfg(target_arch = "x86_64")]
const STORED_AVX512: StoredKernels = StoredKernels {
    dot: stored_x86_512::dot,
    l2: stored_x86_512::l2_squared,
    norm: stored_x86_512::norm_squared,
    block_4x4: block_x86_512::block_dots_4x4,
    block_1: block_x86_512::block_dots_1,
    name: "avx512f",
};

#[cfg(target_arch = "aarch64")]
const STORED_NEON: StoredKernels = StoredKernels {
    dot: neon::dot,
    l2: neon::l2_squared,
    norm: neon::norm_squared,
    block_4x4: neon::block_dots_4x4,
    block_1: neon::block_dots_1,
    name: "neon",
};

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const STORED_SIMD128: StoredKernels = StoredKernels {
    dot: wasm_simd::dot,
    l2: wasm_simd::l2_squared,
    norm: wasm_simd::norm_squared,
    block_4x4: wasm_simd::block_dots_4x4,
    block_1: wasm_simd::block_dots_1,
    name: "simd128",
};

/// Every stored-kernel set this CPU can run, best last (the tests check each one).
pub(crate) fn stored_kernel_sets() -> Vec<&'static StoredKernels> {
    #[allow(unused_mut)]
    let mut sets = vec![&STORED_SCALAR];
    #[cfg(target_arch = "x86_64")]
    {
        if x86::detect().is_some() {
            sets.push(&STORED_AVX2);
            if std::arch::is_x86_feature_detected!("avx512f") {
                sets.push(&STORED_AVX512);
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        sets.push(&STORED_NEON);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    sets.push(&STORED_SIMD128);
    sets
}

fn stored_kernels() -> &'static StoredKernels {
    static CHOSEN: OnceLock<&'static StoredKernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let sets = stored_kernel_sets();
        sets[sets.len() - 1]
    })
}

fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if let Some(kernels) = x86::detect() {
            return kernels;
        }
        SCALAR
    })
}

/// Which kernel family this machine's searches use (`"avx512f"`, `"avx2+fma+f16c"`, `"neon"`,
/// `"simd128"` or `"scalar"`).
///
/// ```
/// assert!(!quiver::vector::distance::kernel_name().is_empty());
/// ```
pub fn kernel_name() -> &'static str {
    stored_kernels().name
}

/// Which kernel family the slice kernels ([`dot_f32`], ...) use (`"avx2+fma+f16c"` or
/// `"scalar"`).
///
/// ```
/// assert!(!quiver::vector::distance::slice_kernel_name().is_empty());
/// ```
pub fn slice_kernel_name() -> &'static str {
    kernels().name
}

/// Dot product of two equally long vectors (extra elements of the longer one are ignored).
///
/// ```
/// assert_eq!(quiver::vector::distance::dot_f32(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
/// ```
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    (kernels().dot_f32)(a, b)
}

/// Squared Euclidean distance.
///
/// ```
/// assert_eq!(quiver::vector::distance::l2_squared_f32(&[0.0, 0.0], &[3.0, 4.0]), 25.0);
/// ```
pub fn l2_squared_f32(a: &[f32], b: &[f32]) -> f32 {
    (kernels().l2_f32)(a, b)
}

/// The cosine sums of two f32 vectors.
///
/// ```
/// let sums = quiver::vector::distance::cosine_sums_f32(&[1.0, 0.0], &[0.0, 2.0]);
/// assert_eq!((sums.dot, sums.norm_a, sums.norm_b), (0.0, 1.0, 4.0));
/// ```
pub fn cosine_sums_f32(a: &[f32], b: &[f32]) -> CosineSums {
    (kernels().cosine_f32)(a, b)
}

/// Cosine distance, `1 - cos(a, b)`.
///
/// ```
/// let d = quiver::vector::distance::cosine_distance_f32(&[1.0, 0.0], &[0.0, 2.0]);
/// assert_eq!(d, 1.0);
/// ```
pub fn cosine_distance_f32(a: &[f32], b: &[f32]) -> f32 {
    cosine_sums_f32(a, b).distance()
}

/// Dot product of two f16 vectors, accumulated in f32.
///
/// ```
/// use half::f16;
/// let a = [f16::from_f32(1.0), f16::from_f32(2.0)];
/// assert_eq!(quiver::vector::distance::dot_f16(&a, &a), 5.0);
/// ```
pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    (kernels().dot_f16)(a, b)
}

/// Squared Euclidean distance of two f16 vectors, accumulated in f32.
///
/// ```
/// use half::f16;
/// let a = [f16::from_f32(0.0), f16::from_f32(0.0)];
/// let b = [f16::from_f32(3.0), f16::from_f32(4.0)];
/// assert_eq!(quiver::vector::distance::l2_squared_f16(&a, &b), 25.0);
/// ```
pub fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    (kernels().l2_f16)(a, b)
}

/// The cosine sums of two f16 vectors, accumulated in f32.
///
/// ```
/// use half::f16;
/// let a = [f16::from_f32(1.0), f16::from_f32(0.0)];
/// assert_eq!(quiver::vector::distance::cosine_sums_f16(&a, &a).dot, 1.0);
/// ```
pub fn cosine_sums_f16(a: &[f16], b: &[f16]) -> CosineSums {
    (kernels().cosine_f16)(a, b)
}

/// Cosine distance of two f16 vectors.
///
/// ```
/// use half::f16;
/// let a = [f16::from_f32(1.0), f16::from_f32(1.0)];
/// assert!(quiver::vector::distance::cosine_distance_f16(&a, &a).abs() < 1e-6);
/// ```
pub fn cosine_distance_f16(a: &[f16], b: &[f16]) -> f32 {
    cosine_sums_f16(a, b).distance()
}

/// Dot product of an f32 query with a stored vector given as little-endian bytes of `element`
/// (any alignment: values borrowed from redb pages are not aligned). Uses the query's length, or
/// fewer elements if the bytes are shorter.
///
/// ```
/// use quiver::vector::Element;
/// use quiver::vector::distance::dot_stored;
/// let stored: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
/// assert_eq!(dot_stored(&[3.0, 4.0], &stored, Element::F32), 11.0);
/// ```
pub fn dot_stored(query: &[f32], stored: &[u8], element: Element) -> f32 {
    (stored_kernels().dot)(query, stored, element)
}

/// Squared Euclidean distance between an f32 query and a stored vector (see [`dot_stored`]).
///
/// ```
/// use half::f16;
/// use quiver::vector::Element;
/// use quiver::vector::distance::l2_squared_stored;
/// let stored: Vec<u8> = [3.0f32, 4.0].iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect();
/// assert_eq!(l2_squared_stored(&[0.0, 0.0], &stored, Element::F16), 25.0);
/// ```
pub fn l2_squared_stored(query: &[f32], stored: &[u8], element: Element) -> f32 {
    (stored_kernels().l2)(query, stored, element)
}

/// Squared norm of a stored vector (all of its elements).
///
/// ```
/// use quiver::vector::Element;
/// let stored: Vec<u8> = [3.0f32, 4.0].iter().flat_map(|x| x.to_le_bytes()).collect();
/// assert_eq!(quiver::vector::distance::norm_squared_stored(&stored, Element::F32), 25.0);
/// ```
pub fn norm_squared_stored(stored: &[u8], element: Element) -> f32 {
    (stored_kernels().norm)(stored, element)
}

/// Vectors per block of the block layout (see [`block_dots_4x4`]).
pub const BLOCK_LANES: usize = block_scalar::LANES;

/// Dot products of four queries with the sixteen vectors of each of four blocks
/// (`result[query][block][lane]`). A block stores sixteen vectors component-major: component 0 of
/// all sixteen, then component 1, ..., as little-endian `element`s; so one register holds one
/// component of a whole block and no horizontal sums are needed. This is the inner loop of
/// batched search.
///
/// ```
/// use quiver::vector::Element;
/// use quiver::vector::distance::{block_dots_4x4, BLOCK_LANES};
/// // A block of 2-component vectors: lane i is (i, 1).
/// let mut block = Vec::new();
/// for d in 0..2 {
///     for lane in 0..BLOCK_LANES {
///         let x = if d == 0 { lane as f32 } else { 1.0 };
///         block.extend(x.to_le_bytes());
///     }
/// }
/// let q = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]];
/// let dots = block_dots_4x4([&q[0], &q[1], &q[2], &q[3]], [&block; 4], Element::F32);
/// assert_eq!(dots[0][0][5], 5.0);
/// assert_eq!(dots[1][2][9], 1.0);
/// assert_eq!(dots[2][3][7], 8.0);
/// assert_eq!(dots[3][1][3], 6.0);
/// ```
pub fn block_dots_4x4(
    queries: [&[f32]; 4],
    blocks: [&[u8]; 4],
    element: Element,
) -> [[[f32; 16]; 4]; 4] {
    (stored_kernels().block_4x4)(queries, blocks, element)
}

/// Dot products of one query with the sixteen vectors of a block (layout as in
/// [`block_dots_4x4`]): the inner loop of single-query search, which reads the mirror block after
/// block as one sequential stream.
///
/// ```
/// use quiver::vector::Element;
/// let block: Vec<u8> = (0..16).flat_map(|lane| (lane as f32).to_le_bytes()).collect();
/// let dots = quiver::vector::distance::block_dots_1(&[2.0], &block, Element::F32);
/// assert_eq!(dots[15], 30.0);
/// ```
pub fn block_dots_1(query: &[f32], block: &[u8], element: Element) -> [f32; 16] {
    (stored_kernels().block_1)(query, block, element)
}

#[cfg(test)]
mod tests;
