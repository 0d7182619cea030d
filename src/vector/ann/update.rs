//! Changing the index inside a collection's write transaction.
//!
//! A commit clones the published index (cheap: copy-on-write chunks), applies its operations to
//! the clone (an upsert adds a node, and marks the item's previous node dead; a delete marks it
//! dead), links the new nodes with the parallel build, and writes every node whose lists or flag
//! changed, the dead nodes' vectors and the index state into the same redb transaction as the
//! vectors. Only when that transaction has committed is the clone published, so searches never
//! see an uncommitted node, and after a crash the index is exactly as of the last commit redb
//! recovered.
//!
//! Dead nodes stay in the graph (searches route through them but never return them) until they
//! are a quarter of the nodes; the commit that crosses that line compacts: it rebuilds the graph
//! from the live nodes and rewrites the node tables, so deleted space is bounded.

use crate::error::Result;
use crate::index::hnsw::extend;
use crate::vector::ann::codes::CodeSpace;
use crate::vector::ann::index::AnnIndex;
use crate::vector::ann::node::encode;
use crate::vector::ann::space::NodeSpace;
use crate::vector::quantize::Quantization;
use crate::vector::tables::{ANN_DEAD, ANN_META, ANN_META_KEY, ANN_NODES};
use redb::WriteTransaction;
use std::collections::{BTreeSet, HashMap};

/// Compaction starts once dead nodes are more than this fraction (1 / COMPACT_DIVISOR) of all.
const COMPACT_DIVISOR: usize = 4;
/// ... and at least this many (tiny indexes are not worth rebuilding).
const COMPACT_MIN_DEAD: usize = 64;

/// One operation of a committed batch, as the index sees it.
pub(crate) enum IndexOp<'a> {
    /// `record`: the item's record bytes, kept by an index with records (ignored otherwise).
    Upsert {
        id: u64,
        stored: &'a [u8],
        record: &'a [u8],
    },
    Delete {
        id: u64,
    },
    /// The item's record changed and its vector did not: its node stays, and only an index
    /// with records takes the new bytes.
    Record {
        id: u64,
        record: &'a [u8],
    },
}

/// How the writer's item-to-node map changes when the commit succeeds.
pub(crate) enum NodeMapChange {
    /// Items whose node changed (`None`: no longer indexed).
    Delta(HashMap<u64, Option<u32>>),
    /// The whole map, after a compaction renumbered every node.
    Replace(HashMap<u64, u32>),
}

impl NodeMapChange {
    pub fn apply_to(self, map: &mut HashMap<u64, u32>) {
        match self {
            NodeMapChange::Delta(delta) => {
                for (id, node) in delta {
                    match node {
                        Some(node) => map.insert(id, node),
                        None => map.remove(&id),
                    };
                }
            }
            NodeMapChange::Replace(new) => *map = new,
        }
    }
}

