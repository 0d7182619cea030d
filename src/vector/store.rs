//! The store: collections (one column family each), the optional `_global_index`, and the
//! background applier that keeps the global index current.

use crate::cf::builder::Builder;
use crate::cf::column_family::ColumnFamily;
use crate::cf::database::Database;
use crate::cf::name::validate_name;
use crate::error::{Error, Result};
use crate::index::hnsw::HnswParams;
use crate::vector::ann::{self, AnnIndex, IndexStats, check_ef};
use crate::vector::checks::{CHECKS, Part, RowChecks};
use crate::vector::collection::{Collection, check_config};
use crate::vector::config::{CollectionConfig, CollectionInfo, StoredConfig};
use crate::vector::element::VectorType;
use crate::vector::fetch::{Fetched, TypedFetch};
use crate::vector::fields::resolved::Resolution;
use crate::vector::filter::Expr;
use crate::vector::global::feed::{Feed, GlobalLag, GlobalLagBound};
use crate::vector::global::{
    GLOBAL_INDEX_NAME, GlobalIndex, GlobalIndexer, GlobalMutation, GlobalWalk,
};
use crate::vector::metric::{Metric, check_vector};
use crate::vector::mirror::{Mirror, MirrorStats};
use crate::vector::record::Record;
use crate::vector::scan::{self, Allow, Prepared, Source};
use crate::vector::shared::{CollectionShared, read_config};
use crate::vector::tables::{
    CHANGES, CONFIG, CONFIG_KEY, COUNTERS, FIRST_STRING_ID, ID_STRINGS, NEXT_SEQ, NEXT_STRING_ID,
    STRING_IDS, raw_records, vectors,
};
use crate::vector::topk::Hit;
use crate::vector::verify::{VerifyReport, verify_rows, verify_sizes};
use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;
use web_time::Instant;

/// How long the applier waits after a wake-up before its round, to gather a burst of commits
/// into one round.
const APPLIER_COALESCE: Duration = Duration::from_millis(20);

pub(crate) struct StoreInner {
    collections: RwLock<HashMap<String, Arc<CollectionShared>>>,
    /// The names of the collections under `_global_index` by code, for the hits of a global
    /// search: rebuilt (under the `collections` write lock) when a collection is created or
    /// deleted, so a search takes a shared copy instead of building the map.
    global_names: RwLock<Arc<GlobalNames>>,
    global: Option<Arc<dyn GlobalIndexer>>,
    feed: Arc<Feed>,
    /// The last error of a background applier round, reported by `sync_global_index`.
    applier_error: Mutex<Option<String>>,
}

impl StoreInner {
    fn snapshot(&self) -> Vec<Arc<CollectionShared>> {
        let mut all: Vec<_> = self.collections.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// One applier round, then the lag it left (see [`Feed`]).
    fn catch_up(&self) -> Result<()> {
        let Some(global) = &self.global else {
            return Ok(());
        };
        let started = Instant::now();
        let collections = self.snapshot();
        let outcome = global.catch_up(&collections);
        self.feed
            .round_finished(started, outcome.is_ok(), &collections);
        outcome
    }
}

/// Stops and joins the background applier when dropped.
struct ApplierThread {
    feed: Arc<Feed>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for ApplierThread {
    fn drop(&mut self) {
        self.feed.shut_down();
        if let Some(handle) = self.handle.take() {
            // A panic in the applier was already contained to its thread; nothing to add here.
            let _ = handle.join();
        }
    }
}

/// Hits of one collection, each with its position in the caller's list.
type HitGroup = (Arc<str>, Vec<(usize, Hit)>);

/// Collection names by code, of the collections under `_global_index`.
type GlobalNames = HashMap<u64, Arc<str>>;

/// The names of `collections` under `_global_index`, by code.
fn global_names(collections: &HashMap<String, Arc<CollectionShared>>) -> Arc<GlobalNames> {
    Arc::new(
        collections
            .values()
            .filter(|c| c.config.indexed)
            .map(|c| (c.config.code, c.name.clone()))
            .collect(),
    )
}

type GlobalFactory =
    Box<dyn FnOnce(&Database, GlobalMutation) -> Result<Arc<dyn GlobalIndexer>> + Send>;

/// The redb page cache each column family of a [`Store`] gets unless
/// [`StoreBuilder::database`] says otherwise: 16 MiB, a quarter of a plain [`Database`]'s
/// [`DEFAULT_CACHE_SIZE`](crate::DEFAULT_CACHE_SIZE).
///
/// A store serves searches from memory (the approximate index's arrays, or the exact-scan
/// mirror), so the page cache only holds the B-tree pages that record lookups and commits
/// touch; redb also moves every page a durable commit writes into it, so a larger cache filled
/// up with copies of vector pages already held in memory: loading fashion-mnist with an int8
/// index peaked at 598 MB with 64 MiB, 546 MB with 16 MiB. The smaller cache also bounds redb's
/// write buffer, which made loading wordnet-minilm with its index about 9% slower (30.0 s
/// against 27.6 s).
///
/// ```
/// use quiver::vector::{STORE_CACHE_SIZE, Store};
/// // A store's builder starts from this cache size.
/// let options = format!("{:?}", Store::builder());
/// assert!(options.contains(&format!("cache_size: {STORE_CACHE_SIZE}")), "{options}");
/// ```
pub const STORE_CACHE_SIZE: usize = 16 << 20;

/// Options for opening a [`Store`].
///
/// ```
/// use quiver::vector::{Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::builder()
///     .global_index::<F32<384>>(Metric::Cosine)
///     .open(dir.path().join("shop.qvr"))?;
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct StoreBuilder {
    database: Builder,
    global: Option<GlobalFactory>,
    mutation: GlobalMutation,
    lag_bound: GlobalLagBound,
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("database", &self.database)
            .field("global_index", &self.global.is_some())
            .field("lag_bound", &self.lag_bound)
            .finish()
    }
}

impl StoreBuilder {
    /// Database options (cache size, log, checkpoints) for [`open`](Self::open). A builder
    /// given here keeps its own cache size (a new [`Builder`] has 64 MiB, not the store's
    /// [`STORE_CACHE_SIZE`]).
    ///
    /// ```
    /// let mut db = quiver::Builder::new();
    /// db.set_cache_size(16 << 20);
    /// let builder = quiver::vector::Store::builder().database(db);
    /// # let _ = builder;
    /// ```
    pub fn database(mut self, builder: Builder) -> StoreBuilder {
        self.database = builder;
        self
    }

