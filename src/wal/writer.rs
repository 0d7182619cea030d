//! The log writer: buffering, group commit, half switching and checkpoints.
//!
//! # Group commit
//!
//! Appends only encode a record into a shared buffer (under a short lock) and return its
//! sequence number. [`Log::sync`] waits until the durable sequence number covers everything
//! appended before the call. The first waiter that finds no flush running becomes the leader: it
//! takes the whole buffer, writes it as one or more batches, fdatasyncs the log, publishes the new
//! durable sequence number and wakes everyone. A waiter that wakes up uncovered leads the next
//! flush. There are no sleeps and no lost wake-ups: every state change happens under the lock and
//! is followed by `notify_all`.
//!
//! The buffer is bounded: an append that leaves more than [`buffer_limit`] bytes buffered writes
//! them to the log without an fsync (a run of non-durable commits, a bulk load, would otherwise
//! hold all its writes in memory until the next durable one). Those batches are unsynced writes
//! like the main file's own: replay takes the longest valid prefix of them, and the next durable
//! sync fsyncs the log even when the buffer is empty, because written records are not yet
//! durable ones.
//!
//! # Halves and checkpoints
//!
//! Generation `g` is appended to half `g % 2`. A checkpoint *switches* to the other half (next
//! generation), which is an instant under the lock, then fsyncs the main file while writers keep
//! appending to the new half. Every record in the old half was written through to the main file
//! before it was appended, so after that fsync the old half is no longer needed.
//!
//! The checkpoint then *retires* the old half: it writes, at the half's start, the first batch
//! (empty) of the generation that will use the half next, and fsyncs the log. Until that marker
//! is durable the half is untouched, so replay applies its generation in full (harmless: it is
//! already in the main file, and the newer half is applied after it). Once it is durable, the old
//! generation's first batch is gone and replay ignores the half. Replay therefore never applies a
//! *prefix* of an obsolete generation, which would regress pages its lost suffix rewrote. A
//! switch continues after the marker, and waits for the previous checkpoint to have retired its
//! half; that is the only way a checkpoint can stall writers (when a whole half fills during one
//! main fsync).

use crate::error::Result;
use crate::io::FileIo;
use crate::wal::format::{BATCH_HEADER, BATCH_TRAILER, Change, LOG_HEADER_SIZE, encode_batch};

/// Size of an empty batch: the marker that starts each generation.
pub(crate) const MARKER_LEN: u64 = (BATCH_HEADER + BATCH_TRAILER) as u64;

/// The empty first batch of `generation`, which retires the half it is written to.
pub(crate) fn marker(generation: u64) -> Vec<u8> {
    let mut batch = Vec::with_capacity(MARKER_LEN as usize);
    encode_batch(generation, 0, &[], &mut batch);
    batch
}

/// Offset of the half that holds `generation`.
pub(crate) fn half_offset(generation: u64, half_size: u64) -> u64 {
    LOG_HEADER_SIZE + (generation % 2) * half_size
}
use crate::io::poison::Poison;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
// std's Instant panics on wasm32-unknown-unknown; web-time's is std's own everywhere else.
use web_time::Instant;

/// Deliberate bugs, for proving that the crash tests catch a broken log (`testing` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalMutation {
    /// The correct log.
    #[default]
    None,
    /// Acknowledge a group commit without fsyncing the log.
    AckBeforeFsync,
    /// Retire (recycle) a half of the log without fsyncing the main file first.
    RecycleBeforeMainFsync,
    /// Wake the group commit's followers as durable before the leader's log fsync completes
    /// (the fsync still runs): a bug that only a disk whose fsync takes time shows.
    AckFollowersBeforeFsync,
}

/// Sizing and checkpoint triggers of the log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogConfig {
    /// Bytes per half (a multiple of 4096).
    pub half_size: u64,
    /// Start a checkpoint when the current half holds this many bytes.
    pub checkpoint_bytes: u64,
    /// Start a checkpoint when this long has passed since the last one and anything was logged.
    pub checkpoint_interval: Option<Duration>,
    /// A deliberate bug (tests only).
    pub mutation: WalMutation,
    /// Run checkpoints inside durable commits instead of on a thread, as where threads are
    /// unsupported (also chosen automatically there).
    pub inline_checkpoints: bool,
}

