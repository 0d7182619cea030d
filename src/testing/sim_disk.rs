//! An in-memory disk of one or more files that records every write, length change and sync, in
//! one global order, and builds the images a power loss could leave behind.
//!
//! The crash model is that of a real disk with a volatile cache, per file: everything a file had
//! before its last completed sync survives; of that file's operations after it, any subset may
//! have reached the media, in any order, and a write may be torn (at sector granularity, or at an
//! arbitrary byte). A crash point is one instant across all files, so a database's main file and
//! its log are crashed together.

use crate::io::FileIo;
use parking_lot::Mutex;
use rand::Rng;
use rand::seq::SliceRandom;
use std::io;
use std::sync::Arc;

/// Sector size used for sector-granularity tears.
pub const SECTOR: usize = 512;

/// What one recorded operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// A write of `data` at `offset`.
    Write {
        /// Where.
        offset: u64,
        /// What.
        data: Vec<u8>,
    },
    /// A length change.
    SetLen(u64),
    /// A completed `sync_data` or `sync_all`.
    Sync,
}

/// One recorded operation and the file it was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Index of the file (0 for [`SimDisk::file`]).
    pub file: usize,
    /// What it did.
    pub kind: OpKind,
}

impl Op {
    /// Whether this is a completed sync.
    pub fn is_sync(&self) -> bool {
        self.kind == OpKind::Sync
    }
}

/// Which kind of crash image to build from the operations after each file's last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// None of them reached the media.
    DropAll,
    /// All of them did, in order.
    KeepAll,
    /// A random subset, in random order, some writes torn at sector boundaries.
    TornSectors,
    /// A random subset, in random order, some writes cut at an arbitrary byte.
    TornBytes,
}

impl CrashKind {
    /// Every kind, for loops that try them all.
    pub const ALL: [CrashKind; 4] = [
        CrashKind::DropAll,
        CrashKind::KeepAll,
        CrashKind::TornSectors,
        CrashKind::TornBytes,
    ];
}

/// Injected faults and deliberate bugs.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Acknowledge every `n`-th sync without doing it (a broken disk or backend): used to prove
    /// that the crash checks can fail.
    pub skip_every_nth_sync: Option<u64>,
    /// Fail the operation with this ordinal (counting writes, length changes and syncs on every
    /// file from 0) with an I/O error, and every later one too (a dead disk).
    pub fail_from_op: Option<u64>,
    /// Fail the sync with this ordinal (counting syncs from 0) and every later sync, while
    /// writes keep succeeding (a disk whose cache cannot be flushed).
    pub fail_syncs_from: Option<u64>,
    /// How long a sync takes: between its start and its completion (the point from which the
    /// crash model treats earlier writes as durable) the disk is unlocked and other threads
    /// run. A real fsync takes time; with none, acknowledging a commit before the fsync that
    /// covers it completes would go unseen, because the sync would always complete first.
    pub sync_delay: Option<std::time::Duration>,
}

#[derive(Debug, Default, Clone)]
struct FileImage {
    /// The image the trace starts from (treated as durable).
    base: Vec<u8>,
    /// What reads see: `base` with every operation applied.
    current: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    files: Vec<FileImage>,
    ops: Vec<Op>,
    syncs_seen: u64,
    ops_seen: u64,
    faults: Faults,
}

impl State {
    fn ensure(&mut self, file: usize) {
        if self.files.len() <= file {
            self.files.resize(file + 1, FileImage::default());
        }
    }
}

/// A simulated disk. Clones share the same disk.
///
/// ```
/// use quiver::io::FileIo;
/// use quiver::testing::{CrashKind, SimDisk};
///
/// let disk = SimDisk::new();
/// let file = disk.file();
/// file.write_at(0, b"durable")?;
/// file.sync_data()?;
/// file.write_at(0, b"lost!!!")?;
/// let mut rng = rand::rng();
/// let images = disk.crash_image(disk.op_count(), CrashKind::DropAll, &mut rng);
/// assert_eq!(&images[0][..7], b"durable");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

