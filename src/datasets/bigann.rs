//! big-ann-benchmarks binary files (`.fbin`, `.u8bin`, `.ibin`): a little-endian `u32` row count,
//! a `u32` dimension, then `rows * dim` values (`f32`, `u8`, `i32`). The file must hold exactly
//! that many values.

use super::{MAX_DIM, Matrix, malformed};
use crate::error::Result;
use std::path::Path;

fn parse<T>(
    bytes: &[u8],
    path: &Path,
    size: usize,
    decode: impl Fn(&[u8]) -> T,
) -> Result<Matrix<T>> {
    let header = bytes
        .get(..8)
        .ok_or_else(|| malformed(path, "shorter than the 8-byte header"))?;
    let rows = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let dim = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if !(1..=MAX_DIM).contains(&dim) {
        return Err(malformed(path, format!("dimension {dim}")));
    }
    let expected = rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| malformed(path, format!("{rows} rows of {dim} overflow")))?;
    let body = &bytes[8..];
    if body.len() != expected {
        return Err(malformed(
            path,
            format!(
                "{rows} rows of {dim} need {expected} bytes after the header, found {}",
                body.len()
            ),
        ));
    }
    let data = body.chunks_exact(size).map(decode).collect();
    Matrix::new(dim, data).ok_or_else(|| malformed(path, "inconsistent rows"))
}

/// Parses `.fbin` bytes.
///
/// ```
/// let mut bytes = [1u32.to_le_bytes(), 2u32.to_le_bytes()].concat();
/// bytes.extend([0.5f32.to_le_bytes(), 1.5f32.to_le_bytes()].concat());
/// assert_eq!(quiver::datasets::bigann::parse_fbin(&bytes, "a.fbin".as_ref())?.row(0), &[0.5, 1.5]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_fbin(bytes: &[u8], path: &Path) -> Result<Matrix<f32>> {
    parse(bytes, path, 4, |b| {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

/// Parses `.u8bin` bytes.
///
/// ```
/// let mut bytes = [2u32.to_le_bytes(), 1u32.to_le_bytes()].concat();
/// bytes.extend([7u8, 9]);
/// assert_eq!(quiver::datasets::bigann::parse_u8bin(&bytes, "a.u8bin".as_ref())?.row(1), &[9]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_u8bin(bytes: &[u8], path: &Path) -> Result<Matrix<u8>> {
    parse(bytes, path, 1, |b| b[0])
}

/// Parses `.ibin` bytes (ground truth ids).
///
/// ```
/// let mut bytes = [1u32.to_le_bytes(), 1u32.to_le_bytes()].concat();
/// bytes.extend(3i32.to_le_bytes());
/// assert_eq!(quiver::datasets::bigann::parse_ibin(&bytes, "gt.ibin".as_ref())?.row(0), &[3]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_ibin(bytes: &[u8], path: &Path) -> Result<Matrix<i32>> {
    parse(bytes, path, 4, |b| {
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

/// Reads an `.fbin` file.
///
/// ```no_run
/// let base = quiver::datasets::bigann::read_fbin("text2image/base.1M.fbin")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_fbin(path: impl AsRef<Path>) -> Result<Matrix<f32>> {
    parse_fbin(&std::fs::read(path.as_ref())?, path.as_ref())
}

/// Reads a `.u8bin` file.
///
/// ```no_run
/// let base = quiver::datasets::bigann::read_u8bin("bigann/base.1B.u8bin")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_u8bin(path: impl AsRef<Path>) -> Result<Matrix<u8>> {
    parse_u8bin(&std::fs::read(path.as_ref())?, path.as_ref())
}

/// Reads an `.ibin` file.
///
/// ```no_run
/// let truth = quiver::datasets::bigann::read_ibin("text2image/gt.ibin")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_ibin(path: impl AsRef<Path>) -> Result<Matrix<i32>> {
    parse_ibin(&std::fs::read(path.as_ref())?, path.as_ref())
}

/// Neighbour ids and distances of a big-ann-benchmarks ground-truth `.bin` file.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// `queries x k` neighbour ids, nearest first.
    pub ids: Matrix<i32>,
    /// Their distances.
    pub distances: Matrix<f32>,
}

/// Parses a ground-truth `.bin`: `u32` queries, `u32` k, then `queries * k` `i32` ids, then as
/// many `f32` distances.
///
/// ```
/// let mut bytes = [1u32.to_le_bytes(), 2u32.to_le_bytes()].concat();
/// bytes.extend([4i32.to_le_bytes(), 9i32.to_le_bytes()].concat());
/// bytes.extend([0.5f32.to_le_bytes(), 0.75f32.to_le_bytes()].concat());
/// let truth = quiver::datasets::bigann::parse_groundtruth(&bytes, "gt.bin".as_ref())?;
/// assert_eq!(truth.ids.row(0), &[4, 9]);
/// assert_eq!(truth.distances.row(0), &[0.5, 0.75]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse_groundtruth(bytes: &[u8], path: &Path) -> Result<GroundTruth> {
    let header = bytes
        .get(..8)
        .ok_or_else(|| malformed(path, "shorter than the 8-byte header"))?;
    let rows = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let k = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if !(1..=MAX_DIM).contains(&k) {
        return Err(malformed(path, format!("k = {k}")));
    }
    let half = rows
        .checked_mul(k)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| malformed(path, format!("{rows} rows of {k} overflow")))?;
    let body = &bytes[8..];
    if Some(body.len()) != half.checked_mul(2) {
        return Err(malformed(
            path,
            format!(
                "{rows} rows of {k} ids and distances need {} bytes, found {}",
                half.saturating_mul(2),
                body.len()
            ),
        ));
    }
    let (ids, distances) = body.split_at(half);
    let ids = ids
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let distances = distances
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    match (Matrix::new(k, ids), Matrix::new(k, distances)) {
        (Some(ids), Some(distances)) => Ok(GroundTruth { ids, distances }),
        _ => Err(malformed(path, "inconsistent rows")),
    }
}

/// Reads a ground-truth `.bin` file.
///
/// ```no_run
/// let truth = quiver::datasets::bigann::read_groundtruth("text2image/gt100-public.bin")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_groundtruth(path: impl AsRef<Path>) -> Result<GroundTruth> {
    parse_groundtruth(&std::fs::read(path.as_ref())?, path.as_ref())
}
