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
    /// The published approximate index, if the collection has one (loaded with the mirror).
    /// Searches clone the `Arc` and search that version; commits replace it.
    pub ann: RwLock<Option<Arc<AnnIndex>>>,
    /// Allow-lists recently prepared for graph walks (see [`FilterCache`]).
    pub filter_cache: FilterCache,
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
            ann: RwLock::new(None),
            filter_cache: FilterCache::default(),
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
            Err(Error::ColumnFamilyNotFound(self.name.to_string()))
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
