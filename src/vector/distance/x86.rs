//! AVX2 + FMA kernels (F16C for f16), eight f32 lanes per instruction, four accumulators to hide
//! FMA latency, a scalar tail for lengths that are not multiples of eight.

use super::{CosineSums, Kernels};
use half::f16;
use std::arch::x86_64::{
    __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_loadu_si128, _mm_movehl_ps, _mm_shuffle_ps,
    _mm256_add_ps, _mm256_castps256_ps128, _mm256_cvtph_ps, _mm256_extractf128_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_setzero_ps, _mm256_sub_ps,
};

/// The AVX2 kernels, if this CPU has every instruction they use.
pub(super) fn detect() -> Option<Kernels> {
    let supported = std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c");
    supported.then_some(Kernels {
        dot_f32,
        l2_f32,
        cosine_f32,
        dot_f16,
        l2_f16,
        cosine_f16,
        name: "avx2+fma+f16c",
    })
}

/// Eight f32 lanes from `p`.
///
/// # Safety
/// Eight f32 must be readable at `p` (no alignment needed), and the CPU must have AVX2.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load_f32(p: *const f32) -> __m256 {
    // SAFETY: the caller guarantees eight readable f32 at `p`; loadu has no alignment demand.
    unsafe { _mm256_loadu_ps(p) }
}

/// Eight f16 from `p`, widened to f32.
///
/// # Safety
/// Eight f16 (16 bytes) must be readable at `p`, and the CPU must have AVX2 and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load_f16(p: *const f16) -> __m256 {
    // SAFETY: the caller guarantees 16 readable bytes at `p`; `f16` is `repr(transparent)` over
    // u16, so they are eight IEEE half floats; the unaligned load has no alignment demand.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
}

/// Sum of the eight lanes.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn horizontal_sum(v: __m256) -> f32 {
    let low = _mm256_castps256_ps128(v);
    let high = _mm256_extractf128_ps::<1>(v);
    let quad = _mm_add_ps(low, high);
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let single = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
    _mm_cvtss_f32(single)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn sum4(acc: [__m256; 4]) -> f32 {
    horizontal_sum(_mm256_add_ps(
        _mm256_add_ps(acc[0], acc[1]),
        _mm256_add_ps(acc[2], acc[3]),
    ))
}

/// Generates the dot, squared-L2 and cosine kernels for one element type, given its 8-lane load
/// and its scalar conversion to f32.
macro_rules! kernels_for {
    ($elem:ty, $load:ident, $to_f32:expr, $dot:ident, $l2:ident, $cos:ident,
     $dot_avx:ident, $l2_avx:ident, $cos_avx:ident) => {
        /// # Safety
        /// The CPU must have AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $dot_avx(a: &[$elem], b: &[$elem]) -> f32 {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= n {
                for (k, lane) in acc.iter_mut().enumerate() {
                    // SAFETY: i + 8k + 8 <= i + 32 <= n, inside both slices; features checked
                    // by the caller.
                    let (x, y) = unsafe { ($load(pa.add(i + 8 * k)), $load(pb.add(i + 8 * k))) };
                    *lane = _mm256_fmadd_ps(x, y, *lane);
                }
                i += 32;
            }
            while i + 8 <= n {
                // SAFETY: i + 8 <= n, inside both slices.
                let (x, y) = unsafe { ($load(pa.add(i)), $load(pb.add(i))) };
                acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
                i += 8;
            }
            let mut sum = sum4(acc);
            for j in i..n {
                sum += $to_f32(a[j]) * $to_f32(b[j]);
            }
            sum
        }

        /// # Safety
        /// The CPU must have AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $l2_avx(a: &[$elem], b: &[$elem]) -> f32 {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= n {
                for (k, lane) in acc.iter_mut().enumerate() {
                    // SAFETY: i + 8k + 8 <= i + 32 <= n, inside both slices.
                    let (x, y) = unsafe { ($load(pa.add(i + 8 * k)), $load(pb.add(i + 8 * k))) };
                    let d = _mm256_sub_ps(x, y);
                    *lane = _mm256_fmadd_ps(d, d, *lane);
                }
                i += 32;
            }
            while i + 8 <= n {
                // SAFETY: i + 8 <= n, inside both slices.
                let (x, y) = unsafe { ($load(pa.add(i)), $load(pb.add(i))) };
                let d = _mm256_sub_ps(x, y);
                acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
                i += 8;
            }
            let mut sum = sum4(acc);
            for j in i..n {
                let d = $to_f32(a[j]) - $to_f32(b[j]);
                sum += d * d;
            }
            sum
        }

        /// # Safety
        /// The CPU must have AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $cos_avx(a: &[$elem], b: &[$elem]) -> CosineSums {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let (mut dot, mut na, mut nb) = (
                [_mm256_setzero_ps(); 2],
                [_mm256_setzero_ps(); 2],
                [_mm256_setzero_ps(); 2],
            );
            let mut i = 0;
            while i + 16 <= n {
                for k in 0..2 {
                    // SAFETY: i + 8k + 8 <= i + 16 <= n, inside both slices.
                    let (x, y) = unsafe { ($load(pa.add(i + 8 * k)), $load(pb.add(i + 8 * k))) };
                    dot[k] = _mm256_fmadd_ps(x, y, dot[k]);
                    na[k] = _mm256_fmadd_ps(x, x, na[k]);
                    nb[k] = _mm256_fmadd_ps(y, y, nb[k]);
                }
                i += 16;
            }
            while i + 8 <= n {
                // SAFETY: i + 8 <= n, inside both slices.
                let (x, y) = unsafe { ($load(pa.add(i)), $load(pb.add(i))) };
                dot[0] = _mm256_fmadd_ps(x, y, dot[0]);
                na[0] = _mm256_fmadd_ps(x, x, na[0]);
                nb[0] = _mm256_fmadd_ps(y, y, nb[0]);
                i += 8;
            }
            let mut sums = CosineSums {
                dot: horizontal_sum(_mm256_add_ps(dot[0], dot[1])),
                norm_a: horizontal_sum(_mm256_add_ps(na[0], na[1])),
                norm_b: horizontal_sum(_mm256_add_ps(nb[0], nb[1])),
            };
            for j in i..n {
                let (x, y) = ($to_f32(a[j]), $to_f32(b[j]));
                sums.dot += x * y;
                sums.norm_a += x * x;
                sums.norm_b += y * y;
            }
            sums
        }

        fn $dot(a: &[$elem], b: &[$elem]) -> f32 {
            // SAFETY: these wrappers are handed out only by `detect`, after checking the CPU.
            unsafe { $dot_avx(a, b) }
        }

        fn $l2(a: &[$elem], b: &[$elem]) -> f32 {
            // SAFETY: as above, only reachable through `detect`.
            unsafe { $l2_avx(a, b) }
        }

        fn $cos(a: &[$elem], b: &[$elem]) -> CosineSums {
            // SAFETY: as above, only reachable through `detect`.
            unsafe { $cos_avx(a, b) }
        }
    };
}

kernels_for!(
    f32,
    load_f32,
    |x: f32| x,
    dot_f32,
    l2_f32,
    cosine_f32,
    dot_f32_avx,
    l2_f32_avx,
    cosine_f32_avx
);
kernels_for!(
    f16,
    load_f16,
    |x: f16| x.to_f32(),
    dot_f16,
    l2_f16,
    cosine_f16,
    dot_f16_avx,
    l2_f16_avx,
    cosine_f16_avx
);