/// Where the checkpoint of the half before the current one stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checkpoint {
    /// The other half is retired (its next generation's marker is durable): the next switch
    /// may use it.
    Idle,
    /// Switched; the main file still needs its fsync.
    Switched,
    /// The checkpoint thread is running the main file's fsync.
    Syncing,
}

#[derive(Debug)]
struct State {
    /// Encoded records not yet written to the log.
    buffer: Vec<u8>,
    /// Offsets in `buffer` where records end (so batches split at record boundaries).
    record_ends: Vec<usize>,
    /// Records appended so far (the sequence number of the last one).
    appended: u64,
    /// Every record up to this sequence number is written to the log (maybe not yet synced).
    written: u64,
    /// Every record up to this sequence number is durable in the log.
    durable: u64,
    flushing: bool,
    generation: u64,
    next_batch: u64,
    /// Next write position inside the current half.
    pos: u64,
    checkpoint: Checkpoint,
    /// A checkpoint was asked for (size or time trigger, or on demand).
    checkpoint_wanted: bool,
    /// Records were appended since the last switch.
    dirty_since_switch: bool,
    last_switch: Instant,
    shutdown: bool,
}

/// Counters for benchmarks and statistics.
#[derive(Debug, Default)]
pub(crate) struct LogCounters {
    pub fsyncs: AtomicU64,
    pub bytes: AtomicU64,
    pub batches: AtomicU64,
    pub checkpoints: AtomicU64,
}

/// The redo log shared by every column family of one database.
#[derive(Debug)]
pub(crate) struct Log {
    file: Arc<dyn FileIo>,
    main: Arc<dyn FileIo>,
    config: LogConfig,
    state: Mutex<State>,
    changed: Condvar,
    /// Shared with the container: the first write-path failure anywhere refuses writes
    /// everywhere.
    poison: Arc<Poison>,
    /// No checkpoint thread could be started (a platform without threads, such as wasm): durable
    /// syncs run due checkpoints themselves.
    inline_checkpoints: AtomicBool,
    /// Every generation up to this one is durable in the main file.
    retired: AtomicU64,
    pub counters: LogCounters,
}

/// Largest data chunk of one write record: keeps every record well inside a half.
fn max_record_data(half_size: u64) -> usize {
    (half_size / 8).max(512) as usize
}

/// Buffered bytes past which an append writes the buffer out without an fsync: an eighth of a
/// half (4 MiB with the default 64 MiB log), so the buffer never holds more than a few batches.
pub(crate) fn buffer_limit(half_size: u64) -> usize {
    (half_size / 8).max(4096) as usize
}

impl Log {
    /// A log appending to `generation`, whose marker (and the other half's marker for
    /// `generation + 1`) recovery has made durable.
    pub(crate) fn new(
        file: Arc<dyn FileIo>,
        main: Arc<dyn FileIo>,
        config: LogConfig,
        generation: u64,
        poison: Arc<Poison>,
    ) -> Log {
        Log {
            file,
            main,
            config,
            state: Mutex::new(State {
                buffer: Vec::new(),
                record_ends: Vec::new(),
                appended: 0,
                written: 0,
                durable: 0,
                flushing: false,
                generation,
                next_batch: 1,
                pos: MARKER_LEN,
                checkpoint: Checkpoint::Idle,
                checkpoint_wanted: false,
                dirty_since_switch: false,
                last_switch: Instant::now(),
                shutdown: false,
            }),
            changed: Condvar::new(),
            poison,
            inline_checkpoints: AtomicBool::new(false),
            // Recovery fsynced the main file: everything before this generation is in it.
            retired: AtomicU64::new(generation - 1),
            counters: LogCounters::default(),
        }
    }

    fn check_poison(&self) -> Result<()> {
        self.poison.check()
    }

    fn poison(&self, state: &mut MutexGuard<'_, State>, cause: impl std::fmt::Display) {
        self.poison.set(cause);
        state.flushing = false;
        self.changed.notify_all();
    }

    /// Gives the log file up (see [`FileIo::release`]); call once nothing appends any more.
    pub(crate) fn release_file(&self) {
        self.file.release();
    }

    /// Poisons the database because a write of the main file failed (the log itself is fine,
    /// but the state it describes can no longer be reached).
    pub(crate) fn poison_for(&self, cause: String) {
        let mut state = self.state.lock();
        self.poison(&mut state, cause);
    }

