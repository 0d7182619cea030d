//! The global index's approximate index: the collections' HNSW ([`ann`]) over every entry of
//! `_global_index`, so a cross-type search walks one graph instead of scanning every vector.
//!
//! The graph indexes *slots*: each (collection code, item id) entry gets a number of its own the
//! first time the applier copies it (`quiver.global.slots`, next number in
//! `quiver.global.counters`), because the graph's node records hold one `u64` per item. The
//! graph's tables live in `_global_index` beside the entries and change in the applier's durable
//! transaction with them, so after a crash the graph matches the entries exactly, as a
//! collection's graph matches its vectors; opening loads it (checking every cross-reference,
//! [`Error::CorruptIndex`](crate::Error::CorruptIndex) on a mismatch) and never rebuilds it. A
//! file written before the graph existed gets it built once, when the store first opens it.
//!
//! Searches take the graph when it holds more than [`GRAPH_FROM`] live entries and `k` is below
//! that count; otherwise (and whenever a result names an entry that has just gone, such as one
//! of a collection deleted since the last applier round) they scan the global mirror exactly.

use super::apply::Change;
use crate::cf::column_family::ColumnFamily;
use crate::error::{Error, Result};
use crate::index::hnsw::HnswParams;
use crate::vector::ann::{self, AnnConfig, AnnIndex, IndexOp, IndexStats, NodeMapChange};
use crate::vector::element::VectorType;
use crate::vector::metric::Metric;
use crate::vector::tables::ANN_META;
use parking_lot::{Mutex, RwLock};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::Arc;

/// (collection code, item id) -> slot: the item number the graph knows the entry by.
const SLOTS: TableDefinition<(u64, u64), u64> = TableDefinition::new("quiver.global.slots");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("quiver.global.counters");
const NEXT_SLOT: &str = "next_slot";

/// Searches walk the graph once it holds more than this many live entries; below, the exact scan
/// of the mirror costs about as much as a walk and is exact.
pub(super) const GRAPH_FROM: usize = 4096;

/// The published graph, the slot-to-entry map searches translate results with, and the
/// writer's slot-to-node map.
pub(super) struct GlobalGraph {
    index: RwLock<Arc<AnnIndex>>,
    /// Slot numbers are the store's own (not an application's input), so they are hashed with
    /// FxHash: a global search translates `k` slots per query, and SipHash was a measurable
    /// part of a fast one.
    keys: RwLock<FxHashMap<u64, (u64, u64)>>,
    node_of: Mutex<HashMap<u64, u32>>,
}

/// What one applier round does to the graph, published once its commit returned.
pub(super) struct GraphUpdate {
    index: AnnIndex,
    nodes: NodeMapChange,
    /// Slots that now name an entry (`Some`) or no longer do (`None`).
    keys: Vec<(u64, Option<(u64, u64)>)>,
}

impl GlobalGraph {
    /// Creates the graph's tables in `txn` if they are missing, indexing every entry the global
    /// index already holds (a file from before the graph). Run in the transaction that creates
    /// or checks the global index's configuration.
    pub fn create_if_missing<V: VectorType>(
        txn: &WriteTransaction,
        metric: Metric,
        entries: &TableDefinition<'static, (u64, u64), V>,
    ) -> Result<()> {
        let exists = match txn.open_table(ANN_META) {
            Ok(table) => table.get(crate::vector::tables::ANN_META_KEY)?.is_some(),
            Err(err) => return Err(err.into()),
        };
        if exists {
            return Ok(());
        }
        let index = AnnIndex::new(
            AnnConfig::default(),
            HnswParams::default().seed,
            metric,
            V::ELEMENT,
            V::DIM,
        );
        ann::create(&index, txn)?;
        let mut keyed = Vec::new();
        {
            let table = txn.open_table(*entries)?;
            for entry in table.range::<(u64, u64)>(..)? {
                let (key, vector) = entry?;
                keyed.push((key.value(), vector.value().bytes().to_vec()));
            }
        }
        let mut slots = txn.open_table(SLOTS)?;
        let mut ops = Vec::with_capacity(keyed.len());
        for (slot, (key, vector)) in keyed.iter().enumerate() {
            slots.insert(*key, slot as u64)?;
            ops.push(IndexOp::Upsert {
                id: slot as u64,
                stored: vector,
                record: &[],
            });
        }
        drop(slots);
        txn.open_table(COUNTERS)?
            .insert(NEXT_SLOT, keyed.len() as u64)?;
        if !ops.is_empty() {
            ann::apply(&index, &HashMap::new(), &ops, txn)?;
        }
        Ok(())
    }

