//! IDX files (MNIST, Fashion-MNIST): two zero bytes, a type code (`0x08` for unsigned bytes), the
//! number of dimensions, each dimension as a big-endian `u32`, then the values. The first
//! dimension is the row count; the others multiply into the row length (28 x 28 images become
//! 784-value rows). Only unsigned-byte files are read.

use super::{MAX_DIM, Matrix, malformed};
use crate::error::Result;
use std::path::Path;

/// Parses an unsigned-byte IDX file (already decompressed).
///
/// ```
/// // Two 2x2 images.
/// let mut bytes = vec![0, 0, 0x08, 3];
/// for d in [2u32, 2, 2] { bytes.extend(d.to_be_bytes()); }
/// bytes.extend([1u8, 2, 3, 4, 5, 6, 7, 8]);
/// let m = quiver::datasets::idx::parse_u8(&bytes, "images.idx".as_ref())?;
/// assert_eq!((m.rows(), m.dim()), (2, 4));
/// assert_eq!(m.row(1), &[5, 6, 7, 8]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_u8(bytes: &[u8], path: &Path) -> Result<Matrix<u8>> {
    let header = bytes
        .get(..4)
        .ok_or_else(|| malformed(path, "shorter than the IDX magic"))?;
    if header[..2] != [0, 0] {
        return Err(malformed(path, "no IDX magic"));
    }
    if header[2] != 0x08 {
        return Err(malformed(
            path,
            format!(
                "type code {:#04x}: only unsigned bytes (0x08) are read",
                header[2]
            ),
        ));
    }
    let dims = usize::from(header[3]);
    if dims == 0 {
        return Err(malformed(path, "zero dimensions"));
    }
    let sizes: Vec<usize> = (0..dims)
        .map(|i| {
            let at = 4 + 4 * i;
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or_else(|| malformed(path, "truncated dimension sizes"))
        })
        .collect::<Result<_>>()?;
    let rows = sizes[0];
    let dim = sizes[1..]
        .iter()
        .try_fold(1usize, |acc, s| acc.checked_mul(*s))
        .filter(|d| (1..=MAX_DIM).contains(d))
        .ok_or_else(|| malformed(path, format!("row size from dimensions {sizes:?}")))?;
    let body = &bytes[4 + 4 * dims..];
    if Some(body.len()) != rows.checked_mul(dim) {
        return Err(malformed(
            path,
            format!(
                "dimensions {sizes:?} need {} bytes, found {}",
                rows.saturating_mul(dim),
                body.len()
            ),
        ));
    }
    Matrix::new(dim, body.to_vec()).ok_or_else(|| malformed(path, "inconsistent rows"))
}
