//! Scalar reference for the query-against-stored kernels: an f32 query against a stored vector
//! given as little-endian bytes (f32 or f16), at any alignment.

use crate::vector::element::Element;
use half::f16;

/// Element `i` of a stored vector, decoded to f32. `bytes` must hold at least `i + 1` elements.
#[inline]
pub(crate) fn element_at(bytes: &[u8], element: Element, i: usize) -> f32 {
    match element {
        Element::F32 => {
            let b = &bytes[4 * i..4 * i + 4];
            f32::from_le_bytes([b[0], b[1], b[2], b[3]])
        }
        Element::F16 => {
            let b = &bytes[2 * i..2 * i + 2];
            f16::from_le_bytes([b[0], b[1]]).to_f32()
        }
    }
}

/// How many elements the kernels use: the query's length, or fewer if the stored bytes are short.
#[inline]
pub(crate) fn common_len(query: &[f32], bytes: &[u8], element: Element) -> usize {
    query.len().min(bytes.len() / element.size())
}

/// Dot product of the query with the stored vector.
pub(crate) fn dot(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    let n = common_len(query, bytes, element);
    (0..n)
        .map(|i| query[i] * element_at(bytes, element, i))
        .sum()
}

/// Squared Euclidean distance between the query and the stored vector.
pub(crate) fn l2_squared(query: &[f32], bytes: &[u8], element: Element) -> f32 {
    let n = common_len(query, bytes, element);
    (0..n)
        .map(|i| {
            let d = query[i] - element_at(bytes, element, i);
            d * d
        })
        .sum()
}

/// Squared norm of the stored vector.
pub(crate) fn norm_squared(bytes: &[u8], element: Element) -> f32 {
    let n = bytes.len() / element.size();
    (0..n)
        .map(|i| {
            let x = element_at(bytes, element, i);
            x * x
        })
        .sum()
}
