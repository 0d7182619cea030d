//! [`Database`]: the container file and its column families.

use crate::cf::backend::CfBackend;
use crate::cf::builder::Builder;
use crate::cf::column_family::{CfHandle, ColumnFamily, catch_panic};
use crate::cf::container::{CfState, Container, ContainerStats};
use crate::error::{Error, Result};
use crate::wal::{Wal, WalStats};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A quiver database: one file holding any number of column families.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("shop.qvr");
/// let db = quiver::Database::open(&path)?;
/// db.create_column_family("users")?;
/// db.create_column_family("products")?;
/// assert_eq!(db.list_column_families(), ["products", "users"]);
/// db.close()?;
///
/// let db = quiver::Database::open(&path)?;
/// assert!(db.column_family("users").is_ok());
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct Database {
    container: Arc<Container>,
    /// Column families opened in this session, by name.
    handles: RwLock<HashMap<String, ColumnFamily>>,
    /// Serialises creating, opening and deleting column families.
    lifecycle: Mutex<()>,
    closed: AtomicBool,
    cache_size: usize,
    wal: Option<Wal>,
    /// The exclusive lock on the container file (`None` for caller-supplied files, and once
    /// closed: closing releases it, so the file can be opened again at once).
    lock: Mutex<Option<std::fs::File>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("column_families", &self.list_column_families())
            .finish()
    }
}

