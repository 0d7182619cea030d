//! The dispatched kernels against the scalar reference.

use super::*;
use approx::assert_relative_eq;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random_f32(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Tolerance for sums of `n` products: float error grows with the length.
fn epsilon(n: usize) -> f32 {
    1e-5 * (n as f32 + 1.0)
}

#[test]
fn this_machine_runs_the_simd_kernels_when_it_can() {
    #[cfg(target_arch = "x86_64")]
    {
        let simd = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c");
        let expected = if simd { "avx2+fma+f16c" } else { "scalar" };
        assert_eq!(kernel_name(), expected);
    }
}

#[test]
fn f32_kernels_equal_the_scalar_reference_at_every_length_and_offset() {
    let mut rng = StdRng::seed_from_u64(1);
    for n in 0..300 {
        // Offsets make the slices unaligned, as values read from redb pages are.
        let offset = n % 4;
        let a = random_f32(&mut rng, n + offset);
        let b = random_f32(&mut rng, n + offset);
        let (a, b) = (&a[offset..], &b[offset..]);
        let eps = epsilon(n);
        assert_relative_eq!(dot_f32(a, b), scalar::dot_f32(a, b), epsilon = eps);
        assert_relative_eq!(
            l2_squared_f32(a, b),
            scalar::l2_squared_f32(a, b),
            epsilon = eps
        );
        let (got, want) = (cosine_sums_f32(a, b), scalar::cosine_f32(a, b));
        assert_relative_eq!(got.dot, want.dot, epsilon = eps);
        assert_relative_eq!(got.norm_a, want.norm_a, epsilon = eps);
        assert_relative_eq!(got.norm_b, want.norm_b, epsilon = eps);
    }
}

#[test]
fn f16_kernels_equal_the_scalar_reference_at_every_length_and_offset() {
    let mut rng = StdRng::seed_from_u64(2);
    for n in 0..300 {
        let offset = n % 3;
        let a: Vec<f16> = random_f32(&mut rng, n + offset)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let b: Vec<f16> = random_f32(&mut rng, n + offset)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let (a, b) = (&a[offset..], &b[offset..]);
        let eps = epsilon(n);
        assert_relative_eq!(dot_f16(a, b), scalar::dot_f16(a, b), epsilon = eps);
        assert_relative_eq!(
            l2_squared_f16(a, b),
            scalar::l2_squared_f16(a, b),
            epsilon = eps
        );
        let (got, want) = (cosine_sums_f16(a, b), scalar::cosine_f16(a, b));
        assert_relative_eq!(got.dot, want.dot, epsilon = eps);
        assert_relative_eq!(got.norm_a, want.norm_a, epsilon = eps);
        assert_relative_eq!(got.norm_b, want.norm_b, epsilon = eps);
    }
}

#[test]
fn distances_have_the_expected_values_on_known_vectors() {
    let a = [1.0f32; 384];
    let mut b = [0.0f32; 384];
    b[0] = 2.0;
    assert_relative_eq!(dot_f32(&a, &b), 2.0);
    assert_relative_eq!(l2_squared_f32(&a, &a), 0.0);
    assert_relative_eq!(l2_squared_f32(&a, &b), 383.0 + 1.0);
    assert_relative_eq!(cosine_distance_f32(&a, &a), 0.0, epsilon = 1e-6);
    let expected = 1.0 - 2.0 / (384f32.sqrt() * 2.0);
    assert_relative_eq!(cosine_distance_f32(&a, &b), expected, epsilon = 1e-6);
    assert_eq!(
        cosine_distance_f32(&a, &[0.0; 384]),
        1.0,
        "a zero vector is maximally distant"
    );
    // Mismatched lengths use the common prefix.
    assert_relative_eq!(dot_f32(&a[..10], &a), 10.0);
}
