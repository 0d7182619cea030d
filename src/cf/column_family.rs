//! [`ColumnFamily`]: a handle on one column family's redb database.

use crate::cf::container::{CfState, CfStatus};
use crate::error::{Error, Result};
use parking_lot::{Mutex, RwLock};
use redb::ReadableDatabase;
use std::fmt;
use std::sync::Arc;

/// A column family: a complete redb database inside the container file.
///
/// Cheap to clone and safe to share between threads. Transactions are plain redb transactions,
/// so tables are ordinary [`redb::TableDefinition`]s. Writers on different column families run in
/// parallel; readers never block.
///
/// ```
/// use quiver::{ReadableTable, TableDefinition};
/// const USERS: TableDefinition<u64, &str> = TableDefinition::new("users");
///
/// # let dir = tempfile::tempdir().unwrap();
/// let db = quiver::Database::open(dir.path().join("app.qvr"))?;
/// let users = db.create_column_family("users")?;
/// let txn = users.begin_write()?;
/// txn.open_table(USERS)?.insert(1, "ada")?;
/// txn.commit()?;
///
/// let read = users.begin_read()?;
/// assert_eq!(read.open_table(USERS)?.get(1)?.unwrap().value(), "ada");
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Clone)]
pub struct ColumnFamily {
    pub(crate) inner: Arc<CfHandle>,
}

pub(crate) struct CfHandle {
    pub state: Arc<CfState>,
    /// `None` once the column family was closed or deleted, or broken by a panic in redb.
    pub db: RwLock<Option<redb::Database>>,
    /// Why the column family is unusable until reopen: redb panicked inside it (see
    /// [`ColumnFamily::contain_panics`]).
    pub broken: Mutex<Option<String>>,
}

impl fmt::Debug for ColumnFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ColumnFamily")
            .field("name", &self.name())
            .finish()
    }
}

impl ColumnFamily {
    /// The column family's name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let orders = db.create_column_family("orders")?;
    /// assert_eq!(orders.name(), "orders");
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.state.name
    }

    fn with_db<T>(&self, what: &str, f: impl FnOnce(&redb::Database) -> Result<T>) -> Result<T> {
        self.contain_panics(what, || self.with_db_unguarded(f))
    }

    fn with_db_unguarded<T>(&self, f: impl FnOnce(&redb::Database) -> Result<T>) -> Result<T> {
        if let Some(why) = self.inner.broken.lock().as_ref() {
            return Err(self.broken_error(why));
        }
        let guard = self.inner.db.read();
        match guard.as_ref() {
            Some(db) => f(db),
            None if self.inner.state.status() == CfStatus::Deleted => {
                Err(Error::ColumnFamilyNotFound(self.name().to_owned()))
            }
            None => Err(Error::Closed),
        }
    }

    /// Starts a write transaction. One write transaction per column family runs at a time
    /// (this call waits for the previous one); different column families write in parallel.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let cf = db.create_column_family("events")?;
    /// let mut txn = cf.begin_write()?;
    /// txn.set_durability(quiver::Durability::None)?;
    /// txn.commit()?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn begin_write(&self) -> Result<redb::WriteTransaction> {
        self.with_db("starting a write transaction", |db| Ok(db.begin_write()?))
    }

    /// Starts a write transaction if none is open, without waiting:
    /// [`Error::TransactionInProgress`] otherwise.
    pub(crate) fn try_begin_write(&self) -> Result<redb::WriteTransaction> {
        self.with_db("starting a write transaction", |db| {
            match db.try_begin_write() {
                Err(redb::TransactionError::WouldBlock) => {
                    Err(Error::TransactionInProgress(self.name().to_owned()))
                }
                other => Ok(other?),
            }
        })
    }

    /// Starts a read transaction on the latest committed state. Never blocks.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = quiver::Database::open(dir.path().join("a.qvr"))?;
    /// let cf = db.create_column_family("events")?;
    /// let read = cf.begin_read()?;
    /// assert_eq!(read.list_tables()?.count(), 0);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn begin_read(&self) -> Result<redb::ReadTransaction> {
        self.with_db("starting a read transaction", |db| Ok(db.begin_read()?))
    }

    /// redb's integrity check of this column family (see [`crate::Database::verify`]).
    pub(crate) fn check_integrity(&self) -> Result<()> {
        self.contain_panics("checking its integrity", || {
            let mut guard = self.inner.db.write();
            let Some(db) = guard.as_mut() else {
                return Err(Error::Closed);
            };
            if db.check_integrity()? {
                Ok(())
            } else {
                Err(self.broken_error("redb's integrity check failed (what it could, it repaired)"))
            }
        })
    }

    /// Takes the redb database out of the handle (every clone sees the change).
    pub(crate) fn take_db(&self) -> Option<redb::Database> {
        self.inner.db.write().take()
    }

    /// Runs `f`, work on this column family described by `what` ("reading a record"), and turns
    /// a panic inside it into [`Error::Corrupted`]. redb panics on some damaged pages, and quiver
    /// does not fork it, so every quiver entry point that reaches redb runs inside this.
    ///
    /// After a panic the column family is unusable until the database is reopened: redb's
    /// mutexes may be poisoned, so its `Database` is leaked rather than dropped (its `Drop`
    /// would panic again, and during an unwind that aborts the process). Work in progress on
    /// other threads keeps its snapshots; new work gets the same `Corrupted` error. Needs
    /// `panic = "unwind"` (the default); under `panic = "abort"` nothing can be contained.
    pub(crate) fn contain_panics<T>(&self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        match catch_panic(f) {
            // A write refused inside redb because the database is poisoned says so, with the
            // cause, however redb wrapped it.
            Ok(Err(err @ (Error::Redb(_) | Error::Io(_)))) => {
                Err(self.inner.state.poisoned().unwrap_or(err))
            }
            Ok(result) => result,
            Err(message) => {
                let why = format!("a panic while {what} ({message})");
                self.inner.broken.lock().get_or_insert(why.clone());
                if let Some(db) = self.take_db() {
                    // Its Drop would lock poisoned mutexes and panic: leak it instead (the file's
                    // state is the log's and the container's, not this object's).
                    std::mem::forget(db);
                }
                Err(self.broken_error(&why))
            }
        }
    }

    fn broken_error(&self, why: &str) -> Error {
        Error::Corrupted {
            what: format!(
                "column family '{}': {why}; it is unusable until the database is reopened",
                self.name()
            ),
            offset: 0,
        }
    }
}

/// Runs `f`, returning a panic's message instead of unwinding further.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}
