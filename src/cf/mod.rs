//! Column families in one file.
//!
//! A quiver file is a *container* of column families. Each column family is a complete,
//! unmodified [`redb::Database`], running on [`backend::CfBackend`], our implementation of redb's
//! public `StorageBackend` trait. The backend maps the column family's flat address space onto
//! page-aligned *segments* of the shared file; the container's *catalog* records which segments
//! belong to which column family, the logical length redb last set, and the free space.
//!
//! - [`format`]: the bytes on disk (header slots, catalog blob).
//! - [`container`]: allocation, metadata commits, recovery on open.
//! - [`backend`]: what redb sees.
//! - [`segment_map`], [`free_list`]: the two mappings the container maintains.
//! - [`database`], [`column_family`], [`builder`]: the public API.
//!
//! Because every column family is its own redb database, writers on different column families
//! never contend for redb's single-writer lock, and each keeps redb's MVCC (readers never block)
//! and its crash guarantees. The container adds two obligations of its own, both handled by the
//! catalog commit protocol described in [`container`]: a segment must be durable in the catalog
//! before data is written to it, and a length redb sets must be durable by redb's next sync.

pub(crate) mod backend;
pub(crate) mod builder;
pub(crate) mod column_family;
pub(crate) mod container;
pub(crate) mod database;
pub(crate) mod format;
pub(crate) mod free_list;
pub(crate) mod name;
pub(crate) mod segment_map;

#[cfg(test)]
mod backend_tests;