/// The [`FileIo`] view of one file of a [`SimDisk`].
#[derive(Debug, Clone)]
pub struct SimFile {
    state: Arc<Mutex<State>>,
    index: usize,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// A disk whose file 0 starts as `image` (durable).
    ///
    /// ```
    /// let disk = quiver::testing::SimDisk::from_image(vec![1, 2, 3]);
    /// assert_eq!(disk.contents(), vec![1, 2, 3]);
    /// ```
    pub fn from_image(image: Vec<u8>) -> SimDisk {
        SimDisk::from_images(vec![image])
    }

    /// A disk whose files start as `images` (durable), file 0 first.
    ///
    /// ```
    /// let disk = quiver::testing::SimDisk::from_images(vec![vec![1], vec![2, 2]]);
    /// assert_eq!(disk.contents_of(1), vec![2, 2]);
    /// ```
    pub fn from_images(images: Vec<Vec<u8>>) -> SimDisk {
        let files = images
            .into_iter()
            .map(|image| FileImage {
                base: image.clone(),
                current: image,
            })
            .collect();
        let state = State {
            files,
            ..State::default()
        };
        SimDisk {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// A handle on file 0.
    pub fn file(&self) -> SimFile {
        self.file_at(0)
    }

    /// A handle on file `index` (created empty if new).
    pub fn file_at(&self, index: usize) -> SimFile {
        self.state.lock().ensure(index);
        SimFile {
            state: self.state.clone(),
            index,
        }
    }

    /// Sets the injected faults.
    ///
    /// ```
    /// use quiver::io::FileIo;
    /// let disk = quiver::testing::SimDisk::new();
    /// disk.set_faults(quiver::testing::Faults { fail_from_op: Some(0), ..Default::default() });
    /// assert!(disk.file().write_at(0, b"x").is_err());
    /// ```
    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().faults = faults;
    }

    /// Number of operations recorded so far: a crash point for [`SimDisk::crash_image`].
    pub fn op_count(&self) -> usize {
        self.state.lock().ops.len()
    }

    /// Number of operations attempted so far, failed ones included (the ordinals
    /// [`Faults::fail_from_op`] counts).
    ///
    /// ```
    /// use quiver::io::FileIo;
    /// let disk = quiver::testing::SimDisk::new();
    /// disk.set_faults(quiver::testing::Faults { fail_from_op: Some(0), ..Default::default() });
    /// assert!(disk.file().write_at(0, b"x").is_err());
    /// assert_eq!((disk.ops_attempted(), disk.op_count()), (1, 0));
    /// ```
    pub fn ops_attempted(&self) -> u64 {
        self.state.lock().ops_seen
    }

    /// File 0 as reads currently see it.
    pub fn contents(&self) -> Vec<u8> {
        self.contents_of(0)
    }

    /// File `index` as reads currently see it.
    pub fn contents_of(&self, index: usize) -> Vec<u8> {
        let state = self.state.lock();
        state
            .files
            .get(index)
            .map(|f| f.current.clone())
            .unwrap_or_default()
    }

    /// Every file as reads currently see it.
    pub fn all_contents(&self) -> Vec<Vec<u8>> {
        let state = self.state.lock();
        state.files.iter().map(|f| f.current.clone()).collect()
    }

    /// A copy of the recorded operations.
    pub fn ops(&self) -> Vec<Op> {
        self.state.lock().ops.clone()
    }

    /// The images (one per file) a power loss right after operation `at` (exclusive) would
    /// leave.
    pub fn crash_image(&self, at: usize, kind: CrashKind, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        self.crash_images().image(at, kind, rng)
    }

    /// Builds crash images at increasing crash points without replaying the whole trace each
    /// time.
    ///
    /// ```
    /// use quiver::io::FileIo;
    /// use quiver::testing::{CrashKind, SimDisk};
    /// let disk = SimDisk::new();
    /// let file = disk.file();
    /// file.write_at(0, &[7; 4])?;
    /// file.sync_data()?;
    /// let mut images = disk.crash_images();
    /// let mut rng = rand::rng();
    /// assert_eq!(images.image(0, CrashKind::DropAll, &mut rng), vec![Vec::<u8>::new()]);
    /// assert_eq!(images.image(2, CrashKind::DropAll, &mut rng), vec![vec![7; 4]]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn crash_images(&self) -> CrashImages {
        let state = self.state.lock();
        CrashImages {
            ops: state.ops.clone(),
            durable: state.files.iter().map(|f| f.base.clone()).collect(),
            applied: vec![0; state.files.len()],
        }
    }
}

