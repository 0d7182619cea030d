//! The redb tables inside a collection's column family, and inside `_global_index`.
//!
//! A collection's column family holds:
//! - `quiver.config`: `&str -> &[u8]`, the [`StoredConfig`](super::config::StoredConfig);
//! - `quiver.vectors`: `u64 -> V`, the fixed-width vector table, one entry per item;
//! - `quiver.records`: `u64 -> M`, the caller's [`Record`](super::Record) type (read as bytes through
//!   [`RawRecord`](super::record_guard::RawRecord), checked, then decoded);
//! - `quiver.checks`: `u64 -> u64`, each item's row checksums (see [`checks`](super::checks));
//! - `quiver.string_ids` (`&str -> u64`) and `quiver.id_strings` (`u64 -> &str`): the optional
//!   string id of an item, both directions, written in the same transaction as the vector;
//! - `quiver.counters`: `&str -> u64` (`next_seq`, `next_string_id`);
//! - `quiver.changes`: `u64 -> u64`, change sequence number to item id, read by the global index
//!   (see [`global`](super::global));
//! - `quiver.ann_meta`, `quiver.ann_nodes` and `quiver.ann_dead`: the approximate index, if the
//!   collection has one (see [`ann`](super::ann)).

use crate::vector::record_guard::RawRecord;
use redb::TableDefinition;

pub(crate) const CONFIG: TableDefinition<&str, &[u8]> = TableDefinition::new("quiver.config");
pub(crate) const CONFIG_KEY: &str = "collection";
pub(crate) const STRING_IDS: TableDefinition<&str, u64> = TableDefinition::new("quiver.string_ids");
pub(crate) const ID_STRINGS: TableDefinition<u64, &str> = TableDefinition::new("quiver.id_strings");
pub(crate) const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("quiver.counters");
pub(crate) const NEXT_SEQ: &str = "next_seq";
pub(crate) const NEXT_STRING_ID: &str = "next_string_id";
pub(crate) const CHANGES: TableDefinition<u64, u64> = TableDefinition::new("quiver.changes");
pub(crate) const ANN_META: TableDefinition<&str, &[u8]> = TableDefinition::new("quiver.ann_meta");
pub(crate) const ANN_META_KEY: &str = "hnsw";
pub(crate) const ANN_NODES: TableDefinition<u32, &[u8]> = TableDefinition::new("quiver.ann_nodes");
pub(crate) const ANN_DEAD: TableDefinition<u32, &[u8]> = TableDefinition::new("quiver.ann_dead");

/// The vector table of a collection whose vector type is `V`.
pub(crate) const fn vectors<V: redb::Value + 'static>() -> TableDefinition<'static, u64, V> {
    TableDefinition::new("quiver.vectors")
}

/// The record table of a collection whose record type is `M`, read and written as bytes.
pub(crate) const fn raw_records<M: crate::vector::record::Record>()
-> TableDefinition<'static, u64, RawRecord<M>> {
    TableDefinition::new("quiver.records")
}

/// String ids are allocated from the top of the id space, so they never collide with the small
/// numeric ids callers usually pick.
pub(crate) const FIRST_STRING_ID: u64 = 1 << 63;
