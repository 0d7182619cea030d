//! The second lookup: full records for the final hits of a search.
//!
//! A search returns only `(collection, id, distance)`; records are read afterwards for just those
//! k items, zero-copy (each [`Fetched`] keeps a [`RecordGuard`], which pins the read snapshot it
//! came from), each checked against its row checksum first. Hits from several collections are fetched in parallel, one task per
//! collection. Collections have different record types, so a fetched record is typed again by
//! the caller with [`Fetched::record`].

use crate::cf::column_family::ColumnFamily;
use crate::error::Result;
use crate::vector::checks::RowChecks;
use crate::vector::record::Record;
use crate::vector::record_guard::{RecordGuard, read_checked};
use crate::vector::tables::{ID_STRINGS, raw_records};
use crate::vector::topk::Hit;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;

/// A hit with its record, from [`Store::fetch`](super::Store::fetch).
pub struct Fetched {
    /// The search hit.
    pub hit: Hit,
    /// The item's string id, if it was written with one.
    pub string_id: Option<String>,
    record: Option<Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched")
            .field("hit", &self.hit)
            .field("string_id", &self.string_id)
            .field("has_record", &self.record.is_some())
            .finish()
    }
}

impl Fetched {
    /// The record, decoded as `M` (the collection's record type). `None` if the item was deleted
    /// since the search, or if `M` is not the collection's record type;
    /// [`Error::InvalidRecord`](crate::Error::InvalidRecord) if the row does not decode as `M`.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("fetch.qvr"))?;
    /// let docs = store.create_collection::<F32<2>, &str>("docs", CollectionConfig::new(Metric::Dot))?;
    /// docs.upsert(1, &[1.0, 0.0], &"hello")?;
    /// let hits = docs.search(&[1.0, 0.0], 1)?;
    /// let fetched = store.fetch(&hits)?;
    /// assert_eq!(fetched[0].record::<&str>()?, Some("hello"));
    /// assert_eq!(fetched[0].record::<u64>()?, None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn record<M: Record>(&self) -> Result<Option<M::Value<'_>>> {
        let guard = self
            .record
            .as_ref()
            .and_then(|record| record.downcast_ref::<RecordGuard<M>>());
        guard.map(RecordGuard::value).transpose()
    }
}

/// Record reading without the record type in the signature.
pub(crate) trait ErasedFetch: Send + Sync {
    /// For each id: the record (boxed `RecordGuard<M>`) and the string id.
    fn fetch(&self, hits: Vec<Hit>) -> Result<Vec<Fetched>>;
}

pub(crate) struct TypedFetch<M> {
    pub cf: ColumnFamily,
    pub _record: PhantomData<fn() -> M>,
}

impl<M> ErasedFetch for TypedFetch<M>
where
    M: Record,
    RecordGuard<M>: Send + Sync,
{
    fn fetch(&self, hits: Vec<Hit>) -> Result<Vec<Fetched>> {
        self.cf
            .contain_panics("fetching records", || self.fetch_unguarded(hits))
    }
}

impl<M> TypedFetch<M>
where
    M: Record,
    RecordGuard<M>: Send + Sync,
{
    fn fetch_unguarded(&self, hits: Vec<Hit>) -> Result<Vec<Fetched>> {
        let read = self.cf.begin_read()?;
        let table = read.open_table(raw_records::<M>())?;
        let strings = read.open_table(ID_STRINGS)?;
        let checks = RowChecks::open(&read, self.cf.name())?;
        hits.into_iter()
            .map(|hit| {
                let record = read_checked::<M>(&table, &checks, hit.id)?
                    .map(|guard| Box::new(guard) as Box<dyn Any + Send + Sync>);
                let string_id = strings.get(hit.id)?.map(|s| s.value().to_owned());
                Ok(Fetched {
                    hit,
                    string_id,
                    record,
                })
            })
            .collect()
    }
}
