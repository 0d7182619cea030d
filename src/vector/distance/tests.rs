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
    #[cfg(target_arch = "aarch64")]
    assert_eq!(kernel_name(), "neon");
    #[cfg(target_arch = "x86_64")]
    {
        let simd = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c");
        let expected = if simd { "avx2+fma+f16c" } else { "scalar" };
        assert_eq!(slice_kernel_name(), expected);
        let expected = if std::arch::is_x86_feature_detected!("avx512f") {
            "avx512f"
        } else {
            expected
        };
        assert_eq!(kernel_name(), expected);
    }
}

/// The dispatched kernels and the scalar reference for one element type.
struct KernelSet<T> {
    dot: fn(&[T], &[T]) -> f32,
    l2: fn(&[T], &[T]) -> f32,
    cosine: fn(&[T], &[T]) -> CosineSums,
    scalar_dot: fn(&[T], &[T]) -> f32,
    scalar_l2: fn(&[T], &[T]) -> f32,
    scalar_cosine: fn(&[T], &[T]) -> CosineSums,
}

/// Compares every kernel with its reference at lengths 0-299, at unaligned offsets (as values
/// read from redb pages are).
fn check_against_reference<T: Copy>(seed: u64, convert: fn(f32) -> T, k: KernelSet<T>) {
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0..300 {
        let offset = n % 4;
        let a: Vec<T> = random_f32(&mut rng, n + offset)
            .into_iter()
            .map(convert)
            .collect();
        let b: Vec<T> = random_f32(&mut rng, n + offset)
            .into_iter()
            .map(convert)
            .collect();
        let (a, b) = (&a[offset..], &b[offset..]);
        let eps = epsilon(n);
        assert_relative_eq!((k.dot)(a, b), (k.scalar_dot)(a, b), epsilon = eps);
        assert_relative_eq!((k.l2)(a, b), (k.scalar_l2)(a, b), epsilon = eps);
        let (got, want) = ((k.cosine)(a, b), (k.scalar_cosine)(a, b));
        assert_relative_eq!(got.dot, want.dot, epsilon = eps);
        assert_relative_eq!(got.norm_a, want.norm_a, epsilon = eps);
        assert_relative_eq!(got.norm_b, want.norm_b, epsilon = eps);
    }
}

#[test]
fn f32_kernels_equal_the_scalar_reference_at_every_length_and_offset() {
    let kernels = KernelSet {
        dot: dot_f32,
        l2: l2_squared_f32,
        cosine: cosine_sums_f32,
        scalar_dot: scalar::dot_f32,
        scalar_l2: scalar::l2_squared_f32,
        scalar_cosine: scalar::cosine_f32,
    };
    check_against_reference(1, |x| x, kernels);
}