    /// Loads the graph from `cf` (after [`create_if_missing`](Self::create_if_missing)
    /// committed): the node table, then the slot and entry tables side by side (both ordered by
    /// collection code and item id), then the dead nodes' vectors.
    pub fn load<V: VectorType>(
        cf: &ColumnFamily,
        metric: Metric,
        entries: &TableDefinition<'static, (u64, u64), V>,
    ) -> Result<GlobalGraph> {
        let name = super::GLOBAL_INDEX_NAME;
        let corrupt = |what: String| Error::CorruptIndex {
            collection: name.to_owned(),
            what,
        };
        let read = cf.begin_read()?;
        let vectors = read.open_table(*entries)?;
        let slots = read.open_table(SLOTS)?;
        if slots.len()? != vectors.len()? {
            return Err(corrupt(format!(
                "{} entries, {} slots",
                vectors.len()?,
                slots.len()?
            )));
        }
        let mut keys =
            FxHashMap::with_capacity_and_hasher(slots.len()? as usize, Default::default());
        let loaded = ann::load_with::<V>(name, &read, metric, vectors.len()?, |visit| {
            let mut slot_rows = slots.range::<(u64, u64)>(..)?;
            for entry in vectors.range::<(u64, u64)>(..)? {
                let (key, vector) = entry?;
                let key = key.value();
                let (slot_key, slot) = match slot_rows.next() {
                    Some(row) => {
                        let (k, s) = row?;
                        (k.value(), s.value())
                    }
                    None => return Err(corrupt(format!("entry {key:?} has no slot"))),
                };
                if slot_key != key {
                    return Err(corrupt(format!("entry {key:?} has no slot")));
                }
                if keys.insert(slot, key).is_some() {
                    return Err(corrupt(format!("slot {slot} is used twice")));
                }
                visit(slot, vector.value().bytes())?;
            }
            Ok(())
        })?;
        let Some((index, node_of)) = loaded else {
            return Err(corrupt("the graph's state record is missing".to_owned()));
        };
        Ok(GlobalGraph {
            index: RwLock::new(Arc::new(index)),
            keys: RwLock::new(keys),
            node_of: Mutex::new(node_of),
        })
    }

    /// Writes what `changes` (one applier round, in its order) do to the graph into `txn`, the
    /// round's transaction; `None` if they change nothing.
    pub fn update(
        &self,
        txn: &WriteTransaction,
        changes: &[Change],
    ) -> Result<Option<GraphUpdate>> {
        if changes.is_empty() {
            return Ok(None);
        }
        let mut ops = Vec::new();
        let mut keys = Vec::new();
        {
            let mut slots = txn.open_table(SLOTS)?;
            let mut counters = txn.open_table(COUNTERS)?;
            let mut next_slot = counters.get(NEXT_SLOT)?.map_or(0, |v| v.value());
            for change in changes {
                match change {
                    Change::Upsert { code, id, vector } => {
                        let existing = slots.get((*code, *id))?.map(|v| v.value());
                        let slot = match existing {
                            Some(slot) => slot,
                            None => {
                                let slot = next_slot;
                                next_slot += 1;
                                slots.insert((*code, *id), slot)?;
                                keys.push((slot, Some((*code, *id))));
                                slot
                            }
                        };
                        ops.push(IndexOp::Upsert {
                            id: slot,
                            stored: vector,
                            record: &[],
                        });
                    }
                    Change::Remove { code, id } => {
                        if let Some(slot) = slots.remove((*code, *id))?.map(|v| v.value()) {
                            ops.push(IndexOp::Delete { id: slot });
                            keys.push((slot, None));
                        }
                    }
                    Change::DropCollection { code } => {
                        let mut gone = Vec::new();
                        for entry in slots.range((*code, 0)..=(*code, u64::MAX))? {
                            let (key, slot) = entry?;
                            gone.push((key.value(), slot.value()));
                        }
                        for (key, slot) in gone {
                            slots.remove(key)?;
                            ops.push(IndexOp::Delete { id: slot });
                            keys.push((slot, None));
                        }
                    }
                }
            }
            counters.insert(NEXT_SLOT, next_slot)?;
        }
        if ops.is_empty() {
            return Ok(None);
        }
        let published = self.index.read().clone();
        let node_of = self.node_of.lock();
        let (index, nodes) = ann::apply(&published, &node_of, &ops, txn)?;
        Ok(Some(GraphUpdate { index, nodes, keys }))
    }

