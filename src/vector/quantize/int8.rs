//! Int8 scalar codes: a vector scaled by its own largest magnitude and rounded to
//! `-INT8_LIMIT..=INT8_LIMIT`, and the integer dot product that compares two such rows.

use std::sync::OnceLock;

/// Largest code magnitude. Codes stay off `-128` so that the AVX2 kernel's sign trick (which
/// cannot negate `-128`) and its pairwise 16-bit sums (`2 * 127 * 127 < 32768`) are exact.
pub const INT8_LIMIT: i8 = 127;

/// Writes `values`' int8 codes into the front of `codes` (zeroing the rest) and returns the
/// scale: `values[i]` is about `codes[i] * scale`. A zero vector (or one with a non-finite
/// component) gets zero codes and scale 0.
///
/// ```
/// let mut codes = [9i8; 4];
/// let scale = quiver::vector::quantize::quantize_int8(&[0.5, -1.0, 0.25], &mut codes);
/// assert_eq!(codes, [64, -127, 32, 0]);
/// assert!((scale - 1.0 / 127.0).abs() < 1e-9);
/// ```
pub fn quantize_int8(values: &[f32], codes: &mut [i8]) -> f32 {
    codes.fill(0);
    if values.iter().any(|v| !v.is_finite()) {
        return 0.0;
    }
    let largest = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return 0.0;
    }
    let limit = f32::from(INT8_LIMIT);
    let inverse = limit / largest;
    for (code, value) in codes.iter_mut().zip(values) {
        // The clamp keeps rounding at the extremes inside the limit; `as` then cannot saturate.
        *code = (value * inverse).round().clamp(-limit, limit) as i8;
    }
    largest / limit
}

/// Dot product of two int8 rows (extra elements of the longer one are ignored), the
/// reference [`dot_i8`] is checked against.
///
/// ```
/// assert_eq!(quiver::vector::quantize::dot_i8_scalar(&[1, -2, 3], &[4, 5, -6]), -24);
/// ```
pub fn dot_i8_scalar(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Dot product of two int8 rows of codes in `-127..=127` (as [`quantize_int8`] writes them;
/// a `-128` may give a wrong result, never undefined behaviour). AVX2 where the CPU has it.
///
/// ```
/// assert_eq!(quiver::vector::quantize::dot_i8(&[1, -2, 3], &[4, 5, -6]), -24);
/// ```
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    (kernel().dot)(a, b)
}

/// The int8 kernel this machine uses: `"avx2"` or `"scalar"`.
///
/// ```
/// assert!(!quiver::vector::quantize::int8_kernel_name().is_empty());
/// ```
pub fn int8_kernel_name() -> &'static str {
    kernel().name
}

pub(crate) struct Int8Kernel {
    pub dot: fn(&[i8], &[i8]) -> i32,
    pub name: &'static str,
}

const SCALAR: Int8Kernel = Int8Kernel {
    dot: dot_i8_scalar,
    name: "scalar",
};

/// Every int8 kernel this CPU can run, best last (the tests check each one).
pub(crate) fn kernels() -> Vec<&'static Int8Kernel> {
    #[allow(unused_mut)]
    let mut all = vec![&SCALAR];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        all.push(&super::int8_x86::AVX2);
    }
    all
}

fn kernel() -> &'static Int8Kernel {
    static CHOSEN: OnceLock<&'static Int8Kernel> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let all = kernels();
        all[all.len() - 1]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic codes in `-127..=127`, including both extremes.
    fn codes(len: usize, seed: u32) -> Vec<i8> {
        (0..len as u32)
            .map(|i| {
                let x = i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13;
                ((x % 255) as i32 - 127) as i8
            })
            .collect()
    }

    #[test]
    fn every_kernel_equals_the_scalar_reference() {
        for kernel in kernels() {
            for len in 0..300 {
                for offset in 0..3 {
                    let a = codes(len + offset, 1);
                    let b = codes(len + offset, 77);
                    let (a, b) = (&a[offset..], &b[offset..]);
                    assert_eq!(
                        (kernel.dot)(a, b),
                        dot_i8_scalar(a, b),
                        "{} {len}",
                        kernel.name
                    );
                }
            }
            let extreme = vec![127i8; 4096];
            let negative = vec![-127i8; 4096];
            assert_eq!((kernel.dot)(&extreme, &negative), -127 * 127 * 4096);
            assert_eq!((kernel.dot)(&negative, &negative), 127 * 127 * 4096);
        }
    }

    #[test]
    fn quantized_dot_approximates_the_real_one() {
        let a: Vec<f32> = (0..384)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 61.0)
            .collect();
        let b: Vec<f32> = (0..384)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 47.0)
            .collect();
        let (mut ca, mut cb) = (vec![0i8; 384], vec![0i8; 384]);
        let (sa, sb) = (quantize_int8(&a, &mut ca), quantize_int8(&b, &mut cb));
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let approx = dot_i8(&ca, &cb) as f32 * sa * sb;
        let norms: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt()
            * b.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((approx - exact).abs() < 0.01 * norms, "{approx} vs {exact}");
        assert!(ca.iter().all(|c| *c >= -INT8_LIMIT));
        assert!(ca.contains(&INT8_LIMIT) || ca.contains(&-INT8_LIMIT));
    }

    #[test]
    fn degenerate_vectors_get_zero_codes() {
        let mut codes = [5i8; 3];
        assert_eq!(quantize_int8(&[0.0, 0.0], &mut codes), 0.0);
        assert_eq!(codes, [0, 0, 0]);
        assert_eq!(quantize_int8(&[1.0, f32::NAN], &mut codes), 0.0);
        assert_eq!(quantize_int8(&[1.0, f32::INFINITY], &mut codes), 0.0);
        assert_eq!(quantize_int8(&[], &mut []), 0.0);
    }
}
