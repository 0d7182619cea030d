//! State shared by every handle to one collection, whatever its types: the column family, the
//! configuration, the writer lock, the mirror and the change-sequence watermarks the global index
//! works from.

use crate::cf::column_family::ColumnFamily;
use crate::error::{Error, Result};
use crate::vector::ann::AnnIndex;
use crate::vector::ann::filter_cache::FilterCache;
use crate::vector::checks::RowChecks;
use crate::vector::config::StoredConfig;
use crate::vector::fetch::ErasedFetch;
use crate::vector::fields::Field;
use crate::vector::fields::index::{FieldIndexStats, FieldIndexes};
use crate::vector::fields::resolved::{Resolution, ResolutionCache};
use crate::vector::fields::table as field_table;
use crate::vector::filter::Expr;
use crate::vector::mirror::Mirror;
use crate::vector::tables::{COUNTERS, NEXT_SEQ};
use crate::vector::verify::RowVerifier;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub(crate) struct CollectionShared {
    pub name: Arc<str>,
    pub cf: ColumnFamily,
    pub config: StoredConfig,
    /// Rows carry checksums (`quiver.checks` exists; see [`crate::vector::checks`]): every
    /// collection created by this version. Older ones are read and written unchecked.
    pub checked: bool,
    /// Held across a write transaction and the mirror update that follows its commit, so the
    /// mirror sees commits in order.
    pub writer: Mutex<WriterState>,
    /// `None` until it is needed: loaded when the collection is first opened with its types,
    /// except for a collection with an approximate index, whose searches do not read it; there
    /// it is loaded by the first exact search ([`mirror`](Self::mirror)).
    pub mirror: RwLock<Option<Mirror>>,
    /// Loads the mirror from the vector table; set when the collection is first opened with its
    /// types.
    pub mirror_loader: OnceLock<MirrorLoader>,
    /// Walks the collection's rows for [`Store::verify`](crate::vector::Store::verify); set
    /// when the collection is first opened with its types.
    pub row_verifier: OnceLock<RowVerifier>,
    /// The field indexes (and the set of live ids filter expressions subtract from), `None`
    /// until the first filter expression needs them ([`field_indexes`](Self::field_indexes));
    /// commits keep loaded ones current under the writer lock, as they do the mirror.
    pub fields: RwLock<Option<FieldIndexes>>,
    /// The indexed fields as of the last commit: the stored configuration's, plus any added
    /// since the collection was opened ([`add_field`](crate::vector::Collection::add_field),
    /// which changes it under the writer lock).
    declared: RwLock<Arc<Vec<Field>>>,
    /// Lists the ids of the vector table (generic over the vector type, so set when the
    /// collection is first opened with its types); the field indexes of a collection older
    /// than row checksums take their live ids from it.
    pub vector_ids: OnceLock<VectorIds>,
    /// The published approximate index, if the collection has one (loaded with the mirror).
    /// Searches clone the `Arc` and search that version; commits replace it.
    pub ann: RwLock<Option<Arc<AnnIndex>>>,
    /// Allow-lists recently prepared for graph walks (see [`FilterCache`]).
    pub filter_cache: FilterCache,
    /// The answers of recent filter expressions (see [`ResolutionCache`]).
    pub resolutions: ResolutionCache,
    /// Highest change sequence number committed (any durability).
    pub committed_seq: AtomicU64,
    /// Highest change sequence number known to be durable.
    pub durable_seq: AtomicU64,
    /// Change records up to this sequence number are reflected durably in the global index and
    /// may be deleted.
    pub trim_upto: AtomicU64,
    /// A commit since the last durable one was not durable.
    pub non_durable_pending: AtomicBool,
    pub deleted: AtomicBool,
    /// Decodes records for the second lookup; set when the collection is opened with its types.
    pub fetcher: OnceLock<Arc<dyn ErasedFetch>>,
}

/// Reads a collection's vectors into a new mirror (generic over the vector type, so stored as a
/// function pointer when the collection is opened with its types).
pub(crate) type MirrorLoader = fn(&CollectionShared) -> Result<Mirror>;

/// Calls back with every id of a collection's vector table, read in `read`.
pub(crate) type VectorIds = fn(&redb::ReadTransaction, &mut dyn FnMut(u64)) -> Result<()>;

pub(crate) struct WriterState {
    /// Change records up to here were already deleted.
    pub trimmed_upto: u64,
    /// Each indexed item's live node in the approximate index (only writers need it).
    pub ann_nodes: HashMap<u64, u32>,
    /// Items written by non-durable commits since the last durable commit (see
    /// `write::MAX_NON_DURABLE_RUN_ITEMS`).
    pub non_durable_run_items: u64,
}

