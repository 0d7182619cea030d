//! A typed handle to one collection: writes, point reads, exact search and the second lookup.

use crate::error::{Error, Result};
use crate::vector::ann::allow::{AllowList, NodeFilter};
use crate::vector::ann::{AnnIndex, IndexStats, check_ef};
use crate::vector::batch::WriteBatch;
use crate::vector::checks::{Part, RowChecks};
use crate::vector::config::StoredConfig;
use crate::vector::element::VectorType;
use crate::vector::fetch::Fetched;
use crate::vector::fields::FieldIndexStats;
use crate::vector::fields::resolved::Resolution;
use crate::vector::filter::{Expr, Filter, Predicate, Resolved};
use crate::vector::global::feed::Feed;
use crate::vector::metric::{Metric, check_vector};
use crate::vector::mirror::MirrorStats;
use crate::vector::plan::{self, QueryPlan, Route};
use crate::vector::record::Record;
use crate::vector::record_guard::{RecordGuard, read_checked};
use crate::vector::scan::{self, Allow, Prepared, Source};
use crate::vector::shared::CollectionShared;
use crate::vector::tables::{ID_STRINGS, STRING_IDS, raw_records, vectors};
use crate::vector::topk::{Candidate, Hit};
use crate::vector::write;
use rayon::prelude::*;
use redb::Durability;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// An item read back: its vector (decoded to f32) and its record (zero-copy; the guard keeps its
/// read snapshot alive).
pub type Item<M> = (Vec<f32>, RecordGuard<M>);

/// The filter a search runs with: an expression's resolution as its allow-list or deny-list
/// (the caller's allow-list `ids` without one), and the predicate.
fn resolved<'a, 'f, M: Record>(
    resolution: Option<&'a Resolution>,
    ids: Option<&'a [u64]>,
    predicate: Option<&'a Predicate<'f, M>>,
) -> Resolved<'a, 'f, M> {
    let (ids, deny) = match resolution {
        None => (ids, None),
        Some(Resolution::Allow(allowed)) => (Some(allowed.as_slice()), None),
        Some(Resolution::Deny(denied)) => (None, Some(denied.as_slice())),
    };
    Resolved {
        ids,
        deny,
        predicate,
    }
}

/// Options of a search beyond `k` and the filter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SearchOptions {
    /// The walk's candidate list size (the index's default if `None`).
    pub ef: Option<usize>,
    /// Scan every vector exactly, even with an index.
    pub exact: bool,
}

/// A planned search: its route, the index's node filter for the allowed items (filtered
/// routes), how many are allowed, and how many items are live.
struct Planned<'a> {
    route: Route,
    nodes: Option<NodeFilter<'a>>,
    allowed: Option<usize>,
    live: usize,
}

/// One entity type: vectors of type `V` (for example [`F32<384>`](crate::vector::F32)) with
/// records of type `M` (any [`Record`]), in their own column family.
///
/// Handles are cheap to clone and can be used from many threads; writes to one collection are
/// serialized, writes to different collections run in parallel.
///
/// ```
/// use quiver::vector::{CollectionConfig, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("docs.qvr"))?;
/// let docs = store.create_collection::<F32<3>, &str>("docs", CollectionConfig::new(Metric::Cosine))?;
/// docs.upsert(1, &[1.0, 0.0, 0.0], &"about cats")?;
/// docs.upsert(2, &[0.0, 1.0, 0.0], &"about dogs")?;
/// let hits = docs.search(&[0.9, 0.1, 0.0], 1)?;
/// assert_eq!(hits[0].id, 1);
/// assert_eq!(docs.get_record(1)?.unwrap().value()?, "about cats");
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct Collection<V, M> {
    pub(crate) shared: Arc<CollectionShared>,
    pub(crate) feed: Arc<Feed>,
    pub(crate) _types: PhantomData<fn() -> (V, M)>,
}

impl<V, M> Clone for Collection<V, M> {
    fn clone(&self) -> Self {
        Collection {
            shared: self.shared.clone(),
            feed: self.feed.clone(),
            _types: PhantomData,
        }
    }
}

impl<V, M> fmt::Debug for Collection<V, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.shared.name)
            .field("config", &self.shared.config.describe())
            .finish()
    }
}

