//! `_global_index`: one column family indexing every collection of one vector type and metric,
//! so a single search covers all entity types.
//!
//! # Consistency model
//!
//! There is no atomic commit across column families, so the global index is not written by the
//! writers. Instead each indexed collection keeps a **change log** in its own column family
//! (`quiver.changes`: sequence number -> item id), written in the same transaction as the item:
//! a committed write always has its change record, and a write that did not commit has none.
//! Writers never touch `_global_index`, so writers on different collections do not serialize
//! on it.
//!
//! An **applier** (a background thread, and any caller of
//! [`Store::sync_global_index`](super::Store::sync_global_index)) brings the global index up to
//! date. For each collection it:
//! 1. takes a read snapshot `S` of the collection;
//! 2. makes `S` durable: if a commit since the collection's last durable commit was not durable,
//!    it runs an empty durable commit on the collection (redb's durable commit persists the
//!    earlier ones), so nothing the global index reflects can be lost in a crash;
//! 3. reads the change records after the collection's *applied sequence number* (stored in
//!    `_global_index`, table `quiver.global.progress`) and, for every item they name, copies the
//!    item's vector from `S` into the global table (or removes it if `S` no longer has it);
//! 4. commits the copied vectors and the new applied sequence number **in one durable
//!    transaction** of `_global_index`;
//! 5. only then lets the collection's writers delete change records up to that number (they do
//!    it inside their next write transaction).
//!
//! The invariant, true after every commit of either column family and therefore after any
//! crash: for every collection `c` and item `i`, the global entry `(c, i)` equals `c`'s item `i`
//! (both absent counts as equal), unless `c` holds a change record for `i` after the applied
//! sequence number. Global entries are keyed by (collection code, item id), so applying a change
//! twice rewrites the same entry: nothing is double-counted. Change records are deleted only once
//! their application is durable, so nothing is missed. On open, the store runs the applier before
//! returning, so the global index has caught up with everything the collections recovered.
//! [`Store::sync_global_index`](super::Store::sync_global_index) returns once everything
//! committed before the call is reflected. Between those points a global search may lag the
//! collections (by about the applier's 20 ms pause), never lead them.
//!
//! Searches walk the global index's own HNSW graph (`graph.rs`) once it holds more than 4,096
//! entries, like a collection's index: its tables change in the same durable applier
//! transaction as the entries, so the invariant above covers it too. Smaller indexes, a `k` as
//! large as the index and [`Store::global_search_exact`](super::Store::global_search_exact) scan
//! an in-memory mirror of the global table (one per collection), loaded when the store opens and
//! updated after each durable applier commit; [`Store::global_index_stats`](super::Store::global_index_stats)
//! reports its memory and load time. It holds a second copy of every covered vector.
//!
//! Each collection gets a random 64-bit *code* when it is created; the global index keys its
//! entries by code, so a collection deleted and created again under the same name never mixes
//! with its predecessor. Entries of deleted collections are removed by the next applier round
//! and skipped by searches before that.
//!
//! A collection is covered if its vector type and metric equal the global index's, and it was
//! created (with [`CollectionConfig::global`](super::CollectionConfig::global) left `true`) in a
//! store opened with that global index.

mod apply;
pub(crate) mod feed;
mod graph;

use crate::cf::column_family::ColumnFamily;
use crate::cf::database::Database;
use crate::error::{Error, Result};
use crate::vector::ann::IndexStats;
use crate::vector::element::{Element, VectorType};
use crate::vector::fields::resolved::Resolution;
use crate::vector::metric::Metric;
use crate::vector::metric::check_vector;
use crate::vector::mirror::{Mirror, MirrorStats};
use crate::vector::scan::{self, Allow, Prepared, Source};
use crate::vector::shared::CollectionShared;
use crate::vector::topk::Hit;
use crate::vector::verify;
use apply::Change;
use graph::GlobalGraph;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use redb::{ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use web_time::Instant;

/// Deliberate bugs in the applier, for proving that the crash tests catch a broken global index
/// (`testing` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GlobalMutation {
    /// The correct applier.
    #[default]
    None,
    /// Copy changes from a snapshot without first making it durable.
    SkipMakeDurable,
    /// Commit the global index without durability, yet let writers delete the change records.
    TrimBeforeDurable,
}