    /// Makes a committed round's graph the one searches use.
    pub fn publish(&self, update: GraphUpdate) {
        let mut keys = self.keys.write();
        for (slot, key) in update.keys {
            match key {
                Some(key) => keys.insert(slot, key),
                None => keys.remove(&slot),
            };
        }
        update.nodes.apply_to(&mut self.node_of.lock());
        *self.index.write() = Arc::new(update.index);
    }

    /// The approximately `k` nearest entries, `(distance, (code, id))`, keeping `ef` candidates
    /// (the configured `ef_search` when `None`), or `None` when the exact scan should answer
    /// instead (a small index, a `k` as large as the index, or a result whose entry has gone
    /// since the graph was published).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
    ) -> Option<Vec<(f32, (u64, u64))>> {
        let index = self.index.read().clone();
        let live = index.live_count();
        if live <= GRAPH_FROM || k >= live {
            return None;
        }
        let ef = ef.unwrap_or(index.config.ef_search).max(k);
        let found = index.search(query, k, ef);
        let keys = self.keys.read();
        found
            .into_iter()
            .map(|(distance, slot)| keys.get(&slot).map(|key| (distance, *key)))
            .collect()
    }

    /// Size and state of the published graph.
    pub fn stats(&self) -> IndexStats {
        self.index.read().stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cf::database::Database;
    use crate::vector::element::{Element, StoredVector};
    use crate::vector::{F32, global::global_vectors};

    /// A global column family with `n` entries (2-d points on a line, in two collections) and
    /// its graph built and loaded.
    fn graph_with(n: u64) -> (tempfile::TempDir, GlobalGraph) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::open(dir.path().join("g.qvr")).expect("open");
        let cf = db.create_column_family("_global_index").expect("cf");
        let txn = cf.begin_write().expect("write");
        {
            let mut table = txn.open_table(global_vectors::<F32<2>>()).expect("table");
            for i in 0..n {
                let bytes: Vec<u8> = [i as f32, 0.0]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect();
                table
                    .insert((i % 2, i), StoredVector::new(&bytes, Element::F32))
                    .expect("insert");
            }
        }
        GlobalGraph::create_if_missing::<F32<2>>(&txn, Metric::L2, &global_vectors::<F32<2>>())
            .expect("create");
        txn.commit().expect("commit");
        let graph = GlobalGraph::load::<F32<2>>(&cf, Metric::L2, &global_vectors::<F32<2>>())
            .expect("load");
        (dir, graph)
    }

    #[test]
    fn searches_walk_the_graph_only_when_it_is_larger_than_the_threshold_and_k() {
        let (_dir, small) = graph_with(100);
        assert!(
            small.search(&[3.0, 0.0], 1, None).is_none(),
            "a small index is scanned"
        );

        let n = GRAPH_FROM as u64 + 100;
        let (_dir, large) = graph_with(n);
        assert_eq!(large.stats().nodes, n as usize);
        let found = large
            .search(&[3.2, 0.0], 2, None)
            .expect("a large index is walked");
        let keys: Vec<(u64, u64)> = found.iter().map(|(_, key)| *key).collect();
        assert_eq!(keys, vec![(1, 3), (0, 4)]);
        assert!((found[0].0 - 0.04).abs() < 1e-4, "{found:?}");
        let wide = large
            .search(&[3.2, 0.0], 2, Some(400))
            .expect("a large index is walked at any ef");
        assert_eq!(wide, found, "a wider walk on a line finds the same two");
        assert!(
            large.search(&[3.0, 0.0], n as usize, Some(400)).is_none(),
            "k as large as the index"
        );
    }
}
