//! An in-memory file that records every write, length change and sync, and builds the images a
//! power loss could leave behind.
//!
//! The crash model is that of a real disk with a volatile cache: everything before the last
//! completed sync survives; of the operations after it, any subset may have reached the media,
//! in any order, and a write may be torn (at sector granularity, or at an arbitrary byte).

use crate::io::FileIo;
use parking_lot::Mutex;
use rand::Rng;
use rand::seq::SliceRandom;
use std::io;
use std::sync::Arc;

/// Sector size used for sector-granularity tears.
pub const SECTOR: usize = 512;

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
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

/// Which kind of crash image to build from the operations after the last sync.
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
    /// Fail the operation with this ordinal (counting writes, length changes and syncs from 0)
    /// with an I/O error, and every later one too (a dead disk).
    pub fail_from_op: Option<u64>,
    /// Fail the sync with this ordinal (counting syncs from 0) and every later sync, while
    /// writes keep succeeding (a disk whose cache cannot be flushed).
    pub fail_syncs_from: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// The image the trace starts from (treated as durable).
    base: Vec<u8>,
    /// What reads see: `base` with every operation applied.
    current: Vec<u8>,
    ops: Vec<Op>,
    syncs_seen: u64,
    ops_seen: u64,
    faults: Faults,
}

/// A simulated disk holding one file. Clones share the same disk.
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
/// let image = disk.crash_image(disk.op_count(), CrashKind::DropAll, &mut rng);
/// assert_eq!(&image[..7], b"durable");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

/// The [`FileIo`] view of a [`SimDisk`].
#[derive(Debug, Clone)]
pub struct SimFile {
    state: Arc<Mutex<State>>,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// A disk whose file starts as `image` (durable).
    ///
    /// ```
    /// let disk = quiver::testing::SimDisk::from_image(vec![1, 2, 3]);
    /// assert_eq!(disk.contents(), vec![1, 2, 3]);
    /// ```
    pub fn from_image(image: Vec<u8>) -> SimDisk {
        let state = State {
            base: image.clone(),
            current: image,
            ..State::default()
        };
        SimDisk {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// A file handle on this disk.
    pub fn file(&self) -> SimFile {
        SimFile {
            state: self.state.clone(),
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

    /// The file as reads currently see it.
    pub fn contents(&self) -> Vec<u8> {
        self.state.lock().current.clone()
    }

    /// A copy of the recorded operations.
    pub fn ops(&self) -> Vec<Op> {
        self.state.lock().ops.clone()
    }

    /// The image a power loss right after operation `at` (exclusive) would leave.
    pub fn crash_image(&self, at: usize, kind: CrashKind, rng: &mut impl Rng) -> Vec<u8> {
        let state = self.state.lock();
        let mut images = CrashImages::new(state.base.clone(), &state.ops);
        images.image(at, kind, rng)
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
    /// assert_eq!(images.image(0, CrashKind::DropAll, &mut rng), Vec::<u8>::new());
    /// assert_eq!(images.image(2, CrashKind::DropAll, &mut rng), vec![7; 4]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn crash_images(&self) -> CrashImages {
        let state = self.state.lock();
        CrashImages::new(state.base.clone(), &state.ops)
    }
}

/// Crash images of one recorded trace, for crash points visited in increasing order.
#[derive(Debug)]
pub struct CrashImages {
    ops: Vec<Op>,
    durable: Vec<u8>,
    /// Operations before this index are applied to `durable`.
    applied: usize,
}

impl CrashImages {
    fn new(base: Vec<u8>, ops: &[Op]) -> CrashImages {
        CrashImages {
            ops: ops.to_vec(),
            durable: base,
            applied: 0,
        }
    }

    /// Number of operations in the trace.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// How many operations after the last sync before `at` could be lost.
    pub fn pending_at(&self, at: usize) -> usize {
        let at = at.min(self.ops.len());
        let last_sync = self.ops[..at].iter().rposition(|op| *op == Op::Sync);
        let start = last_sync.map_or(0, |i| i + 1);
        at - start
    }

    /// The image after a crash following the first `at` operations. Crash points must not
    /// decrease between calls.
    pub fn image(&mut self, at: usize, kind: CrashKind, rng: &mut impl Rng) -> Vec<u8> {
        let at = at.min(self.ops.len());
        let last_sync = self.ops[..at].iter().rposition(|op| *op == Op::Sync);
        let durable_end = last_sync.map_or(0, |i| i + 1);
        assert!(
            durable_end >= self.applied,
            "crash points must be visited in increasing order"
        );
        for op in &self.ops[self.applied..durable_end] {
            apply(&mut self.durable, op);
        }
        self.applied = durable_end;

        let mut image = self.durable.clone();
        let pending = &self.ops[durable_end..at];
        match kind {
            CrashKind::DropAll => {}
            CrashKind::KeepAll => pending.iter().for_each(|op| apply(&mut image, op)),
            CrashKind::TornSectors | CrashKind::TornBytes => {
                let mut chosen: Vec<&Op> =
                    pending.iter().filter(|_| rng.random_bool(0.5)).collect();
                chosen.shuffle(rng);
                for op in chosen {
                    match op {
                        Op::Write { offset, data } if rng.random_bool(0.3) => {
                            torn_write(&mut image, *offset, data, kind, rng)
                        }
                        other => apply(&mut image, other),
                    }
                }
            }
        }
        image
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
            write_into(image, (abs) as u64, &data[pos..pos + n]);
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

fn apply(image: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write { offset, data } => write_into(image, *offset, data),
        Op::SetLen(len) => image.resize(*len as usize, 0),
        Op::Sync => {}
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

    fn sync(&self) -> io::Result<()> {
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
        state.ops.push(Op::Sync);
        Ok(())
    }
}

impl FileIo for SimFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state.lock().current.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let state = self.state.lock();
        let start = (offset as usize).min(state.current.len());
        let end = (offset as usize + buf.len()).min(state.current.len());
        let n = end - start;
        buf[..n].copy_from_slice(&state.current[start..end]);
        buf[n..].fill(0);
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        Self::admit(&mut state)?;
        write_into(&mut state.current, offset, data);
        state.ops.push(Op::Write {
            offset,
            data: data.to_vec(),
        });
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        Self::admit(&mut state)?;
        state.current.resize(len as usize, 0);
        state.ops.push(Op::SetLen(len));
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
                let image = disk.crash_image(disk.op_count(), kind, &mut rng);
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
        assert!(
            disk.crash_image(disk.op_count(), CrashKind::DropAll, &mut rng)
                .is_empty()
        );
    }
}
