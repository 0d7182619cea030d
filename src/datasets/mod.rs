//! Readers for the file formats of approximate-nearest-neighbour datasets, and recall.
//!
//! - TEXMEX `.fvecs` / `.ivecs` / `.bvecs` ([`texmex`]): each row is a little-endian `i32`
//!   dimension followed by that many `f32`, `i32` or `u8` values.
//! - NumPy `.npy` ([`npy`]): format versions 1 to 3, little-endian `f4`, `f2` or `i4` (and `u1`),
//!   C order, one or two dimensions.
//! - big-ann-benchmarks `.fbin` / `.u8bin` / `.ibin` ([`bigann`]): a `u32` row count and a `u32`
//!   dimension, then the rows.
//! - IDX (MNIST, Fashion-MNIST; [`idx`]): unsigned-byte arrays with big-endian dimensions.
//! - ann-benchmarks HDF5 (`hdf5`, behind the cargo feature `hdf5`): `train`, `test`,
//!   `neighbors`, `distances` and the `distance` attribute.
//!
//! Every reader checks what it reads (magic, header, dimension, that the file holds exactly the
//! rows it announces) and returns [`Error::MalformedDataset`]
//! otherwise; no input makes it panic. [`recall`] computes recall the ann-benchmarks way.

pub mod bigann;
#[cfg(feature = "hdf5")]
pub mod hdf5;
pub mod idx;
mod matrix;
pub mod npy;
pub mod recall;
pub mod texmex;

pub use matrix::Matrix;

use crate::error::Error;
use std::path::Path;

/// The largest dimension a reader accepts (guards against reading garbage as a huge size).
pub const MAX_DIM: usize = 1 << 20;

pub(crate) fn malformed(path: &Path, reason: impl Into<String>) -> Error {
    Error::MalformedDataset {
        path: path.to_owned(),
        reason: reason.into(),
    }
}
