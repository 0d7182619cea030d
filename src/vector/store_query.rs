//! The store's query builder: one search over several collections, or over `_global_index`,
//! with the same shape as a collection's ([`Query`](super::Query)).
//!
//! `store.query(&v).collections(&["a", "b"]).filter(expr).run()` merges the exact scans of the
//! named collections, each under what the filter admits in it (the filter's fields must be
//! indexed in every one: fields shared across types). `store.query(&v).global()` searches
//! `_global_index`: its graph when unfiltered and large, an exact scan of the named collections'
//! entries (`collections`) or of what a filter admits otherwise.

use crate::error::{Error, Result};
use crate::vector::filter::Expr;
use crate::vector::global::GlobalWalk;
use crate::vector::query::DEFAULT_K;
use crate::vector::store::Store;
use crate::vector::topk::Hit;

/// A search over several collections or `_global_index`; [`run`](Self::run) answers it.
///
/// ```
/// use quiver::vector::{field, CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
/// use serde_json::json;
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
/// let config = CollectionConfig::new(Metric::L2).field("lang", FieldKind::Keyword);
/// let docs = store.create_collection::<F32<1>, Dynamic>("docs", config.clone())?;
/// let notes = store.create_collection::<F32<1>, Dynamic>("notes", config)?;
/// docs.upsert(1, &[1.0], &json!({"lang": "en"}))?;
/// notes.upsert(1, &[1.1], &json!({"lang": "fr"}))?;
/// let english = store.query(&[1.1]).collections(&["docs", "notes"]).filter(field("lang").eq("en")).run()?;
/// assert_eq!((&*english[0].collection, english.len()), ("docs", 1));
/// store.sync_global_index()?;
/// let french = store.query(&[1.0]).global().filter(field("lang").eq("fr")).run()?;
/// assert_eq!(&*french[0].collection, "notes");
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug)]
pub struct StoreQuery<'s, 'q> {
    store: &'s Store,
    vector: &'q [f32],
    k: usize,
    collections: Option<Vec<String>>,
    global: bool,
    filter: Option<Expr>,
    ef: Option<usize>,
    exact: bool,
}

impl Store {
    /// A search for the items nearest `vector` across collections (name them with
    /// [`collections`](StoreQuery::collections)) or through `_global_index`
    /// ([`global`](StoreQuery::global)).
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(1, &[1.0], &())?;
    /// assert_eq!(store.query(&[1.0]).collections(&["a"]).k(1).run()?[0].id, 1);
    /// assert!(store.query(&[1.0]).run().is_err()); // neither collections nor global
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn query<'q>(&self, vector: &'q [f32]) -> StoreQuery<'_, 'q> {
        StoreQuery {
            store: self,
            vector,
            k: DEFAULT_K,
            collections: None,
            global: false,
            filter: None,
            ef: None,
            exact: false,
        }
    }
}

impl StoreQuery<'_, '_> {
    /// How many items to return.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// # for i in 0..5u64 { a.upsert(i, &[i as f32], &())?; }
    /// assert_eq!(store.query(&[0.0]).collections(&["a"]).k(2).run()?.len(), 2);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// The collections to search (with [`global`](Self::global): the global index's entries of
    /// these collections only).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// assert!(store.query(&[0.0]).collections(&["a"]).run()?.is_empty());
    /// assert!(store.query(&[0.0]).collections(&["nope"]).run().is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn collections(mut self, names: &[&str]) -> Self {
        self.collections = Some(names.iter().map(|n| (*n).to_owned()).collect());
        self
    }

    /// Searches `_global_index` ([`Error::NoGlobalIndex`] if the store has none).
    ///
    /// ```
    /// # use quiver::vector::{Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// assert!(matches!(store.query(&[0.0]).global().run(), Err(quiver::Error::NoGlobalIndex)));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }

    /// Only items matching `expr` in their collection (its fields must be indexed in each
    /// collection searched); a second call adds a condition.
    ///
    /// ```
    /// use quiver::vector::ids;
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// # for i in 0..5u64 { a.upsert(i, &[i as f32], &())?; }
    /// let hits = store.query(&[0.0]).collections(&["a"]).filter(!ids(&[0])).k(1).run()?;
    /// assert_eq!(hits[0].id, 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn filter(mut self, expr: Expr) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing & expr,
            None => expr,
        });
        self
    }

    /// The global graph walk's candidate list size (global searches only).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// assert!(store.query(&[0.0]).global().ef(usize::MAX).run().is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }

    /// Scans exactly (global searches; collection searches always do).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(3, &[3.0], &())?;
    /// store.sync_global_index()?;
    /// assert_eq!(store.query(&[2.9]).global().exact().run()?[0].id, 3);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// Runs the search: hits nearest first, across the collections searched.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// # let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// # a.upsert(1, &[1.0], &())?;
    /// assert_eq!(store.query(&[1.0]).collections(&["a"]).run()?.len(), 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn run(self) -> Result<Vec<Hit>> {
        if let Some(ef) = self.ef {
            crate::vector::ann::check_ef(ef)?;
        }
        let names: Option<Vec<&str>> = self
            .collections
            .as_ref()
            .map(|names| names.iter().map(String::as_str).collect());
        if self.global {
            let walk = match self.exact {
                true => GlobalWalk::Exact,
                false => GlobalWalk::Graph { ef: self.ef },
            };
            return self.store.global_search_filtered(
                self.vector,
                self.k,
                walk,
                names.as_deref(),
                self.filter.as_ref(),
            );
        }
        let Some(names) = names else {
            return Err(Error::InvalidArgument(
                "a store query names its collections (collections) or searches the global index (global)".into(),
            ));
        };
        self.store
            .scan_collections(&names, self.vector, self.k, self.filter.as_ref())
    }
}
