//! TEXMEX vector files (`.fvecs`, `.ivecs`, `.bvecs`, as in SIFT1M and GIST1M): every row is a
//! little-endian `i32` dimension followed by that many values (`f32`, `i32` or `u8`). All rows of
//! a file must have the same dimension.

use super::{MAX_DIM, Matrix, malformed};
use crate::error::Result;
use std::path::Path;

/// Parses the rows of a TEXMEX file whose values are `size` bytes, decoded by `decode`.
fn parse<T>(
    bytes: &[u8],
    path: &Path,
    size: usize,
    decode: impl Fn(&[u8]) -> T,
) -> Result<Matrix<T>> {
    let mut data = Vec::new();
    let mut dim = None;
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 4)
            .ok_or_else(|| malformed(path, format!("truncated row header at byte {at}")))?;
        let row_dim = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let row_dim = usize::try_from(row_dim)
            .ok()
            .filter(|d| (1..=MAX_DIM).contains(d))
            .ok_or_else(|| malformed(path, format!("row at byte {at} has dimension {row_dim}")))?;
        match dim {
            None => dim = Some(row_dim),
            Some(d) if d != row_dim => {
                return Err(malformed(
                    path,
                    format!("row at byte {at} has dimension {row_dim}, earlier rows {d}"),
                ));
            }
            Some(_) => {}
        }
        let values = bytes
            .get(at + 4..at + 4 + row_dim * size)
            .ok_or_else(|| malformed(path, format!("truncated row at byte {at}")))?;
        data.extend(values.chunks_exact(size).map(&decode));
        at += 4 + row_dim * size;
    }
    Matrix::new(dim.unwrap_or(0), data).ok_or_else(|| malformed(path, "inconsistent rows"))
}

/// Parses `.fvecs` bytes (`path` only names the source in errors).
///
/// ```
/// let mut bytes = 2i32.to_le_bytes().to_vec();
/// bytes.extend(1.5f32.to_le_bytes());
/// bytes.extend(2.5f32.to_le_bytes());
/// let m = quiver::datasets::texmex::parse_fvecs(&bytes, "a.fvecs".as_ref())?;
/// assert_eq!(m.row(0), &[1.5, 2.5]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_fvecs(bytes: &[u8], path: &Path) -> Result<Matrix<f32>> {
    parse(bytes, path, 4, |b| {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

/// Parses `.ivecs` bytes (ground-truth neighbour ids).
///
/// ```
/// let mut bytes = 1i32.to_le_bytes().to_vec();
/// bytes.extend(42i32.to_le_bytes());
/// assert_eq!(quiver::datasets::texmex::parse_ivecs(&bytes, "gt.ivecs".as_ref())?.row(0), &[42]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_ivecs(bytes: &[u8], path: &Path) -> Result<Matrix<i32>> {
    parse(bytes, path, 4, |b| {
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

/// Parses `.bvecs` bytes (byte vectors, as in SIFT1B).
///
/// ```
/// let mut bytes = 3i32.to_le_bytes().to_vec();
/// bytes.extend([1u8, 2, 3]);
/// assert_eq!(quiver::datasets::texmex::parse_bvecs(&bytes, "a.bvecs".as_ref())?.row(0), &[1, 2, 3]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_bvecs(bytes: &[u8], path: &Path) -> Result<Matrix<u8>> {
    parse(bytes, path, 1, |b| b[0])
}

/// Reads a `.fvecs` file.
///
/// ```no_run
/// let base = quiver::datasets::texmex::read_fvecs("sift/sift_base.fvecs")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_fvecs(path: impl AsRef<Path>) -> Result<Matrix<f32>> {
    parse_fvecs(&std::fs::read(path.as_ref())?, path.as_ref())
}

/// Reads an `.ivecs` file.
///
/// ```no_run
/// let truth = quiver::datasets::texmex::read_ivecs("sift/sift_groundtruth.ivecs")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_ivecs(path: impl AsRef<Path>) -> Result<Matrix<i32>> {
    parse_ivecs(&std::fs::read(path.as_ref())?, path.as_ref())
}

/// Reads a `.bvecs` file.
///
/// ```no_run
/// let base = quiver::datasets::texmex::read_bvecs("bigann/bigann_query.bvecs")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_bvecs(path: impl AsRef<Path>) -> Result<Matrix<u8>> {
    parse_bvecs(&std::fs::read(path.as_ref())?, path.as_ref())
}