impl CollectionShared {
    /// Loads the shared state of an existing collection from its column family.
    pub fn load(name: &str, cf: ColumnFamily, config: StoredConfig) -> Result<CollectionShared> {
        let (next_seq, checked) = cf.contain_panics("reading the collection's counters", || {
            let read = cf.begin_read()?;
            let next_seq = match read.open_table(COUNTERS) {
                Ok(table) => table.get(NEXT_SEQ)?.map_or(1, |v| v.value()),
                Err(redb::TableError::TableDoesNotExist(_)) => 1,
                Err(err) => return Err(err.into()),
            };
            let checked = RowChecks::open(&read, name)?.is_checked();
            Ok((next_seq, checked))
        })?;
        // Everything a freshly opened column family shows is durable: the log was replayed and
        // the main file synced before redb opened it.
        let committed = next_seq.saturating_sub(1);
        let declared = Arc::new(config.fields.clone());
        Ok(CollectionShared {
            name: Arc::from(name),
            cf,
            checked,
            config,
            writer: Mutex::new(WriterState {
                trimmed_upto: 0,
                ann_nodes: HashMap::new(),
                non_durable_run_items: 0,
            }),
            mirror: RwLock::new(None),
            mirror_loader: OnceLock::new(),
            row_verifier: OnceLock::new(),
            fields: RwLock::new(None),
            declared: RwLock::new(declared),
            vector_ids: OnceLock::new(),
            ann: RwLock::new(None),
            filter_cache: FilterCache::default(),
            resolutions: ResolutionCache::default(),
            committed_seq: AtomicU64::new(committed),
            durable_seq: AtomicU64::new(committed),
            trim_upto: AtomicU64::new(0),
            non_durable_pending: AtomicBool::new(false),
            deleted: AtomicBool::new(false),
            fetcher: OnceLock::new(),
        })
    }

    pub fn check_live(&self) -> Result<()> {
        if self.deleted.load(Ordering::Acquire) {
            Err(Error::CollectionNotFound(self.name.to_string()))
        } else {
            Ok(())
        }
    }