/// The name of the global index's column family.
pub const GLOBAL_INDEX_NAME: &str = "_global_index";

const CONFIG: TableDefinition<&str, &[u8]> = TableDefinition::new("quiver.global.config");
const CONFIG_KEY: &str = "global";
const PROGRESS: TableDefinition<u64, u64> = TableDefinition::new("quiver.global.progress");

const fn global_vectors<V: redb::Value + 'static>() -> TableDefinition<'static, (u64, u64), V> {
    TableDefinition::new("quiver.global.vectors")
}

/// How a global search answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobalWalk {
    /// Through the graph when it is large enough, keeping `ef` candidates (the graph's
    /// configured `ef_search` when `None`); an exact scan otherwise.
    Graph { ef: Option<usize> },
    /// An exact scan of the mirror.
    Exact,
}

/// The global index without its vector type in the signature, so the store can hold it.
pub(crate) trait GlobalIndexer: Send + Sync {
    /// Whether collections of this shape are covered.
    fn covers(&self, element: Element, dim: usize, metric: Metric) -> bool;
    /// Brings the index up to date with every collection (see the module docs).
    fn catch_up(&self, collections: &[Arc<CollectionShared>]) -> Result<()>;
    /// Search over the covered collections `names` maps (live codes to names), through the
    /// graph when it is large unless `walk` is [`GlobalWalk::Exact`] or there is a filter:
    /// `filters` gives, per code, what a filter expression admits (a collection without an
    /// entry admits everything); filtered searches scan exactly.
    fn search(
        &self,
        query: &[f32],
        k: usize,
        names: &HashMap<u64, Arc<str>>,
        walk: GlobalWalk,
        filters: Option<&HashMap<u64, Arc<Resolution>>>,
    ) -> Result<Vec<Hit>>;
    /// Size and state of the graph.
    fn graph_stats(&self) -> IndexStats;
    /// Number of entries (read from the column family, not the mirror).
    fn len(&self) -> Result<u64>;
    /// Size and load time of the in-memory mirror exact searches scan (zeros until one has).
    fn stats(&self) -> MirrorStats;
    /// Compares every entry with its collection's vector; returns the entries compared and the
    /// collections skipped because they had commits not applied yet.
    fn verify(&self, collections: &[Arc<CollectionShared>]) -> Result<(u64, Vec<String>)>;
}

pub(crate) struct GlobalIndex<V> {
    cf: ColumnFamily,
    metric: Metric,
    /// What exact searches scan: one mirror per collection code, loaded by the first search
    /// that scans (see [`mirrors`](Self::mirrors)) and updated after each durable applier
    /// commit from then on.
    mirrors: RwLock<Option<Mirrors>>,
    /// What searches walk once the index is large (see `graph.rs`).
    graph: GlobalGraph,
    /// One applier round at a time.
    apply_lock: Mutex<()>,
    mutation: GlobalMutation,
    _vector: PhantomData<fn() -> V>,
}

impl<V: VectorType> GlobalIndex<V> {
    /// Opens (or creates) `_global_index` for vectors `V` under `metric`.
    pub fn open(db: &Database, metric: Metric, mutation: GlobalMutation) -> Result<GlobalIndex<V>> {
        let cf = db.column_family_or_create(GLOBAL_INDEX_NAME)?;
        let wanted = [V::ELEMENT.code(), metric.code()]
            .into_iter()
            .chain((V::DIM as u32).to_le_bytes())
            .collect::<Vec<u8>>();
        let graph = cf.contain_panics("opening the global index", || {
            let txn = cf.begin_write()?;
            {
                let mut config = txn.open_table(CONFIG)?;
                let stored = config.get(CONFIG_KEY)?.map(|v| v.value().to_vec());
                match stored {
                    Some(stored) if stored != wanted => {
                        return Err(Error::ConfigMismatch {
                            collection: GLOBAL_INDEX_NAME.to_owned(),
                            stored: describe(&stored),
                            requested: describe(&wanted),
                        });
                    }
                    Some(_) => {}
                    None => {
                        config.insert(CONFIG_KEY, wanted.as_slice())?;
                    }
                }
                txn.open_table(PROGRESS)?;
                txn.open_table(global_vectors::<V>())?;
            }
            GlobalGraph::create_if_missing::<V>(&txn, metric, &global_vectors::<V>())?;
            txn.commit()?;
            GlobalGraph::load::<V>(&cf, metric, &global_vectors::<V>())
        })?;
        Ok(GlobalIndex {
            cf,
            metric,
            mirrors: RwLock::new(None),
            graph,
            apply_lock: Mutex::new(()),
            mutation,
            _vector: PhantomData,
        })
    }
}

