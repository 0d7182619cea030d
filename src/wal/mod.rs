//! The redo log below redb.
//!
//! Every change quiver makes to the main file (redb's page writes, catalog commits, zeroed
//! ranges, length changes) is written through to the main file *and* appended to a log in a
//! second file beside it. A durable commit fsyncs only the log, and concurrent commits from all
//! column families share one fsync (group commit, see [`writer`]). The main file is fsynced only
//! by checkpoints, which run in the background while writers keep committing. Where no thread can
//! be started (wasm32 in a browser), a durable commit runs the checkpoint that has become due
//! itself, after its log fsync: the same steps in the same order, so the same guarantees.
//!
//! Because the log records physical writes of the main file in the one order they were made, it
//! needs no knowledge of column families: metadata commits (segment growth, column families
//! created or deleted) are logged like any other write, and replay rebuilds them exactly.
//!
//! # What survives a crash
//!
//! After replaying the log's valid prefix, the main file holds every write made before the last
//! durable batch, plus an arbitrary (possibly torn) subset of later writes: the same state a
//! power loss leaves on a plain file between two fsyncs, which redb is built to recover from.
//! So a `Durability::Immediate` commit is durable when `commit()` returns; a `Durability::None`
//! commit never waits for an fsync and becomes durable with the next durable commit of its
//! column family.
//!
//! # Invariants (each one tested by the crash-image tests)
//!
//! 1. Write-through before append: a record enters the log only after its bytes are in the main
//!    file's page cache, so a checkpoint's fsync covers every record of the half it retires.
//! 2. A sync returns only after the log fsync covering everything appended before it.
//! 3. Replay takes the longest valid prefix of each half and stops at the first bad batch.
//! 4. Replay happens before any redb instance opens, then the main file is fsynced, and only then
//!    can the log be overwritten.
//! 5. A half is reused only after the checkpoint that retired it has fsynced the main file.
//! 6. A failed log write or fsync, or a failed main-file fsync in a checkpoint, poisons the
//!    database until it is reopened; nothing is retried.
//!
//! The file format is described in [`format`].

pub(crate) mod format;
pub(crate) mod logged_file;
pub(crate) mod replay;
pub(crate) mod writer;

use crate::error::Result;
use crate::io::FileIo;
use crate::io::poison::Poison;
use logged_file::LoggedFile;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use writer::{Log, LogConfig};

/// Counters of the log since the database was opened.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let db = quiver::Database::open(dir.path().join("a.qvr"))?;
/// let cf = db.create_column_family("users")?;
/// let before = db.wal_stats().expect("the log is on by default");
/// cf.begin_write()?.commit()?;
/// let after = db.wal_stats().unwrap();
/// assert!(after.fsyncs > before.fsyncs);
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStats {
    /// Log fsyncs (each one group commit).
    pub fsyncs: u64,
    /// Bytes written to the log.
    pub bytes: u64,
    /// Batches written.
    pub batches: u64,
    /// Checkpoints completed.
    pub checkpoints: u64,
    /// Bytes of log replayed when the database was opened.
    pub replayed_bytes: u64,
}

/// The log of one open database and its checkpoint thread (none where threads are unsupported:
/// then durable commits run due checkpoints themselves).
#[derive(Debug)]
pub(crate) struct Wal {
    pub log: Arc<Log>,
    thread: Mutex<Option<JoinHandle<()>>>,
    replayed_bytes: u64,
}

impl Wal {
    /// Recovers from `log_file` into `main`, then returns the log and the file the container
    /// should write through.
    pub(crate) fn open(
        log_file: Arc<dyn FileIo>,
        main: Arc<dyn FileIo>,
        config: LogConfig,
        poison: Arc<Poison>,
    ) -> Result<(Wal, Arc<dyn FileIo>)> {
        let recovered = replay::recover(log_file.as_ref(), main.as_ref(), config.half_size)?;
        let inline = config.inline_checkpoints;
        let config = LogConfig {
            half_size: recovered.half_size,
            checkpoint_bytes: config.checkpoint_bytes.min(recovered.half_size),
            ..config
        };
        let log = Arc::new(Log::new(
            log_file,
            main.clone(),
            config,
            recovered.next_generation,
            poison,
        ));
        let worker = log.clone();
        let spawned = if inline {
            Err(std::io::ErrorKind::Unsupported.into())
        } else {
            std::thread::Builder::new()
                .name("quiver-checkpoint".into())
                .spawn(move || worker.run_checkpointer())
        };
        let thread = match spawned {
            Ok(thread) => Some(thread),
            // No threads on this platform (wasm32-unknown-unknown), or a test asked for this
            // mode: durable commits run due checkpoints themselves.
            Err(err) if err.kind() == std::io::ErrorKind::Unsupported => {
                log.use_inline_checkpoints();
                None
            }
            Err(err) => return Err(err.into()),
        };
        let logged: Arc<dyn FileIo> = Arc::new(LoggedFile {
            main,
            log: log.clone(),
        });
        let wal = Wal {
            log,
            thread: Mutex::new(thread),
            replayed_bytes: recovered.bytes,
        };
        Ok((wal, logged))
    }

    /// Whether `log_file` starts with a valid log header (a log that may hold batches to
    /// replay).
    pub(crate) fn has_valid_header(log_file: &dyn FileIo) -> Result<bool> {
        let mut page = vec![0u8; format::LOG_HEADER_SIZE as usize];
        log_file.read_at(0, &mut page)?;
        Ok(matches!(
            format::decode_log_header(&page),
            format::LogHeader::Valid { .. }
        ))
    }

    pub(crate) fn stats(&self) -> WalStats {
        let c = &self.log.counters;
        WalStats {
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            replayed_bytes: self.replayed_bytes,
        }
    }

    /// Stops the checkpoint thread (idempotent).
    pub(crate) fn stop(&self) {
        self.log.shut_down();
        if let Some(thread) = self.thread.lock().take() {
            // The thread only returns; a panic there would be a bug, reported by tests.
            let _ = thread.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.stop();
    }
}
