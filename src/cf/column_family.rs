//! [`ColumnFamily`]: a handle on one column family's redb database.

use crate::cf::container::{CfState, CfStatus};
use crate::error::{Error, Result};
use parking_lot::RwLock;
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
    /// `None` once the column family was closed or deleted.
    pub db: RwLock<Option<redb::Database>>,
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

    fn with_db<T>(&self, f: impl FnOnce(&redb::Database) -> Result<T>) -> Result<T> {
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
        self.with_db(|db| Ok(db.begin_write()?))
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
        self.with_db(|db| Ok(db.begin_read()?))
    }

    /// Takes the redb database out of the handle (every clone sees the change).
    pub(crate) fn take_db(&self) -> Option<redb::Database> {
        self.inner.db.write().take()
    }
}