/// The global index's mirrors and how long loading them took.
struct Mirrors {
    by_code: HashMap<u64, Mirror>,
    load_time: Duration,
}

impl<V: VectorType> GlobalIndex<V> {
    /// The mirrors, loaded first if no search has scanned yet. The load runs under the applier
    /// lock, so no round commits between the read and the publication (rounds update loaded
    /// mirrors under the same lock).
    fn mirrors(&self) -> Result<RwLockReadGuard<'_, Option<Mirrors>>> {
        {
            let guard = self.mirrors.read();
            if guard.is_some() {
                return Ok(guard);
            }
        }
        let _round = self.apply_lock.lock();
        if self.mirrors.read().is_none() {
            self.cf
                .contain_panics("loading the global index", || self.load_mirrors())?;
        }
        Ok(self.mirrors.read())
    }

    /// Reads every entry into per-collection mirrors and publishes them (the caller holds the
    /// applier lock).
    fn load_mirrors(&self) -> Result<()> {
        let started = Instant::now();
        let mut by_code: HashMap<u64, Mirror> = HashMap::new();
        let read = self.cf.begin_read()?;
        for entry in read
            .open_table(global_vectors::<V>())?
            .range::<(u64, u64)>(..)?
        {
            let (key, vector) = entry?;
            let (code, id) = key.value();
            by_code
                .entry(code)
                .or_insert_with(|| Mirror::new(V::ELEMENT, V::DIM))
                .upsert(id, vector.value().bytes());
        }
        drop(read);
        by_code.values_mut().for_each(Mirror::shrink_to_fit);
        *self.mirrors.write() = Some(Mirrors {
            by_code,
            load_time: started.elapsed(),
        });
        Ok(())
    }

    /// One applier round: applies every collection's new changes to the global index's tables
    /// and graph, then to the loaded mirrors.
    fn catch_up_unguarded(&self, collections: &[Arc<CollectionShared>]) -> Result<()> {
        let _round = self.apply_lock.lock();
        let (changes, graph_update) =
            apply::catch_up::<V, _>(&self.cf, collections, self.mutation, |txn, changes| {
                self.graph.update(txn, changes)
            })?;
        if let Some(update) = graph_update {
            self.graph.publish(update);
        }
        if changes.is_empty() {
            return Ok(());
        }
        let mut guard = self.mirrors.write();
        let Some(Mirrors {
            by_code: mirrors, ..
        }) = guard.as_mut()
        else {
            // Not loaded yet: the first scan reads the committed entries.
            return Ok(());
        };
        for change in changes {
            match change {
                Change::Upsert { code, id, vector } => mirrors
                    .entry(code)
                    .or_insert_with(|| Mirror::new(V::ELEMENT, V::DIM))
                    .upsert(id, &vector),
                Change::Remove { code, id } => {
                    if let Some(mirror) = mirrors.get_mut(&code) {
                        mirror.remove(id);
                    }
                }
                Change::DropCollection { code } => {
                    mirrors.remove(&code);
                }
            }
        }
        Ok(())
    }
}

fn describe(config: &[u8]) -> String {
    let element = config.first().and_then(|c| Element::from_code(*c));
    let metric = config.get(1).and_then(|c| Metric::from_code(*c));
    let dim = config
        .get(2..6)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    match (element, metric, dim) {
        (Some(e), Some(m), Some(d)) => format!("{d}-d {} {}", e.name(), m.name()),
        _ => "a damaged global index configuration".to_owned(),
    }
}

impl<V: VectorType> GlobalIndexer for GlobalIndex<V> {
    fn covers(&self, element: Element, dim: usize, metric: Metric) -> bool {
        element == V::ELEMENT && dim == V::DIM && metric == self.metric
    }

