//! The one error type of quiver.
//!
//! Every fallible quiver call returns [`Error`]. Its variants are the cases a caller can act on
//! (a name that is taken, a file that is already open, a corrupt header, ...); errors raised by
//! redb itself are kept whole in [`Error::Redb`] so nothing of their detail is lost.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias used throughout quiver.
///
/// ```
/// fn names(db: &quiver::Database) -> quiver::Result<Vec<String>> {
///     Ok(db.list_column_families())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in quiver.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let db = quiver::Database::open(dir.path().join("shop.qvr"))?;
/// db.create_column_family("users")?;
/// match db.create_column_family("users") {
///     Err(quiver::Error::ColumnFamilyExists(name)) => assert_eq!(name, "users"),
///     other => panic!("expected ColumnFamilyExists, got {other:?}"),
/// }
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A column family with this name already exists.
    ColumnFamilyExists(String),
    /// No column family with this name exists (or it was deleted).
    ColumnFamilyNotFound(String),
    /// A column family name was rejected.
    InvalidName {
        /// The rejected name (lossy if it was not valid UTF-8).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The container file is already open, in this process or another one (in a browser: in
    /// this or another tab or worker).
    AlreadyOpen(PathBuf),
    /// The file is not a quiver container: it is not empty and carries no quiver header (or its
    /// log is not a quiver log). Nothing was written to it, and no log was left beside it.
    NotQuiverFile,
    /// The container file is shorter than its catalog says it must be: it was truncated (by a
    /// copy, a full disk or a tool) after it was written. Nothing was written to it.
    Truncated {
        /// The length the newest catalog requires.
        expected: u64,
        /// The file's length.
        actual: u64,
    },
    /// The file was written by a format version this build does not understand.
    UnsupportedVersion {
        /// The version found in the header.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// Stored metadata failed a consistency check.
    Corrupted {
        /// What was found to be wrong.
        what: String,
        /// Byte offset in the container file where the bad structure lives.
        offset: u64,
    },
    /// An earlier write-path I/O failure (the message says which: a full disk, a failed fsync)
    /// left the database refusing writes until it is reopened; reads of committed data and
    /// searches keep working. Reopening (after freeing space, for a full disk) recovers every
    /// acknowledged commit.
    Poisoned(String),
    /// The database (or this column family handle's database) was closed.
    Closed,
    /// A write transaction is still open on this column family, so the database was not
    /// closed; commit or drop the transaction, then close again.
    TransactionInProgress(String),
    /// A vector has the wrong number of components for its collection.
    DimensionMismatch {
        /// The collection's dimension.
        expected: usize,
        /// The vector's length.
        found: usize,
    },
    /// A vector was rejected: a NaN or infinite component, a component the element type cannot
    /// represent, or a zero vector under cosine. Nothing was written.
    InvalidVector(String),
    /// A collection exists with a different configuration than the one asked for.
    ConfigMismatch {
        /// The collection's name.
        collection: String,
        /// What the collection holds.
        stored: String,
        /// What the caller asked for.
        requested: String,
    },
    /// The column family exists but is not a vector collection (or its configuration is damaged).
    NotACollection {
        /// The column family's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A dataset file is not in the format its reader expects.
    MalformedDataset {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An item id was rejected (numeric ids must be below 2^63).
    InvalidId(String),
    /// A filter expression was rejected: an unknown field, a value of the wrong type for its
    /// field, an operator the field's kind does not support, or malformed JSON. The message
    /// names the problem. Nothing was searched or written.
    InvalidFilter(String),
    /// A record could not be encoded, or a stored record does not decode as the type it was read
    /// as (a struct changed incompatibly since the row was written). Nothing was written.
    InvalidRecord(String),
    /// A search hit names a collection this store has not opened with its types, so its records
    /// cannot be decoded.
    CollectionNotOpen(String),
    /// No collection with this name exists (or it was deleted): a collection-level call named a
    /// missing collection, or a column family that is not a collection.
    CollectionNotFound(String),
    /// A global search was asked of a store opened without a global index.
    NoGlobalIndex,
    /// A configuration value is out of range (the message says which and why).
    InvalidConfig(String),
    /// An argument of a call is out of range (the message says which, and the bound).
    InvalidArgument(String),
    /// A collection's approximate index failed a consistency check when it was loaded.
    CorruptIndex {
        /// The collection.
        collection: String,
        /// What was found to be wrong.
        what: String,
    },
    /// An approximate search was asked of a collection that has no approximate index.
    NoIndex(String),
    /// An operating-system I/O error.
    Io(io::Error),
    /// An error reported by redb inside a column family.
    Redb(redb::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ColumnFamilyExists(name) => write!(
                f,
                "column family '{name}' already exists; open it with column_family() or pick another name"
            ),
            Error::ColumnFamilyNotFound(name) => write!(
                f,
                "column family '{name}' does not exist; create it with create_column_family()"
            ),
            Error::InvalidName { name, reason } => write!(
                f,
                "invalid column family name {name:?}: {reason}; names are 1 to 255 bytes of UTF-8 without NUL"
            ),
            Error::AlreadyOpen(path) => write!(
                f,
                "{} is already open (in this or another process, or in a browser, another tab or worker); close the other handle first",
                path.display()
            ),
            Error::NotQuiverFile => write!(
                f,
                "not a quiver container: the file is not empty and has no quiver header, so it was left untouched; check the path"
            ),
            Error::Truncated { expected, actual } => write!(
                f,
                "container file is truncated: its catalog needs {expected} bytes but it has {actual}; restore it from a backup"
            ),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "container format version {found} is newer than this build supports ({supported}); upgrade quiver"
            ),
            Error::Corrupted { what, offset } => write!(
                f,
                "container file is corrupted at byte {offset}: {what}; restore from a backup"
            ),
            Error::Poisoned(cause) => write!(
                f,
                "an earlier I/O error ({cause}) made the database refuse writes; reads still work; reopen it to recover (free space first if the disk is full)"
            ),
            Error::Closed => write!(f, "the database was closed; open it again to continue"),
            Error::TransactionInProgress(name) => write!(
                f,
                "a write transaction is still open on column family '{name}', so nothing was closed; commit or drop it, then close again"
            ),
            Error::DimensionMismatch { expected, found } => write!(
                f,
                "vector has {found} components but the collection holds {expected}-d vectors"
            ),
            Error::InvalidVector(reason) => {
                write!(f, "invalid vector: {reason}; nothing was written")
            }
            Error::ConfigMismatch {
                collection,
                stored,
                requested,
            } => write!(
                f,
                "collection '{collection}' holds {stored} but was opened as {requested}; open it with its own types or use another name"
            ),
            Error::NotACollection { name, reason } => write!(
                f,
                "column family '{name}' is not a vector collection: {reason}"
            ),
            Error::InvalidId(reason) => write!(f, "invalid id: {reason}"),
            Error::InvalidRecord(reason) => write!(f, "invalid record: {reason}"),
            Error::InvalidFilter(reason) => write!(f, "invalid filter: {reason}"),
            Error::MalformedDataset { path, reason } => {
                write!(
                    f,
                    "{} is not a valid dataset file: {reason}",
                    path.display()
                )
            }
            Error::CollectionNotOpen(name) => write!(
                f,
                "collection '{name}' has not been opened in this store; open it with Store::collection() to fetch its records"
            ),
            Error::CollectionNotFound(name) => write!(
                f,
                "collection '{name}' does not exist; create it with Store::create_collection or Store::collection_or_create"
            ),
            Error::NoGlobalIndex => write!(
                f,
                "this store has no global index; open it with StoreBuilder::global_index to search across collections"
            ),
            Error::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::CorruptIndex { collection, what } => write!(
                f,
                "the approximate index of collection '{collection}' is corrupted: {what}"
            ),
            Error::NoIndex(name) => write!(
                f,
                "collection '{name}' has no approximate index; create it with CollectionConfig::approximate"
            ),
            Error::Io(err) => write!(f, "I/O error: {err}"),
            Error::Redb(err) => write!(f, "redb error: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            Error::Redb(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::Io(err)
    }
}

impl From<redb::Error> for Error {
    fn from(err: redb::Error) -> Self {
        Error::Redb(err)
    }
}

/// Lets `?` lift every redb error type (commit, table, storage, ...) into [`Error::Redb`].
macro_rules! from_redb {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(err: $ty) -> Self {
                Error::Redb(redb::Error::from(err))
            }
        }
    )*};
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError,
    redb::SavepointError,
    redb::SetDurabilityError,
);
