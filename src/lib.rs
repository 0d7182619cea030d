//! # quiver
//!
//! An embedded store for vector embeddings and their records, built on column families over
//! [redb](https://docs.rs/redb). One file holds any number of column families; each is a
//! complete, unmodified redb database, so writers on different column families commit in
//! parallel, readers never block, and every commit has redb's crash guarantees.
//!
//! ```
//! use quiver::{Database, ReadableTable, TableDefinition};
//!
//! const PRODUCTS: TableDefinition<u64, &str> = TableDefinition::new("products");
//! const PRICES: TableDefinition<u64, f64> = TableDefinition::new("prices");
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path().join("shop.qvr"))?;
//! let products = db.create_column_family("products")?;
//!
//! // Several tables of one column family change in one atomic transaction.
//! let txn = products.begin_write()?;
//! txn.open_table(PRODUCTS)?.insert(7, "kettle")?;
//! txn.open_table(PRICES)?.insert(7, 24.5)?;
//! txn.commit()?;
//!
//! let read = products.begin_read()?;
//! assert_eq!(read.open_table(PRODUCTS)?.get(7)?.unwrap().value(), "kettle");
//! # Ok::<(), quiver::Error>(())
//! ```
//!
//! The file format is described byte by byte in `docs/format.md` and in the `cf::format`
//! module; the storage design in the `cf` module.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod cf;
mod error;
pub mod io;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vector;
mod wal;

pub use cf::builder::{
    Builder, DEFAULT_CACHE_SIZE, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_INITIAL_SEGMENT_SIZE, DEFAULT_LOG_SIZE, DEFAULT_MAX_SEGMENT_GROWTH, log_path,
};
pub use cf::column_family::ColumnFamily;
pub use cf::container::ContainerStats;
pub use cf::database::Database;
pub use cf::name::{MAX_NAME_LEN, validate_name};
pub use error::{Error, Result};
pub use wal::WalStats;

// What a user needs from redb to work inside a column family.
/// redb itself, for everything not re-exported at the top level.
pub use redb;
pub use redb::{
    Durability, Key, MultimapTableDefinition, ReadOnlyTable, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, ReadableTableMetadata, Table, TableDefinition,
    TableHandle, TypeName, Value, WriteTransaction,
};