    fn catch_up(&self, collections: &[Arc<CollectionShared>]) -> Result<()> {
        self.cf
            .contain_panics("applying changes to the global index", || {
                self.catch_up_unguarded(collections)
            })
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        names: &HashMap<u64, Arc<str>>,
        walk: GlobalWalk,
        filters: Option<&HashMap<u64, Arc<Resolution>>>,
    ) -> Result<Vec<Hit>> {
        check_vector(query, V::DIM, V::ELEMENT, self.metric)?;
        let found = match (walk, filters) {
            (GlobalWalk::Graph { ef }, None) => self.graph.search(query, k, ef),
            _ => None,
        };
        if let Some(found) = found {
            let hits: Option<Vec<Hit>> = found
                .into_iter()
                .map(|(distance, (code, id))| {
                    names.get(&code).map(|name| Hit {
                        collection: name.clone(),
                        id,
                        distance,
                    })
                })
                .collect();
            // A result from a collection deleted since the last applier round: scan instead.
            if let Some(hits) = hits {
                return Ok(hits);
            }
        }
        let prepared = Prepared::new(query);
        let guard = self.mirrors()?;
        let Some(mirrors) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        // Deleted collections whose entries the applier has not dropped yet are skipped.
        let mut live: Vec<(&u64, &Mirror)> = mirrors
            .by_code
            .iter()
            .filter(|(code, _)| names.contains_key(code))
            .collect();
        live.sort_by_key(|(code, _)| **code);
        let sources: Vec<Source<'_>> = live
            .iter()
            .enumerate()
            .map(|(index, (code, mirror))| Source {
                index: index as u32,
                mirror,
                metric: self.metric,
                allow: filters
                    .and_then(|f| f.get(code))
                    .map_or_else(Allow::all, |r| Allow::for_resolution(r, mirror)),
            })
            .collect();
        let candidates = scan::search(&sources, &prepared, k);
        Ok(candidates
            .into_iter()
            .filter_map(|c| {
                let code = live.get(c.source as usize)?.0;
                Some(Hit {
                    collection: names.get(code)?.clone(),
                    id: c.id,
                    distance: c.distance,
                })
            })
            .collect())
    }

    fn len(&self) -> Result<u64> {
        self.cf.contain_panics("counting the global index", || {
            let read = self.cf.begin_read()?;
            let table = read.open_table(global_vectors::<V>())?;
            Ok(redb::ReadableTableMetadata::len(&table)?)
        })
    }

    fn verify(&self, collections: &[Arc<CollectionShared>]) -> Result<(u64, Vec<String>)> {
        self.cf.contain_panics("verifying the global index", || {
            let _round = self.apply_lock.lock();
            let read = self.cf.begin_read()?;
            let progress = read.open_table(PROGRESS)?;
            let entries = read.open_table(global_vectors::<V>())?;
            let (mut compared, mut lagging) = (0, Vec::new());
            for collection in collections.iter().filter(|c| c.config.indexed) {
                // No commit to this collection while its entries are compared.
                let _writer = collection.writer.lock();
                let code = collection.config.code;
                let applied = progress.get(code)?.map_or(0, |v| v.value());
                if collection
                    .committed_seq
                    .load(std::sync::atomic::Ordering::Acquire)
                    != applied
                {
                    lagging.push(collection.name.to_string());
                    continue;
                }
                compared += verify::global_entries::<V>(collection, &entries)?;
            }
            let total = redb::ReadableTableMetadata::len(&entries)?;
            if lagging.is_empty() && total != compared {
                return Err(verify::corrupt(
                    GLOBAL_INDEX_NAME,
                    format!("{total} entries, {compared} of them for live collections"),
                ));
            }
            Ok((compared, lagging))
        })
    }

    fn graph_stats(&self) -> IndexStats {
        self.graph.stats()
    }

    fn stats(&self) -> MirrorStats {
        let guard = self.mirrors.read();
        let Some(mirrors) = guard.as_ref() else {
            return MirrorStats::default();
        };
        let mut stats = MirrorStats {
            load_time: mirrors.load_time,
            ..MirrorStats::default()
        };
        for mirror in mirrors.by_code.values() {
            let one = mirror.stats();
            stats.vectors += one.vectors;
            stats.memory_bytes += one.memory_bytes;
        }
        stats
    }
}
