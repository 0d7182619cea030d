//! Collections whose dimension is chosen at run time.
//!
//! quiver's collections carry their dimension in their type (`F32<384>`), which is what lets
//! redb store vectors as fixed-width values and the kernels skip length checks. JavaScript
//! chooses the dimension at run time, so this module instantiates the collection type for a
//! fixed list of dimensions ([`DIMENSIONS`]: the common embedding sizes and small powers of two)
//! and hides them behind one object-safe trait, [`DynCollection`]. Each entry costs code size in
//! the `.wasm` module, which is why the list is not longer; other dimensions get a clear error.
//! Records are JSON text (`&str` records in quiver's terms).

use crate::records::RecordFilter;
use quiver::vector::{AnnConfig, Collection, CollectionConfig, F32, Filter, Metric, Store};
use quiver::{Durability, Error, Result};

/// The vector dimensions a collection created through the bindings may have.
///
/// ```
/// assert!(quiver_wasm::dynamic::DIMENSIONS.contains(&384));
/// ```
pub const DIMENSIONS: &[usize] = &[
    2, 3, 4, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 3072,
];

/// Runs `$body` with `$d` bound to `$dim` as a constant, for every dimension of [`DIMENSIONS`].
macro_rules! with_dimension {
    ($dim:expr, $d:ident => $body:expr) => {
        with_dimension!(@arms $dim, $d, $body,
            [2, 3, 4, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 3072])
    };
    (@arms $dim:expr, $d:ident, $body:expr, [$($n:literal),*]) => {
        match $dim {
            $( $n => {
                const $d: usize = $n;
                $body
            } )*
            other => Err(unsupported_dimension(other)),
        }
    };
}

fn unsupported_dimension(dim: usize) -> Error {
    Error::InvalidConfig(format!(
        "dimension {dim} is not available in the browser build; use one of {DIMENSIONS:?}"
    ))
}

/// One search result with its record.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
/// let docs = quiver_wasm::dynamic::create(&store, "docs", 2, quiver::vector::Metric::L2, false)?;
/// docs.upsert_many(&[5], &[1.0, 1.0], &["{}".to_owned()])?;
/// let found = &docs.search(&[1.0, 1.0], 1, None)?[0];
/// assert_eq!((found.id, found.distance, found.record.as_str()), (5, 0.0, "{}"));
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The item's id.
    pub id: u64,
    /// Distance to the query under the collection's metric (smaller is closer).
    pub distance: f32,
    /// The item's record (JSON text).
    pub record: String,
}

/// A collection of f32 vectors with JSON records, whatever its dimension.
///
/// ```
/// use quiver_wasm::{dynamic, records::RecordFilter};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
/// let notes = dynamic::create(&store, "notes", 3, quiver::vector::Metric::Cosine, false)?;
/// let records = [r#"{"tag":"a"}"#.to_owned(), r#"{"tag":"b"}"#.to_owned()];
/// notes.upsert_many(&[1, 2], &[1.0, 0.0, 0.0, 0.9, 0.1, 0.0], &records)?;
/// assert_eq!((notes.dim(), notes.len()), (3, 2));
/// let only_b = RecordFilter::parse(r#"{"tag":"b"}"#)?;
/// assert_eq!(notes.search(&[1.0, 0.0, 0.0], 2, Some(&only_b))?.len(), 1);
/// assert_eq!(notes.get(1)?.map(|(_, record)| record), Some(r#"{"tag":"a"}"#.to_owned()));
/// assert!(notes.delete(1)? && !notes.delete(1)?);
/// # Ok::<(), quiver::Error>(())
/// ```
pub trait DynCollection {
    /// Number of components of its vectors.
    fn dim(&self) -> usize;
    /// Number of items.
    fn len(&self) -> usize;
    /// Whether it has no items.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Inserts or replaces `ids[i]` with the `i`-th vector of `vectors` (`dim` components each,
    /// back to back) and `records[i]`, in one durable commit.
    fn upsert_many(&self, ids: &[u64], vectors: &[f32], records: &[String]) -> Result<()>;
    /// Deletes `id` in a durable commit; `false` if it was not there.
    fn delete(&self, id: u64) -> Result<bool>;
    /// The vector and record of `id`.
    fn get(&self, id: u64) -> Result<Option<(Vec<f32>, String)>>;
    /// The `k` nearest items to `query` (exact unless the collection has an approximate index
    /// and there is no filter), with their records.
    fn search(&self, query: &[f32], k: usize, filter: Option<&RecordFilter>) -> Result<Vec<Found>>;
}

