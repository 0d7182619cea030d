//! The query builder: the one entry point for searching a collection.
//!
//! `collection.query(&vector).k(10).filter(expr).ef(64).run()` collects what the search asks
//! for, and [`Collection::search_with`] answers it: the filter's expression from the field
//! indexes, the route from the planner ([`crate::vector::plan`]), the route's kernel. The
//! `search*` methods of [`Collection`] are conveniences over the same path. A batch
//! ([`Collection::query_batch`]) can give each query its own filter
//! ([`filters`](Query::filters)), as a recommender excluding each user's seen items does.

use crate::error::{Error, Result};
use crate::vector::checks::RowChecks;
use crate::vector::collection::{Collection, SearchOptions};
use crate::vector::element::VectorType;
use crate::vector::filter::{Expr, Filter};
use crate::vector::plan::QueryPlan;
use crate::vector::record::Record;
use crate::vector::record_guard::{RecordGuard, read_checked};
use crate::vector::tables::{ID_STRINGS, raw_records};
use crate::vector::topk::Hit;
use rayon::prelude::*;
use std::fmt;

/// The `k` a query returns unless [`k`](Query::k) says otherwise.
///
/// ```
/// # use quiver::vector::{CollectionConfig, Metric, Store, F32, DEFAULT_K};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
/// for i in 0..20u64 { c.upsert(i, &[i as f32], &())?; }
/// assert_eq!(c.query(&[0.0]).run()?.len(), DEFAULT_K);
/// # Ok::<(), quiver::Error>(())
/// ```
pub const DEFAULT_K: usize = 10;

/// A search being described; [`run`](Self::run) answers it.
///
/// ```
/// use quiver::vector::{field, ids, CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
/// use serde_json::json;
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let config = CollectionConfig::new(Metric::L2).field("tag", FieldKind::Keyword);
/// let c = store.create_collection::<F32<1>, Dynamic>("c", config)?;
/// for i in 0..10u64 { c.upsert(i, &[i as f32], &json!({"tag": if i < 5 { "a" } else { "b" }}))?; }
/// let hits = c.query(&[0.0]).k(2).filter(field("tag").eq("a") & !ids(&[0])).run()?;
/// assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 2]);
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct Query<'c, 'q, 'f, V, M: Record> {
    collection: &'c Collection<V, M>,
    vectors: Vec<&'q [f32]>,
    k: usize,
    filter: Filter<'f, M>,
    per_query: Option<Vec<Expr>>,
    options: SearchOptions,
}

impl<V, M: Record> fmt::Debug for Query<'_, '_, '_, V, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("queries", &self.vectors.len())
            .field("k", &self.k)
            .field("filter", &self.filter)
            .field("per_query", &self.per_query.as_ref().map(Vec::len))
            .field("ef", &self.options.ef)
            .field("exact", &self.options.exact)
            .finish()
    }
}

/// A hit with its record, from [`Query::run_with_records`].
///
/// ```
/// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let c = store.create_collection::<F32<1>, u32>("c", CollectionConfig::new(Metric::L2))?;
/// c.upsert(4, &[4.0], &40)?;
/// let found = c.query(&[4.0]).run_with_records()?;
/// assert_eq!((found[0].hit.id, found[0].record.value()?), (4, 40));
/// assert_eq!(found[0].string_id, None);
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct Found<M: Record> {
    /// The hit.
    pub hit: Hit,
    /// The item's string id, if it was written with one.
    pub string_id: Option<String>,
    /// The item's record, checked against its checksum.
    pub record: RecordGuard<M>,
}

impl<M: Record> fmt::Debug for Found<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Found")
            .field("hit", &self.hit)
            .field("string_id", &self.string_id)
            .finish()
    }
}