#[test]
fn f16_kernels_equal_the_scalar_reference_at_every_length_and_offset() {
    let kernels = KernelSet {
        dot: dot_f16,
        l2: l2_squared_f16,
        cosine: cosine_sums_f16,
        scalar_dot: scalar::dot_f16,
        scalar_l2: scalar::l2_squared_f16,
        scalar_cosine: scalar::cosine_f16,
    };
    check_against_reference(2, f16::from_f32, kernels);
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

/// Every query-against-stored kernel set this CPU runs (scalar, AVX2, AVX-512) against the
/// scalar reference, for both element types, at every length 0-299 and at byte offsets 0-3 into
/// the buffer, so most stored vectors are misaligned for their element type.
#[test]
fn stored_kernels_equal_the_scalar_reference_at_every_length_and_byte_offset() {
    let sets = stored_kernel_sets();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_eq!(sets.len(), 3, "scalar, AVX2 and AVX-512 are all tested");
    }
    for set in sets {
        let mut rng = StdRng::seed_from_u64(3);
        for element in [Element::F32, Element::F16] {
            // Miri does not implement the F16C conversion instructions, which `half` itself uses
            // when they are enabled at compile time.
            if cfg!(miri) && element == Element::F16 {
                continue;
            }
            let lengths = if cfg!(miri) { 0..80 } else { 0..300 };
            for n in lengths {
                let offset = n % 4;
                let queries: Vec<Vec<f32>> = (0..1).map(|_| random_f32(&mut rng, n)).collect();
                let values = random_f32(&mut rng, n);
                let mut buffer = vec![0u8; offset];
                element.encode_into(&values, &mut buffer);
                let stored = &buffer[offset..];
                let eps = epsilon(n);
                let q = &queries[0];
                assert_relative_eq!(
                    (set.dot)(q, stored, element),
                    stored_scalar::dot(q, stored, element),
                    epsilon = eps
                );
                assert_relative_eq!(
                    (set.l2)(q, stored, element),
                    stored_scalar::l2_squared(q, stored, element),
                    epsilon = eps
                );
                assert_relative_eq!(
                    (set.norm)(stored, element),
                    stored_scalar::norm_squared(stored, element),
                    epsilon = eps
                );
                // The f32 reference agrees with the plain f32 kernels on decoded values.
                let decoded: Vec<f32> = (0..n)
                    .map(|i| stored_scalar::element_at(stored, element, i))
                    .collect();
                assert_relative_eq!(
                    stored_scalar::dot(q, stored, element),
                    scalar::dot_f32(q, &decoded),
                    epsilon = eps
                );
            }
        }
    }
}

/// The block kernels of every set this CPU runs against the scalar reference, for both element
/// types, at dimensions 0-99 and byte offsets 0-3 into the buffer.
#[test]
fn block_kernels_equal_the_scalar_reference() {
    for set in stored_kernel_sets() {
        let mut rng = StdRng::seed_from_u64(5);
        for element in [Element::F32, Element::F16] {
            if cfg!(miri) && element == Element::F16 {
                continue;
            }
            let dims = if cfg!(miri) { 0..20 } else { 0..100 };
            for dim in dims {
                let offset = dim % 4;
                let queries: Vec<Vec<f32>> = (0..4).map(|_| random_f32(&mut rng, dim)).collect();
                let buffers: Vec<Vec<u8>> = (0..4)
                    .map(|_| {
                        let mut buffer = vec![0u8; offset];
                        element.encode_into(&random_f32(&mut rng, dim * BLOCK_LANES), &mut buffer);
                        buffer
                    })
                    .collect();
                let blocks: Vec<&[u8]> = buffers.iter().map(|b| &b[offset..]).collect();
                let blocks = [blocks[0], blocks[1], blocks[2], blocks[3]];
                let four = [&queries[0][..], &queries[1], &queries[2], &queries[3]];
                let eps = epsilon(dim);
                let got = (set.block_4x4)(four, blocks, element);
                let want4 = block_scalar::block_dots_4x4(four, blocks, element);
                for (g, w) in got
                    .iter()
                    .flatten()
                    .flatten()
                    .zip(want4.iter().flatten().flatten())
                {
                    assert!(
                        (g - w).abs() <= eps,
                        "{} {element:?} dim {dim}: block 4x4 {g} vs {w}",
                        set.name
                    );
                }
                let got = (set.block_1)(&queries[1], blocks[3], element);
                let want = block_scalar::block_dots_1(&queries[1], blocks[3], element);
                for (g, w) in got.iter().zip(want.iter()) {
                    assert!(
                        (g - w).abs() <= eps,
                        "{} {element:?} dim {dim}: block 1 {g} vs {w}",
                        set.name
                    );
                }
                // The reference itself: lane 3 of block 2 is the vector at components 3, 19, 35, ...
                if dim > 0 {
                    let lane: Vec<f32> = (0..dim)
                        .map(|d| stored_scalar::element_at(blocks[2], element, d * BLOCK_LANES + 3))
                        .collect();
                    let direct = scalar::dot_f32(&queries[0], &lane);
                    assert!((want4[0][2][3] - direct).abs() <= eps);
                }
            }
        }
    }
}
