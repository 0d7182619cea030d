//! The container: one file holding many column families, and the protocol that keeps its
//! metadata crash-safe.
//!
//! # Metadata commits
//!
//! All metadata (which column families exist, their segments and lengths, the free space) lives
//! in a catalog blob. A change is committed copy-on-write:
//!
//! 1. encode the new catalog and write it to space that no durable state references;
//! 2. write the header slot of the new generation (the slot of the generation before last),
//!    holding the catalog's location and CRC32;
//! 3. `fsync` the file (this also makes every data write issued so far durable).
//!
//! A crash before step 3 completes may leave the new slot without its catalog, or a torn slot:
//! open takes the newest slot whose own checksum holds *and* whose catalog matches the CRC the
//! slot records, and otherwise falls back to the other slot. That fallback is always safe
//! because a commit never writes over the catalog the other slot points to. Space referenced
//! only by the overwritten slot's catalog (and space a commit frees) becomes reusable only after
//! step 3, so one fsync per metadata commit suffices.
//!
//! # Locks
//!
//! `meta` (one mutex) serialises metadata commits; each column family's layout has its own
//! read-write lock. The order is always `meta`, then a layout. The data path takes only its own
//! layout's read lock, so writers on different column families never wait for each other except
//! while one of them allocates a segment.

use crate::cf::format::{
    Catalog, CfRecord, CfRecordState, DATA_START, Extent, PAGE, SLOT_SIZE, Slot, SlotRead,
    slot_offset,
};
use crate::cf::free_list::FreeList;
use crate::cf::name::validate_name;
use crate::cf::segment_map::SegmentMap;
use crate::error::{Error, Result};
use crate::io::FileIo;
use crate::io::poison::Poison;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Sizing knobs of the container, set through the database builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContainerConfig {
    /// Smallest segment handed to a column family.
    pub initial_segment: u64,
    /// Largest headroom added by one growth.
    pub max_growth: u64,
}

/// A catalog larger than this is treated as corrupt rather than read into memory.
const MAX_CATALOG_BYTES: u64 = 1 << 30;

/// How the container file's space is used, and how often its metadata was committed.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
/// db.create_column_family("tmp")?;
/// db.delete_column_family("tmp")?;
/// let stats = db.stats();
/// assert!(stats.free_bytes > 0);
/// assert!(stats.metadata_commits >= 2);
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerStats {
    /// Bytes on the free list, ready for reuse.
    pub free_bytes: u64,
    /// Bytes of deleted column families still held by live handles or transactions.
    pub quarantined_bytes: u64,
    /// End of the space handed out so far (the file is at most this long).
    pub allocated_end: u64,
    /// Metadata commits (one fdatasync each) since the database was opened: column families
    /// created or deleted, segments added, lengths changed.
    pub metadata_commits: u64,
}

/// Lifecycle of a column family's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum CfStatus {
    Creating = 0,
    Live = 1,
    Deleted = 2,
}

/// What a column family's storage looks like right now.
#[derive(Debug, Default, Clone)]
pub(crate) struct CfLayout {
    pub map: SegmentMap,
    /// The last length redb set.
    pub len: u64,
}

/// The storage state of one column family, shared by its redb backend and the container.
#[derive(Debug)]
pub(crate) struct CfState {
    pub id: u64,
    pub name: String,
    pub layout: RwLock<CfLayout>,
    /// Virtual bytes at or past this offset have not been written since their space was
    /// allocated (or zeroed), so they read as zeros.
    pub high_water: AtomicU64,
    /// The length recorded in the newest durable catalog.
    pub durable_len: AtomicU64,
    status: AtomicU8,
    container: Weak<Container>,
}

impl CfState {
    pub(crate) fn status(&self) -> CfStatus {
        match self.status.load(Ordering::Acquire) {
            0 => CfStatus::Creating,
            1 => CfStatus::Live,
            _ => CfStatus::Deleted,
        }
    }

