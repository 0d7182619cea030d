//! NumPy `.npy` files (format versions 1.0 to 3.0): the magic `\x93NUMPY`, a version, a header
//! length, a Python-literal header (`{'descr': '<f2', 'fortran_order': False, 'shape': (n, d), }`),
//! then the raw array. Little-endian `f4`, `f2`, `i4` and `u1`, C order, one or two dimensions.

use super::{MAX_DIM, Matrix, malformed};
use crate::error::Result;
use half::f16;
use std::path::Path;

/// An array read from a `.npy` file, by element type.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyArray {
    /// `<f4`.
    F32(Matrix<f32>),
    /// `<f2`.
    F16(Matrix<f16>),
    /// `<i4`.
    I32(Matrix<i32>),
    /// `|u1`.
    U8(Matrix<u8>),
}

impl NpyArray {
    /// Rows and columns (a one-dimensional array is one column).
    ///
    /// ```
    /// # let bytes = quiver::datasets::npy::to_bytes_f32(&[1.0, 2.0], 2);
    /// let array = quiver::datasets::npy::parse(&bytes, "a.npy".as_ref())?;
    /// assert_eq!(array.shape(), (1, 2));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn shape(&self) -> (usize, usize) {
        match self {
            NpyArray::F32(m) => (m.rows(), m.dim()),
            NpyArray::F16(m) => (m.rows(), m.dim()),
            NpyArray::I32(m) => (m.rows(), m.dim()),
            NpyArray::U8(m) => (m.rows(), m.dim()),
        }
    }

    /// The values as f32 (integers converted exactly up to 2^24), for vectors of any type.
    ///
    /// ```
    /// # let bytes = quiver::datasets::npy::to_bytes_f32(&[1.0, 2.0], 1);
    /// let array = quiver::datasets::npy::parse(&bytes, "a.npy".as_ref())?;
    /// assert_eq!(array.into_f32().row(1), &[2.0]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn into_f32(self) -> Matrix<f32> {
        match self {
            NpyArray::F32(m) => m,
            NpyArray::F16(m) => m.map(|x| x.to_f32()),
            NpyArray::I32(m) => m.map(|x| *x as f32),
            NpyArray::U8(m) => m.map(|x| f32::from(*x)),
        }
    }

    /// The values as i32, if the array holds integers (for ground-truth ids).
    ///
    /// ```
    /// # let bytes = quiver::datasets::npy::to_bytes_f32(&[1.0], 1);
    /// let array = quiver::datasets::npy::parse(&bytes, "a.npy".as_ref())?;
    /// assert!(array.into_i32().is_none());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn into_i32(self) -> Option<Matrix<i32>> {
        match self {
            NpyArray::I32(m) => Some(m),
            NpyArray::U8(m) => Some(m.map(|x| i32::from(*x))),
            NpyArray::F32(_) | NpyArray::F16(_) => None,
        }
    }
}