/// Crash images of one recorded trace, for crash points visited in increasing order.
#[derive(Debug)]
pub struct CrashImages {
    ops: Vec<Op>,
    /// Durable image of each file.
    durable: Vec<Vec<u8>>,
    /// For each file, operations before this index are applied to `durable`.
    applied: Vec<usize>,
}

impl CrashImages {
    /// Number of operations in the trace.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Index just past the last sync of `file` before `at` (0 if none).
    fn durable_end(&self, file: usize, at: usize) -> usize {
        self.ops[..at]
            .iter()
            .rposition(|op| op.file == file && op.is_sync())
            .map_or(0, |i| i + 1)
    }

    /// How many operations, over all files, could be lost by a crash at `at`.
    pub fn pending_at(&self, at: usize) -> usize {
        let at = at.min(self.ops.len());
        (0..self.durable.len())
            .map(|file| {
                let start = self.durable_end(file, at);
                self.ops[start..at]
                    .iter()
                    .filter(|op| op.file == file)
                    .count()
            })
            .sum()
    }

    /// The images (one per file) after a crash following the first `at` operations. Crash
    /// points must not decrease between calls.
    pub fn image(&mut self, at: usize, kind: CrashKind, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        let at = at.min(self.ops.len());
        let mut images = Vec::with_capacity(self.durable.len());
        for file in 0..self.durable.len() {
            let durable_end = self.durable_end(file, at);
            assert!(
                durable_end >= self.applied[file],
                "crash points must be visited in increasing order"
            );
            for op in &self.ops[self.applied[file]..durable_end] {
                if op.file == file {
                    apply(&mut self.durable[file], &op.kind);
                }
            }
            self.applied[file] = durable_end;
            let mut image = self.durable[file].clone();
            let pending: Vec<&OpKind> = self.ops[durable_end..at]
                .iter()
                .filter(|op| op.file == file)
                .map(|op| &op.kind)
                .collect();
            match kind {
                CrashKind::DropAll => {}
                CrashKind::KeepAll => pending.iter().for_each(|op| apply(&mut image, op)),
                CrashKind::TornSectors | CrashKind::TornBytes => {
                    let mut chosen: Vec<&OpKind> = pending
                        .into_iter()
                        .filter(|_| rng.random_bool(0.5))
                        .collect();
                    chosen.shuffle(rng);
                    for op in chosen {
                        match op {
                            OpKind::Write { offset, data } if rng.random_bool(0.3) => {
                                torn_write(&mut image, *offset, data, kind, rng)
                            }
                            other => apply(&mut image, other),
                        }
                    }
                }
            }
            images.push(image);
        }
        images
    }
}

fn torn_write(image: &mut Vec<u8>, offset: u64, data: &[u8], kind: CrashKind, rng: &mut impl Rng) {
    if kind == CrashKind::TornBytes {
        let keep = rng.random_range(0..=data.len());
        write_into(image, offset, &data[..keep]);
        return;
    }
    // Sectors are aligned to absolute file offsets.
    let mut pos = 0usize;
    while pos < data.len() {
        let abs = offset as usize + pos;
        let sector_end = (abs / SECTOR + 1) * SECTOR;
        let n = (sector_end - abs).min(data.len() - pos);
        if rng.random_bool(0.5) {
            write_into(image, abs as u64, &data[pos..pos + n]);
        }
        pos += n;
    }
}

fn write_into(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = offset as usize;
    let end = start + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(data);
}

fn apply(image: &mut Vec<u8>, op: &OpKind) {
    match op {
        OpKind::Write { offset, data } => write_into(image, *offset, data),
        OpKind::SetLen(len) => image.resize(*len as usize, 0),
        OpKind::Sync => {}
    }
}