    /// Maintains `_global_index` over every collection with vector type `V` and `metric`.
    ///
    /// ```
    /// let builder = quiver::vector::Store::builder()
    ///     .global_index::<quiver::vector::F16<768>>(quiver::vector::Metric::Dot);
    /// # let _ = builder;
    /// ```
    pub fn global_index<V: VectorType>(mut self, metric: Metric) -> StoreBuilder {
        let factory: GlobalFactory = Box::new(move |db: &Database, mutation| {
            Ok(Arc::new(GlobalIndex::<V>::open(db, metric, mutation)?) as Arc<dyn GlobalIndexer>)
        });
        self.global = Some(factory);
        self
    }

    /// Plants a deliberate bug in the global index's applier, to prove that crash tests catch
    /// it. Tests only.
    ///
    /// ```
    /// let builder = quiver::vector::Store::builder()
    ///     .global_mutation(quiver::testing::GlobalMutation::SkipMakeDurable);
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "testing")]
    pub fn global_mutation(mut self, mutation: GlobalMutation) -> StoreBuilder {
        self.mutation = mutation;
        self
    }

    /// How far `_global_index` may fall behind its collections' commits before their writers
    /// wait for it (default [`GlobalLagBound::default`]: 10,000 items or 5 s). A smaller bound
    /// makes `sync_global_index`, `close` and the next `open` quicker and global searches
    /// fresher, at the cost of writers waiting sooner when they outrun the applier.
    ///
    /// ```
    /// use quiver::vector::{GlobalLagBound, Metric, Store, F32};
    /// let builder = Store::builder()
    ///     .global_index::<F32<8>>(Metric::L2)
    ///     .global_lag_bound(GlobalLagBound { items: 1_000, age: std::time::Duration::from_secs(1) });
    /// # let _ = builder;
    /// ```
    pub fn global_lag_bound(mut self, bound: GlobalLagBound) -> StoreBuilder {
        self.lag_bound = bound;
        self
    }

    /// Opens (or creates) the store file at `path`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::builder().open(dir.path().join("a.qvr"))?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open(self, path: impl AsRef<Path>) -> Result<Store> {
        let db = self.database.open(path)?;
        self.open_database(db)
    }

    /// Builds the store over an already open [`Database`] (for example one opened on a custom
    /// [`FileIo`](crate::io::FileIo)). Catches the global index up before returning.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let store = quiver::vector::Store::builder().open_database(db)?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open_database(self, db: Database) -> Result<Store> {
        let global = match self.global {
            Some(factory) => Some(factory(&db, self.mutation)?),
            None => None,
        };
        let mut collections = HashMap::new();
        for name in db.list_column_families() {
            if name == GLOBAL_INDEX_NAME {
                continue;
            }
            let cf = db.column_family(&name)?;
            if let Some(config) = read_config(&name, &cf)? {
                collections.insert(
                    name.clone(),
                    Arc::new(CollectionShared::load(&name, cf, config)?),
                );
            }
        }
        let feed = Arc::new(Feed::new(self.lag_bound));
        let inner = Arc::new(StoreInner {
            global_names: RwLock::new(global_names(&collections)),
            collections: RwLock::new(collections),
            global,
            feed: feed.clone(),
            applier_error: Mutex::new(None),
        });
        inner.catch_up()?;
        let mut inline_global = false;
        let applier = if inner.global.is_some() {
            let worker = inner.clone();
            let spawned = std::thread::Builder::new()
                .name("quiver-global-index".into())
                .spawn(move || {
                    while worker.feed.wait() {
                        // Coalesce a burst of commits into one round.
                        std::thread::sleep(APPLIER_COALESCE);
                        let outcome = worker.catch_up();
                        *worker.applier_error.lock() = outcome.err().map(|e| e.to_string());
                    }
                });
            match spawned {
                Ok(handle) => {
                    feed.applier_started();
                    Some(ApplierThread {
                        feed,
                        handle: Some(handle),
                    })
                }
                // No threads on this platform (wasm32-unknown-unknown): every use of the global
                // index catches it up first, inline.
                Err(err) if err.kind() == std::io::ErrorKind::Unsupported => {
                    inline_global = true;
                    None
                }
                Err(err) => return Err(err.into()),
            }
        } else {
            None
        };
        Ok(Store {
            db,
            inner,
            applier: Mutex::new(applier),
            inline_global,
        })
    }
}

