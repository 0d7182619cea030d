//! Options for opening a [`Database`].

use crate::cf::container::{Container, ContainerConfig};
use crate::cf::database::Database;
use crate::error::{Error, Result};
use crate::io::{FileIo, StdFile};
use std::fs::TryLockError;
use std::path::Path;
use std::sync::Arc;

/// Default redb page cache of each column family: 64 MiB. redb's own default is 1 GiB per
/// database, which multiplies with the number of column families.
pub const DEFAULT_CACHE_SIZE: usize = 64 << 20;
/// Default smallest segment: 256 KiB.
pub const DEFAULT_INITIAL_SEGMENT_SIZE: u64 = 256 << 10;
/// Default largest growth step of one column family: 256 MiB.
pub const DEFAULT_MAX_SEGMENT_GROWTH: u64 = 256 << 20;

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
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            cache_size: DEFAULT_CACHE_SIZE,
            initial_segment: DEFAULT_INITIAL_SEGMENT_SIZE,
            max_growth: DEFAULT_MAX_SEGMENT_GROWTH,
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
    /// Growth adds as much as the column family already has (doubling, as redb does), at least
    /// this and at most
    /// [`Builder::set_max_segment_growth`].
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
        let file = StdFile::open(path)?;
        match file.file().try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::AlreadyOpen(path.to_path_buf())),
            Err(TryLockError::Error(err)) => return Err(Error::Io(err)),
        }
        self.open_file(file)
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
        let config = ContainerConfig {
            initial_segment: self.initial_segment,
            max_growth: self.max_growth,
        };
        let container = Container::open(Arc::new(file), config)?;
        Ok(Database::from_container(container, self.cache_size))
    }
}