impl Database {
    /// Opens the container at `path` with default options, creating it if missing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::open(dir.path().join("new.qvr"))?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Builder::new().open(path)
    }

    /// A [`Builder`] for non-default options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::builder().set_cache_size(4 << 20).open(dir.path().join("x.qvr"))?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_parts(
        container: Arc<Container>,
        wal: Option<Wal>,
        cache_size: usize,
    ) -> Database {
        Database {
            container,
            handles: RwLock::new(HashMap::new()),
            lifecycle: Mutex::new(()),
            closed: AtomicBool::new(false),
            cache_size,
            wal,
            lock: Mutex::new(None),
        }
    }

    pub(crate) fn set_lock(&mut self, lock: std::fs::File) {
        *self.lock.get_mut() = Some(lock);
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.container.check_poison()
    }

    fn redb_builder(&self) -> redb::Builder {
        let mut builder = redb::Builder::new();
        builder.set_cache_size(self.cache_size);
        builder
    }

    fn backend(&self, state: &Arc<CfState>) -> CfBackend {
        CfBackend {
            cf: state.clone(),
            container: self.container.clone(),
        }
    }

    /// Opens (or creates) the redb database of a column family. redb repairs a damaged one
    /// here, and may panic on pages it cannot make sense of: that is [`Error::Corrupted`].
    fn open_redb(&self, state: &Arc<CfState>, what: &str) -> Result<redb::Database> {
        match catch_panic(|| self.redb_builder().create_with_backend(self.backend(state))) {
            Ok(opened) => Ok(opened?),
            Err(message) => Err(Error::Corrupted {
                what: format!(
                    "column family '{}': a panic while {what} ({message})",
                    state.name
                ),
                offset: 0,
            }),
        }
    }

    fn register(&self, state: Arc<CfState>, db: redb::Database) -> ColumnFamily {
        let cf = ColumnFamily {
            inner: Arc::new(CfHandle {
                state,
                db: RwLock::new(Some(db)),
                broken: Mutex::new(None),
            }),
        };
        self.handles
            .write()
            .insert(cf.name().to_owned(), cf.clone());
        cf
    }

    /// Creates a column family. Creation is crash-atomic: after a crash it either exists, fully
    /// usable, or not at all.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let products = db.create_column_family("products")?;
    /// assert!(matches!(
    ///     db.create_column_family("products"),
    ///     Err(quiver::Error::ColumnFamilyExists(_))
    /// ));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn create_column_family(&self, name: &str) -> Result<ColumnFamily> {
        let _guard = self.lifecycle.lock();
        self.check_open()?;
        let state = self.container.begin_create(name)?;
        let db = match self.open_redb(&state, "creating it") {
            Ok(db) => db,
            Err(err) => {
                // Give the half-created column family back; an error here leaves the database
                // poisoned, which the next call reports.
                let _ = self.container.remove(&state);
                return Err(err);
            }
        };
        self.container.mark_live(&state)?;
        Ok(self.register(state, db))
    }

    /// Opens an existing column family.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// assert!(matches!(db.column_family("nope"), Err(quiver::Error::ColumnFamilyNotFound(_))));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn column_family(&self, name: &str) -> Result<ColumnFamily> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        // An open column family is handed out even when the database refuses writes: reads of
        // committed data go on. (Opening one writes its redb header, so that is refused.)
        if let Some(cf) = self.handles.read().get(name) {
            return Ok(cf.clone());
        }
        let _guard = self.lifecycle.lock();
        self.open_locked(name)
    }

    fn open_locked(&self, name: &str) -> Result<ColumnFamily> {
        self.check_open()?;
        if let Some(cf) = self.handles.read().get(name) {
            return Ok(cf.clone());
        }
        let state = self
            .container
            .find(name)
            .ok_or_else(|| Error::ColumnFamilyNotFound(name.to_owned()))?;
        let db = self.open_redb(&state, "opening it")?;
        Ok(self.register(state, db))
    }

    /// Opens the column family, creating it if it does not exist.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let a = db.column_family_or_create("reviews")?;
    /// let b = db.column_family_or_create("reviews")?;
    /// assert_eq!(a.name(), b.name());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn column_family_or_create(&self, name: &str) -> Result<ColumnFamily> {
        match self.column_family(name) {
            Err(Error::ColumnFamilyNotFound(_)) => match self.create_column_family(name) {
                // Lost a race with another creator: open theirs.
                Err(Error::ColumnFamilyExists(_)) => self.column_family(name),
                other => other,
            },
            other => other,
        }
    }

    /// Deletes a column family and everything in it, durably. Handles to it then fail with
    /// [`Error::ColumnFamilyNotFound`], and transactions still open on it fail with redb's
    /// `DatabaseClosed` error; none of them can see another column family's data, because the
    /// space is reused only once the last handle and transaction are gone.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let tmp = db.create_column_family("scratch")?;
    /// db.delete_column_family("scratch")?;
    /// assert!(matches!(tmp.begin_write(), Err(quiver::Error::ColumnFamilyNotFound(_))));
    /// assert!(db.list_column_families().is_empty());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn delete_column_family(&self, name: &str) -> Result<()> {
        let _guard = self.lifecycle.lock();
        self.check_open()?;
        let handle = self.handles.write().remove(name);
        let state = match &handle {
            Some(cf) => cf.inner.state.clone(),
            None => self
                .container
                .find(name)
                .ok_or_else(|| Error::ColumnFamilyNotFound(name.to_owned()))?,
        };
        if let Some(db) = handle.as_ref().and_then(ColumnFamily::take_db) {
            // The data is being deleted, so a failure to close it cleanly (an error, or a panic
            // on a damaged page) does not matter; a write transaction still running will fail
            // at commit.
            let _ = catch_panic(|| db.close());
        }
        self.container.remove(&state)
    }

    /// Names of all column families, sorted.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// db.create_column_family("b")?;
    /// db.create_column_family("a")?;
    /// assert_eq!(db.list_column_families(), ["a", "b"]);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn list_column_families(&self) -> Vec<String> {
        self.container.names()
    }

    /// Closes every column family and makes the container durable, reporting the first error.
    /// While a write transaction is open on any column family it returns
    /// [`Error::TransactionInProgress`] and closes nothing: the database stays usable, and
    /// `close` can be called again once the transaction is committed or dropped. Afterwards
    /// every call, and every handle still held, returns [`Error::Closed`]. A dropped database
    /// closes itself (ignoring errors).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let users = db.create_column_family("users")?;
    /// let txn = users.begin_write()?;
    /// assert!(matches!(db.close(), Err(quiver::Error::TransactionInProgress(_))));
    /// txn.commit()?; // still open: the commit goes through
    /// db.close()?;
    /// assert!(matches!(users.begin_read(), Err(quiver::Error::Closed)));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        self.ensure_no_write_transaction()?;
        self.shut_down()
    }

    /// [`Error::TransactionInProgress`] if a write transaction is open on any column family
    /// ([`Error::Closed`] once closed).
    pub(crate) fn ensure_no_write_transaction(&self) -> Result<()> {
        let _guard = self.lifecycle.lock();
        self.check_open()?;
        let handles: Vec<ColumnFamily> = self.handles.read().values().cloned().collect();
        for cf in handles {
            // Taking the writer slot proves no write transaction is open; the probe is dropped
            // at once (an abort, which writes nothing). A broken or deleted column family
            // closes like the others.
            if let Err(err @ Error::TransactionInProgress(_)) = cf.try_begin_write() {
                return Err(err);
            }
        }
        Ok(())
    }

    fn shut_down(&self) -> Result<()> {
        let _guard = self.lifecycle.lock();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let handles: Vec<ColumnFamily> = self.handles.write().drain().map(|(_, cf)| cf).collect();
        let mut first_error = close_all(handles);
        if let Err(err) = self.container.close() {
            first_error.get_or_insert(err);
        }
        if let Some(wal) = &self.wal {
            // Leave a main file that needs no replay, then stop the checkpoint thread.
            if first_error.is_none()
                && let Err(err) = wal.log.checkpoint()
            {
                first_error.get_or_insert(err);
            }
            wal.stop();
            wal.log.release_file();
        }
        self.container.file.release();
        // Releasing the handle releases the file lock.
        *self.lock.lock() = None;
        first_error.map_or(Ok(()), Err)
    }

    /// Checks every column family with redb's own integrity check (every page's checksum and
    /// the allocator state); the first one that fails is [`Error::Corrupted`]. redb repairs what
    /// it can while checking, so a failed check may already have rewritten the column family;
    /// run it on a copy to keep the original as it is. Waits for write transactions to end.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// db.create_column_family("users")?;
    /// db.verify()?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn verify(&self) -> Result<()> {
        self.check_open()?;
        for name in self.list_column_families() {
            let cf = self.column_family(&name)?;
            cf.check_integrity()?;
        }
        Ok(())
    }

    /// Runs a checkpoint now: everything committed so far is made durable in the main file, and
    /// the log space it used becomes reusable. Commits on other threads continue meanwhile.
    /// Without the log this is a no-op.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// db.create_column_family("users")?;
    /// db.checkpoint()?;
    /// assert!(db.wal_stats().unwrap().checkpoints >= 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn checkpoint(&self) -> Result<()> {
        self.check_open()?;
        match &self.wal {
            Some(wal) => wal.log.checkpoint(),
            None => Ok(()),
        }
    }

    /// Drops the database as if the process had died: from this call on nothing reaches the
    /// files (every write and sync fails), the checkpoint thread stops and the file lock is
    /// released. For crash tests only.
    #[cfg(feature = "crash-test")]
    pub fn abandon(self) {
        if let Some(wal) = &self.wal {
            wal.log.kill();
            wal.stop();
        }
        self.container
            .poison("the database was abandoned (crash test)");
        // Dropping now closes nothing: every write the close would make is refused.
        drop(self);
    }

    /// Counters of the write-ahead log, or `None` when it is off.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// assert_eq!(db.wal_stats().unwrap().replayed_bytes, 0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn wal_stats(&self) -> Option<WalStats> {
        self.wal.as_ref().map(Wal::stats)
    }

    /// Space usage and metadata commit count of the container.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let before = db.stats().allocated_end;
    /// db.create_column_family("grows")?;
    /// assert!(db.stats().allocated_end > before);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn stats(&self) -> ContainerStats {
        self.container.stats()
    }
}

