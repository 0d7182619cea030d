//! Similarity metrics and the checks every input vector passes before anything is written.
//!
//! Every search returns a *distance*: smaller is closer, whatever the metric.
//! - [`Metric::Cosine`]: `1 - cos(q, v)`, in `[0, 2]`. Zero vectors are rejected (no direction).
//! - [`Metric::Dot`]: `-(q . v)`, so the largest inner product comes first.
//! - [`Metric::L2`]: squared Euclidean distance `|q - v|^2` (monotone in the Euclidean distance,
//!   without the square root).

use crate::error::{Error, Result};
use crate::vector::element::Element;
use half::f16;

/// How closeness is measured.
///
/// ```
/// use quiver::vector::Metric;
/// assert_eq!(Metric::Cosine.name(), "cosine");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `1 - cos(q, v)`.
    Cosine,
    /// Negative inner product.
    Dot,
    /// Squared Euclidean distance.
    L2,
}

impl Metric {
    /// Lower-case name.
    ///
    /// ```
    /// assert_eq!(quiver::vector::Metric::L2.name(), "l2");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::L2 => "l2",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::Cosine => 1,
            Metric::Dot => 2,
            Metric::L2 => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Metric> {
        match code {
            1 => Some(Metric::Cosine),
            2 => Some(Metric::Dot),
            3 => Some(Metric::L2),
            _ => None,
        }
    }

    /// The distance given the dot product and both norms (used by the batched scan, which
    /// computes only dot products).
    #[inline(always)]
    pub(crate) fn distance_from_dot(self, dot: f32, query_norm: Norm, stored_norm: Norm) -> f32 {
        match self {
            Metric::Cosine => 1.0 - dot * query_norm.inverse * stored_norm.inverse,
            Metric::Dot => -dot,
            // |q - v|^2 = |q|^2 + |v|^2 - 2 q.v, clamped: rounding can make it slightly negative.
            Metric::L2 => (query_norm.squared + stored_norm.squared - 2.0 * dot).max(0.0),
        }
    }
}

/// A vector's squared norm and inverse norm, computed once (at write time for stored vectors,
/// once per search for queries) so no distance computation takes a square root or divides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Norm {
    pub squared: f32,
    /// `1 / |v|`, or 0 for the zero vector (whose cosine distance to anything is then 1).
    pub inverse: f32,
}

impl Norm {
    pub fn from_squared(squared: f32) -> Norm {
        let inverse = if squared > 0.0 {
            1.0 / squared.sqrt()
        } else {
            0.0
        };
        Norm { squared, inverse }
    }
}

/// The largest norm a stored or query vector may have: 1e18. Two vectors within it are at most
/// 2e18 apart, so squared L2 distances (at most 4e36), dot products and cosine's norms all stay
/// finite in f32 (whose largest value is about 3.4e38); a vector past it is
/// [`Error::InvalidVector`].
///
/// ```
/// assert!(quiver::vector::MAX_NORM > 1e12);
/// ```
pub const MAX_NORM: f32 = 1e18;

/// Checks a vector before it is stored or used as a query: the right length, finite components
/// that the element type can represent, and a non-zero norm under cosine.
///
/// ```
/// use quiver::vector::{check_vector, Element, Metric, MAX_NORM};
/// assert!(check_vector(&[1.0, 0.0], 2, Element::F32, Metric::Cosine).is_ok());
/// assert!(check_vector(&[0.0, 0.0], 2, Element::F32, Metric::Cosine).is_err());
/// assert!(check_vector(&[1.0], 2, Element::F32, Metric::Dot).is_err());
/// assert!(check_vector(&[f32::NAN, 1.0], 2, Element::F32, Metric::Dot).is_err());
/// assert!(check_vector(&[1e6, 1.0], 2, Element::F16, Metric::Dot).is_err());
/// assert!(check_vector(&[MAX_NORM, MAX_NORM], 2, Element::F32, Metric::L2).is_err());
/// ```
pub fn check_vector(vector: &[f32], dim: usize, element: Element, metric: Metric) -> Result<()> {
    if vector.len() != dim {
        return Err(Error::DimensionMismatch {
            expected: dim,
            found: vector.len(),
        });
    }
    let limit = match element {
        Element::F32 => f32::MAX,
        Element::F16 => f16::MAX.to_f32(),
    };
    if let Some((index, value)) = vector
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_finite() || x.abs() > limit)
    {
        let reason = if value.is_finite() {
            format!(
                "component {index} is {value}, outside the range of {}",
                element.name()
            )
        } else {
            format!("component {index} is {value}; components must be finite")
        };
        return Err(Error::InvalidVector(reason));
    }
    // Measured in f64, where the sum of squares of any finite f32 components cannot overflow.
    let norm = vector
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > f64::from(MAX_NORM) {
        return Err(Error::InvalidVector(format!(
            "its norm is {norm:e}, above the bound of {MAX_NORM:e} that keeps every distance finite in f32"
        )));
    }
    if metric == Metric::Cosine && vector.iter().all(|x| *x == 0.0) {
        return Err(Error::InvalidVector(
            "the zero vector has no direction, so cosine is undefined for it".into(),
        ));
    }
    Ok(())
}