impl<V: VectorType, M: Record> Collection<V, M> {
    /// A search for the items nearest `vector` (see [`Query`]): `k` 10, no filter, the
    /// planner's route, until the builder's methods say otherwise.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// for i in 0..20u64 { c.upsert(i, &[i as f32], &())?; }
    /// assert_eq!(c.query(&[3.2]).run()?.len(), 10);
    /// assert_eq!(c.query(&[3.2]).k(1).exact().run()?[0].id, 3);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn query<'q, 'f>(&self, vector: &'q [f32]) -> Query<'_, 'q, 'f, V, M> {
        self.query_batch(&[vector])
    }

    /// A search for each of `vectors` at once (in parallel); see [`Query::run_batch`].
    ///
    /// ```
    /// use quiver::vector::{ids, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// for i in 0..20u64 { c.upsert(i, &[i as f32], &())?; }
    /// // Each query excludes what its user has seen.
    /// let results = c
    ///     .query_batch(&[&[0.0], &[0.0]])
    ///     .k(1)
    ///     .filters(vec![!ids(&[0]), !ids(&[0, 1])])
    ///     .run_batch()?;
    /// assert_eq!((results[0][0].id, results[1][0].id), (1, 2));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn query_batch<'q, 'f>(&self, vectors: &[&'q [f32]]) -> Query<'_, 'q, 'f, V, M> {
        Query {
            collection: self,
            vectors: vectors.to_vec(),
            k: DEFAULT_K,
            filter: Filter::all(),
            per_query: None,
            options: SearchOptions::default(),
        }
    }
}

