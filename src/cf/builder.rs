//! Options for opening a [`Database`].

use crate::cf::container::{CheckpointProgress, Container, ContainerConfig, ensure_ours};
use crate::cf::database::Database;
use crate::error::{Error, Result};
use crate::io::poison::Poison;
use crate::io::{FileIo, StdFile};
use crate::wal::Wal;
use crate::wal::writer::{LogConfig, WalMutation};
use std::ffi::OsString;
use std::fs::{OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default redb page cache of each column family: 64 MiB. redb's own default is 1 GiB per
/// database, which multiplies with the number of column families.
pub const DEFAULT_CACHE_SIZE: usize = 64 << 20;
/// Default smallest segment: 256 KiB.
pub const DEFAULT_INITIAL_SEGMENT_SIZE: u64 = 256 << 10;
/// Default largest growth step of one column family: 256 MiB.
pub const DEFAULT_MAX_SEGMENT_GROWTH: u64 = 256 << 20;
/// Default size of the log file: 64 MiB (two halves of 32 MiB).
pub const DEFAULT_LOG_SIZE: u64 = 64 << 20;
/// Default checkpoint size trigger: when the current half of the log holds 16 MiB.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 16 << 20;
/// Default checkpoint time trigger: 30 seconds after the last one, if anything was logged.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(30);

/// The log file of the container at `path`: the same name with `-wal` appended
/// (`shop.qvr` has its log in `shop.qvr-wal`, in the same directory).
///
/// ```
/// use std::path::Path;
/// assert_eq!(quiver::log_path(Path::new("data/shop.qvr")), Path::new("data/shop.qvr-wal"));
/// ```
pub fn log_path(path: &Path) -> PathBuf {
    let mut name: OsString = path.file_name().map(OsString::from).unwrap_or_default();
    name.push("-wal");
    path.with_file_name(name)
}

/// Configures and opens a [`Database`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let db = quiver::Database::builder()
///     .set_cache_size(16 << 20)
///     .set_initial_segment_size(64 << 10)
///     .open(dir.path().join("small.qvr"))?;
/// assert!(db.list_column_families().is_empty());
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    cache_size: usize,
    initial_segment: u64,
    max_growth: u64,
    wal: bool,
    wal_mutation: WalMutation,
    inline_checkpoints: bool,
    log_size: u64,
    checkpoint_bytes: u64,
    checkpoint_interval: Option<Duration>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            cache_size: DEFAULT_CACHE_SIZE,
            initial_segment: DEFAULT_INITIAL_SEGMENT_SIZE,
            max_growth: DEFAULT_MAX_SEGMENT_GROWTH,
            wal: true,
            wal_mutation: WalMutation::None,
            inline_checkpoints: false,
            log_size: DEFAULT_LOG_SIZE,
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
            checkpoint_interval: Some(DEFAULT_CHECKPOINT_INTERVAL),
        }
    }
}

fn page_round(bytes: u64) -> u64 {
    bytes.max(1).div_ceil(4096) * 4096
}

impl Builder {
    /// A builder with the defaults ([`DEFAULT_CACHE_SIZE`], [`DEFAULT_INITIAL_SEGMENT_SIZE`],
    /// [`DEFAULT_MAX_SEGMENT_GROWTH`]).
    ///
    /// ```
    /// let builder = quiver::Builder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Sets the redb page cache size given to each column family, in bytes.
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_cache_size(8 << 20);
    /// ```
    pub fn set_cache_size(&mut self, bytes: usize) -> &mut Builder {
        self.cache_size = bytes;
        self
    }

    /// Sets the smallest segment a column family gets when it grows (rounded up to 4 KiB).
    /// Growth adds a sixteenth of what the column family already has as headroom, at least this
    /// and at most [`Builder::set_max_segment_growth`].
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_initial_segment_size(4096);
    /// ```
    pub fn set_initial_segment_size(&mut self, bytes: u64) -> &mut Builder {
        self.initial_segment = page_round(bytes);
        self.max_growth = self.max_growth.max(self.initial_segment);
        self
    }

    /// Sets the largest amount of headroom one growth adds (rounded up to 4 KiB).
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_max_segment_growth(64 << 20);
    /// ```
    pub fn set_max_segment_growth(&mut self, bytes: u64) -> &mut Builder {
        self.max_growth = page_round(bytes).max(self.initial_segment);
        self
    }