impl<V: VectorType, M: Record> Collection<V, M> {
    /// The collection's name.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<2>, ()>("users", CollectionConfig::new(Metric::Dot))?;
    /// assert_eq!(c.name(), "users");
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The metric searches use.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<2>, ()>("users", CollectionConfig::new(Metric::L2))?;
    /// assert_eq!(c.metric(), Metric::L2);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn metric(&self) -> Metric {
        self.shared.config.metric
    }

    /// Whether the store's global index covers this collection.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<2>, ()>("users", CollectionConfig::new(Metric::L2))?;
    /// assert!(!c.is_indexed_globally()); // this store has no global index
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn is_indexed_globally(&self) -> bool {
        self.shared.config.indexed
    }

    /// Number of items.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(5, &[1.0], &())?;
    /// assert_eq!(c.len(), 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        if let Some(mirror) = self.shared.mirror.read().as_ref() {
            return mirror.len();
        }
        // An indexed collection whose mirror is not loaded: the index holds every item.
        self.shared
            .ann
            .read()
            .as_ref()
            .map_or(0, |index| index.live_count())
    }

    /// Whether the collection has no items.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// assert!(c.is_empty());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the in-memory mirror that exact search scans, and how long it took to load. A
    /// collection with an approximate index loads its mirror on its first exact search (an exact
    /// or a predicate-filtered search whose records the index does not keep); until then this
    /// reports zeros.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<4>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0; 4], &())?;
    /// assert!(c.mirror_stats().memory_bytes >= 16);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn mirror_stats(&self) -> MirrorStats {
        self.shared
            .mirror
            .read()
            .as_ref()
            .map(|m| m.stats())
            .unwrap_or_default()
    }

    /// A new empty batch for this collection.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// assert!(c.batch().is_empty());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn batch(&self) -> WriteBatch<V, M> {
        WriteBatch::new(self.shared.current_config())
    }

    /// Commits a batch as one transaction. With [`Durability::Immediate`] the call returns once
    /// the batch is durable (with the log on, one group-committed log fsync); with
    /// [`Durability::None`] it is visible at once and becomes durable with the next durable
    /// commit of this collection (an empty batch committed with [`Durability::Immediate`] does
    /// just that) or when the store is closed. The commit that brings a run of non-durable
    /// commits to 8,192 items is made durable, so the pages the run freed can be reused (redb
    /// reuses a page freed after the last durable commit only after the next one); this costs
    /// one log fsync and only makes the commit safer.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// let mut batch = c.batch();
    /// batch.upsert(1, &[2.0], &())?;
    /// c.commit(batch, quiver::Durability::None)?;
    /// assert_eq!(c.len(), 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn commit(&self, batch: WriteBatch<V, M>, durability: Durability) -> Result<()> {
        self.commit_counted(batch, durability).map(drop)
    }

    /// [`commit`](Self::commit), returning how many operations took effect.
    pub(crate) fn commit_counted(
        &self,
        batch: WriteBatch<V, M>,
        durability: Durability,
    ) -> Result<u64> {
        if batch.is_empty() {
            // Nothing to write, but a durable commit still makes the earlier non-durable ones
            // durable, as in redb.
            return match durability {
                Durability::Immediate => self
                    .shared
                    .cf
                    .contain_panics("committing", || self.shared.make_durable())
                    .map(|()| 0),
                _ => Ok(0),
            };
        }
        if self.shared.config.indexed {
            // Backpressure: wait while the global index is too far behind (see `Feed`).
            self.feed.admit(batch.len() as u64);
        }
        let applied = self.shared.cf.contain_panics("committing a batch", || {
            write::commit(&self.shared, batch, durability)
        })?;
        if self.shared.config.indexed {
            self.feed.notify();
        }
        Ok(applied)
    }

    /// Inserts or replaces one item, durably.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<2>, u64>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(9, &[1.0, 2.0], &99)?;
    /// assert_eq!(c.get_vector(9)?, Some(vec![1.0, 2.0]));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn upsert(&self, id: u64, vector: &[f32], record: &M::Value<'_>) -> Result<()> {
        let mut batch = self.batch();
        batch.upsert(id, vector, record)?;
        self.commit(batch, Durability::Immediate)
    }

    /// Inserts or replaces one item named by a string id, durably; returns its numeric id.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<2>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// let id = c.upsert_str("readme.md#3", &[1.0, 2.0], &())?;
    /// assert_eq!(c.string_id(id)?.as_deref(), Some("readme.md#3"));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn upsert_str(
        &self,
        string_id: &str,
        vector: &[f32],
        record: &M::Value<'_>,
    ) -> Result<u64> {
        let mut batch = self.batch();
        batch.upsert_str(string_id, vector, record)?;
        self.commit(batch, Durability::Immediate)?;
        self.id_of(string_id)?.ok_or_else(|| {
            Error::InvalidId(format!(
                "string id {string_id:?} vanished during the upsert"
            ))
        })
    }

    /// Deletes one item, durably (nothing happens if it does not exist).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<2>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0, 2.0], &())?;
    /// c.delete(1)?;
    /// assert_eq!(c.get_vector(1)?, None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn delete(&self, id: u64) -> Result<()> {
        let mut batch = self.batch();
        batch.delete(id)?;
        self.commit(batch, Durability::Immediate)
    }

    /// The stored vector of `id`, decoded to f32 (f16 collections return the rounded values).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F16};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F16<2>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[0.1, 2.0], &())?;
    /// let v = c.get_vector(1)?.unwrap();
    /// assert!((v[0] - 0.1).abs() < 1e-3 && v[1] == 2.0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn get_vector(&self, id: u64) -> Result<Option<Vec<f32>>> {
        self.shared.check_live()?;
        self.shared.cf.contain_panics("reading a vector", || {
            let read = self.shared.cf.begin_read()?;
            let table = read.open_table(vectors::<V>())?;
            let checks = RowChecks::open(&read, &self.shared.name)?;
            let stored = table.get(id)?;
            let stored = stored.as_ref().map(|v| v.value());
            checks.verify(id, Part::Vector, stored.as_ref().map(|v| v.bytes()))?;
            Ok(stored.map(|v| v.to_vec()))
        })
    }

    /// The record of `id`, zero-copy: the guard keeps its read snapshot alive.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, &[u8]>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0], &b"raw bytes".as_slice())?;
    /// assert_eq!(c.get_record(1)?.unwrap().value()?, b"raw bytes");
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn get_record(&self, id: u64) -> Result<Option<RecordGuard<M>>> {
        self.shared.check_live()?;
        self.shared.cf.contain_panics("reading a record", || {
            let read = self.shared.cf.begin_read()?;
            let table = read.open_table(raw_records::<M>())?;
            let checks = RowChecks::open(&read, &self.shared.name)?;
            read_checked(&table, &checks, id)
        })
    }

    /// The vector (decoded to f32) and the record of `id`, from one snapshot.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<2>, &str>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0, 2.0], &"one")?;
    /// let (vector, record) = c.get(1)?.unwrap();
    /// assert_eq!((vector, record.value()?), (vec![1.0, 2.0], "one"));
    /// assert!(c.get(2)?.is_none());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn get(&self, id: u64) -> Result<Option<Item<M>>> {
        Ok(self.get_many(&[id])?.pop().flatten())
    }

    /// [`get`](Self::get) for many ids at once, from one snapshot, in the order given (`None`
    /// for ids that do not exist).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, u64>("c", CollectionConfig::new(Metric::Dot))?;
    /// let mut batch = c.batch();
    /// batch.upsert(1, &[1.0], &10)?;
    /// batch.upsert(2, &[2.0], &20)?;
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// let items = c.get_many(&[2, 3, 1])?;
    /// assert_eq!(items[0].as_ref().map(|(v, r)| (v[0], r.value().unwrap())), Some((2.0, 20)));
    /// assert!(items[1].is_none());
    /// assert_eq!(items[2].as_ref().map(|(_, r)| r.value().unwrap()), Some(10));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn get_many(&self, ids: &[u64]) -> Result<Vec<Option<Item<M>>>> {
        self.shared.check_live()?;
        self.shared.cf.contain_panics("reading items", || {
            let read = self.shared.cf.begin_read()?;
            let vectors = read.open_table(vectors::<V>())?;
            let records = read.open_table(raw_records::<M>())?;
            let checks = RowChecks::open(&read, &self.shared.name)?;
            ids.iter()
                .map(|&id| {
                    let vector = vectors.get(id)?;
                    let record = records.get_owned(id)?;
                    let stored = vector.as_ref().map(|v| v.value());
                    checks.verify_item(
                        id,
                        stored.as_ref().map(|v| v.bytes()),
                        record.as_ref().map(|r| r.value()),
                    )?;
                    let vector = stored.map(|v| v.to_vec());
                    Ok(vector.zip(record.map(RecordGuard::checked)))
                })
                .collect()
        })
    }

    /// The numeric id of a string id.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// assert_eq!(c.id_of("nobody")?, None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn id_of(&self, string_id: &str) -> Result<Option<u64>> {
        self.shared.check_live()?;
        self.shared.cf.contain_panics("reading a string id", || {
            let read = self.shared.cf.begin_read()?;
            let table = read.open_table(STRING_IDS)?;
            Ok(table.get(string_id)?.map(|v| v.value()))
        })
    }

    /// The string id of a numeric id, if it has one.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(3, &[1.0], &())?;
    /// assert_eq!(c.string_id(3)?, None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn string_id(&self, id: u64) -> Result<Option<String>> {
        self.shared.check_live()?;
        self.shared.cf.contain_panics("reading a string id", || {
            let read = self.shared.cf.begin_read()?;
            let table = read.open_table(ID_STRINGS)?;
            Ok(table.get(id)?.map(|v| v.value().to_owned()))
        })
    }

    /// The `k` nearest items to `query`, closest first.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// for i in 0..10u64 { c.upsert(i, &[i as f32], &())?; }
    /// let ids: Vec<u64> = c.search(&[3.2], 3)?.iter().map(|h| h.id).collect();
    /// assert_eq!(ids, vec![3, 4, 2]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_filtered(query, k, &Filter::all())
    }

    /// The `k` nearest items among those `filter` allows. Returns k hits whenever at least k
    /// items match.
    ///
    /// On a collection with an approximate index, an id allow-list is searched through the
    /// index: one admitting at least 40% of the items by the usual walk (rejected items are
    /// walked through, never returned), one admitting 6-40% (and 2,000) by a walk that scores
    /// only admitted items, one admitting fewer by an exact scan of the admitted items. The
    /// allow-list's preparation is cached for the last few lists, so repeating a filter is
    /// cheaper than a new one. A predicate filter takes the same routes when the record type
    /// is fixed-width and at most 64 bytes (the index keeps each node's record, so the
    /// predicate is tested in memory, one pass over the nodes per search); otherwise, and
    /// combined with an id list, it scans the admitted items exactly.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Filter, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, u64>("c", CollectionConfig::new(Metric::L2))?;
    /// for i in 0..100u64 { c.upsert(i, &[i as f32], &(i % 10))?; }
    /// let hits = c.search_filtered(&[50.0], 3, &Filter::predicate(|bucket: u64| bucket == 7))?;
    /// let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    /// assert_eq!(ids, vec![47, 57, 37]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: &Filter<'_, M>,
    ) -> Result<Vec<Hit>> {
        let mut results = self.search_batch(&[query], k, filter)?;
        Ok(results.pop().unwrap_or_default())
    }

    /// The `k` nearest items for each of many queries, in one pass over the data (much faster
    /// per query than one search at a time).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Filter, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// for i in 0..10u64 { c.upsert(i, &[i as f32], &())?; }
    /// let results = c.search_batch(&[&[0.0], &[9.0]], 1, &Filter::all())?;
    /// assert_eq!((results[0][0].id, results[1][0].id), (0, 9));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn search_batch(
        &self,
        queries: &[&[f32]],
        k: usize,
        filter: &Filter<'_, M>,
    ) -> Result<Vec<Vec<Hit>>> {
        self.search_with(
            queries,
            k,
            filter.expr.as_ref(),
            filter.ids,
            filter.predicate.as_ref(),
            SearchOptions::default(),
        )
    }

    /// How a search with `filter` would be answered: the route the planner picks, and how many
    /// items the filter allows (the routes are described on [`Route`]).
    ///
    /// ```
    /// use quiver::vector::{AnnConfig, CollectionConfig, Filter, Metric, Route, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    /// let c = store.create_collection::<F32<1>, ()>("c", config)?;
    /// for i in 0..100u64 { c.upsert(i, &[i as f32], &())?; }
    /// assert_eq!(c.explain(&Filter::all())?.route, Route::Walk);
    /// assert_eq!(c.explain(&Filter::ids(&[1, 2, 3]))?.route, Route::IndexScan);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn explain(&self, filter: &Filter<'_, M>) -> Result<QueryPlan> {
        self.explain_with(filter, false)
    }

    /// [`explain`](Self::explain), for an exact search if `exact`.
    pub(crate) fn explain_with(&self, filter: &Filter<'_, M>, exact: bool) -> Result<QueryPlan> {
        let resolution = self.resolve(filter.expr.as_ref(), filter.ids)?;
        let filter = resolved(resolution.as_deref(), filter.ids, filter.predicate.as_ref());
        let index = self.shared.ann.read().clone();
        let mut allow = None;
        let planned = self.plan(index.as_ref(), &filter, exact, &mut allow);
        Ok(QueryPlan {
            route: planned.route,
            allowed: planned.allowed,
            live: planned.live,
        })
    }

    /// What an expression admits (within the allow-list `ids`), or `None` without one.
    fn resolve(&self, expr: Option<&Expr>, ids: Option<&[u64]>) -> Result<Option<Arc<Resolution>>> {
        expr.map(|expr| self.shared.resolve(expr, ids)).transpose()
    }

    /// Every search of the collection: the filter's expression is answered from the field
    /// indexes, the planner picks the route ([`plan`](Self::plan)), and the route runs
    /// ([`execute`](Self::execute)).
    pub(crate) fn search_with(
        &self,
        queries: &[&[f32]],
        k: usize,
        expr: Option<&Expr>,
        ids: Option<&[u64]>,
        predicate: Option<&Predicate<'_, M>>,
        options: SearchOptions,
    ) -> Result<Vec<Vec<Hit>>> {
        if let Some(ef) = options.ef {
            check_ef(ef)?;
        }
        let resolution = self.resolve(expr, ids)?;
        let filter = resolved(resolution.as_deref(), ids, predicate);
        let index = self.shared.ann.read().clone();
        let mut allow = None;
        let planned = self.plan(index.as_ref(), &filter, options.exact, &mut allow);
        self.execute(index.as_ref(), planned, queries, k, options.ef, &filter)
    }

    /// The route for a search (see [`crate::vector::plan`]): from the index (if any, and unless
    /// `exact`), the allowed ids and the predicate. An allow-list is prepared as the index's
    /// node filter here (cached per index version); `allow` holds it for the plan's lifetime.
    fn plan<'a>(
        &self,
        index: Option<&'a Arc<AnnIndex>>,
        filter: &Resolved<'a, '_, M>,
        exact: bool,
        allow: &'a mut Option<AllowList<'a>>,
    ) -> Planned<'a> {
        let (ids, deny, predicate) = (filter.ids, filter.deny, filter.predicate);
        let exact_scan = |live: usize| Planned {
            route: Route::ExactScan,
            nodes: None,
            // A predicate is tested while scanning: the count is not known in advance.
            allowed: match (ids, deny, predicate) {
                (Some(ids), _, None) => Some(ids.len()),
                (_, Some(deny), None) => Some(live.saturating_sub(deny.len())),
                _ => None,
            },
            live,
        };
        let Some(index) = index.filter(|_| !exact) else {
            return exact_scan(self.len());
        };
        let live = index.live_count();
        let nodes = match (ids, predicate) {
            (None, None) if deny.is_some() => NodeFilter::Deny {
                index,
                deny: deny.unwrap_or_default(),
            },
            (None, None) => {
                return Planned {
                    route: Route::Walk,
                    nodes: None,
                    allowed: None,
                    live,
                };
            }
            (Some(ids), None) => {
                let cache = &self.shared.filter_cache;
                match cache.get(index, ids) {
                    Some(words) => NodeFilter::Nodes { words },
                    None => {
                        let allow = &*allow.insert(AllowList::new(ids));
                        let nodes = NodeFilter::new(index, allow);
                        if let NodeFilter::Nodes { words } = &nodes {
                            cache.insert(index, ids, words.clone());
                        }
                        nodes
                    }
                }
            }
            // The index keeps each node's record when the type is small and fixed-width: the
            // predicate is tested in memory (only fixed-width redb values are kept, and they
            // always decode). Otherwise it needs the record table: exact scan.
            (None, Some(predicate)) if index.records.is_some() && deny.is_none() => {
                match index.nodes_where(|bytes| M::decode(bytes).is_ok_and(predicate)) {
                    Some(words) => NodeFilter::Nodes { words },
                    None => return exact_scan(live),
                }
            }
            _ => return exact_scan(live),
        };
        let accepted = nodes.accepted();
        let listed = matches!(nodes, NodeFilter::Nodes { .. });
        Planned {
            route: plan::filtered_route(accepted, live, listed),
            nodes: Some(nodes),
            allowed: Some(accepted),
            live,
        }
    }

    /// Runs a planned search. A filtered walk that comes back short of `k` while `k` items are
    /// allowed is redone by a scan, so `k` results come back whenever `k` match.
    fn execute(
        &self,
        index: Option<&Arc<AnnIndex>>,
        planned: Planned<'_>,
        queries: &[&[f32]],
        k: usize,
        ef: Option<usize>,
        filter: &Resolved<'_, '_, M>,
    ) -> Result<Vec<Vec<Hit>>> {
        let (route, nodes) = (planned.route, planned.nodes);
        let Some(index) = index.filter(|_| route != Route::ExactScan) else {
            return self.exact_batch(queries, k, filter);
        };
        let ef = ef.unwrap_or(index.config.ef_search);
        let nodes = match (route.walk(), nodes) {
            (Some(_), None) => {
                return self.index_batch(queries, |query| index.search(query, k, ef));
            }
            (_, Some(nodes)) => nodes,
            (None, None) => return self.exact_batch(queries, k, filter),
        };
        let scan = |query: &[f32]| -> Result<Vec<Hit>> {
            let mut hits = match &nodes {
                NodeFilter::Nodes { words } => {
                    self.index_batch(&[query], |query| index.scan_where(query, k, words))?
                }
                // Without a node bitset the accepted nodes are not listed: scan the mirror.
                NodeFilter::Ids { .. } | NodeFilter::Deny { .. } => {
                    self.exact_batch(&[query], k, filter)?
                }
            };
            Ok(hits.pop().unwrap_or_default())
        };
        let Some(walk) = route.walk() else {
            return queries.iter().map(|query| scan(query)).collect();
        };
        let accepted = planned.allowed.unwrap_or(0);
        let results = self.index_batch(queries, |query| {
            index.search_where(query, k, ef, &nodes, walk)
        })?;
        results
            .into_iter()
            .zip(queries)
            .map(|(hits, query)| match hits.len() >= k.min(accepted) {
                true => Ok(hits),
                false => scan(query),
            })
            .collect()
    }

    /// The `k` nearest items by an exact scan of every vector, even when the collection has an
    /// approximate index (for checking its recall, or when exact results are required).
    ///
    /// ```
    /// # use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    /// let c = store.create_collection::<F32<1>, ()>("c", config)?;
    /// for i in 0..10u64 { c.upsert(i, &[i as f32], &())?; }
    /// let ids: Vec<u64> = c.search_exact(&[3.2], 3)?.iter().map(|h| h.id).collect();
    /// assert_eq!(ids, vec![3, 4, 2]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        let options = SearchOptions {
            exact: true,
            ..SearchOptions::default()
        };
        let mut results = self.search_with(&[query], k, None, None, None, options)?;
        Ok(results.pop().unwrap_or_default())
    }

    /// The approximately `k` nearest items through the approximate index, keeping `ef`
    /// candidates (at least `k`; more is slower and finds more of the true neighbours).
    /// [`Error::NoIndex`] if the collection has no index; [`Error::InvalidArgument`] for an `ef`
    /// above [`MAX_EF`](crate::vector::MAX_EF). A `k` larger than the collection returns every
    /// item the walk reaches, and costs no more than the collection's size.
    ///
    /// ```
    /// # use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    /// let c = store.create_collection::<F32<2>, ()>("c", config)?;
    /// let mut batch = c.batch();
    /// for i in 0..1000u64 { batch.upsert(i, &[(i % 40) as f32, (i / 40) as f32], &())?; }
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// let hits = c.search_approximate(&[10.2, 3.1], 3, 50)?;
    /// assert_eq!(hits[0].id, 3 * 40 + 10);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn search_approximate(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Hit>> {
        check_ef(ef)?;
        if self.shared.ann.read().is_none() {
            self.shared.check_live()?;
            return Err(Error::NoIndex(self.shared.name.to_string()));
        }
        let options = SearchOptions {
            ef: Some(ef),
            exact: false,
        };
        let mut results = self.search_with(&[query], k, None, None, None, options)?;
        Ok(results.pop().unwrap_or_default())
    }

    /// Size and state of the approximate index, if the collection has one.
    ///
    /// ```
    /// # use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    /// let c = store.create_collection::<F32<1>, ()>("c", config)?;
    /// c.upsert(1, &[1.0], &())?;
    /// c.upsert(1, &[2.0], &())?; // the first node is now dead
    /// let stats = c.index_stats().unwrap();
    /// assert_eq!((stats.nodes, stats.dead), (2, 1));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn index_stats(&self) -> Option<IndexStats> {
        self.shared.ann.read().as_ref().map(|index| index.stats())
    }

    /// How many items match `expr`, exactly, from the field indexes (no record is read).
    /// [`Error::InvalidFilter`] if it names an unknown field or compares one with a value of
    /// another kind.
    ///
    /// ```
    /// use quiver::vector::{field, CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::Dot).field("ts", FieldKind::Timestamp);
    /// let c = store.create_collection::<F32<1>, Dynamic>("c", config)?;
    /// for i in 0..10u64 { c.upsert(i, &[1.0], &json!({"ts": i * 100}))?; }
    /// assert_eq!(c.count(&field("ts").ge(500))?, 5);
    /// assert!(c.count(&field("stamp").ge(500)).is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn count(&self, expr: &Expr) -> Result<u64> {
        self.shared.count(expr)
    }

    /// Size and memory of the field indexes (loaded first if no filter has used them yet).
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::Dot).field("tag", FieldKind::Keyword);
    /// let c = store.create_collection::<F32<1>, Dynamic>("c", config)?;
    /// c.upsert(1, &[1.0], &serde_json::json!({"tag": "a"}))?;
    /// let stats = c.field_index_stats()?;
    /// assert_eq!((stats.fields, stats.items, stats.postings), (1, 1, 1));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn field_index_stats(&self) -> Result<FieldIndexStats> {
        self.shared.field_index_stats()
    }

    /// Runs `search` (a search of the index, giving `(distance, id)` nearest first) for each
    /// query, in parallel for a batch, after checking the queries.
    fn index_batch(
        &self,
        queries: &[&[f32]],
        search: impl Fn(&[f32]) -> Vec<(f32, u64)> + Sync,
    ) -> Result<Vec<Vec<Hit>>> {
        self.shared.check_live()?;
        let config = &self.shared.config;
        for query in queries {
            check_vector(query, config.dim, V::ELEMENT, config.metric)?;
        }
        let search = |query: &&[f32]| {
            search(query)
                .into_iter()
                .map(|(distance, id)| Hit {
                    collection: self.shared.name.clone(),
                    id,
                    distance,
                })
                .collect::<Vec<Hit>>()
        };
        Ok(if queries.len() == 1 {
            queries.iter().map(search).collect()
        } else {
            queries.par_iter().map(search).collect()
        })
    }

    fn exact_batch(
        &self,
        queries: &[&[f32]],
        k: usize,
        filter: &Resolved<'_, '_, M>,
    ) -> Result<Vec<Vec<Hit>>> {
        self.shared.check_live()?;
        let config = &self.shared.config;
        for query in queries {
            check_vector(query, config.dim, V::ELEMENT, config.metric)?;
        }
        let allowed_ids = self.allowed_ids(filter)?;
        let prepared: Vec<Prepared<'_>> = queries.iter().map(|q| Prepared::new(q)).collect();
        let guard = self.shared.mirror()?;
        let Some(mirror) = guard.as_ref() else {
            // Deleted while we waited for the mirror.
            self.shared.check_live()?;
            return Ok(vec![Vec::new(); queries.len()]);
        };
        let allow = match (allowed_ids, filter.deny) {
            (Some(ids), _) => {
                let slots = ids.iter().filter_map(|id| mirror.slot_of(*id)).collect();
                Allow::from_slots(slots, mirror.len())
            }
            (None, Some(deny)) => {
                let slots: Vec<usize> = deny.iter().filter_map(|id| mirror.slot_of(*id)).collect();
                Allow::except_slots(&slots, mirror.len())
            }
            (None, None) => Allow::all(),
        };
        let sources = [Source {
            index: 0,
            mirror,
            metric: config.metric,
            allow,
        }];
        let candidates = if prepared.len() == 1 {
            vec![scan::search(&sources, &prepared[0], k)]
        } else {
            scan::search_batch(&sources, &prepared, k)
        };
        drop(guard);
        Ok(candidates.into_iter().map(|list| self.hits(list)).collect())
    }

    fn hits(&self, candidates: Vec<Candidate>) -> Vec<Hit> {
        candidates
            .into_iter()
            .map(|c| Hit {
                collection: self.shared.name.clone(),
                id: c.id,
                distance: c.distance,
            })
            .collect()
    }

    /// The ids a filter allows, read from one snapshot; `None` for no filter.
    fn allowed_ids(&self, filter: &Resolved<'_, '_, M>) -> Result<Option<Vec<u64>>> {
        let Some(predicate) = filter.predicate else {
            return Ok(filter.ids.map(<[u64]>::to_vec));
        };
        let read = self.shared.cf.begin_read()?;
        let table = read.open_table(raw_records::<M>())?;
        let checks = RowChecks::open(&read, &self.shared.name)?;
        let mut allowed = Vec::new();
        match filter.ids {
            Some(ids) => {
                for &id in ids {
                    if let Some(record) = table.get(id)? {
                        checks.verify(id, Part::Record, Some(record.value()))?;
                        if predicate(M::decode(record.value())?) {
                            allowed.push(id);
                        }
                    }
                }
            }
            None => {
                let mut checks = checks.in_order()?;
                for entry in table.range::<u64>(..)? {
                    let (id, record) = entry?;
                    checks.verify(id.value(), Part::Record, record.value())?;
                    if filter
                        .deny
                        .is_some_and(|deny| deny.binary_search(&id.value()).is_ok())
                    {
                        continue;
                    }
                    if predicate(M::decode(record.value())?) {
                        allowed.push(id.value());
                    }
                }
            }
        }
        Ok(Some(allowed))
    }

    /// The records of the hits that belong to this collection (others are skipped), in order.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, u64>("c", CollectionConfig::new(Metric::L2))?;
    /// c.upsert(1, &[1.0], &100)?;
    /// let hits = c.search(&[1.0], 1)?;
    /// let records = c.fetch(&hits)?;
    /// assert_eq!(records[0].record::<u64>()?, Some(100));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn fetch(&self, hits: &[Hit]) -> Result<Vec<Fetched>> {
        self.shared.check_live()?;
        let mine: Vec<Hit> = hits
            .iter()
            .filter(|h| *h.collection == *self.shared.name)
            .cloned()
            .collect();
        match self.shared.fetcher.get() {
            Some(fetcher) => fetcher.fetch(mine),
            None => Err(Error::CollectionNotOpen(self.shared.name.to_string())),
        }
    }
}

/// Checks a stored configuration against the types a caller opens it with, and the metric and
/// indexed fields of `config` when the caller gives one (opening with `collection_or_create`).
pub(crate) fn check_config<V: VectorType, M: Record>(
    name: &str,
    stored: &StoredConfig,
    config: Option<&crate::vector::CollectionConfig>,
) -> Result<()> {
    let requested = StoredConfig {
        element: V::ELEMENT,
        dim: V::DIM,
        metric: config.map_or(stored.metric, |c| c.metric),
        indexed: stored.indexed,
        code: stored.code,
        record_type: M::type_name(),
        fields: config.map_or_else(|| stored.fields.clone(), |c| c.fields.clone()),
    };
    if requested != *stored {
        return Err(Error::ConfigMismatch {
            collection: name.to_owned(),
            stored: stored.describe(),
            requested: requested.describe(),
        });
    }
    Ok(())
}
