//! Committing a [`WriteBatch`]: one redb transaction over all of a collection's tables (the
//! approximate index's too, see [`ann`]), then the mirror update and the new index version,
//! under the collection's writer lock.

use crate::error::Result;
use crate::vector::ann::{self, IndexOp};
use crate::vector::batch::{ItemKey, Op, WriteBatch};
use crate::vector::checks::{CHECKS, row_check};
use crate::vector::element::{StoredVector, VectorType};
use crate::vector::fields::Field;
use crate::vector::fields::table::{self as field_table, FIELDS};
use crate::vector::fields::term::{Terms, extract};
use crate::vector::record::Record;
use crate::vector::shared::CollectionShared;
use crate::vector::tables::{
    CHANGES, COUNTERS, FIRST_STRING_ID, ID_STRINGS, NEXT_SEQ, NEXT_STRING_ID, STRING_IDS,
    raw_records, vectors,
};
use redb::{Durability, ReadableTable};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// How many items a run of non-durable commits may write before the commit that reaches it is
/// made durable.
///
/// redb reuses a page freed by a non-durable commit only after a durable commit: until then the
/// last durable state may still need it. Every commit copies the pages it changes (and an
/// indexed collection's commits change neighbours' adjacency rows all over the index), so a long
/// non-durable run keeps the old copies and allocates fresh pages for the new ones: deleting and
/// re-inserting half of the wordnet-minilm subset in non-durable batches of 1,000 nearly doubled
/// the file. A durable commit costs one log fsync (shared with concurrent commits); one per
/// 8,192 items bounds what a run pins at a cost that is small next to writing (and indexing)
/// that many items, while runs of small commits still pay it rarely.
pub(crate) const MAX_NON_DURABLE_RUN_ITEMS: u64 = 8192;

/// What a committed operation did to the mirror.
enum MirrorChange {
    Upsert { id: u64, op: usize },
    Delete { id: u64 },
}

/// What a committed operation did to the field indexes: the item's indexed values before, and
/// after (`None`: deleted).
struct FieldChange {
    id: u64,
    old: Terms,
    new: Option<Terms>,
}

/// The indexed values of the stored record `old`, if any.
fn stored_terms(fields: &[Field], old: Option<&[u8]>) -> Result<Terms> {
    match old {
        Some(bytes) if !fields.is_empty() => extract(fields, bytes),
        _ => Ok(Vec::new()),
    }
}