    /// Turns the write-ahead log on (the default) or off. Without it, every durable commit
    /// fdatasyncs the main file itself, as plain redb does.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Builder::new().set_wal(false).open(dir.path().join("plain.qvr"))?;
    /// assert!(db.wal_stats().is_none());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn set_wal(&mut self, enabled: bool) -> &mut Builder {
        self.wal = enabled;
        self
    }

    /// Sets the size of a new log file (two halves; rounded to 8 KiB, from 64 KiB to 2 GiB). An
    /// existing log keeps the size it was created with.
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_log_size(16 << 20);
    /// ```
    pub fn set_log_size(&mut self, bytes: u64) -> &mut Builder {
        // Halves are page multiples; recovery reads one into memory, so they are capped.
        let half = (bytes / 2).clamp(32 << 10, crate::wal::format::MAX_HALF_SIZE) / 4096 * 4096;
        self.log_size = 2 * half;
        self
    }

    /// Starts a background checkpoint once the current half of the log holds this many bytes.
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_checkpoint_bytes(4 << 20);
    /// ```
    pub fn set_checkpoint_bytes(&mut self, bytes: u64) -> &mut Builder {
        self.checkpoint_bytes = bytes.max(4096);
        self
    }

    /// Starts a background checkpoint this long after the last one if anything was logged
    /// (`None`: only the size trigger and [`Database::checkpoint`]).
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_checkpoint_interval(Some(std::time::Duration::from_secs(5)));
    /// ```
    pub fn set_checkpoint_interval(&mut self, interval: Option<Duration>) -> &mut Builder {
        self.checkpoint_interval = interval;
        self
    }

    /// Runs checkpoints inside durable commits instead of on a background thread, as quiver
    /// does on platforms without threads (wasm32), so that path can be crash-tested natively.
    /// Tests only.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Builder::new()
    ///     .set_inline_checkpoints(true)
    ///     .open(dir.path().join("inline.qvr"))?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    #[cfg(feature = "testing")]
    pub fn set_inline_checkpoints(&mut self, inline: bool) -> &mut Builder {
        self.inline_checkpoints = inline;
        self
    }

    /// Whether databases opened by this builder keep a write-ahead log.
    #[cfg(all(feature = "opfs", target_arch = "wasm32"))]
    pub(crate) fn wal_enabled(&self) -> bool {
        self.wal
    }

    /// Plants a deliberate bug in the log, to prove that crash tests catch it. Tests only.
    ///
    /// ```
    /// let mut builder = quiver::Builder::new();
    /// builder.set_wal_mutation(quiver::testing::WalMutation::AckBeforeFsync);
    /// ```
    #[cfg(feature = "testing")]
    pub fn set_wal_mutation(&mut self, mutation: WalMutation) -> &mut Builder {
        self.wal_mutation = mutation;
        self
    }

    /// Opens the container at `path`, creating it if missing. The file is locked exclusively:
    /// a second open, from this process or another, gets [`Error::AlreadyOpen`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.qvr");
    /// let db = quiver::Builder::new().open(&path)?;
    /// assert!(matches!(quiver::Database::open(&path), Err(quiver::Error::AlreadyOpen(_))));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        let log = log_path(path);
        let main_existed = path.exists();
        let log_existed = log.exists();
        let result = self.open_existing_or_new(path, &log);
        if result.is_err() {
            // A failed open leaves nothing of its own behind: not an empty container file, and
            // above all not a preallocated log beside a file that was not ours or on a full disk.
            // (Files that were there before are never removed; errors here change nothing.)
            if self.wal && !log_existed {
                let _ = std::fs::remove_file(&log);
            }
            if !main_existed {
                let _ = std::fs::remove_file(path);
            }
        }
        result
    }

    fn open_existing_or_new(&self, path: &Path, log: &Path) -> Result<Database> {
        // The lock lives on a handle of its own, owned by the database, so that it is released
        // exactly when the database is (or when the process dies).
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::AlreadyOpen(path.to_path_buf())),
            Err(TryLockError::Error(err)) => return Err(Error::Io(err)),
        }
        let file = StdFile::open(path)?;
        let mut db = if self.wal {
            self.open_with_log(file, StdFile::open(log)?)?
        } else {
            self.open_file(file)?
        };
        db.set_lock(lock);
        Ok(db)
    }

    /// Opens a container stored in any [`FileIo`] (no locking is done: the caller guarantees
    /// exclusive access). This is how tests run quiver on a simulated disk.
    ///
    /// ```
    /// use quiver::io::StdFile;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let file = StdFile::open(&dir.path().join("custom.qvr"))?;
    /// let db = quiver::Builder::new().open_file(file)?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open_file(&self, file: impl FileIo) -> Result<Database> {
        let poison = Arc::new(Poison::default());
        let container = Container::open(Arc::new(file), self.container_config(), None, poison)?;
        Ok(Database::from_parts(container, None, self.cache_size))
    }

    /// Opens a container stored in `main` with its write-ahead log in `log` (no locking). The log
    /// is replayed into the main file before anything else reads it.
    ///
    /// ```
    /// use quiver::io::StdFile;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let main = StdFile::open(&dir.path().join("x.qvr"))?;
    /// let log = StdFile::open(&dir.path().join("x.qvr-wal"))?;
    /// let db = quiver::Builder::new().set_log_size(1 << 20).open_with_log(main, log)?;
    /// assert!(db.wal_stats().is_some());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open_with_log(&self, main: impl FileIo, log: impl FileIo) -> Result<Database> {
        let config = LogConfig {
            half_size: self.log_size / 2,
            checkpoint_bytes: self.checkpoint_bytes,
            checkpoint_interval: self.checkpoint_interval,
            mutation: self.wal_mutation,
            inline_checkpoints: self.inline_checkpoints,
        };
        let (main, log): (Arc<dyn FileIo>, Arc<dyn FileIo>) = (Arc::new(main), Arc::new(log));
        if !Wal::has_valid_header(log.as_ref())? {
            // Without a log to replay, the main file must be ours before a log is created
            // beside it; with one, replay may be what makes a crashed main file whole again.
            ensure_ours(main.as_ref())?;
        }
        let poison = Arc::new(Poison::default());
        let (wal, logged) = Wal::open(log, main, config, poison.clone())?;
        let progress: Arc<dyn CheckpointProgress> = wal.log.clone();
        let container = Container::open(logged, self.container_config(), Some(progress), poison)?;
        Ok(Database::from_parts(container, Some(wal), self.cache_size))
    }

    fn container_config(&self) -> ContainerConfig {
        ContainerConfig {
            initial_segment: self.initial_segment,
            max_growth: self.max_growth,
        }
    }
}
