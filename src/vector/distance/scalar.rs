//! Scalar reference kernels: the definition every SIMD kernel is tested against, and the
//! fallback on machines without the instructions.

use super::CosineSums;
use half::f16;

/// Dot product.
///
/// ```
/// assert_eq!(quiver::vector::distance::scalar::dot_f32(&[2.0], &[3.0]), 6.0);
/// ```
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Squared Euclidean distance.
///
/// ```
/// assert_eq!(quiver::vector::distance::scalar::l2_squared_f32(&[1.0], &[3.0]), 4.0);
/// ```
pub fn l2_squared_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Cosine sums.
///
/// ```
/// let s = quiver::vector::distance::scalar::cosine_f32(&[3.0], &[4.0]);
/// assert_eq!((s.dot, s.norm_a, s.norm_b), (12.0, 9.0, 16.0));
/// ```
pub fn cosine_f32(a: &[f32], b: &[f32]) -> CosineSums {
    let mut sums = CosineSums {
        dot: 0.0,
        norm_a: 0.0,
        norm_b: 0.0,
    };
    for (x, y) in a.iter().zip(b) {
        sums.dot += x * y;
        sums.norm_a += x * x;
        sums.norm_b += y * y;
    }
    sums
}

/// Dot product of f16 vectors, in f32.
///
/// ```
/// use half::f16;
/// let a = [f16::from_f32(2.0)];
/// assert_eq!(quiver::vector::distance::scalar::dot_f16(&a, &a), 4.0);
/// ```
pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x.to_f32() * y.to_f32()).sum()
}

/// Squared Euclidean distance of f16 vectors, in f32.
///
/// ```
/// use half::f16;
/// let (a, b) = ([f16::from_f32(1.0)], [f16::from_f32(3.0)]);
/// assert_eq!(quiver::vector::distance::scalar::l2_squared_f16(&a, &b), 4.0);
/// ```
pub fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = x.to_f32() - y.to_f32();
            d * d
        })
        .sum()
}

/// Cosine sums of f16 vectors, in f32.
///
/// ```
/// use half::f16;
/// let a = [f16::from_f32(3.0)];
/// assert_eq!(quiver::vector::distance::scalar::cosine_f16(&a, &a).norm_a, 9.0);
/// ```
pub fn cosine_f16(a: &[f16], b: &[f16]) -> CosineSums {
    let mut sums = CosineSums {
        dot: 0.0,
        norm_a: 0.0,
        norm_b: 0.0,
    };
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.to_f32(), y.to_f32());
        sums.dot += x * y;
        sums.norm_a += x * x;
        sums.norm_b += y * y;
    }
    sums
}