/// A vector store: typed collections in one file, exact search within and across them, and an
/// optional global index over all entity types.
///
/// ```
/// use quiver::vector::{CollectionConfig, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::builder()
///     .global_index::<F32<2>>(Metric::Cosine)
///     .open(dir.path().join("shop.qvr"))?;
/// let products = store.create_collection::<F32<2>, &str>("products", CollectionConfig::new(Metric::Cosine))?;
/// let users = store.create_collection::<F32<2>, &str>("users", CollectionConfig::new(Metric::Cosine))?;
/// products.upsert(1, &[1.0, 0.0], &"lamp")?;
/// users.upsert(1, &[0.9, 0.1], &"ada")?;
/// store.sync_global_index()?;
/// let hits = store.global_search(&[1.0, 0.0], 2)?;
/// let names: Vec<&str> = hits.iter().map(|h| &*h.collection).collect();
/// assert_eq!(names, vec!["products", "users"]);
/// let records = store.fetch(&hits)?;
/// assert_eq!(records[1].record::<&str>()?, Some("ada"));
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct Store {
    // Field order matters: the applier stops before the database closes.
    applier: Mutex<Option<ApplierThread>>,
    inner: Arc<StoreInner>,
    db: Database,
    /// No applier thread could start: the global index is caught up inline before each use.
    inline_global: bool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("collections", &self.list_collections())
            .field("global_index", &self.inner.global.is_some())
            .finish()
    }
}