pub(crate) fn commit<V: VectorType, M: Record>(
    shared: &CollectionShared,
    batch: WriteBatch<V, M>,
    durability: Durability,
) -> Result<()> {
    let mut writer = shared.writer.lock();
    shared.check_live()?;
    let mut txn = shared.cf.begin_write()?;
    txn.set_durability(durability)?;
    let mut changes = Vec::with_capacity(batch.ops.len());
    let mut field_changes = Vec::with_capacity(batch.ops.len());
    let fields = &shared.config.fields;
    let last_seq;
    {
        let mut vector_table = txn.open_table(vectors::<V>())?;
        let mut record_table = txn.open_table(raw_records::<M>())?;
        // Opening a table creates it: an unchecked collection (older than checksums) stays so.
        let mut checks = match shared.checked {
            true => Some(txn.open_table(CHECKS)?),
            false => None,
        };
        let mut string_ids = txn.open_table(STRING_IDS)?;
        let mut id_strings = txn.open_table(ID_STRINGS)?;
        let mut counters = txn.open_table(COUNTERS)?;
        let mut change_table = txn.open_table(CHANGES)?;
        // Opened only when there are fields: a collection without any gets no table.
        let mut postings = match fields.is_empty() {
            true => None,
            false => Some(txn.open_table(FIELDS)?),
        };
        let mut next_seq = counters.get(NEXT_SEQ)?.map_or(1, |v| v.value());
        let mut next_string_id = counters
            .get(NEXT_STRING_ID)?
            .map_or(FIRST_STRING_ID, |v| v.value());
        for (index, op) in batch.ops.iter().enumerate() {
            let id = match op {
                Op::Upsert {
                    key,
                    vector,
                    record,
                } => {
                    let id = match key {
                        ItemKey::Id(id) => *id,
                        ItemKey::Str(name) => {
                            let existing = string_ids.get(name.as_str())?.map(|v| v.value());
                            match existing {
                                Some(id) => id,
                                None => {
                                    let id = next_string_id;
                                    next_string_id += 1;
                                    string_ids.insert(name.as_str(), id)?;
                                    id_strings.insert(id, name.as_str())?;
                                    id
                                }
                            }
                        }
                    };
                    let (vector, record) =
                        (&batch.bytes[vector.clone()], &batch.bytes[record.clone()]);
                    vector_table.insert(id, StoredVector::new(vector, V::ELEMENT))?;
                    let old = record_table.insert(id, record)?;
                    let old = stored_terms(fields, old.as_ref().map(|g| g.value()))?;
                    let new = extract(fields, record)?;
                    if let Some(postings) = &mut postings {
                        field_table::write(postings, id, &old, &new)?;
                    }
                    field_changes.push(FieldChange {
                        id,
                        old,
                        new: Some(new),
                    });
                    if let Some(checks) = &mut checks {
                        checks.insert(id, row_check(id, vector, record))?;
                    }
                    changes.push(MirrorChange::Upsert { id, op: index });
                    id
                }
                Op::Delete { key } => {
                    let id = match key {
                        ItemKey::Id(id) => Some(*id),
                        ItemKey::Str(name) => string_ids.get(name.as_str())?.map(|v| v.value()),
                    };
                    let Some(id) = id else { continue };
                    vector_table.remove(id)?;
                    let old = record_table.remove(id)?;
                    let old = stored_terms(fields, old.as_ref().map(|g| g.value()))?;
                    if let Some(postings) = &mut postings {
                        field_table::write(postings, id, &old, &Vec::new())?;
                    }
                    field_changes.push(FieldChange { id, old, new: None });
                    if let Some(checks) = &mut checks {
                        checks.remove(id)?;
                    }
                    let name = id_strings.remove(id)?.map(|v| v.value().to_owned());
                    if let Some(name) = name {
                        string_ids.remove(name.as_str())?;
                    }
                    changes.push(MirrorChange::Delete { id });
                    id
                }
            };
            if shared.config.indexed {
                change_table.insert(next_seq, id)?;
                next_seq += 1;
            }
        }
        counters.insert(NEXT_SEQ, next_seq)?;
        counters.insert(NEXT_STRING_ID, next_string_id)?;
        last_seq = next_seq - 1;
        let trim_upto = shared.trim_upto.load(Ordering::Acquire);
        if trim_upto > writer.trimmed_upto {
            change_table.retain_in(..=trim_upto, |_, _| false)?;
            writer.trimmed_upto = trim_upto;
        }
    }
    let ann_next = match shared.ann.read().clone() {
        Some(published) => {
            let ops: Vec<IndexOp<'_>> = changes
                .iter()
                .filter_map(|change| match change {
                    MirrorChange::Upsert { id, op } => match &batch.ops[*op] {
                        Op::Upsert { vector, record, .. } => Some(IndexOp::Upsert {
                            id: *id,
                            stored: &batch.bytes[vector.clone()],
                            record: &batch.bytes[record.clone()],
                        }),
                        Op::Delete { .. } => None,
                    },
                    MirrorChange::Delete { id } => Some(IndexOp::Delete { id: *id }),
                })
                .collect();
            if ops.is_empty() {
                None
            } else {
                Some(ann::apply(&published, &writer.ann_nodes, &ops, &txn)?)
            }
        }
        None => None,
    };
    let run_items = writer.non_durable_run_items + changes.len() as u64;
    let durability =
        if matches!(durability, Durability::None) && run_items >= MAX_NON_DURABLE_RUN_ITEMS {
            txn.set_durability(Durability::Immediate)?;
            Durability::Immediate
        } else {
            durability
        };
    txn.commit()?;
    writer.non_durable_run_items = match durability {
        Durability::Immediate => 0,
        _ => run_items,
    };
    if let Some((index, nodes)) = ann_next {
        nodes.apply_to(&mut writer.ann_nodes);
        *shared.ann.write() = Some(Arc::new(index));
    }
    shared.committed_seq.fetch_max(last_seq, Ordering::AcqRel);
    if matches!(durability, Durability::Immediate) {
        shared.durable_seq.fetch_max(last_seq, Ordering::AcqRel);
        shared.non_durable_pending.store(false, Ordering::Release);
    } else {
        shared.non_durable_pending.store(true, Ordering::Release);
    }
    if let Some(indexes) = shared.fields.write().as_mut() {
        for change in &field_changes {
            indexes.remove(change.id, &change.old);
            if let Some(new) = &change.new {
                indexes.insert(change.id, new);
            }
        }
    }
    let mut mirror = shared.mirror.write();
    if let Some(mirror) = mirror.as_mut() {
        for change in changes {
            match change {
                MirrorChange::Upsert { id, op } => {
                    if let Op::Upsert { vector, .. } = &batch.ops[op] {
                        mirror.upsert(id, &batch.bytes[vector.clone()]);
                    }
                }
                MirrorChange::Delete { id } => mirror.remove(id),
            }
        }
    }
    Ok(())
}