    /// [`Error::Poisoned`] with its cause if the database refuses writes: what an operation
    /// that failed inside redb really ran into (redb reports it as an I/O error of its own).
    pub(crate) fn poisoned(&self) -> Option<Error> {
        self.container
            .upgrade()
            .and_then(|c| c.check_poison().err())
    }

    fn set_status(&self, status: CfStatus) {
        self.status.store(status as u8, Ordering::Release);
    }
}

impl Drop for CfState {
    fn drop(&mut self) {
        // The last user of a deleted column family is gone: its quarantined space may now be
        // reused. `released` is a leaf lock, so this is safe even while `meta` is held.
        if self.status() == CfStatus::Deleted
            && let Some(container) = self.container.upgrade()
        {
            container.released.lock().push(self.id);
        }
    }
}

#[derive(Debug)]
struct Meta {
    generation: u64,
    file_end: u64,
    next_cf_id: u64,
    /// Extent of the newest durable catalog.
    current_catalog: Option<Extent>,
    /// Extent of the catalog the other slot points to.
    prev_catalog: Option<Extent>,
    cfs: BTreeMap<u64, Arc<CfState>>,
    free: FreeList,
    /// Space of deleted (or discarded) column families, by id: recorded as free on disk, reused
    /// only once the last handle is gone and a checkpoint made the deletion durable in the main
    /// file.
    quarantine: HashMap<u64, Quarantined>,
}

/// Space waiting to be reused.
#[derive(Debug)]
struct Quarantined {
    extents: Vec<Extent>,
    /// No handle of the column family is left.
    handle_gone: bool,
    /// The log generation the deletion was appended in: reusable once it is retired.
    generation: u64,
}

/// How far the write-ahead log's checkpoints have got. Space freed by a deletion is reused only
/// after the checkpoint of the generation holding the deletion.
pub(crate) trait CheckpointProgress: std::fmt::Debug + Send + Sync {
    /// The generation records are appended to now.
    fn current_generation(&self) -> u64;
    /// Every generation up to this one is durable in the main file.
    fn retired_through(&self) -> u64;
}

/// The shared container state behind a [`crate::Database`].
#[derive(Debug)]
pub(crate) struct Container {
    pub file: Arc<dyn FileIo>,
    meta: Mutex<Meta>,
    released: Mutex<Vec<u64>>,
    /// Shared with the log: the first write-path failure refuses writes everywhere (see
    /// [`Poison`]).
    poison: Arc<Poison>,
    config: ContainerConfig,
    /// Metadata commits since open (for statistics).
    metadata_commits: AtomicU64,
    /// The log's checkpoint progress (`None` without a log: deletions are durable in the main
    /// file as soon as their commit is).
    progress: Option<Arc<dyn CheckpointProgress>>,
}

fn round_up(n: u64) -> u64 {
    n.div_ceil(PAGE) * PAGE
}