struct Typed<const D: usize>(Collection<F32<D>, &'static str>);

impl<const D: usize> DynCollection for Typed<D> {
    fn dim(&self) -> usize {
        D
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn upsert_many(&self, ids: &[u64], vectors: &[f32], records: &[String]) -> Result<()> {
        if vectors.len() != ids.len() * D {
            return Err(Error::DimensionMismatch {
                expected: ids.len() * D,
                found: vectors.len(),
            });
        }
        if records.len() != ids.len() {
            return Err(Error::InvalidVector(format!(
                "{} ids but {} records",
                ids.len(),
                records.len()
            )));
        }
        let mut batch = self.0.batch();
        for ((id, vector), record) in ids.iter().zip(vectors.chunks_exact(D)).zip(records) {
            batch.upsert(*id, vector, &record.as_str())?;
        }
        self.0.commit(batch, Durability::Immediate)
    }

    fn delete(&self, id: u64) -> Result<bool> {
        let existed = self.0.get_vector(id)?.is_some();
        if existed {
            self.0.delete(id)?;
        }
        Ok(existed)
    }

    fn get(&self, id: u64) -> Result<Option<(Vec<f32>, String)>> {
        match self.0.get(id)? {
            Some((vector, record)) => Ok(Some((vector, record.value()?.to_owned()))),
            None => Ok(None),
        }
    }

    fn search(&self, query: &[f32], k: usize, filter: Option<&RecordFilter>) -> Result<Vec<Found>> {
        let hits = match filter {
            None => self.0.search(query, k)?,
            Some(filter) => self.0.search_filtered(
                query,
                k,
                &Filter::predicate(|record: &str| filter.matches(record)),
            )?,
        };
        let fetched = self.0.fetch(&hits)?;
        hits.iter()
            .zip(&fetched)
            .map(|(hit, item)| {
                Ok(Found {
                    id: hit.id,
                    distance: hit.distance,
                    record: item.record::<&str>()?.unwrap_or("null").to_owned(),
                })
            })
            .collect()
    }
}

/// Creates the collection `name` of `dim`-component f32 vectors with JSON records, with an
/// approximate (HNSW) index if `approximate`.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
/// let docs = quiver_wasm::dynamic::create(&store, "docs", 3, quiver::vector::Metric::Cosine, false)?;
/// docs.upsert_many(&[1], &[1.0, 0.0, 0.0], &[r#"{"title":"a"}"#.to_owned()])?;
/// assert_eq!(docs.len(), 1);
/// assert!(quiver_wasm::dynamic::create(&store, "odd", 5, quiver::vector::Metric::L2, false).is_err());
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn create(
    store: &Store,
    name: &str,
    dim: usize,
    metric: Metric,
    approximate: bool,
) -> Result<Box<dyn DynCollection>> {
    let mut config = CollectionConfig::new(metric);
    if approximate {
        config = config.approximate(AnnConfig::default());
    }
    with_dimension!(dim, D => {
        let collection = store.create_collection::<F32<D>, &str>(name, config)?;
        Ok(Box::new(Typed::<D>(collection)) as Box<dyn DynCollection>)
    })
}

/// Opens the existing collection `name`, whatever its dimension.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
/// quiver_wasm::dynamic::create(&store, "docs", 384, quiver::vector::Metric::Cosine, false)?;
/// assert_eq!(quiver_wasm::dynamic::open(&store, "docs")?.dim(), 384);
/// assert!(quiver_wasm::dynamic::open(&store, "missing").is_err());
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn open(store: &Store, name: &str) -> Result<Box<dyn DynCollection>> {
    let info = store.collection_info(name)?;
    with_dimension!(info.dim, D => {
        let collection = store.collection::<F32<D>, &str>(name)?;
        Ok(Box::new(Typed::<D>(collection)) as Box<dyn DynCollection>)
    })
}