/// How many column families close at once. Each close ends with a durable commit of its own;
/// closed side by side, their log fsyncs are shared by group commit (one after another, 10,000
/// column families took 203 s to close).
const PARALLEL_CLOSES: usize = 32;

/// Closes the column families' redb databases, [`PARALLEL_CLOSES`] at a time; returns the first
/// error.
fn close_all(handles: Vec<ColumnFamily>) -> Option<Error> {
    let first_error = Mutex::new(None);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let close_next = || {
        while let Some(cf) = handles.get(next.fetch_add(1, Ordering::Relaxed)) {
            if let Some(err) = close_one(cf) {
                first_error.lock().get_or_insert(err);
            }
        }
    };
    if handles.len() <= 1 || std::thread::panicking() {
        close_next();
    } else {
        std::thread::scope(|scope| {
            for _ in 1..PARALLEL_CLOSES.min(handles.len()) {
                // A platform without threads closes them all on this one.
                let _ = std::thread::Builder::new().spawn_scoped(scope, close_next);
            }
            close_next();
        });
    }
    first_error.into_inner()
}

/// Closes one column family's redb database; returns its error, if any.
fn close_one(cf: &ColumnFamily) -> Option<Error> {
    let db = cf.take_db()?;
    if std::thread::panicking() {
        // Dropped while unwinding: a panic from redb now (its mutexes may be poisoned by the
        // panic being unwound) would abort the process. Leave it as a crash would; the log and
        // the container already hold every acknowledged commit.
        std::mem::forget(db);
        return None;
    }
    match catch_panic(|| db.close()) {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(Error::from(err)),
        Err(message) => Some(Error::Corrupted {
            what: format!(
                "column family '{}': a panic while closing it ({message})",
                cf.name()
            ),
            offset: 0,
        }),
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Like redb, a dropped database closes itself; use `close()` to see errors.
        let _ = self.shut_down();
    }
}