impl Container {
    /// Opens the container stored in `file`, initialising an empty one if the file is new.
    pub(crate) fn open(
        file: Arc<dyn FileIo>,
        config: ContainerConfig,
        progress: Option<Arc<dyn CheckpointProgress>>,
        poison: Arc<Poison>,
    ) -> Result<Arc<Container>> {
        let loaded = load_newest_catalog(file.as_ref())?;
        let fresh = loaded.is_none();
        let mut meta = Meta {
            generation: 0,
            file_end: DATA_START,
            next_cf_id: 0,
            current_catalog: None,
            prev_catalog: None,
            cfs: BTreeMap::new(),
            free: FreeList::default(),
            quarantine: HashMap::new(),
        };
        let mut records = Vec::new();
        if let Some((catalog, at)) = loaded {
            meta.generation = catalog.generation;
            meta.file_end = catalog.file_end;
            meta.next_cf_id = catalog.next_cf_id;
            meta.current_catalog = Some(at);
            meta.prev_catalog = catalog.prev_catalog;
            for ext in catalog.free {
                meta.free.insert(ext);
            }
            records = catalog.cfs;
        } else if !file.is_empty()? {
            // An interrupted first commit: nothing was ever committed, so nothing is lost.
            file.set_len(0)?;
        }
        // Bytes past the durable end may hold blobs of commits that never completed; cut them so
        // that everything past `file_end` reads as zeros, as allocation assumes.
        if file.len()? > meta.file_end {
            file.set_len(meta.file_end)?;
            file.sync_all()?;
        }
        // Column families whose creation never finished are discarded with their space.
        let (live, creating): (Vec<CfRecord>, Vec<CfRecord>) = records
            .into_iter()
            .partition(|record| record.state == CfRecordState::Live);
        let generation = progress.as_ref().map_or(0, |p| p.current_generation());
        for record in &creating {
            meta.quarantine.insert(
                record.id,
                Quarantined {
                    extents: record
                        .segments
                        .iter()
                        .copied()
                        .filter(|s| !s.is_hole())
                        .collect(),
                    handle_gone: true,
                    generation,
                },
            );
        }
        let container = Arc::new_cyclic(|weak: &Weak<Container>| {
            for record in &live {
                // What was written before this open is unknown: treat every mapped byte as
                // possibly written.
                let state = CfState::new(record, weak.clone(), u64::MAX);
                meta.cfs.insert(record.id, Arc::new(state));
            }
            Container {
                file,
                meta: Mutex::new(meta),
                released: Mutex::new(Vec::new()),
                poison,
                config,
                metadata_commits: AtomicU64::new(0),
                progress,
            }
        });
        {
            let mut meta = container.meta.lock();
            if fresh || !creating.is_empty() {
                container.commit(&mut meta, None)?;
            }
        }
        Ok(container)
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        self.poison.check()
    }

    /// Refuses every later write because of `cause` (see [`Poison`]).
    pub(crate) fn poison(&self, cause: impl std::fmt::Display) {
        self.poison.set(cause);
    }

    /// Live column family by name.
    pub(crate) fn find(&self, name: &str) -> Option<Arc<CfState>> {
        let meta = self.meta.lock();
        meta.cfs
            .values()
            .find(|cf| cf.name == name && cf.status() == CfStatus::Live)
            .cloned()
    }