    /// The mirror, loaded first if it was deferred. The load runs under the writer lock, so it
    /// reads the latest committed state and no commit can slip between the read and the
    /// publication (commits update a loaded mirror under the same lock). The guard holds `None`
    /// only if the collection was deleted meanwhile.
    ///
    /// [`Error::CollectionNotOpen`] if the collection was never opened with its types.
    pub fn mirror(&self) -> Result<RwLockReadGuard<'_, Option<Mirror>>> {
        {
            let guard = self.mirror.read();
            if guard.is_some() {
                return Ok(guard);
            }
        }
        self.check_live()?;
        let load = self
            .mirror_loader
            .get()
            .ok_or_else(|| Error::CollectionNotOpen(self.name.to_string()))?;
        {
            let _writer = self.writer.lock();
            self.check_live()?;
            if self.mirror.read().is_none() {
                let mirror = load(self)?;
                *self.mirror.write() = Some(mirror);
            }
        }
        Ok(self.mirror.read())
    }

    /// The indexed fields now (see `declared`).
    pub fn declared_fields(&self) -> Arc<Vec<Field>> {
        self.declared.read().clone()
    }

    /// The configuration with the indexed fields as they are now.
    pub fn current_config(&self) -> StoredConfig {
        let mut config = self.config.clone();
        config.fields = self.declared_fields().to_vec();
        config
    }

    /// Replaces the indexed fields (the caller holds the writer lock and has committed the new
    /// configuration and postings); the field indexes reload on their next use.
    pub fn set_declared_fields(&self, fields: Vec<Field>) {
        *self.declared.write() = Arc::new(fields);
        *self.fields.write() = None;
    }

    /// The field indexes, loaded first if this is their first use (under the writer lock, so
    /// no commit slips between the read and the publication, as for the mirror).
    pub fn field_indexes(&self) -> Result<RwLockReadGuard<'_, Option<FieldIndexes>>> {
        {
            let guard = self.fields.read();
            if guard.is_some() {
                return Ok(guard);
            }
        }
        self.check_live()?;
        {
            let _writer = self.writer.lock();
            self.check_live()?;
            if self.fields.read().is_none() {
                let loaded = self.cf.contain_panics("loading the field indexes", || {
                    let read = self.cf.begin_read()?;
                    let vector_ids = self.vector_ids.get().copied();
                    field_table::load(
                        &read,
                        &self.name,
                        &self.declared_fields(),
                        self.checked,
                        |each| match vector_ids {
                            Some(list) => list(&read, each),
                            None => Err(Error::CollectionNotOpen(self.name.to_string())),
                        },
                    )
                })?;
                *self.fields.write() = Some(loaded);
            }
        }
        Ok(self.fields.read())
    }

    /// What `expr` (within the allow-list `within`) admits, as the smaller of the two lists: the
    /// ids it allows, or the ids it denies of all live items.
    /// Answers without an allow-list are kept for repeated filters (see [`ResolutionCache`]).
    pub fn resolve(&self, expr: &Expr, within: Option<&[u64]>) -> Result<Arc<Resolution>> {
        let guard = self.field_indexes()?;
        let Some(indexes) = guard.as_ref() else {
            self.check_live()?;
            return Ok(Arc::new(Resolution::Allow(Vec::new())));
        };
        // A pure deny-list (a recommender's "not seen"): its live ids are the answer, found
        // with a lookup each instead of a pass over every live item.
        if within.is_none()
            && let Some(denied) = expr.denied_ids()
        {
            let live = indexes.live();
            let mut denied: Vec<u64> = denied
                .iter()
                .copied()
                .filter(|id| live.contains(*id))
                .collect();
            denied.sort_unstable();
            denied.dedup();
            return Ok(Arc::new(Resolution::Deny(denied)));
        }
        let generation = indexes.generation();
        if within.is_none()
            && let Some(cached) = self.resolutions.get(expr, generation)
        {
            return Ok(cached);
        }
        let mut allowed = indexes.evaluate(expr)?;
        if let Some(within) = within {
            allowed &= within.iter().copied().collect::<roaring::RoaringTreemap>();
            return Ok(Arc::new(Resolution::Allow(allowed.iter().collect())));
        }
        let live = indexes.live();
        let resolution = Arc::new(match allowed.len() * 2 > live.len() {
            true => Resolution::Deny((live - &allowed).iter().collect()),
            false => Resolution::Allow(allowed.iter().collect()),
        });
        drop(guard);
        self.resolutions
            .insert(expr, generation, resolution.clone());
        Ok(resolution)
    }

    /// The set of ids `expr` allows.
    pub fn allowed(&self, expr: &Expr) -> Result<roaring::RoaringTreemap> {
        let guard = self.field_indexes()?;
        match guard.as_ref() {
            Some(indexes) => indexes.evaluate(expr),
            None => {
                // Deleted while the indexes loaded.
                self.check_live()?;
                Ok(roaring::RoaringTreemap::new())
            }
        }
    }

    /// The ids `expr` allows, for a caller holding the writer lock: the indexes must already be
    /// loaded (loading takes the writer lock). Consistent with every commit up to now.
    pub fn allowed_under_writer_lock(&self, expr: &Expr) -> Result<roaring::RoaringTreemap> {
        match self.fields.read().as_ref() {
            Some(indexes) => indexes.evaluate(expr),
            None => {
                self.check_live()?;
                Err(Error::InvalidArgument(
                    "the field indexes were not loaded before the writer lock was taken".into(),
                ))
            }
        }
    }

    /// How many items `expr` allows.
    pub fn count(&self, expr: &Expr) -> Result<u64> {
        let guard = self.field_indexes()?;
        match guard.as_ref() {
            Some(indexes) => indexes.count(expr),
            None => {
                self.check_live()?;
                Ok(0)
            }
        }
    }

    /// Size of the field indexes (loading them if they are not yet).
    pub fn field_index_stats(&self) -> Result<FieldIndexStats> {
        let guard = self.field_indexes()?;
        Ok(guard.as_ref().map(FieldIndexes::stats).unwrap_or_default())
    }

    /// Makes every commit up to now durable, with an empty durable commit if some commit since
    /// the last durable one was not (redb's durable commit persists the earlier non-durable ones).
    pub fn make_durable(&self) -> Result<()> {
        let mut writer = self.writer.lock();
        self.check_live()?;
        let committed = self.committed_seq.load(Ordering::Acquire);
        let pending = self.non_durable_pending.load(Ordering::Acquire);
        if !pending && self.durable_seq.load(Ordering::Acquire) >= committed {
            return Ok(());
        }
        let mut txn = self.cf.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)?;
        txn.commit()?;
        writer.non_durable_run_items = 0;
        self.durable_seq.fetch_max(committed, Ordering::AcqRel);
        self.non_durable_pending.store(false, Ordering::Release);
        Ok(())
    }
}

/// Reads a collection's configuration from its column family; `None` if it has none (a column
/// family that is not a collection, or one whose creation did not finish).
pub(crate) fn read_config(name: &str, cf: &ColumnFamily) -> Result<Option<StoredConfig>> {
    cf.contain_panics("reading the collection's configuration", || {
        let read = cf.begin_read()?;
        let table = match read.open_table(crate::vector::tables::CONFIG) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        match table.get(crate::vector::tables::CONFIG_KEY)? {
            Some(bytes) => Ok(Some(StoredConfig::decode(name, bytes.value())?)),
            None => Ok(None),
        }
    })
}
