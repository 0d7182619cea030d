//! # quiver
//!
//! An embedded store for vector embeddings and their records, built on column families over
//! [redb](https://docs.rs/redb). One file holds any number of column families; each is a
//! complete, unmodified redb database, so writers on different column families commit in
//! parallel, readers never block, and every commit has redb's crash guarantees.
//!
//! Most applications use the vector layer, [`vector::Store`]: one typed collection per entity
//! type, exact similarity search (within a collection, across several, or across all through
//! `_global_index`), filters, and a second lookup for the full records.
//!
//! ```
//! use quiver::vector::{CollectionConfig, Filter, Metric, Store, F32};
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("docs.qvr"))?;
//! // Vectors of 3 f32 components; records are (title, year).
//! let docs = store.create_collection::<F32<3>, (&str, u16)>("docs", CollectionConfig::new(Metric::Cosine))?;
//! let mut batch = docs.batch();
//! batch.upsert(1, &[0.9, 0.1, 0.0], &("cats", 2021))?;
//! batch.upsert(2, &[0.0, 1.0, 0.0], &("dogs", 2024))?;
//! batch.upsert(3, &[0.8, 0.3, 0.1], &("lions", 2024))?;
//! docs.commit(batch, quiver::Durability::Immediate)?;
//!
//! let recent = Filter::predicate(|(_, year): (&str, u16)| year >= 2024);
//! let hits = docs.search_filtered(&[1.0, 0.0, 0.0], 1, &recent)?;
//! let records = store.fetch(&hits)?;
//! assert_eq!(records[0].record::<(&str, u16)>()?, Some(("lions", 2024)));
//! # Ok::<(), quiver::Error>(())
//! ```
//!
//! Underneath, column families are plain redb databases:
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
pub mod datasets;
mod error;
pub mod index;
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