/// A collection code: random, so a name reused after a delete gets a different one.
fn new_code(name: &str) -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(name.as_bytes());
    hasher.write_u128(
        web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

impl Store {
    /// Opens (or creates) a store with default options and no global index.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
    /// assert!(store.list_collections().is_empty());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::builder().open(path)
    }

    /// Options for opening a store.
    ///
    /// ```
    /// let builder = quiver::vector::Store::builder();
    /// # let _ = builder;
    /// ```
    pub fn builder() -> StoreBuilder {
        let mut database = Builder::new();
        database.set_cache_size(STORE_CACHE_SIZE);
        StoreBuilder {
            database,
            global: None,
            mutation: GlobalMutation::None,
            lag_bound: GlobalLagBound::default(),
        }
    }

    /// The underlying database (column families, checkpoints, statistics).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
    /// store.database().checkpoint()?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Creates a collection of vectors `V` and records `M`.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F16};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// store.create_collection::<F16<768>, &[u8]>("chunks", CollectionConfig::new(Metric::Dot))?;
    /// assert!(store.create_collection::<F16<768>, &[u8]>("chunks", CollectionConfig::new(Metric::Dot)).is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn create_collection<V: VectorType, M: Record>(
        &self,
        name: &str,
        config: CollectionConfig,
    ) -> Result<Collection<V, M>> {
        validate_name(name)?;
        if name.starts_with('_') {
            return Err(Error::InvalidName {
                name: name.to_owned(),
                reason: "names starting with '_' are reserved for quiver's own column families",
            });
        }
        config.validate::<M>()?;
        let mut collections = self.inner.collections.write();
        if collections.contains_key(name) {
            return Err(Error::ColumnFamilyExists(name.to_owned()));
        }
        let cf = match self.db.create_column_family(name) {
            Ok(cf) => cf,
            // A column family left by a creation that crashed before its configuration was
            // written has no tables: adopt it.
            Err(Error::ColumnFamilyExists(_)) => {
                let cf = self.db.column_family(name)?;
                if cf.begin_read()?.list_tables()?.next().is_some() {
                    return Err(Error::ColumnFamilyExists(name.to_owned()));
                }
                cf
            }
            Err(err) => return Err(err),
        };
        let indexed = config.indexed_globally
            && self
                .inner
                .global
                .as_ref()
                .is_some_and(|g| g.covers(V::ELEMENT, V::DIM, config.metric));
        let stored = StoredConfig {
            element: V::ELEMENT,
            dim: V::DIM,
            metric: config.metric,
            indexed,
            code: new_code(name),
            record_type: M::type_name(),
            fields: config.fields.clone(),
        };
        cf.contain_panics("creating the collection", || {
            write_new_collection::<V, M>(&cf, &config, &stored)
        })?;
        let shared = Arc::new(CollectionShared::load(name, cf, stored)?);
        collections.insert(name.to_owned(), shared.clone());
        *self.inner.global_names.write() = global_names(&collections);
        drop(collections);
        self.typed(shared)
    }

    /// Opens an existing collection, checking that it holds vectors `V` and records `M`.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32, F16};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// store.create_collection::<F32<8>, ()>("items", CollectionConfig::new(Metric::L2))?;
    /// assert!(store.collection::<F32<8>, ()>("items").is_ok());
    /// assert!(matches!(
    ///     store.collection::<F16<8>, ()>("items"),
    ///     Err(quiver::Error::ConfigMismatch { .. })
    /// ));
    /// assert!(matches!(
    ///     store.collection::<F32<8>, ()>("nope"),
    ///     Err(quiver::Error::CollectionNotFound(_))
    /// ));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn collection<V: VectorType, M: Record>(&self, name: &str) -> Result<Collection<V, M>> {
        let shared = self.shared(name)?;
        check_config::<V, M>(name, &shared.current_config(), None)?;
        self.typed(shared)
    }

    /// Opens a collection, creating it if needed; an existing one must match `config` too.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::Cosine);
    /// store.collection_or_create::<F32<8>, ()>("items", config.clone())?;
    /// store.collection_or_create::<F32<8>, ()>("items", config)?;
    /// assert!(store.collection_or_create::<F32<8>, ()>("items", CollectionConfig::new(Metric::L2)).is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn collection_or_create<V: VectorType, M: Record>(
        &self,
        name: &str,
        config: CollectionConfig,
    ) -> Result<Collection<V, M>> {
        match self.shared(name) {
            Ok(shared) => {
                check_config::<V, M>(name, &shared.current_config(), Some(&config))?;
                self.typed(shared)
            }
            Err(Error::CollectionNotFound(_)) => self.create_collection(name, config),
            Err(err) => Err(err),
        }
    }

    pub(crate) fn shared(&self, name: &str) -> Result<Arc<CollectionShared>> {
        self.inner
            .collections
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::CollectionNotFound(name.to_owned()))
    }

    /// A typed handle. The first one loads the approximate index, if the collection has one,
    /// and otherwise the mirror (an indexed collection loads it on its first exact search).
    fn typed<V: VectorType, M: Record>(
        &self,
        shared: Arc<CollectionShared>,
    ) -> Result<Collection<V, M>> {
        {
            let mut writer = shared.writer.lock();
            if shared.mirror_loader.get().is_none() {
                shared.cf.contain_panics("loading the collection", || {
                    let read = shared.cf.begin_read()?;
                    let loaded = match ann::load::<V>(&shared.name, &read, shared.config.metric)? {
                        Some((index, nodes)) => Some((
                            ann::load_records::<M>(&shared.name, index, &nodes, &read)?,
                            nodes,
                        )),
                        None => None,
                    };
                    drop(read);
                    match loaded {
                        Some((index, nodes)) => {
                            writer.ann_nodes = nodes;
                            *shared.ann.write() = Some(Arc::new(index));
                        }
                        None => *shared.mirror.write() = Some(read_mirror::<V>(&shared)?),
                    }
                    Ok(())
                })?;
                // Only this thread sets it (under the writer lock, after checking it is unset).
                let _ = shared.mirror_loader.set(load_mirror::<V>);
                let _ = shared.vector_ids.set(list_vector_ids::<V>);
                let _ = shared.row_verifier.set(verify_rows::<V, M>);
            }
        }
        shared.fetcher.get_or_init(|| {
            Arc::new(TypedFetch::<M> {
                cf: shared.cf.clone(),
                _record: PhantomData,
            })
        });
        Ok(Collection {
            shared,
            feed: self.inner.feed.clone(),
            _types: PhantomData,
        })
    }

    /// Deletes a collection and everything in it; its space is reused. Handles to it get
    /// [`Error::CollectionNotFound`] afterwards, and the global index drops its entries.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// let old = store.create_collection::<F32<2>, ()>("old", CollectionConfig::new(Metric::Dot))?;
    /// store.delete_collection("old")?;
    /// assert!(old.search(&[1.0, 0.0], 1).is_err());
    /// assert!(store.list_collections().is_empty());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn delete_collection(&self, name: &str) -> Result<()> {
        let shared = self.shared(name)?;
        {
            let _writer = shared.writer.lock();
            shared.deleted.store(true, Ordering::Release);
            let mut collections = self.inner.collections.write();
            collections.remove(name);
            *self.inner.global_names.write() = global_names(&collections);
            drop(collections);
            *shared.mirror.write() = None;
            *shared.fields.write() = None;
            *shared.ann.write() = None;
        }
        self.db.delete_column_family(name)?;
        self.inner.feed.notify();
        Ok(())
    }

    /// The names of all collections, sorted.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// store.create_collection::<F32<2>, ()>("b", CollectionConfig::new(Metric::Dot))?;
    /// store.create_collection::<F32<2>, ()>("a", CollectionConfig::new(Metric::Dot))?;
    /// assert_eq!(store.list_collections(), vec!["a", "b"]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn list_collections(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.collections.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// What the collection `name` was created with (vector type, metric, record type), without
    /// opening it with its types: for tools and bindings that choose the types at run time.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F16};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// store.create_collection::<F16<8>, ()>("small", CollectionConfig::new(Metric::L2))?;
    /// assert_eq!(store.collection_info("small")?.dim, 8);
    /// assert!(matches!(store.collection_info("missing"), Err(quiver::Error::CollectionNotFound(_))));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn collection_info(&self, name: &str) -> Result<CollectionInfo> {
        let collections = self.inner.collections.read();
        let shared = collections
            .get(name)
            .ok_or_else(|| Error::CollectionNotFound(name.to_owned()))?;
        let config = &shared.config;
        Ok(CollectionInfo {
            element: config.element,
            dim: config.dim,
            metric: config.metric,
            record_type: config.record_type.clone(),
        })
    }

    /// Exact search across several collections at once (in parallel over collections and over
    /// chunks of each), merged into one top k. The collections must have been opened and must
    /// share the query's dimension.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// let b = store.create_collection::<F32<1>, ()>("b", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(1, &[1.0], &())?;
    /// b.upsert(1, &[2.0], &())?;
    /// let hits = store.search_collections(&["a", "b"], &[1.9], 2)?;
    /// assert_eq!(&*hits[0].collection, "b");
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn search_collections(&self, names: &[&str], query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.query(query).collections(names).k(k).run()
    }

    /// The exact merge of several collections' scans, each under what its filter admits.
    pub(crate) fn scan_collections(
        &self,
        names: &[&str],
        query: &[f32],
        k: usize,
        filter: Option<&Expr>,
    ) -> Result<Vec<Hit>> {
        let shared: Vec<Arc<CollectionShared>> = names
            .iter()
            .map(|n| self.shared(n))
            .collect::<Result<_>>()?;
        for s in &shared {
            check_vector(query, s.config.dim, s.config.element, s.config.metric)?;
        }
        let resolutions: Vec<Option<Arc<Resolution>>> = shared
            .iter()
            .map(|s| filter.map(|expr| s.resolve(expr, None)).transpose())
            .collect::<Result<_>>()?;
        let guards: Vec<_> = shared.iter().map(|s| s.mirror()).collect::<Result<_>>()?;
        let mut sources = Vec::new();
        for (index, ((s, guard), resolution)) in
            shared.iter().zip(&guards).zip(&resolutions).enumerate()
        {
            let Some(mirror) = guard.as_ref() else {
                // The mirror is gone only if the collection was deleted meanwhile.
                s.check_live()?;
                return Err(Error::CollectionNotFound(s.name.to_string()));
            };
            sources.push(Source {
                index: index as u32,
                mirror,
                metric: s.config.metric,
                allow: resolution
                    .as_deref()
                    .map_or_else(Allow::all, |r| Allow::for_resolution(r, mirror)),
            });
        }
        let prepared = Prepared::new(query);
        let candidates = scan::search(&sources, &prepared, k);
        Ok(candidates
            .into_iter()
            .map(|c| Hit {
                collection: shared[c.source as usize].name.clone(),
                id: c.id,
                distance: c.distance,
            })
            .collect())
    }

    /// Search over `_global_index`: every covered collection, one top k. Once the index holds
    /// more than 4,096 entries (and `k` is below that count) it walks the global index's own
    /// graph (approximate, like a collection's index with the default [`AnnConfig`]); below, or
    /// for a larger `k`, it scans exactly ([`global_search_exact`](Self::global_search_exact)).
    ///
    /// [`AnnConfig`]: crate::vector::AnnConfig
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(4, &[4.0], &())?;
    /// store.sync_global_index()?;
    /// assert_eq!(store.global_search(&[3.0], 1)?[0].id, 4);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.global_search_with(query, k, GlobalWalk::Graph { ef: None })
    }

    /// Like [`global_search`](Self::global_search), keeping `ef` candidates in the graph walk
    /// instead of the default 64 (at least `k`; more is slower and finds more of the true
    /// neighbours, as for [`Collection::search_approximate`]). A global index too small for its
    /// graph is still scanned exactly.
    ///
    /// [`Collection::search_approximate`]: crate::vector::Collection::search_approximate
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<2>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<2>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// let mut batch = a.batch();
    /// for i in 0..5000u64 { batch.upsert(i, &[(i % 100) as f32, (i / 100) as f32], &())?; }
    /// a.commit(batch, quiver::Durability::Immediate)?;
    /// store.sync_global_index()?;
    /// let hits = store.global_search_approximate(&[10.2, 3.1], 3, 200)?;
    /// assert_eq!(hits[0].id, 3 * 100 + 10);
    /// assert_eq!(hits.len(), 3);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_search_approximate(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
    ) -> Result<Vec<Hit>> {
        check_ef(ef)?;
        self.global_search_with(query, k, GlobalWalk::Graph { ef: Some(ef) })
    }

    /// Exact search over `_global_index`, whatever its size: one distance per entry.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(4, &[4.0], &())?;
    /// store.sync_global_index()?;
    /// assert_eq!(store.global_search_exact(&[3.0], 1)?[0].id, 4);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.global_search_with(query, k, GlobalWalk::Exact)
    }

    fn global_search_with(&self, query: &[f32], k: usize, walk: GlobalWalk) -> Result<Vec<Hit>> {
        self.global_search_filtered(query, k, walk, None, None)
    }

    /// A global search, over the collections `only` names (all covered ones if `None`), each
    /// under what `filter` admits in it.
    pub(crate) fn global_search_filtered(
        &self,
        query: &[f32],
        k: usize,
        walk: GlobalWalk,
        only: Option<&[&str]>,
        filter: Option<&Expr>,
    ) -> Result<Vec<Hit>> {
        let global = self.global()?;
        let mut names = self.inner.global_names.read().clone();
        if let Some(only) = only {
            for name in only {
                let shared = self.shared(name)?;
                if !shared.config.indexed {
                    return Err(Error::InvalidArgument(format!(
                        "collection '{name}' is not covered by the global index"
                    )));
                }
            }
            names = Arc::new(
                names
                    .iter()
                    .filter(|(_, name)| only.contains(&&***name))
                    .map(|(code, name)| (*code, name.clone()))
                    .collect(),
            );
        }
        let filters: Option<HashMap<u64, Arc<Resolution>>> = match filter {
            Some(expr) => Some(
                names
                    .iter()
                    .map(|(code, name)| Ok((*code, self.shared(name)?.resolve(expr, None)?)))
                    .collect::<Result<_>>()?,
            ),
            None => None,
        };
        if only.is_some() && filters.is_none() && names.len() < self.inner.global_names.read().len()
        {
            // The graph holds every collection: restricted to some, scan those exactly.
            return global.search(query, k, &names, GlobalWalk::Exact, None);
        }
        global.search(query, k, &names, walk, filters.as_ref())
    }

    /// Size and state of the global index's graph (see [`global_search`](Self::global_search)).
    ///
    /// ```
    /// # use quiver::vector::{Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// assert_eq!(store.global_graph_stats()?.nodes, 0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_graph_stats(&self) -> Result<IndexStats> {
        Ok(self.global()?.graph_stats())
    }

    /// Waits until the global index reflects every commit that returned before this call
    /// (running an applier round now, making non-durable commits durable first).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// store.sync_global_index()?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn sync_global_index(&self) -> Result<()> {
        self.global()?;
        self.inner.catch_up()
    }

    /// How far `_global_index` is behind its collections' commits now (see
    /// [`GlobalLagBound`]).
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, ()>("a", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(1, &[1.0], &())?;
    /// store.sync_global_index()?;
    /// assert_eq!(store.global_lag().items, 0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_lag(&self) -> GlobalLag {
        self.inner.feed.lag()
    }

    /// Number of entries in the global index.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// assert_eq!(store.global_index_len()?, 0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_index_len(&self) -> Result<u64> {
        self.global()?.len()
    }

    /// Size and load time of the global index's in-memory mirror, which exact global searches
    /// scan: zeros until the first such search loads it (searches through the graph do not;
    /// see [`global_graph_stats`](Self::global_graph_stats)).
    ///
    /// ```
    /// # use quiver::vector::{Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<1>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// assert_eq!(store.global_index_stats()?.vectors, 0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_index_stats(&self) -> Result<MirrorStats> {
        Ok(self.global()?.stats())
    }

    /// The error of the last background applier round, if it failed (the next round, or
    /// [`sync_global_index`](Self::sync_global_index), retries).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
    /// assert_eq!(store.global_index_error(), None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn global_index_error(&self) -> Option<String> {
        self.inner.applier_error.lock().clone()
    }

    pub(crate) fn global(&self) -> Result<&Arc<dyn GlobalIndexer>> {
        let global = self.inner.global.as_ref().ok_or(Error::NoGlobalIndex)?;
        if self.inline_global {
            self.inner.catch_up()?;
        }
        Ok(global)
    }

    /// The second lookup: records for the given hits, in the same order, fetched in parallel
    /// (one task per collection). Each collection must have been opened with its types.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("a.qvr"))?;
    /// let a = store.create_collection::<F32<1>, u32>("a", CollectionConfig::new(Metric::L2))?;
    /// let b = store.create_collection::<F32<1>, &str>("b", CollectionConfig::new(Metric::L2))?;
    /// a.upsert(1, &[1.0], &7)?;
    /// b.upsert(1, &[2.0], &"seven")?;
    /// let hits = store.search_collections(&["a", "b"], &[1.0], 2)?;
    /// let records = store.fetch(&hits)?;
    /// assert_eq!(records[0].record::<u32>()?, Some(7));
    /// assert_eq!(records[1].record::<&str>()?, Some("seven"));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn fetch(&self, hits: &[Hit]) -> Result<Vec<Fetched>> {
        // Per collection: the hits with their positions in `hits`.
        let mut groups: Vec<HitGroup> = Vec::new();
        for (position, hit) in hits.iter().enumerate() {
            match groups.iter_mut().find(|(name, _)| *name == hit.collection) {
                Some((_, group)) => group.push((position, hit.clone())),
                None => groups.push((hit.collection.clone(), vec![(position, hit.clone())])),
            }
        }
        let fetched: Vec<Vec<(usize, Fetched)>> = groups
            .into_par_iter()
            .map(|(name, group)| -> Result<Vec<(usize, Fetched)>> {
                let shared = self.shared(&name)?;
                let fetcher = shared
                    .fetcher
                    .get()
                    .ok_or_else(|| Error::CollectionNotOpen(name.to_string()))?;
                let (positions, hits): (Vec<usize>, Vec<Hit>) = group.into_iter().unzip();
                Ok(positions.into_iter().zip(fetcher.fetch(hits)?).collect())
            })
            .collect::<Result<_>>()?;
        let mut ordered: Vec<(usize, Fetched)> = fetched.into_iter().flatten().collect();
        ordered.sort_by_key(|(position, _)| *position);
        Ok(ordered.into_iter().map(|(_, f)| f).collect())
    }

    /// Drops the store as if the process had died (see [`Database::abandon`]); the applier's
    /// writes fail from this call on. For crash tests only.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
    /// store.abandon();
    /// # Ok::<(), quiver::Error>(())
    /// ```
    #[cfg(feature = "crash-test")]
    pub fn abandon(self) {
        let Store {
            applier,
            inner,
            db,
            inline_global: _,
        } = self;
        db.abandon();
        drop(applier);
        drop(inner);
    }

    /// Walks and cross-checks everything the store keeps, and returns what it walked; the first
    /// inconsistency is [`Error::Corrupted`] naming the collection and the item. See
    /// [`VerifyReport`] for what is checked. Reads only; writers on other threads may go on
    /// (each collection's writers wait while it is walked).
    ///
    /// ```
    /// use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().global_index::<F32<2>>(Metric::L2).open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    /// let docs = store.create_collection::<F32<2>, u32>("docs", config)?;
    /// for i in 0..50u32 { docs.upsert(u64::from(i), &[i as f32, 1.0], &i)?; }
    /// let report = store.verify()?;
    /// assert_eq!((report.items, report.global_entries), (50, 50));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let collections = self.inner.snapshot();
        for shared in &collections {
            report.collections += 1;
            if !shared.checked {
                report.unchecked.push(shared.name.to_string());
            }
            match shared.row_verifier.get() {
                Some(verify) => {
                    report.items += shared
                        .cf
                        .contain_panics("verifying the collection", || verify(shared))?;
                }
                None => {
                    report.untyped.push(shared.name.to_string());
                    shared
                        .cf
                        .contain_panics("verifying the collection", || verify_sizes(shared))?;
                }
            }
        }
        if let Some(global) = &self.inner.global {
            self.inner.catch_up()?;
            let (entries, lagging) = global.verify(&collections)?;
            report.global_entries = entries;
            report.global_lagging = lagging;
        }
        self.db.verify()?;
        Ok(report)
    }

    /// Catches the global index up, stops the applier and closes the file. While a write
    /// transaction is open on the store's database it returns
    /// [`Error::TransactionInProgress`] and closes nothing (see [`Database::close`]); after it,
    /// every call returns [`Error::Closed`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::open(dir.path().join("a.qvr"))?;
    /// store.close()?;
    /// assert!(matches!(store.close(), Err(quiver::Error::Closed)));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        self.db.ensure_no_write_transaction()?;
        drop(self.applier.lock().take());
        self.inner.catch_up()?;
        self.db.close()
    }
}