/// Builds the next version of `published` with `ops` applied and writes it into `txn`.
pub(crate) fn apply(
    published: &AnnIndex,
    node_of: &HashMap<u64, u32>,
    ops: &[IndexOp<'_>],
    txn: &WriteTransaction,
) -> Result<(AnnIndex, NodeMapChange)> {
    let mut index = published.clone();
    index.graph.track_changes();
    let mut delta: HashMap<u64, Option<u32>> = HashMap::new();
    let mut newly_dead = Vec::new();
    for op in ops {
        let id = match op {
            IndexOp::Upsert { id, .. } | IndexOp::Delete { id } | IndexOp::Record { id, .. } => *id,
        };
        let current = match delta.get(&id) {
            Some(node) => *node,
            None => node_of.get(&id).copied(),
        };
        if let IndexOp::Record { record, .. } = op {
            if let Some(node) = current {
                index.set_record(node, record);
            }
            continue;
        }
        if let Some(old) = current {
            index.mark_dead(old);
            newly_dead.push(old);
            delta.insert(id, None);
        }
        if let IndexOp::Upsert { id, stored, record } = op {
            let node = index.push(*id, stored);
            index.set_record(node, record);
            delta.insert(*id, Some(node));
        }
    }
    link_new_nodes(&mut index);
    if index.dead_count >= COMPACT_MIN_DEAD && index.dead_count * COMPACT_DIVISOR > index.len() {
        let live: HashMap<u64, u32> = {
            let mut map = node_of.clone();
            NodeMapChange::Delta(delta).apply_to(&mut map);
            map
        };
        return compact(&index, live.len(), txn);
    }
    let mut changed: BTreeSet<u32> = index.graph.take_changes().into_iter().collect();
    changed.extend(newly_dead.iter().copied());
    write_nodes(&index, &changed, txn)?;
    {
        let mut dead = txn.open_table(ANN_DEAD)?;
        for node in &newly_dead {
            dead.insert(*node, index.vectors.row(*node))?;
        }
    }
    write_meta(&index, txn)?;
    Ok((index, NodeMapChange::Delta(delta)))
}

/// Links every node the graph does not hold yet: by int8 code distances when the index keeps
/// int8 codes (a quarter of the bytes per comparison; the graph it builds searches as well, see
/// docs/ann.md), by exact distances otherwise (binary codes are too coarse to choose links by).
fn link_new_nodes(index: &mut AnnIndex) {
    let n = index.vectors.len();
    if index.codes.mode() == Quantization::Int8 {
        let space = CodeSpace {
            codes: &index.codes,
        };
        extend(&mut index.graph, &space, n);
    } else {
        let space = NodeSpace {
            vectors: &index.vectors,
            metric: index.metric,
        };
        extend(&mut index.graph, &space, n);
    }
}

/// Rebuilds the index from its live nodes (in their current order) and rewrites its tables.
fn compact(
    index: &AnnIndex,
    live: usize,
    txn: &WriteTransaction,
) -> Result<(AnnIndex, NodeMapChange)> {
    let mut fresh = AnnIndex::new(
        index.config,
        index.seed,
        index.metric,
        index.vectors.element(),
        index.vectors.dim(),
    );
    if let Some(records) = &index.records {
        fresh = fresh.with_records(records.record_len());
    }
    let mut map = HashMap::with_capacity(live);
    for node in 0..index.len() as u32 {
        if !index.is_dead(node) {
            let id = index.id(node);
            let new = fresh.push(id, index.vectors.row(node));
            if let Some(record) = index.records.as_ref().and_then(|r| r.record(node as usize)) {
                fresh.set_record(new, record);
            }
            map.insert(id, new);
        }
    }
    link_new_nodes(&mut fresh);
    fresh.graph.take_changes();
    txn.delete_table(ANN_NODES)?;
    txn.delete_table(ANN_DEAD)?;
    txn.open_table(ANN_DEAD)?;
    let all: BTreeSet<u32> = (0..fresh.len() as u32).collect();
    write_nodes(&fresh, &all, txn)?;
    write_meta(&fresh, txn)?;
    Ok((fresh, NodeMapChange::Replace(map)))
}

fn write_nodes(index: &AnnIndex, nodes: &BTreeSet<u32>, txn: &WriteTransaction) -> Result<()> {
    let mut table = txn.open_table(ANN_NODES)?;
    let mut bytes = Vec::new();
    for node in nodes {
        encode(
            &index.graph,
            *node,
            index.id(*node),
            index.is_dead(*node),
            index.node_checks,
            &mut bytes,
        );
        table.insert(*node, bytes.as_slice())?;
    }
    Ok(())
}

fn write_meta(index: &AnnIndex, txn: &WriteTransaction) -> Result<()> {
    txn.open_table(ANN_META)?
        .insert(ANN_META_KEY, index.meta().encode().as_slice())?;
    Ok(())
}

/// Writes the state of a new, empty index (when its collection is created).
pub(crate) fn create(index: &AnnIndex, txn: &WriteTransaction) -> Result<()> {
    txn.open_table(ANN_NODES)?;
    txn.open_table(ANN_DEAD)?;
    write_meta(index, txn)
}
