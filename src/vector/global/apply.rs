//! One applier round: copy what the collections' change logs name into `_global_index`, in one
//! durable transaction with the new applied sequence numbers (see the module docs).

use super::{GlobalMutation, PROGRESS, global_vectors};
use crate::cf::column_family::ColumnFamily;
use crate::error::Result;
use crate::vector::checks::{Part, RowChecks};
use crate::vector::element::VectorType;
use crate::vector::shared::CollectionShared;
use crate::vector::tables::{CHANGES, vectors};
use redb::{Durability, ReadableTable};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a committed round changed, for the in-memory mirror of the global index.
pub(super) enum Change {
    Upsert { code: u64, id: u64, vector: Vec<u8> },
    Remove { code: u64, id: u64 },
    DropCollection { code: u64 },
}

/// Runs one round; returns what it changed once its commit is durable, with what
/// `before_commit` made of those changes inside the round's transaction (the graph's update).
pub(super) fn catch_up<V: VectorType, T>(
    global: &ColumnFamily,
    collections: &[Arc<CollectionShared>],
    mutation: GlobalMutation,
    before_commit: impl FnOnce(&redb::WriteTransaction, &[Change]) -> Result<T>,
) -> Result<(Vec<Change>, T)> {
    let txn = global.begin_write()?;
    let mut changes = Vec::new();
    let mut applied_now = Vec::new();
    {
        let mut progress = txn.open_table(PROGRESS)?;
        let mut entries = txn.open_table(global_vectors::<V>())?;
        let mut stored_progress = HashMap::new();
        for entry in progress.range::<u64>(..)? {
            let (code, seq) = entry?;
            stored_progress.insert(code.value(), seq.value());
        }
        let mut live_codes = BTreeSet::new();
        for collection in collections {
            if !collection.config.indexed {
                continue;
            }
            let code = collection.config.code;
            let applied = stored_progress.get(&code).copied().unwrap_or(0);
            match apply_collection::<V>(collection, applied, &mut entries, &mut changes, mutation) {
                Ok(Some(last)) => {
                    progress.insert(code, last)?;
                    applied_now.push((collection.clone(), last));
                    live_codes.insert(code);
                }
                Ok(None) => {
                    applied_now.push((collection.clone(), applied));
                    live_codes.insert(code);
                }
                // Deleted while we worked: its entries go below with the other dead codes.
                Err(_) if collection.deleted.load(Ordering::Acquire) => {}
                Err(err) => return Err(err),
            }
        }
        // Every live indexed collection is in `live_codes` (or this round returned an error), so
        // the other codes belong to deleted collections.
        for (&code, _) in stored_progress
            .iter()
            .filter(|(c, _)| !live_codes.contains(c))
        {
            entries.retain_in((code, 0)..=(code, u64::MAX), |_, _| false)?;
            progress.remove(code)?;
            changes.push(Change::DropCollection { code });
        }
    }
    let extra = before_commit(&txn, &changes)?;
    let mut txn = txn;
    txn.set_durability(if mutation == GlobalMutation::TrimBeforeDurable {
        Durability::None
    } else {
        Durability::Immediate
    })?;
    txn.commit()?;
    for (collection, last) in applied_now {
        collection.trim_upto.fetch_max(last, Ordering::AcqRel);
    }
    Ok((changes, extra))
}

/// Applies one collection's changes after `applied`; returns the new applied sequence number,
/// or `None` if there was nothing to apply.
fn apply_collection<V: VectorType>(
    collection: &CollectionShared,
    applied: u64,
    entries: &mut redb::Table<'_, (u64, u64), V>,
    changes: &mut Vec<Change>,
    mutation: GlobalMutation,
) -> Result<Option<u64>> {
    if collection.committed_seq.load(Ordering::Acquire) <= applied {
        return Ok(None);
    }
    collection.check_live()?;
    // Snapshot first, then make it durable: every commit in the snapshot precedes the empty
    // durable commit, so all of it survives a crash from here on.
    let snapshot = collection.cf.begin_read()?;
    if mutation != GlobalMutation::SkipMakeDurable {
        collection.make_durable()?;
    }
    let change_log = snapshot.open_table(CHANGES)?;
    let mut touched = BTreeSet::new();
    let mut last = applied;
    for entry in change_log.range(applied + 1..)? {
        let (seq, id) = entry?;
        last = seq.value();
        touched.insert(id.value());
    }
    if last == applied {
        return Ok(None);
    }
    let items = snapshot.open_table(vectors::<V>())?;
    let checks = RowChecks::open(&snapshot, &collection.name)?;
    let code = collection.config.code;
    for id in touched {
        match items.get(id)? {
            Some(vector) => {
                let vector = vector.value();
                checks.verify(id, Part::Vector, Some(vector.bytes()))?;
                entries.insert((code, id), vector)?;
                changes.push(Change::Upsert {
                    code,
                    id,
                    vector: vector.bytes().to_vec(),
                });
            }
            None => {
                entries.remove((code, id))?;
                changes.push(Change::Remove { code, id });
            }
        }
    }
    Ok(Some(last))
}