impl<'c, 'q, 'f, V: VectorType, M: Record> Query<'c, 'q, 'f, V, M> {
    /// How many items to return (at most; fewer when fewer match).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// # for i in 0..5u64 { c.upsert(i, &[i as f32], &())?; }
    /// assert_eq!(c.query(&[0.0]).k(3).run()?.len(), 3);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Only items matching `expr` (over indexed fields and ids); a second call adds a
    /// condition (both must hold).
    ///
    /// ```
    /// use quiver::vector::ids;
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// # for i in 0..5u64 { c.upsert(i, &[i as f32], &())?; }
    /// let hits = c.query(&[0.0]).filter(ids(&[3, 4])).filter(!ids(&[4])).run()?;
    /// assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![3]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn filter(mut self, expr: Expr) -> Self {
        let combined = match self.filter.expr.take() {
            Some(existing) => existing & expr,
            None => expr,
        };
        self.filter.expr = (!combined.is_all()).then_some(combined);
        self
    }

    /// One filter per query of a batch (`exprs[i]` for query `i`), on top of
    /// [`filter`](Self::filter); [`Error::InvalidArgument`] at [`run_batch`](Self::run_batch)
    /// if the counts differ.
    ///
    /// ```
    /// use quiver::vector::ids;
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// # for i in 0..5u64 { c.upsert(i, &[i as f32], &())?; }
    /// let r = c.query_batch(&[&[0.0], &[4.0]]).k(1).filters(vec![ids(&[2]), ids(&[3])]).run_batch()?;
    /// assert_eq!((r[0][0].id, r[1][0].id), (2, 3));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn filters(mut self, exprs: Vec<Expr>) -> Self {
        self.per_query = Some(exprs);
        self
    }

    /// Only items whose record satisfies `predicate`: the slow escape hatch (it reads and
    /// decodes records); prefer [`filter`](Self::filter) on indexed fields.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, u32>("c", CollectionConfig::new(Metric::L2))?;
    /// for i in 0..5u64 { c.upsert(i, &[i as f32], &(i as u32 * 10))?; }
    /// let hits = c.query(&[0.0]).k(1).predicate(|price: u32| price >= 30).run()?;
    /// assert_eq!(hits[0].id, 3);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn predicate(
        mut self,
        predicate: impl for<'a> Fn(M::Value<'a>) -> bool + Send + Sync + 'f,
    ) -> Self {
        self.filter.predicate = Some(Box::new(predicate));
        self
    }

    /// The walk's candidate list size (more is slower and finds more of the true neighbours;
    /// the index's default otherwise). Ignored by exact scans; above
    /// [`MAX_EF`](crate::vector::MAX_EF) it is [`Error::InvalidArgument`].
    ///
    /// ```
    /// # use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()))?;
    /// c.upsert(1, &[1.0], &())?;
    /// assert_eq!(c.query(&[1.0]).ef(128).run()?[0].id, 1);
    /// assert!(c.query(&[1.0]).ef(usize::MAX).run().is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn ef(mut self, ef: usize) -> Self {
        self.options.ef = Some(ef);
        self
    }

    /// Scans every (allowed) vector exactly, even when the collection has an index.
    ///
    /// ```
    /// # use quiver::vector::{AnnConfig, CollectionConfig, Metric, Route, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()))?;
    /// c.upsert(1, &[1.0], &())?;
    /// assert_eq!(c.query(&[1.0]).exact().explain()?.route, Route::ExactScan);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn exact(mut self) -> Self {
        self.options.exact = true;
        self
    }

    /// How the (first) query would be answered, without running it.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Route, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// assert_eq!(c.query(&[1.0]).explain()?.route, Route::ExactScan);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn explain(&self) -> Result<QueryPlan> {
        match (&self.per_query, self.options.exact) {
            (Some(exprs), _) if !exprs.is_empty() => {
                let filter = Filter {
                    expr: Some(match &self.filter.expr {
                        Some(expr) => expr.clone() & exprs[0].clone(),
                        None => exprs[0].clone(),
                    }),
                    ids: self.filter.ids,
                    predicate: None,
                };
                self.collection.explain_with(&filter, self.options.exact)
            }
            _ => self
                .collection
                .explain_with(&self.filter, self.options.exact),
        }
    }

    /// Runs the (first) query: hits nearest first.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// c.upsert(7, &[7.0], &())?;
    /// assert_eq!(c.query(&[6.0]).run()?[0].id, 7);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn run(self) -> Result<Vec<Hit>> {
        let mut query = self;
        query.vectors.truncate(1);
        if let Some(exprs) = &mut query.per_query {
            exprs.truncate(1);
        }
        Ok(query.run_batch()?.pop().unwrap_or_default())
    }

    /// Runs every query of the batch: one list of hits per query, in order.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
    /// # for i in 0..5u64 { c.upsert(i, &[i as f32], &())?; }
    /// let r = c.query_batch(&[&[0.0], &[4.0]]).k(1).run_batch()?;
    /// assert_eq!((r[0][0].id, r[1][0].id), (0, 4));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn run_batch(self) -> Result<Vec<Vec<Hit>>> {
        let Query {
            collection,
            vectors,
            k,
            filter,
            per_query,
            options,
        } = self;
        let Some(exprs) = per_query else {
            return collection.search_with(
                &vectors,
                k,
                filter.expr.as_ref(),
                filter.ids,
                filter.predicate.as_ref(),
                options,
            );
        };
        if exprs.len() != vectors.len() {
            return Err(Error::InvalidArgument(format!(
                "{} per-query filters for {} queries",
                exprs.len(),
                vectors.len()
            )));
        }
        vectors
            .par_iter()
            .zip(exprs)
            .map(|(vector, expr)| {
                let expr = match &filter.expr {
                    Some(shared) => shared.clone() & expr,
                    None => expr,
                };
                let mut hits = collection.search_with(
                    &[vector],
                    k,
                    Some(&expr),
                    filter.ids,
                    filter.predicate.as_ref(),
                    options,
                )?;
                Ok(hits.pop().unwrap_or_default())
            })
            .collect()
    }

    /// Runs the (first) query and reads the hits' records from one snapshot (an item deleted
    /// meanwhile is left out).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, &str>("c", CollectionConfig::new(Metric::L2))?;
    /// c.upsert_str("doc-1", &[1.0], &"hello")?;
    /// let found = c.query(&[1.0]).run_with_records()?;
    /// assert_eq!(found[0].record.value()?, "hello");
    /// assert_eq!(found[0].string_id.as_deref(), Some("doc-1"));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn run_with_records(self) -> Result<Vec<Found<M>>> {
        let collection = self.collection;
        let hits = self.run()?;
        collection.records_of(hits)
    }
}

impl<V: VectorType, M: Record> Collection<V, M> {
    /// The records of `hits` (of this collection), read from one snapshot.
    fn records_of(&self, hits: Vec<Hit>) -> Result<Vec<Found<M>>> {
        self.shared
            .cf
            .contain_panics("reading the hits' records", || {
                let read = self.shared.cf.begin_read()?;
                let table = read.open_table(raw_records::<M>())?;
                let strings = read.open_table(ID_STRINGS)?;
                let checks = RowChecks::open(&read, &self.shared.name)?;
                let mut found = Vec::with_capacity(hits.len());
                for hit in hits {
                    let Some(record) = read_checked::<M>(&table, &checks, hit.id)? else {
                        continue;
                    };
                    let string_id = strings.get(hit.id)?.map(|s| s.value().to_owned());
                    found.push(Found {
                        hit,
                        string_id,
                        record,
                    });
                }
                Ok(found)
            })
    }
}