    /// Appends a change. Call only after it is written through to the main file. Encoding (and
    /// compression) happens before the lock is taken, in the caller's thread; writes larger than
    /// a record may hold are split into several records.
    pub(crate) fn append(&self, change: Change<'_>) -> Result<()> {
        self.check_poison()?;
        let max = max_record_data(self.config.half_size);
        let mut encoded = Vec::new();
        let mut ends = Vec::with_capacity(1);
        match change {
            Change::Write { offset, data } if data.len() > max => {
                for (i, chunk) in data.chunks(max).enumerate() {
                    let piece = Change::Write {
                        offset: offset + (i * max) as u64,
                        data: chunk,
                    };
                    piece.encode_into(&mut encoded);
                    ends.push(encoded.len());
                }
            }
            change => {
                change.encode_into(&mut encoded);
                ends.push(encoded.len());
            }
        }
        let mut state = self.state.lock();
        let base = state.buffer.len();
        state.buffer.extend_from_slice(&encoded);
        state.record_ends.extend(ends.iter().map(|end| base + end));
        state.appended += ends.len() as u64;
        state.dirty_since_switch = true;
        if state.buffer.len() > buffer_limit(self.config.half_size) && !state.flushing {
            // Write the buffer out now; durability still waits for a sync.
            drop(self.lead_flush(state, false)?);
        }
        Ok(())
    }

    /// Returns once everything appended before the call is durable in the log (and, where no
    /// checkpoint thread runs, after running a checkpoint that became due).
    pub(crate) fn sync(&self) -> Result<()> {
        self.sync_log()?;
        if self.inline_checkpoints.load(Ordering::Relaxed) {
            self.run_due_checkpoint()?;
        }
        Ok(())
    }

    fn sync_log(&self) -> Result<()> {
        let mut state = self.state.lock();
        let target = state.appended;
        loop {
            self.check_poison()?;
            if state.durable >= target {
                return Ok(());
            }
            if state.flushing {
                self.changed.wait(&mut state);
                continue;
            }
            state = self.lead_flush(state, true)?;
        }
    }