impl SimFile {
    /// Counts an operation and applies the dead-disk fault.
    fn admit(state: &mut State) -> io::Result<()> {
        let ordinal = state.ops_seen;
        state.ops_seen += 1;
        match state.faults.fail_from_op {
            Some(from) if ordinal >= from => Err(io::Error::other(format!(
                "injected I/O failure at operation {ordinal}"
            ))),
            _ => Ok(()),
        }
    }

    fn record(&self, state: &mut State, kind: OpKind) {
        state.ops.push(Op {
            file: self.index,
            kind,
        });
    }

    fn sync(&self) -> io::Result<()> {
        let delay = self.state.lock().faults.sync_delay;
        if let Some(delay) = delay {
            // The sync is under way; it completes (and is recorded) only after the delay.
            std::thread::sleep(delay);
        }
        let mut state = self.state.lock();
        Self::admit(&mut state)?;
        let ordinal = state.syncs_seen;
        state.syncs_seen += 1;
        if state
            .faults
            .fail_syncs_from
            .is_some_and(|from| ordinal >= from)
        {
            return Err(io::Error::other(format!(
                "injected sync failure at sync {ordinal}"
            )));
        }
        if let Some(n) = state.faults.skip_every_nth_sync
            && n > 0
            && state.syncs_seen.is_multiple_of(n)
        {
            return Ok(());
        }
        self.record(&mut state, OpKind::Sync);
        Ok(())
    }
}

impl FileIo for SimFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state.lock().files[self.index].current.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let state = self.state.lock();
        let current = &state.files[self.index].current;
        let start = (offset as usize).min(current.len());
        let end = (offset as usize + buf.len()).min(current.len());
        let n = end - start;
        buf[..n].copy_from_slice(&current[start..end]);
        buf[n..].fill(0);
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        Self::admit(&mut state)?;
        write_into(&mut state.files[self.index].current, offset, data);
        self.record(
            &mut state,
            OpKind::Write {
                offset,
                data: data.to_vec(),
            },
        );
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        Self::admit(&mut state)?;
        state.files[self.index].current.resize(len as usize, 0);
        self.record(&mut state, OpKind::SetLen(len));
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn synced_writes_survive_every_crash_kind_and_unsynced_ones_may_not() {
        let disk = SimDisk::new();
        let file = disk.file();
        file.write_at(0, &[1; 1024]).unwrap();
        file.sync_data().unwrap();
        file.write_at(0, &[2; 1024]).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen_torn = false;
        for _ in 0..200 {
            for kind in CrashKind::ALL {
                let image = disk.crash_image(disk.op_count(), kind, &mut rng).remove(0);
                assert_eq!(image.len(), 1024);
                assert!(image.iter().all(|&b| b == 1 || b == 2));
                match kind {
                    CrashKind::DropAll => assert!(image.iter().all(|&b| b == 1)),
                    CrashKind::KeepAll => assert!(image.iter().all(|&b| b == 2)),
                    _ => seen_torn |= image[..512] != image[512..],
                }
            }
        }
        assert!(seen_torn, "sector tears never happened");
    }

    #[test]
    fn a_sync_covers_only_its_own_file() {
        let disk = SimDisk::new();
        let (main, log) = (disk.file_at(0), disk.file_at(1));
        main.write_at(0, b"main").unwrap();
        log.write_at(0, b"log").unwrap();
        log.sync_data().unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let images = disk.crash_image(disk.op_count(), CrashKind::DropAll, &mut rng);
        assert_eq!(images, vec![Vec::new(), b"log".to_vec()]);
    }

    #[test]
    fn skipped_syncs_leave_writes_pending() {
        let disk = SimDisk::new();
        disk.set_faults(Faults {
            skip_every_nth_sync: Some(1),
            ..Faults::default()
        });
        let file = disk.file();
        file.write_at(0, b"x").unwrap();
        file.sync_data().unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let image = disk.crash_image(disk.op_count(), CrashKind::DropAll, &mut rng);
        assert!(image[0].is_empty());
    }
}