/// Writes a new collection's tables, index state and configuration in one transaction (the
/// configuration last: its presence means the collection is complete).
fn write_new_collection<V: VectorType, M: Record>(
    cf: &ColumnFamily,
    config: &CollectionConfig,
    stored: &StoredConfig,
) -> Result<()> {
    let txn = cf.begin_write()?;
    {
        txn.open_table(vectors::<V>())?;
        txn.open_table(raw_records::<M>())?;
        if config.row_checks {
            txn.open_table(CHECKS)?;
        }
        txn.open_table(STRING_IDS)?;
        txn.open_table(ID_STRINGS)?;
        txn.open_table(CHANGES)?;
        let mut counters = txn.open_table(COUNTERS)?;
        counters.insert(NEXT_SEQ, 1)?;
        counters.insert(NEXT_STRING_ID, FIRST_STRING_ID)?;
        drop(counters);
        if let Some(ann) = config.ann {
            ann.validate()?;
            // A fixed seed: the same inserts build the same graph (reproducible benchmarks).
            let seed = HnswParams::default().seed;
            let index = AnnIndex::new(ann, seed, config.metric, V::ELEMENT, V::DIM);
            ann::create(&index, &txn)?;
        }
        // The configuration goes last in the same transaction: its presence means the
        // collection is complete.
        txn.open_table(CONFIG)?
            .insert(CONFIG_KEY, stored.encode().as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Calls `each` with every id of a collection's vector table.
fn list_vector_ids<V: VectorType>(
    read: &redb::ReadTransaction,
    each: &mut dyn FnMut(u64),
) -> Result<()> {
    let table = read.open_table(vectors::<V>())?;
    for entry in table.range::<u64>(..)? {
        each(entry?.0.value());
    }
    Ok(())
}

/// Reads a collection's vectors into a new mirror (see [`CollectionShared::mirror`]).
fn load_mirror<V: VectorType>(shared: &CollectionShared) -> Result<Mirror> {
    shared
        .cf
        .contain_panics("loading the vectors", || read_mirror::<V>(shared))
}

fn read_mirror<V: VectorType>(shared: &CollectionShared) -> Result<Mirror> {
    let started = Instant::now();
    let mut mirror = Mirror::new(V::ELEMENT, V::DIM);
    let read = shared.cf.begin_read()?;
    let table = read.open_table(vectors::<V>())?;
    let mut checks = RowChecks::open(&read, &shared.name)?.in_order()?;
    for entry in table.range::<u64>(..)? {
        let (id, vector) = entry?;
        let (id, vector) = (id.value(), vector.value());
        checks.verify(id, Part::Vector, vector.bytes())?;
        mirror.upsert(id, vector.bytes());
    }
    mirror.shrink_to_fit();
    mirror.load_time = started.elapsed();
    Ok(mirror)
}
