//! Loading a collection's index from its tables when the collection is opened: one ordered pass
//! over the node table, one over the vector table (live nodes' vectors), one over the dead
//! nodes' vectors. Nothing is rebuilt; every cross-reference is checked, and a mismatch is
//! [`Error::CorruptIndex`], never a panic or a silently wrong graph.

use crate::error::{Error, Result};
use crate::vector::ann::config::AnnMeta;
use crate::vector::ann::index::AnnIndex;
use crate::vector::ann::node::decode;
use crate::vector::checks::{Part, RowChecks};
use crate::vector::element::VectorType;
use crate::vector::metric::Metric;
use crate::vector::record::Record;
use crate::vector::tables::{ANN_DEAD, ANN_META, ANN_META_KEY, ANN_NODES, raw_records, vectors};
use redb::{ReadTransaction, ReadableTableMetadata};
use std::collections::HashMap;
use web_time::Instant;

/// The index and its item-to-node map, or `None` if the collection has no index.
pub(crate) type Loaded = Option<(AnnIndex, HashMap<u64, u32>)>;

pub(crate) fn load<V: VectorType>(
    name: &str,
    read: &ReadTransaction,
    metric: Metric,
) -> Result<Loaded> {
    let table = read.open_table(vectors::<V>())?;
    let mut checks = RowChecks::open(read, name)?.in_order()?;
    load_with::<V>(name, read, metric, table.len()?, |visit| {
        for entry in table.range::<u64>(..)? {
            let (id, vector) = entry?;
            let (id, vector) = (id.value(), vector.value());
            checks.verify(id, Part::Vector, vector.bytes())?;
            visit(id, vector.bytes())?;
        }
        Ok(())
    })
}

/// Receives one live item's id and stored vector.
pub(crate) type RowVisitor<'a> = &'a mut dyn FnMut(u64, &[u8]) -> Result<()>;

/// Like [`load`], with the live nodes' vectors passed by `rows` to the visitor it is given
/// (`count` of them, item id and stored vector) instead of read from the collection's vector
/// table: the global index keys its vectors by collection and item, and its graph by a slot
/// number of its own.
pub(crate) fn load_with<V: VectorType>(
    name: &str,
    read: &ReadTransaction,
    metric: Metric,
    count: u64,
    rows: impl FnOnce(RowVisitor<'_>) -> Result<()>,
) -> Result<Loaded> {
    let started = Instant::now();
    let corrupt = |what: String| Error::CorruptIndex {
        collection: name.to_owned(),
        what,
    };
    let meta_table = match read.open_table(ANN_META) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let Some(meta) = meta_table.get(ANN_META_KEY)? else {
        return Ok(None);
    };
    let meta = AnnMeta::decode(name, meta.value())?;
    let mut index = AnnIndex::new(meta.config, meta.seed, metric, V::ELEMENT, V::DIM);
    index.node_checks = meta.node_checks;
    let mut node_of = HashMap::with_capacity(meta.nodes as usize);
    let max_list = index.graph.params().max_degree0();
    let nodes = read.open_table(ANN_NODES)?;
    for (expected, entry) in nodes.range::<u32>(..)?.enumerate() {
        let (node, bytes) = entry?;
        let node = node.value();
        if node as usize != expected {
            return Err(corrupt(format!("node {expected} is missing")));
        }
        let record = decode(node, bytes.value(), max_list, meta.node_checks)
            .ok_or_else(|| corrupt(format!("node {node}'s record is damaged")))?;
        let level = (record.lists.len() - 1) as u8;
        index.graph.add_node(level);
        for (l, list) in record.lists.iter().enumerate() {
            if let Some(bad) = list.iter().find(|n| **n >= meta.nodes) {
                return Err(corrupt(format!(
                    "node {node} links to node {bad}, past the last"
                )));
            }
            index.graph.set_neighbours(node, l as u8, list);
        }
        index.ids.extend_with(1, record.id);
        index.dead.extend_with(1, record.dead);
        index.push_vector_slot();
        if record.dead {
            index.dead_count += 1;
        } else if node_of.insert(record.id, node).is_some() {
            return Err(corrupt(format!("item {} has two live nodes", record.id)));
        }
    }
    if index.len() != meta.nodes as usize || index.dead_count != meta.dead as usize {
        return Err(corrupt(format!(
            "{} nodes ({} dead) stored, {} ({} dead) recorded",
            index.len(),
            index.dead_count,
            meta.nodes,
            meta.dead
        )));
    }
    if let Some((entry, level)) = meta.entry {
        if index.graph.level(entry) != level {
            return Err(corrupt("the entry point's level is wrong".to_owned()));
        }
        index.graph.set_entry(entry, level);
    } else if index.len() > 0 {
        return Err(corrupt("a non-empty graph has no entry point".to_owned()));
    }

    if count != node_of.len() as u64 {
        return Err(corrupt(format!(
            "{count} items stored, {} indexed",
            node_of.len()
        )));
    }
    let row_bytes = V::DIM * V::ELEMENT.size();
    rows(&mut |id, vector| {
        let node = node_of
            .get(&id)
            .ok_or_else(|| corrupt(format!("item {id} is not indexed")))?;
        if vector.len() != row_bytes {
            return Err(corrupt(format!("item {id}'s vector has the wrong size")));
        }
        index.set_vector(*node, vector);
        Ok(())
    })?;
    let dead = read.open_table(ANN_DEAD)?;
    let mut dead_rows = 0;
    for entry in dead.range::<u32>(..)? {
        let (node, bytes) = entry?;
        let node = node.value();
        if !index.is_dead(node) || bytes.value().len() != row_bytes {
            return Err(corrupt(format!(
                "a stored vector for node {node}, which is not dead"
            )));
        }
        index.set_vector(node, bytes.value());
        dead_rows += 1;
    }
    if dead_rows != index.dead_count {
        return Err(corrupt(format!(
            "{dead_rows} dead nodes' vectors stored, {} dead nodes",
            index.dead_count
        )));
    }
    index.load_time = started.elapsed();
    Ok(Some((index, node_of)))
}

/// Record types at most this wide (and fixed-width) are kept beside the index, one copy per
/// node, so predicate filters are tested in memory: 64 bytes is 7.5 MB per 117,659 nodes.
pub(crate) const MAX_RECORD_BYTES: usize = 64;

/// Gives a freshly loaded `index` its nodes' records, from the record table of the same
/// snapshot, when `M` is fixed-width and at most [`MAX_RECORD_BYTES`] wide; otherwise returns it
/// unchanged. (Dead nodes keep zeros: no filter accepts them.)
pub(crate) fn load_records<M: Record>(
    name: &str,
    index: AnnIndex,
    node_of: &HashMap<u64, u32>,
    read: &ReadTransaction,
) -> Result<AnnIndex> {
    let width = match M::fixed_width() {
        Some(width) if (1..=MAX_RECORD_BYTES).contains(&width) => width,
        _ => return Ok(index),
    };
    let mut index = index.with_records(width);
    let table = read.open_table(raw_records::<M>())?;
    let mut checks = RowChecks::open(read, name)?.in_order()?;
    for entry in table.range::<u64>(..)? {
        let (id, record) = entry?;
        let (id, record) = (id.value(), record.value());
        checks.verify(id, Part::Record, record)?;
        if let Some(&node) = node_of.get(&id) {
            index.set_record(node, record);
        }
    }
    Ok(index)
}
