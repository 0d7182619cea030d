//! The AVX2 int8 dot product: 32 codes per step. `maddubs` multiplies unsigned by signed bytes
//! and adds pairs into 16 bits, so the first row's signs are moved onto the second
//! (`|a| * (b * sign(a))` is `a * b`), and `madd` with ones widens the pairs to 32 bits.

use super::int8::Int8Kernel;
use std::arch::x86_64::{
    _mm_add_epi32, _mm_cvtsi128_si32, _mm_shuffle_epi32, _mm256_add_epi32, _mm256_castsi256_si128,
    _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_maddubs_epi16,
    _mm256_set1_epi16, _mm256_setzero_si256, _mm256_sign_epi8,
};

pub(crate) const AVX2: Int8Kernel = Int8Kernel { dot, name: "avx2" };

fn dot(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: this kernel is only chosen (and only tested) after AVX2 was detected.
    unsafe { dot_avx2(a, b) }
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[i8], b: &[i8]) -> i32 {
    let len = a.len().min(b.len());
    let whole = len / 32 * 32;
    let ones = _mm256_set1_epi16(1);
    let mut sums = _mm256_setzero_si256();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 32 <= whole <= len, so both loads read inside the slices; loadu has no
        // alignment demand.
        let (x, y) = unsafe {
            (
                _mm256_loadu_si256(a.as_ptr().add(i).cast()),
                _mm256_loadu_si256(b.as_ptr().add(i).cast()),
            )
        };
        let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
        sums = _mm256_add_epi32(sums, _mm256_madd_epi16(pairs, ones));
        i += 32;
    }
    let half = _mm_add_epi32(
        _mm256_castsi256_si128(sums),
        _mm256_extracti128_si256::<1>(sums),
    );
    let quarter = _mm_add_epi32(half, _mm_shuffle_epi32::<0b01_00_11_10>(half));
    let total = _mm_add_epi32(quarter, _mm_shuffle_epi32::<0b10_11_00_01>(quarter));
    _mm_cvtsi128_si32(total) + super::int8::dot_i8_scalar(&a[whole..len], &b[whole..len])
}