    /// Writes the whole buffer as batches and, if `sync`, fdatasyncs the log (also when the
    /// buffer was empty but earlier unsynced flushes wrote records). Called with the lock held
    /// and `flushing` false; returns with the lock held again.
    fn lead_flush<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        sync: bool,
    ) -> Result<MutexGuard<'a, State>> {
        state.flushing = true;
        let unsynced_before = state.written > state.durable;
        let buffer = std::mem::take(&mut state.buffer);
        let ends = std::mem::take(&mut state.record_ends);
        let upto = state.appended;
        // Lay the records out as batches, switching halves when one fills.
        let mut writes: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut start = 0usize;
        let mut end_index = 0usize;
        while start < buffer.len() {
            let room =
                self.config
                    .half_size
                    .saturating_sub(state.pos)
                    .saturating_sub((BATCH_HEADER + BATCH_TRAILER) as u64) as usize;
            // Take as many whole records as fit.
            let mut stop = start;
            while end_index < ends.len() && ends[end_index] - start <= room {
                stop = ends[end_index];
                end_index += 1;
            }
            if stop == start {
                // Not even one record fits: move to the other half.
                state = self.switch_for_space(state)?;
                continue;
            }
            let mut batch = Vec::with_capacity(stop - start + BATCH_HEADER + BATCH_TRAILER);
            encode_batch(
                state.generation,
                state.next_batch,
                &buffer[start..stop],
                &mut batch,
            );
            let at = half_offset(state.generation, self.config.half_size) + state.pos;
            state.pos += batch.len() as u64;
            state.next_batch += 1;
            writes.push((at, batch));
            start = stop;
        }
        let wants_checkpoint = state.pos >= self.config.checkpoint_bytes;
        drop(state);

        let mut result = Ok(());
        for (at, batch) in &writes {
            if let Err(err) = self.file.write_at(*at, batch) {
                result = Err(err);
                break;
            }
            self.counters
                .bytes
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        if result.is_ok() {
            self.counters
                .batches
                .fetch_add(writes.len() as u64, Ordering::Relaxed);
        }
        if result.is_ok() && sync && (!writes.is_empty() || unsynced_before) {
            if self.config.mutation == WalMutation::AckFollowersBeforeFsync {
                let mut state = self.state.lock();
                state.durable = state.durable.max(upto);
                self.changed.notify_all();
            }
            if self.config.mutation != WalMutation::AckBeforeFsync {
                result = self.file.sync_data();
            }
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        }

        let mut state = self.state.lock();
        if let Err(err) = result {
            // The log's tail is now unknown: never retry a failed fsync and carry on.
            self.poison(&mut state, format!("writing the log: {err}"));
            return Err(err.into());
        }
        state.written = state.written.max(upto);
        if sync {
            state.durable = state.durable.max(upto);
        }
        state.flushing = false;
        if wants_checkpoint && state.checkpoint == Checkpoint::Idle {
            state.checkpoint_wanted = true;
        }
        self.changed.notify_all();
        Ok(state)
    }

    /// The current half is full: switch to the other one, waiting for the previous checkpoint's
    /// main-file fsync if it is still running.
    fn switch_for_space<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>> {
        loop {
            self.check_poison()?;
            match state.checkpoint {
                Checkpoint::Idle => break,
                // Do the pending main fsync here rather than wait for the checkpoint thread.
                Checkpoint::Switched => state = self.sync_main(state)?,
                Checkpoint::Syncing => self.changed.wait(&mut state),
            }
        }
        self.check_poison()?;
        self.switch(&mut state);
        Ok(state)
    }

    /// Moves appends to the next generation in the other half, after its marker. Requires
    /// `Checkpoint::Idle`.
    fn switch(&self, state: &mut State) {
        state.generation += 1;
        state.next_batch = 1;
        state.pos = MARKER_LEN;
        state.checkpoint = Checkpoint::Switched;
        state.checkpoint_wanted = false;
        state.dirty_since_switch = false;
        state.last_switch = Instant::now();
        self.changed.notify_all();
    }

    /// Runs one checkpoint now: switch halves and fsync the main file. Returns when everything
    /// written before the call is durable in the main file.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let mut state = self.state.lock();
        // Finish a checkpoint already under way, then run a full one of our own.
        loop {
            self.check_poison()?;
            match state.checkpoint {
                Checkpoint::Idle if !state.flushing => break,
                Checkpoint::Switched => {
                    state = self.sync_main(state)?;
                }
                _ => self.changed.wait(&mut state),
            }
        }
        self.switch(&mut state);
        let state = self.sync_main(state)?;
        drop(state);
        Ok(())
    }

    /// Fsyncs the main file for a switched checkpoint (state `Switched`), then retires the old
    /// half with the marker of the generation after the current one.
    fn sync_main<'a>(&'a self, mut state: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        state.checkpoint = Checkpoint::Syncing;
        let next = state.generation + 1;
        drop(state);
        let main_sync = if self.config.mutation == WalMutation::RecycleBeforeMainFsync {
            Ok(())
        } else {
            self.main.sync_all()
        };
        let result = main_sync.and_then(|()| {
            self.file
                .write_at(half_offset(next, self.config.half_size), &marker(next))?;
            self.file.sync_data()
        });
        let mut state = self.state.lock();
        if let Err(err) = result {
            self.poison(&mut state, format!("checkpoint: {err}"));
            return Err(err.into());
        }
        state.checkpoint = Checkpoint::Idle;
        // No switch can happen while a checkpoint runs, so the retired generation is the one
        // before the current.
        self.retired.store(state.generation - 1, Ordering::Release);
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_all();
        Ok(state)
    }

    /// Body of the background checkpoint thread: runs checkpoints when a half fills past the
    /// size trigger, when a switch for space left a main fsync to do, or when the time trigger
    /// fires. Returns on shutdown or poisoning.
    pub(crate) fn run_checkpointer(&self) {
        let mut state = self.state.lock();
        loop {
            if state.shutdown || self.poison.is_set() {
                return;
            }
            match state.checkpoint {
                Checkpoint::Switched => match self.sync_main(state) {
                    Ok(next) => state = next,
                    Err(_) => return,
                },
                Checkpoint::Idle if !state.flushing && self.time_or_size_trigger(&state) => {
                    self.switch(&mut state);
                }
                _ => {
                    let timeout = self
                        .config
                        .checkpoint_interval
                        .unwrap_or(Duration::from_secs(3600));
                    self.changed.wait_for(&mut state, timeout);
                }
            }
        }
    }

    /// Switches to inline checkpoints: every later durable sync does what the checkpoint thread
    /// would have done by then. For platforms that cannot start threads.
    pub(crate) fn use_inline_checkpoints(&self) {
        self.inline_checkpoints.store(true, Ordering::Relaxed);
    }

    /// One step of the checkpoint thread's work, run by the caller: finishes a switched
    /// checkpoint, or starts and finishes one that a trigger asks for.
    fn run_due_checkpoint(&self) -> Result<()> {
        let mut state = self.state.lock();
        if state.flushing {
            // Another caller is flushing; its own sync will run the step.
            return Ok(());
        }
        if state.checkpoint == Checkpoint::Idle && self.time_or_size_trigger(&state) {
            self.switch(&mut state);
        }
        if state.checkpoint == Checkpoint::Switched {
            drop(self.sync_main(state)?);
        }
        Ok(())
    }

    fn time_or_size_trigger(&self, state: &State) -> bool {
        if state.checkpoint_wanted {
            return true;
        }
        match self.config.checkpoint_interval {
            Some(interval) => state.dirty_since_switch && state.last_switch.elapsed() >= interval,
            None => false,
        }
    }

    /// Refuses every later append, sync and checkpoint, as if the process had died (tests).
    #[cfg(feature = "crash-test")]
    pub(crate) fn kill(&self) {
        let mut state = self.state.lock();
        self.poison(&mut state, "the database was abandoned (crash test)");
    }

    /// Stops the checkpoint thread.
    pub(crate) fn shut_down(&self) {
        let mut state = self.state.lock();
        state.shutdown = true;
        self.changed.notify_all();
    }
}

