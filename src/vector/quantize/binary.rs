//! Binary codes: one bit per component, set where the component is above the vector's mean
//! (so data that is never negative, such as pixel intensities, still gets informative bits),
//! compared by Hamming distance.

use std::sync::OnceLock;

/// Writes `values`' bits into the front of `words` (bit `i % 64` of word `i / 64` for component
/// `i`) and clears the rest.
///
/// ```
/// let mut words = [u64::MAX; 2];
/// quiver::vector::quantize::binarize(&[3.0, -1.0, 2.0, 0.0], &mut words); // mean 1
/// assert_eq!(words, [0b101, 0]);
/// ```
pub fn binarize(values: &[f32], words: &mut [u64]) {
    words.fill(0);
    if values.is_empty() {
        return;
    }
    let mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64;
    for (i, value) in values.iter().enumerate() {
        if f64::from(*value) > mean
            && let Some(word) = words.get_mut(i / 64)
        {
            *word |= 1 << (i % 64);
        }
    }
}

/// Number of differing bits (extra words of the longer row are ignored): the reference
/// [`hamming`] is checked against.
///
/// ```
/// assert_eq!(quiver::vector::quantize::hamming_scalar(&[0b1011], &[0b0110]), 3);
/// ```
pub fn hamming_scalar(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Number of differing bits, with the CPU's popcount instruction where it has one.
///
/// ```
/// assert_eq!(quiver::vector::quantize::hamming(&[u64::MAX, 1], &[0, 0]), 65);
/// ```
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    kernel()(a, b)
}

type HammingKernel = fn(&[u64], &[u64]) -> u32;

/// Every Hamming kernel this CPU can run, best last.
fn kernels() -> Vec<HammingKernel> {
    #[allow(unused_mut)]
    let mut all: Vec<HammingKernel> = vec![hamming_scalar];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        all.push(hamming_popcnt);
    }
    all
}

fn kernel() -> HammingKernel {
    static CHOSEN: OnceLock<HammingKernel> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let all = kernels();
        all[all.len() - 1]
    })
}

#[cfg(target_arch = "x86_64")]
fn hamming_popcnt(a: &[u64], b: &[u64]) -> u32 {
    /// # Safety
    /// The CPU must have POPCNT.
    #[target_feature(enable = "popcnt")]
    unsafe fn inner(a: &[u64], b: &[u64]) -> u32 {
        // The same loop as the reference; compiled with POPCNT, count_ones is one instruction.
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    }
    // SAFETY: this kernel is only chosen (and only tested) after POPCNT was detected.
    unsafe { inner(a, b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_equals_the_scalar_reference() {
        let words = |len: usize, seed: u64| -> Vec<u64> {
            (0..len as u64)
                .map(|i| {
                    (i ^ seed)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .rotate_left(17)
                })
                .collect()
        };
        for kernel in kernels() {
            for len in 0..40 {
                let (a, b) = (words(len, 3), words(len, 11));
                assert_eq!(kernel(&a, &b), hamming_scalar(&a, &b));
                assert_eq!(kernel(&a, &a), 0);
            }
            assert_eq!(kernel(&[u64::MAX; 6], &[0; 6]), 384);
        }
    }

    #[test]
    fn bits_mark_components_above_the_mean() {
        let values: Vec<f32> = (0..130).map(|i| i as f32).collect(); // mean 64.5
        let mut words = [0u64; 3];
        binarize(&values, &mut words);
        assert_eq!(words[0], 0);
        assert_eq!(words[1], u64::MAX ^ 1); // 65..=127 set, 64 not
        assert_eq!(words[2], 0b11);
        let mut short = [0u64; 1];
        binarize(&values, &mut short); // bits past the words are dropped, no panic
        assert_eq!(short, [0]);
        binarize(&[], &mut short);
        assert_eq!(short, [0]);
    }
}
