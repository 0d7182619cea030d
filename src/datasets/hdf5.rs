//! ann-benchmarks HDF5 files (feature `hdf5`): datasets `train` and `test` (vectors), `neighbors`
//! (exact neighbour ids per test vector, nearest first) and `distances` (their distances), and the
//! file attribute `distance` (`euclidean`, `angular`, ...).
//!
//! Read with `hdf5-pure`, a pure-Rust HDF5 implementation, so the feature needs no system
//! library. Every dataset must be two-dimensional; `train` and `test` must agree on the
//! dimension, `neighbors` and `distances` on their shape and on the number of test vectors.
//! Anything else is [`Error::MalformedDataset`](crate::Error::MalformedDataset).

use super::{MAX_DIM, Matrix, malformed};
use crate::error::Result;
use std::path::Path;

/// The contents of an ann-benchmarks HDF5 file.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnBenchmarks {
    /// The base vectors.
    pub train: Matrix<f32>,
    /// The query vectors.
    pub test: Matrix<f32>,
    /// Per query, the ids (rows of `train`) of its exact nearest neighbours, nearest first.
    pub neighbors: Matrix<i32>,
    /// Per query, the distances of those neighbours (in the file's own units: `euclidean` is the
    /// plain, not squared, distance; `angular` is one minus the cosine).
    pub distances: Matrix<f32>,
    /// The file's `distance` attribute.
    pub distance: String,
}

/// Reads an ann-benchmarks HDF5 file.
///
/// ```no_run
/// let data = quiver::datasets::hdf5::read_ann_benchmarks("fashion-mnist-784-euclidean.hdf5")?;
/// assert_eq!(data.train.dim(), data.test.dim());
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn read_ann_benchmarks(path: impl AsRef<Path>) -> Result<AnnBenchmarks> {
    let path = path.as_ref();
    parse_ann_benchmarks(std::fs::read(path)?, path)
}

/// Parses the bytes of an ann-benchmarks HDF5 file (`path` names it in errors).
///
/// ```
/// let bad = quiver::datasets::hdf5::parse_ann_benchmarks(b"not hdf5".to_vec(), "a.hdf5".as_ref());
/// assert!(matches!(bad, Err(quiver::Error::MalformedDataset { .. })));
/// ```
pub fn parse_ann_benchmarks(bytes: Vec<u8>, path: &Path) -> Result<AnnBenchmarks> {
    // hdf5-pure returns errors for the malformed files we tried, but some corrupt headers make it
    // overflow arithmetic (a panic in debug builds). The shapes are checked before any read (see
    // `matrix`); this boundary turns whatever else slips through into a typed error, so that no
    // input file can panic a caller.
    std::panic::catch_unwind(|| parse_unguarded(bytes, path)).unwrap_or_else(|_| {
        Err(malformed(
            path,
            "the HDF5 parser failed on this file (corrupt metadata)",
        ))
    })
}

fn parse_unguarded(bytes: Vec<u8>, path: &Path) -> Result<AnnBenchmarks> {
    let file_len = bytes.len() as u64;
    let file = hdf5_pure::File::from_bytes(bytes).map_err(|e| malformed(path, e.to_string()))?;
    let distance = match file
        .root()
        .attrs()
        .map_err(|e| malformed(path, e.to_string()))?
        .get("distance")
    {
        Some(hdf5_pure::AttrValue::String(s) | hdf5_pure::AttrValue::AsciiString(s)) => s.clone(),
        Some(other) => {
            return Err(malformed(
                path,
                format!("attribute \"distance\" is not a string: {other:?}"),
            ));
        }
        None => return Err(malformed(path, "no \"distance\" attribute")),
    };
    let read = |name: &str| -> Result<Matrix<f32>> {
        matrix(&file, name, path, file_len, |d| d.read_f32())
    };
    let (train, test, distances) = (read("train")?, read("test")?, read("distances")?);
    let neighbors = matrix(&file, "neighbors", path, file_len, |d| d.read_i32())?;
    if train.dim() != test.dim() {
        return Err(malformed(
            path,
            format!("train has {} components, test {}", train.dim(), test.dim()),
        ));
    }
    let (rows, k) = (neighbors.rows(), neighbors.dim());
    if (distances.rows(), distances.dim()) != (rows, k) || rows != test.rows() {
        return Err(malformed(
            path,
            format!(
                "neighbors is {rows} x {k}, distances {} x {}, for {} test vectors",
                distances.rows(),
                distances.dim(),
                test.rows()
            ),
        ));
    }
    if let Some(id) = neighbors
        .as_slice()
        .iter()
        .find(|id| usize::try_from(**id).map_or(true, |id| id >= train.rows()))
    {
        return Err(malformed(
            path,
            format!(
                "neighbour id {id} is not a row of train ({} rows)",
                train.rows()
            ),
        ));
    }
    Ok(AnnBenchmarks {
        train,
        test,
        neighbors,
        distances,
        distance,
    })
}

/// Elements a dataset may hold per byte of the file: ann-benchmarks files are not compressed
/// (about 1/4 element per byte); the margin admits compressed files while refusing corrupt shapes
/// that would have the reader allocate far more memory than the file could describe.
const MAX_ELEMENTS_PER_FILE_BYTE: u64 = 64;

/// A two-dimensional dataset `name`, read with `read`.
fn matrix<T>(
    file: &hdf5_pure::File,
    name: &str,
    path: &Path,
    file_len: u64,
    read: impl Fn(&hdf5_pure::Dataset<'_>) -> std::result::Result<Vec<T>, hdf5_pure::Error>,
) -> Result<Matrix<T>> {
    let context = |e: hdf5_pure::Error| malformed(path, format!("dataset {name:?}: {e}"));
    let dataset = file.dataset(name).map_err(context)?;
    let shape = dataset.shape().map_err(context)?;
    let [rows, dim] = shape[..] else {
        return Err(malformed(
            path,
            format!("dataset {name:?} has shape {shape:?}, not two dimensions"),
        ));
    };
    let dim = usize::try_from(dim)
        .ok()
        .filter(|d| (1..=MAX_DIM).contains(d))
        .ok_or_else(|| malformed(path, format!("dataset {name:?}: dimension {dim}")))?;
    let elements = rows.checked_mul(dim as u64);
    if elements.is_none_or(|e| e > file_len.saturating_mul(MAX_ELEMENTS_PER_FILE_BYTE)) {
        return Err(malformed(
            path,
            format!("dataset {name:?}: shape {rows} x {dim} is larger than the file can hold"),
        ));
    }
    let values = read(&dataset).map_err(context)?;
    if u64::try_from(values.len()).ok() != rows.checked_mul(dim as u64) {
        return Err(malformed(
            path,
            format!(
                "dataset {name:?}: {} values for shape {rows} x {dim}",
                values.len()
            ),
        ));
    }
    // The length is a whole number of rows (checked just above), so this always succeeds.
    Matrix::new(dim, values)
        .ok_or_else(|| malformed(path, format!("dataset {name:?}: ragged rows")))
}