impl crate::cf::container::CheckpointProgress for Log {
    fn current_generation(&self) -> u64 {
        self.state.lock().generation
    }

    fn retired_through(&self) -> u64 {
        self.retired.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// A file that records the order of its writes and syncs.
    #[derive(Debug, Default)]
    struct Recorder {
        ops: Mutex<Vec<&'static str>>,
    }

    impl Recorder {
        fn take(&self) -> Vec<&'static str> {
            std::mem::take(&mut self.ops.lock())
        }
    }

    impl FileIo for Recorder {
        fn len(&self) -> io::Result<u64> {
            Ok(0)
        }
        fn read_at(&self, _offset: u64, buf: &mut [u8]) -> io::Result<()> {
            buf.fill(0);
            Ok(())
        }
        fn write_at(&self, _offset: u64, _data: &[u8]) -> io::Result<()> {
            self.ops.lock().push("write");
            Ok(())
        }
        fn set_len(&self, _len: u64) -> io::Result<()> {
            Ok(())
        }
        fn sync_data(&self) -> io::Result<()> {
            self.ops.lock().push("sync");
            Ok(())
        }
        fn sync_all(&self) -> io::Result<()> {
            self.sync_data()
        }
    }

    /// Incompressible bytes (records are compressed before they are buffered).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn log_over(file: Arc<Recorder>, half_size: u64) -> Log {
        let config = LogConfig {
            half_size,
            checkpoint_bytes: u64::MAX,
            checkpoint_interval: None,
            mutation: WalMutation::None,
            inline_checkpoints: true,
        };
        Log::new(
            file,
            Arc::new(Recorder::default()),
            config,
            1,
            Arc::new(Poison::default()),
        )
    }

    #[test]
    fn a_full_buffer_is_written_without_a_sync_and_the_next_sync_still_fsyncs() {
        let file = Arc::new(Recorder::default());
        let half = 64 << 10;
        let log = log_over(file.clone(), half);
        let limit = buffer_limit(half);
        // Under the limit: buffered, nothing written.
        let small = noise(limit / 4, 1);
        log.append(Change::Write {
            offset: 0,
            data: &small,
        })
        .unwrap();
        assert!(file.take().is_empty());
        // Over it: the buffer is written out, not synced, and is empty again.
        let large = noise(limit, 2);
        log.append(Change::Write {
            offset: 4096,
            data: &large,
        })
        .unwrap();
        let ops = file.take();
        assert!(ops.contains(&"write") && !ops.contains(&"sync"), "{ops:?}");
        assert!(log.state.lock().buffer.is_empty());
        assert_eq!(log.state.lock().durable, 0);
        // Nothing is buffered now, but the records written are not durable: sync must fsync.
        log.sync().unwrap();
        assert_eq!(file.take(), vec!["sync"]);
        let state = log.state.lock();
        assert_eq!(
            (state.written, state.durable),
            (state.appended, state.appended)
        );
        drop(state);
        // Everything durable: a sync with nothing new does no I/O.
        log.sync().unwrap();
        assert!(file.take().is_empty());
    }
}