    /// Names of all live column families, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let meta = self.meta.lock();
        let mut names: Vec<String> = meta
            .cfs
            .values()
            .filter(|cf| cf.status() == CfStatus::Live)
            .map(|cf| cf.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Registers a column family in the `Creating` state. It becomes durable with the first
    /// metadata commit redb's create triggers and is discarded on open until [`Self::mark_live`].
    pub(crate) fn begin_create(self: &Arc<Self>, name: &str) -> Result<Arc<CfState>> {
        validate_name(name)?;
        let mut meta = self.meta.lock();
        self.check_poison()?;
        if meta.cfs.values().any(|cf| cf.name == name) {
            return Err(Error::ColumnFamilyExists(name.to_owned()));
        }
        let id = meta.next_cf_id;
        meta.next_cf_id += 1;
        let record = CfRecord {
            id,
            name: name.to_owned(),
            state: CfRecordState::Creating,
            len: 0,
            segments: Vec::new(),
        };
        let cf = Arc::new(CfState::new(&record, Arc::downgrade(self), 0));
        meta.cfs.insert(id, cf.clone());
        Ok(cf)
    }

    /// Durably marks a created column family as live.
    pub(crate) fn mark_live(&self, cf: &CfState) -> Result<()> {
        let mut meta = self.meta.lock();
        cf.set_status(CfStatus::Live);
        self.commit(&mut meta, None)
    }

    /// Durably removes a column family. Its space is reused once the last handle is dropped.
    pub(crate) fn remove(&self, cf: &Arc<CfState>) -> Result<()> {
        let mut meta = self.meta.lock();
        self.check_poison()?;
        let Some(owned) = meta.cfs.remove(&cf.id) else {
            return Err(Error::ColumnFamilyNotFound(cf.name.clone()));
        };
        cf.set_status(CfStatus::Deleted);
        let segments = cf.layout.read().map.file_extents().collect();
        let generation = self.progress.as_ref().map_or(0, |p| p.current_generation());
        meta.quarantine.insert(
            cf.id,
            Quarantined {
                extents: segments,
                handle_gone: false,
                generation,
            },
        );
        let result = self.commit(&mut meta, None);
        drop(meta);
        // Dropped outside the lock on purpose: this may be the last handle.
        drop(owned);
        result
    }

    /// Backs the virtual range `start..end` of `cf` with file space, durably: the first unbacked
    /// part of it (a hole or the space past the mapped end) per call.
    ///
    /// A write just past the backed space takes the space from the last backed byte, plus a
    /// sixteenth of what the column family already has as headroom, never past redb's length
    /// (allocations, each a catalog commit, stay rare while the slack stays small: a quarter
    /// left 35 MB of a 178 MB column family unwritten). A write further away than that headroom
    /// gets a segment of its own and leaves a hole below it, so redb's habit of writing a page
    /// near the end of a doubled length does not put the whole doubled length on disk.
    pub(crate) fn grow(&self, cf: &CfState, start: u64, end: u64) -> Result<()> {
        let mut meta = self.meta.lock();
        self.check_poison()?;
        if cf.status() == CfStatus::Deleted {
            return Err(Error::ColumnFamilyNotFound(cf.name.clone()));
        }
        let mut layout = cf.layout.write();
        let Some(gap) = layout.map.first_unbacked(start, end) else {
            return Ok(());
        };
        let headroom = round_up(
            (layout.map.backed() / 16).clamp(self.config.initial_segment, self.config.max_growth),
        );
        let first = (start / PAGE * PAGE).max(gap.start);
        let from = if first - gap.start <= headroom {
            gap.start
        } else {
            first
        };
        let needed_end = round_up(end).min(gap.end);
        // Headroom past redb's length would only be written after redb grows again, which may
        // be never: a shrinking or steady column family would carry it as slack.
        let want_end = needed_end
            .max(from.saturating_add(headroom).min(round_up(layout.len)))
            .min(gap.end);
        let before = layout.map.clone();
        let last_end = layout.map.physical_end_before(from);
        let segment =
            self.allocate_segment(&mut meta, last_end, needed_end - from, want_end - from)?;
        if !layout.map.back(from, segment) {
            // Unreachable: `from..want_end` lies inside `gap`, which is unbacked. Give the space
            // back rather than trust a map that disagrees with itself.
            meta.free.insert(segment);
            return Err(Error::Corrupted {
                what: format!(
                    "column family '{}': space at virtual offset {from} is already backed",
                    cf.name
                ),
                offset: segment.offset,
            });
        }
        // The new segment must be durable in the catalog before any data lands in it; the
        // layout's write lock keeps the data path out until the commit returns.
        if let Err(err) = self.commit(&mut meta, Some((cf.id, &layout))) {
            layout.map = before;
            return Err(err);
        }
        Ok(())
    }

    /// Records a new logical length. Bytes it exposes read as zeros.
    pub(crate) fn set_len(&self, cf: &CfState, len: u64) -> Result<()> {
        self.check_poison()?;
        let mut layout = cf.layout.write();
        let old = layout.len;
        if len > old {
            // Space between the old length and the high-water mark may still hold bytes from
            // before a shrink: zero what the new length exposes.
            let stale_end = cf
                .high_water
                .load(Ordering::Acquire)
                .min(len)
                .min(layout.map.mapped_end());
            if stale_end > old {
                for piece in layout.map.pieces(old, (stale_end - old) as usize) {
                    if let Some(physical) = piece.physical {
                        let n = (piece.buf.end - piece.buf.start) as u64;
                        self.file.zero_range(physical, n)?;
                    }
                }
            }
        }
        layout.len = len;
        Ok(())
    }

    /// Makes everything `cf` wrote durable, and its length too if that changed.
    pub(crate) fn sync(&self, cf: &CfState) -> Result<()> {
        self.check_poison()?;
        let dirty = cf.layout.read().len != cf.durable_len.load(Ordering::Acquire);
        let result = if dirty {
            let mut meta = self.meta.lock();
            if cf.layout.read().len != cf.durable_len.load(Ordering::Acquire) {
                self.commit(&mut meta, None)
            } else {
                self.file.sync_data().map_err(Error::from)
            }
        } else {
            self.file.sync_data().map_err(Error::from)
        };
        if let Err(err) = &result {
            // After a failed fsync the kernel may have dropped dirty pages of any column
            // family: nothing written since the last good sync can be trusted.
            self.poison(format!("syncing: {err}"));
        }
        result
    }

    /// Flushes metadata and data one last time.
    pub(crate) fn close(&self) -> Result<()> {
        let mut meta = self.meta.lock();
        self.check_poison()?;
        let dirty = meta
            .cfs
            .values()
            .any(|cf| cf.layout.read().len != cf.durable_len.load(Ordering::Acquire));
        if dirty {
            self.commit(&mut meta, None)
        } else {
            self.file.sync_all().map_err(|err| {
                self.poison(format!("syncing at close: {err}"));
                Error::from(err)
            })
        }
    }

    /// Current statistics.
    pub(crate) fn stats(&self) -> ContainerStats {
        let mut meta = self.meta.lock();
        self.drain_released(&mut meta);
        ContainerStats {
            free_bytes: meta.free.total(),
            quarantined_bytes: meta
                .quarantine
                .values()
                .flat_map(|q| &q.extents)
                .map(|e| e.len)
                .sum(),
            allocated_end: meta.file_end,
            metadata_commits: self.metadata_commits.load(Ordering::Relaxed),
        }
    }

    /// Moves quarantined space to the free list once its column family has no handle left and
    /// (with the log) a checkpoint has made its deletion durable in the main file.
    fn drain_released(&self, meta: &mut Meta) {
        let released = std::mem::take(&mut *self.released.lock());
        for id in released {
            if let Some(q) = meta.quarantine.get_mut(&id) {
                q.handle_gone = true;
            }
        }
        let retired = self
            .progress
            .as_ref()
            .map_or(u64::MAX, |p| p.retired_through());
        let ready: Vec<u64> = meta
            .quarantine
            .iter()
            .filter(|(_, q)| q.handle_gone && q.generation <= retired)
            .map(|(&id, _)| id)
            .collect();
        for id in ready {
            if let Some(q) = meta.quarantine.remove(&id) {
                for ext in q.extents {
                    meta.free.insert(ext);
                }
            }
        }
    }

    /// Finds space for a segment of `want` bytes (at least `needed`): reuse freed space first
    /// (best fit), then extend the column family's last segment at the end of the file, then take
    /// a smaller free range, then the end of the file. Reused space is zeroed.
    fn allocate_segment(
        &self,
        meta: &mut Meta,
        last_end: Option<u64>,
        needed: u64,
        want: u64,
    ) -> Result<Extent> {
        self.drain_released(meta);
        let reused = match meta.free.take_best_fit(want) {
            Some(ext) => Some(ext),
            None if last_end == Some(meta.file_end) => None,
            None => meta
                .free
                .largest()
                .filter(|&len| len >= needed)
                .and_then(|len| meta.free.take_best_fit(len.min(want))),
        };
        if let Some(ext) = reused {
            if let Err(err) = self.file.zero_range(ext.offset, ext.len) {
                meta.free.insert(ext);
                return Err(err.into());
            }
            return Ok(ext);
        }
        let ext = Extent {
            offset: meta.file_end,
            len: want,
        };
        meta.file_end += want;
        Ok(ext)
    }

    /// Space for a catalog blob (never zeroed: it is written whole).
    fn allocate_blob(&self, meta: &mut Meta, len: u64) -> Extent {
        if let Some(ext) = meta.free.take_best_fit(len) {
            return ext;
        }
        let ext = Extent {
            offset: meta.file_end,
            len,
        };
        meta.file_end += len;
        ext
    }

    /// Writes the next catalog generation durably (see the module docs). `locked` supplies the
    /// layout of a column family whose lock the caller holds.
    fn commit(&self, meta: &mut Meta, locked: Option<(u64, &CfLayout)>) -> Result<()> {
        self.check_poison()?;
        self.drain_released(meta);
        let result = self.commit_inner(meta, locked);
        if let Err(err) = &result {
            self.poison(format!("committing the catalog: {err}"));
        }
        result
    }

    fn commit_inner(&self, meta: &mut Meta, locked: Option<(u64, &CfLayout)>) -> Result<()> {
        let generation = meta.generation + 1;
        let mut cfs = Vec::with_capacity(meta.cfs.len());
        for cf in meta.cfs.values() {
            let (segments, len) = match locked {
                Some((id, layout)) if id == cf.id => (layout.map.segments().to_vec(), layout.len),
                _ => {
                    let layout = cf.layout.read();
                    (layout.map.segments().to_vec(), layout.len)
                }
            };
            let state = match cf.status() {
                CfStatus::Live => CfRecordState::Live,
                _ => CfRecordState::Creating,
            };
            cfs.push(CfRecord {
                id: cf.id,
                name: cf.name.clone(),
                state,
                len,
                segments,
            });
        }
        // The catalog two generations back is referenced only by the slot this commit
        // overwrites: free once the commit is durable.
        let releasing: Vec<Extent> = meta.prev_catalog.into_iter().collect();
        let mut catalog = Catalog {
            generation,
            file_end: meta.file_end,
            next_cf_id: meta.next_cf_id,
            prev_catalog: meta.current_catalog,
            cfs,
            free: Vec::new(),
        };
        // Size the blob with room for a few more free extents than exist now: allocating the
        // blob itself can split one.
        let mut blob_len = round_up(catalog.encode().len() as u64 + 64 + 16 * 4);
        let (blob, bytes) = loop {
            let blob = self.allocate_blob(meta, blob_len);
            catalog.file_end = meta.file_end;
            catalog.free = meta
                .free
                .extents()
                .chain(
                    meta.quarantine
                        .values()
                        .flat_map(|q| q.extents.iter().copied()),
                )
                .chain(releasing.iter().copied())
                .collect();
            let bytes = catalog.encode();
            if bytes.len() as u64 <= blob.len {
                break (blob, bytes);
            }
            meta.free.insert(blob);
            blob_len = round_up(bytes.len() as u64 + 16 * 4);
        };
        let slot = Slot {
            generation,
            catalog: Extent {
                offset: blob.offset,
                len: bytes.len() as u64,
            },
            catalog_crc: crc32fast::hash(&bytes),
            covers_file_end: true,
        };
        // The blob is written padded to its whole extent, and the file extended (sparsely) to
        // the file end, so that the slot's promise holds: a file shorter than its catalog's end
        // was truncated after the fact. (A first commit's padded blob ends at the file end, so
        // a new file never holds only zeros.)
        let mut padded = bytes;
        padded.resize(blob.len as usize, 0);
        // One sync covers every write. If power fails before it completes, the slot may be
        // durable while the blob is not; open then finds the blob's checksum (kept in the slot)
        // wrong and uses the other slot, whose catalog this commit never overwrites. fdatasync
        // suffices: it also persists the size and block-map changes that reading data back
        // needs (file growth, punched holes).
        self.file.write_at(blob.offset, &padded)?;
        if self.file.len()? < meta.file_end {
            self.file.set_len(meta.file_end)?;
        }
        self.file
            .write_at(slot_offset(generation), &slot.encode())?;
        self.file.sync_data()?;
        self.metadata_commits.fetch_add(1, Ordering::Relaxed);

        meta.generation = generation;
        meta.prev_catalog = meta.current_catalog;
        meta.current_catalog = Some(blob);
        for ext in releasing {
            meta.free.insert(ext);
        }
        for (cf, record) in meta.cfs.values().zip(&catalog.cfs) {
            cf.durable_len.store(record.len, Ordering::Release);
        }
        Ok(())
    }
}

impl CfState {
    fn new(record: &CfRecord, container: Weak<Container>, high_water: u64) -> CfState {
        let status = match record.state {
            CfRecordState::Creating => CfStatus::Creating,
            CfRecordState::Live => CfStatus::Live,
        };
        CfState {
            id: record.id,
            name: record.name.clone(),
            layout: RwLock::new(CfLayout {
                map: SegmentMap::from_segments(record.segments.clone()),
                len: record.len,
            }),
            high_water: AtomicU64::new(high_water),
            durable_len: AtomicU64::new(record.len),
            status: AtomicU8::new(status as u8),
            container,
        }
    }
}

/// Reads both header slots and returns the newest catalog that checks out, `None` for an empty
/// file or one that never completed its first commit, or the typed error that explains why not
/// (a file that is not ours is [`Error::NotQuiverFile`]: open never writes to it).
fn load_newest_catalog(file: &dyn FileIo) -> Result<Option<(Catalog, Extent)>> {
    if file.is_empty()? {
        return Ok(None);
    }
    let reads = read_slots(file)?;
    let mut valid: Vec<(u64, Slot)> = reads
        .iter()
        .filter_map(|&(offset, read)| match read {
            SlotRead::Valid(slot) => Some((offset, slot)),
            _ => None,
        })
        .collect();
    valid.sort_by_key(|(_, slot)| std::cmp::Reverse(slot.generation));
    let file_len = file.len()?;
    let mut first_error = None;
    for (slot_at, slot) in valid {
        match read_catalog(file, file_len, &slot) {
            Ok(catalog) => return Ok(Some((catalog, slot.catalog_extent()))),
            Err(err) => {
                first_error.get_or_insert(match err {
                    Error::Corrupted { what, offset } => Error::Corrupted {
                        what: format!("{what} (header slot at {slot_at})"),
                        offset,
                    },
                    other => other,
                });
            }
        }
    }
    let (a, b) = (reads[0].1, reads[1].1);
    if interrupted_first_commit(file, a, b)? {
        // Nothing was ever committed but an empty container: nothing is lost by starting over.
        return Ok(None);
    }
    if let Some(err) = first_error {
        return Err(err);
    }
    for read in [a, b] {
        if let SlotRead::UnsupportedVersion(found) = read {
            return Err(Error::UnsupportedVersion {
                found,
                supported: crate::cf::format::FORMAT_VERSION,
            });
        }
    }
    if !carries_magic(a) && !carries_magic(b) {
        return Err(Error::NotQuiverFile);
    }
    Err(Error::Corrupted {
        what: format!("no valid header slot (slot A: {a:?}, slot B: {b:?})"),
        offset: 0,
    })
}

/// The end of what a container's first commit writes (both slots and an empty catalog's page):
/// an interrupted first commit never leaves a longer file.
const FIRST_COMMIT_END: u64 = DATA_START + PAGE;

/// Whether a file none of whose slots loads holds what an interrupted first commit leaves: no
/// more than that commit writes, slot B never written, slot A torn or for generation 1 (its
/// catalog not durable), or blank above a blank or torn catalog page. A real container that has
/// committed anything else, and a file of anyone else's, are never taken for one.
fn interrupted_first_commit(file: &dyn FileIo, a: SlotRead, b: SlotRead) -> Result<bool> {
    if b != SlotRead::Blank || file.len()? > FIRST_COMMIT_END {
        return Ok(false);
    }
    Ok(match a {
        SlotRead::BadChecksum => {
            // A torn first slot carries generation 1 (or not yet any): a longer-lived file cut
            // inside its slot shows a later generation and is not taken for a new one.
            let mut slot = [0u8; 24];
            file.read_at(0, &mut slot)?;
            u64::from_le_bytes(slot[16..24].try_into().unwrap_or_default()) <= 1
        }
        SlotRead::Valid(slot) => slot.generation == 1,
        SlotRead::Blank => {
            let mut page = vec![0u8; PAGE as usize];
            file.read_at(DATA_START, &mut page)?;
            Catalog::starts_page(&page)
        }
        SlotRead::NoMagic | SlotRead::UnsupportedVersion(_) => false,
    })
}

/// Whether a slot read shows our magic (whatever else is wrong with it).
fn carries_magic(read: SlotRead) -> bool {
    !matches!(read, SlotRead::Blank | SlotRead::NoMagic)
}

fn read_slots(file: &dyn FileIo) -> Result<[(u64, SlotRead); 2]> {
    let mut reads = [(0, SlotRead::Blank), (SLOT_SIZE, SlotRead::Blank)];
    for (offset, read) in &mut reads {
        let mut page = vec![0u8; SLOT_SIZE as usize];
        file.read_at(*offset, &mut page)?;
        *read = Slot::decode(&page);
        if let SlotRead::Valid(slot) = *read
            && slot_offset(slot.generation) != *offset
        {
            // A generation in the wrong slot cannot come from a crash.
            *read = SlotRead::BadChecksum;
        }
    }
    Ok(reads)
}

/// Refuses, before anything is written, a file that quiver must not touch: one that is not
/// empty and carries neither a quiver header nor what an interrupted first commit leaves.
pub(crate) fn ensure_ours(file: &dyn FileIo) -> Result<()> {
    if file.is_empty()? {
        return Ok(());
    }
    let [(_, a), (_, b)] = read_slots(file)?;
    if carries_magic(a) || carries_magic(b) || interrupted_first_commit(file, a, b)? {
        Ok(())
    } else {
        Err(Error::NotQuiverFile)
    }
}

impl Slot {
    /// The page-rounded extent the catalog blob occupies.
    fn catalog_extent(&self) -> Extent {
        Extent {
            offset: self.catalog.offset,
            len: round_up(self.catalog.len),
        }
    }
}

fn read_catalog(file: &dyn FileIo, file_len: u64, slot: &Slot) -> Result<Catalog> {
    let at = slot.catalog_extent();
    let fits = slot.catalog.len <= MAX_CATALOG_BYTES
        && slot.catalog.offset >= DATA_START
        && slot.catalog.offset.is_multiple_of(PAGE)
        && slot
            .catalog
            .offset
            .checked_add(slot.catalog.len)
            .is_some_and(|end| end <= file_len);
    if !fits {
        if slot.covers_file_end
            && slot.catalog.offset >= DATA_START
            && slot.catalog.len <= MAX_CATALOG_BYTES
        {
            // Its slot promises the file was longer: it was cut after the fact.
            return Err(Error::Truncated {
                expected: slot.catalog.offset.saturating_add(slot.catalog.len),
                actual: file_len,
            });
        }
        return Err(Error::Corrupted {
            what: format!(
                "catalog of {} bytes at {} lies outside the file ({file_len} bytes)",
                slot.catalog.len, slot.catalog.offset
            ),
            offset: slot.catalog.offset,
        });
    }
    // `fits` bounds the length by MAX_CATALOG_BYTES, so it fits in usize.
    let mut bytes = vec![0u8; slot.catalog.len as usize];
    file.read_at(slot.catalog.offset, &mut bytes)?;
    if crc32fast::hash(&bytes) != slot.catalog_crc {
        return Err(Error::Corrupted {
            what: "catalog checksum does not match its header slot".into(),
            offset: slot.catalog.offset,
        });
    }
    let catalog = Catalog::decode(&bytes, at)?;
    if slot.covers_file_end && file_len < catalog.file_end {
        return Err(Error::Truncated {
            expected: catalog.file_end,
            actual: file_len,
        });
    }
    if catalog.generation != slot.generation {
        return Err(Error::Corrupted {
            what: format!(
                "catalog generation {} differs from its slot's {}",
                catalog.generation, slot.generation
            ),
            offset: slot.catalog.offset,
        });
    }
    Ok(catalog)
}