/// The value of `key` in the header dictionary, up to the next top-level comma or brace.
fn header_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        let end = rest.find(')')?;
        Some(&rest[..=end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

/// Parses `.npy` bytes.
///
/// ```
/// let bytes = quiver::datasets::npy::to_bytes_f32(&[1.0, 2.0, 3.0, 4.0], 2);
/// let array = quiver::datasets::npy::parse(&bytes, "a.npy".as_ref())?;
/// assert_eq!(array.shape(), (2, 2));
/// assert!(quiver::datasets::npy::parse(b"not numpy", "b.npy".as_ref()).is_err());
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn parse(bytes: &[u8], path: &Path) -> Result<NpyArray> {
    if bytes.get(..6) != Some(b"\x93NUMPY".as_slice()) {
        return Err(malformed(path, "no NumPy magic"));
    }
    let major = *bytes
        .get(6)
        .ok_or_else(|| malformed(path, "truncated version"))?;
    let (header_len, header_start): (usize, usize) = match major {
        1 => {
            let b = bytes
                .get(8..10)
                .ok_or_else(|| malformed(path, "truncated header length"))?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 10)
        }
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| malformed(path, "truncated header length"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        other => {
            return Err(malformed(
                path,
                format!("format version {other} is not supported"),
            ));
        }
    };
    let header_end = header_start
        .checked_add(header_len)
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| malformed(path, "truncated header"))?;
    let header = std::str::from_utf8(&bytes[header_start..header_end])
        .map_err(|_| malformed(path, "header is not text"))?;
    let descr = header_value(header, "descr")
        .ok_or_else(|| malformed(path, "header has no 'descr'"))?
        .trim_matches(['\'', '"']);
    if header_value(header, "fortran_order") != Some("False") {
        return Err(malformed(path, "only C-order arrays are supported"));
    }
    let shape =
        header_value(header, "shape").ok_or_else(|| malformed(path, "header has no 'shape'"))?;
    let dims: Vec<usize> = shape
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| malformed(path, format!("shape {shape}")))
        })
        .collect::<Result<_>>()?;
    let (rows, dim) = match dims[..] {
        [n] => (n, 1),
        [n, d] => (n, d),
        _ => {
            return Err(malformed(
                path,
                format!("shape {shape}: only 1 or 2 dimensions are supported"),
            ));
        }
    };
    if dim == 0 || dim > MAX_DIM {
        return Err(malformed(path, format!("shape {shape}")));
    }
    let size = match descr {
        "<f4" => 4,
        "<f2" => 2,
        "<i4" => 4,
        "|u1" | "<u1" => 1,
        other => {
            return Err(malformed(
                path,
                format!("element type {other} is not supported"),
            ));
        }
    };
    let body = &bytes[header_end..];
    let expected = rows.checked_mul(dim).and_then(|n| n.checked_mul(size));
    if expected != Some(body.len()) {
        return Err(malformed(
            path,
            format!(
                "shape {shape} of {descr} needs {expected:?} bytes, found {}",
                body.len()
            ),
        ));
    }
    let array = match descr {
        "<f4" => Matrix::new(
            dim,
            body.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
        .map(NpyArray::F32),
        "<f2" => Matrix::new(
            dim,
            body.chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]))
                .collect(),
        )
        .map(NpyArray::F16),
        "<i4" => Matrix::new(
            dim,
            body.chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
        .map(NpyArray::I32),
        _ => Matrix::new(dim, body.to_vec()).map(NpyArray::U8),
    };
    array.ok_or_else(|| malformed(path, "inconsistent rows"))
}

/// Reads a `.npy` file.
///
/// ```no_run
/// let base = quiver::datasets::npy::read("../shared/datasets/wordnet-minilm/base_f16.npy")?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<NpyArray> {
    parse(&std::fs::read(path.as_ref())?, path.as_ref())
}

/// Writes `values` (rows of `dim`) as a version 1.0 `.npy` of `<f4` (for tests and tools).
///
/// ```
/// let bytes = quiver::datasets::npy::to_bytes_f32(&[1.0; 6], 3);
/// assert_eq!(quiver::datasets::npy::parse(&bytes, "a.npy".as_ref())?.shape(), (2, 3));
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn to_bytes_f32(values: &[f32], dim: usize) -> Vec<u8> {
    to_bytes(
        "<f4",
        values.len(),
        dim,
        values.iter().flat_map(|x| x.to_le_bytes()),
    )
}

/// Writes `values` (rows of `dim`) as a version 1.0 `.npy` of `<i4` (ground-truth ids).
///
/// ```
/// let bytes = quiver::datasets::npy::to_bytes_i32(&[7, 8, 9, 10], 2);
/// let array = quiver::datasets::npy::parse(&bytes, "a.npy".as_ref())?;
/// assert_eq!(array.into_i32().map(|m| m.row(1).to_vec()), Some(vec![9, 10]));
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn to_bytes_i32(values: &[i32], dim: usize) -> Vec<u8> {
    to_bytes(
        "<i4",
        values.len(),
        dim,
        values.iter().flat_map(|x| x.to_le_bytes()),
    )
}

/// A version 1.0 header for `len` values in rows of `dim` of type `descr`, then the data.
fn to_bytes(descr: &str, len: usize, dim: usize, data: impl Iterator<Item = u8>) -> Vec<u8> {
    let rows = len / dim.max(1);
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    // Pad so that the data starts on a multiple of 64 bytes, ending with a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}
