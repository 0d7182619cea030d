//! Committing a [`WriteBatch`], under the collection's writer lock, in three steps:
//! 1. [`write_tables`]: one redb transaction over the collection's tables: vectors, records,
//!    row checksums, string ids, field postings and change records;
//! 2. [`update_index`]: the approximate index's next version, written into the same transaction
//!    (see [`ann`]);
//! 3. after the transaction commits, [`publish`]: the new index version, the field indexes and
//!    the mirror, so searches never see an uncommitted write.
//!
//! A record update ([`Op::SetRecord`], [`Op::Patch`]) rewrites the record, its checksum and its
//! postings, and leaves the vector, the mirror and the index's graph alone (an indexed
//! collection's in-memory record copy follows).

use crate::error::{Error, Result};
use crate::vector::ann::{self, IndexOp};
use crate::vector::batch::{ItemKey, Op, WriteBatch};
use crate::vector::checks::{CHECKS, row_check};
use crate::vector::element::{StoredVector, VectorType};
use crate::vector::fields::Field;
use crate::vector::fields::table::{self as field_table, FIELDS};
use crate::vector::fields::term::{Terms, extract};
use crate::vector::record::{Dynamic, Record};
use crate::vector::shared::CollectionShared;
use crate::vector::shared::WriterState;
use crate::vector::tables::{
    CHANGES, COUNTERS, FIRST_STRING_ID, ID_STRINGS, NEXT_SEQ, NEXT_STRING_ID, STRING_IDS,
    raw_records, vectors,
};
use redb::{Durability, ReadableTable, Table, WriteTransaction};
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

/// What a committed operation changed. Every change carries the item's indexed values before
/// (`old`) and after.
enum Change {
    /// A new or replaced item: the batch's operation `op` holds its vector and record.
    Upsert {
        id: u64,
        op: usize,
        old: Terms,
        new: Terms,
    },
    /// A deleted item.
    Delete { id: u64, old: Terms },
    /// A record replaced without its vector.
    Record {
        id: u64,
        record: Vec<u8>,
        old: Terms,
        new: Terms,
    },
}

/// What [`write_tables`] did.
struct Written {
    changes: Vec<Change>,
    /// Postings left out of the transaction by the mutation check's broken update (testing
    /// only; always empty otherwise).
    deferred: Vec<(u64, Terms, Terms)>,
    /// The last change sequence number written (for the global index).
    last_seq: u64,
}

/// The indexed values of the stored record `old`, if any.
fn stored_terms(fields: &[Field], old: Option<&[u8]>) -> Result<Terms> {
    match old {
        Some(bytes) if !fields.is_empty() => extract(fields, bytes),
        _ => Ok(Vec::new()),
    }
}

/// Commits `batch`; returns how many of its operations took effect (deletes, updates and
/// patches of missing items do not).
pub(crate) fn commit<V: VectorType, M: Record>(
    shared: &CollectionShared,
    batch: WriteBatch<V, M>,
    durability: Durability,
) -> Result<u64> {
    let mut writer = shared.writer.lock();
    commit_locked(shared, &mut writer, batch, durability)
}

/// [`commit`] with the writer lock already held (by a caller that read state the batch depends
/// on under it, as `delete_where` does).
pub(crate) fn commit_locked<V: VectorType, M: Record>(
    shared: &CollectionShared,
    writer: &mut WriterState,
    batch: WriteBatch<V, M>,
    durability: Durability,
) -> Result<u64> {
    shared.check_live()?;
    let mut txn = shared.cf.begin_write()?;
    txn.set_durability(durability)?;
    let written = write_tables(shared, writer, &batch, &txn)?;
    let index_next = update_index(shared, writer, &batch, &written.changes, &txn)?;
    let run_items = writer.non_durable_run_items + written.changes.len() as u64;
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
    if !written.deferred.is_empty() {
        let txn = shared.cf.begin_write()?;
        {
            let mut postings = txn.open_table(FIELDS)?;
            for (id, old, new) in &written.deferred {
                field_table::write(&mut postings, *id, old, new)?;
            }
        }
        txn.commit()?;
    }
    let applied = written.changes.len() as u64;
    publish(shared, writer, &batch, written, index_next, durability);
    Ok(applied)
}

/// The tables a commit writes, opened once.
struct Tables<'t, V: VectorType, M: Record> {
    vectors: Table<'t, u64, V>,
    records: Table<'t, u64, crate::vector::record_guard::RawRecord<M>>,
    /// `None` for a collection older than checksums (opening the table would create it).
    checks: Option<Table<'t, u64, u64>>,
    string_ids: Table<'t, &'static str, u64>,
    id_strings: Table<'t, u64, &'static str>,
    /// `None` for a collection without indexed fields (it gets no table).
    postings: Option<Table<'t, &'static [u8], ()>>,
}

impl<V: VectorType, M: Record> Tables<'_, V, M> {
    /// The id of an existing item named `key`.
    fn existing(&self, key: &ItemKey) -> Result<Option<u64>> {
        Ok(match key {
            ItemKey::Id(id) => Some(*id),
            ItemKey::Str(name) => self.string_ids.get(name.as_str())?.map(|v| v.value()),
        })
    }

    /// Writes `id`'s postings: `old` replaced by `new`.
    fn postings(&mut self, id: u64, old: &Terms, new: &Terms) -> Result<()> {
        match &mut self.postings {
            Some(postings) => field_table::write(postings, id, old, new),
            None => Ok(()),
        }
    }

    /// Replaces the record of the existing item `id` (whose vector stays), with its checksum
    /// and postings; `None` if there is no such item.
    fn set_record(
        &mut self,
        fields: &[Field],
        id: u64,
        record: &[u8],
    ) -> Result<Option<(Terms, Terms)>> {
        let Some(vector) = self.vectors.get(id)?.map(|v| v.value().bytes().to_vec()) else {
            return Ok(None);
        };
        let new = extract(fields, record)?;
        let old = {
            let guard = self.records.insert(id, record)?;
            stored_terms(fields, guard.as_ref().map(|g| g.value()))?
        };
        self.postings(id, &old, &new)?;
        if let Some(checks) = &mut self.checks {
            checks.insert(id, row_check(id, &vector, record))?;
        }
        Ok(Some((old, new)))
    }
}

/// Applies `patch` (a map: a null value removes the field) to the stored record `old` of a
/// self-describing type, and checks the result still decodes as `M`.
fn patched<M: Record>(old: &[u8], patch: &[u8]) -> Result<Vec<u8>> {
    let mut document = Dynamic::decode(old)?;
    let (Some(target), serde_json::Value::Object(changes)) =
        (document.as_object_mut(), Dynamic::decode(patch)?)
    else {
        return Err(Error::InvalidRecord(
            "a patch applies to records that are maps of named fields".into(),
        ));
    };
    for (name, value) in changes {
        match value {
            serde_json::Value::Null => target.remove(&name),
            value => target.insert(name, value),
        };
    }
    let mut out = Vec::with_capacity(old.len() + patch.len());
    Dynamic::encode(&document, &mut out)?;
    M::decode(&out)?;
    Ok(out)
}

/// Step 1: writes the batch's rows, checksums, string ids, postings and change records.
fn write_tables<V: VectorType, M: Record>(
    shared: &CollectionShared,
    writer: &mut WriterState,
    batch: &WriteBatch<V, M>,
    txn: &WriteTransaction,
) -> Result<Written> {
    let fields = &*shared.declared_fields();
    let mut tables = Tables::<V, M> {
        vectors: txn.open_table(vectors::<V>())?,
        records: txn.open_table(raw_records::<M>())?,
        checks: match shared.checked {
            true => Some(txn.open_table(CHECKS)?),
            false => None,
        },
        string_ids: txn.open_table(STRING_IDS)?,
        id_strings: txn.open_table(ID_STRINGS)?,
        postings: match fields.is_empty() {
            true => None,
            false => Some(txn.open_table(FIELDS)?),
        },
    };
    #[cfg(feature = "testing")]
    let separate = crate::vector::fields::mutation::field_mutation()
        == crate::vector::fields::mutation::FieldMutation::SeparateTransaction;
    #[cfg(not(feature = "testing"))]
    let separate = false;
    if separate {
        tables.postings = None;
    }
    let mut deferred = Vec::new();
    let mut counters = txn.open_table(COUNTERS)?;
    let mut change_table = txn.open_table(CHANGES)?;
    let mut next_seq = counters.get(NEXT_SEQ)?.map_or(1, |v| v.value());
    let mut next_string_id = counters
        .get(NEXT_STRING_ID)?
        .map_or(FIRST_STRING_ID, |v| v.value());
    let mut changes = Vec::with_capacity(batch.ops.len());
    for (index, op) in batch.ops.iter().enumerate() {
        let change = match op {
            Op::Upsert {
                key,
                vector,
                record,
            } => {
                let id = match (tables.existing(key)?, key) {
                    (Some(id), _) => id,
                    (None, ItemKey::Str(name)) => {
                        let id = next_string_id;
                        next_string_id += 1;
                        tables.string_ids.insert(name.as_str(), id)?;
                        tables.id_strings.insert(id, name.as_str())?;
                        id
                    }
                    // `existing` finds every numeric key.
                    (None, ItemKey::Id(id)) => *id,
                };
                let (vector, record) = (&batch.bytes[vector.clone()], &batch.bytes[record.clone()]);
                let new = extract(fields, record)?;
                tables
                    .vectors
                    .insert(id, StoredVector::new(vector, V::ELEMENT))?;
                let old = {
                    let guard = tables.records.insert(id, record)?;
                    stored_terms(fields, guard.as_ref().map(|g| g.value()))?
                };
                tables.postings(id, &old, &new)?;
                if let Some(checks) = &mut tables.checks {
                    checks.insert(id, row_check(id, vector, record))?;
                }
                Change::Upsert {
                    id,
                    op: index,
                    old,
                    new,
                }
            }
            Op::Delete { key } => {
                let Some(id) = tables.existing(key)? else {
                    continue;
                };
                let existed = tables.vectors.remove(id)?.is_some();
                let old = {
                    let guard = tables.records.remove(id)?;
                    stored_terms(fields, guard.as_ref().map(|g| g.value()))?
                };
                tables.postings(id, &old, &Vec::new())?;
                if let Some(checks) = &mut tables.checks {
                    checks.remove(id)?;
                }
                let name = tables.id_strings.remove(id)?.map(|v| v.value().to_owned());
                if let Some(name) = name {
                    tables.string_ids.remove(name.as_str())?;
                }
                if !existed {
                    continue;
                }
                Change::Delete { id, old }
            }
            Op::SetRecord { key, record } => {
                let Some(id) = tables.existing(key)? else {
                    continue;
                };
                let record = &batch.bytes[record.clone()];
                let Some((old, new)) = tables.set_record(fields, id, record)? else {
                    continue;
                };
                Change::Record {
                    id,
                    record: record.to_vec(),
                    old,
                    new,
                }
            }
            Op::Patch { key, patch } => {
                let Some(id) = tables.existing(key)? else {
                    continue;
                };
                let Some(stored) = tables.records.get(id)? else {
                    continue;
                };
                let record = patched::<M>(stored.value(), &batch.bytes[patch.clone()])?;
                drop(stored);
                let Some((old, new)) = tables.set_record(fields, id, &record)? else {
                    continue;
                };
                Change::Record {
                    id,
                    record,
                    old,
                    new,
                }
            }
        };
        if separate && !fields.is_empty() {
            match &change {
                Change::Upsert { id, old, new, .. } | Change::Record { id, old, new, .. } => {
                    deferred.push((*id, old.clone(), new.clone()))
                }
                Change::Delete { id, old } => deferred.push((*id, old.clone(), Vec::new())),
            }
        }
        // The global index follows vectors: record updates do not concern it.
        if shared.config.indexed
            && let Change::Upsert { id, .. } | Change::Delete { id, .. } = &change
        {
            change_table.insert(next_seq, *id)?;
            next_seq += 1;
        }
        changes.push(change);
    }
    counters.insert(NEXT_SEQ, next_seq)?;
    counters.insert(NEXT_STRING_ID, next_string_id)?;
    let trim_upto = shared.trim_upto.load(Ordering::Acquire);
    if trim_upto > writer.trimmed_upto {
        change_table.retain_in(..=trim_upto, |_, _| false)?;
        writer.trimmed_upto = trim_upto;
    }
    Ok(Written {
        changes,
        deferred,
        last_seq: next_seq - 1,
    })
}

/// The approximate index's next version and node map, if the collection has an index.
type IndexNext = Option<(ann::AnnIndex, ann::NodeMapChange)>;

/// Step 2: the approximate index's next version, written into `txn`.
fn update_index<V: VectorType, M: Record>(
    shared: &CollectionShared,
    writer: &WriterState,
    batch: &WriteBatch<V, M>,
    changes: &[Change],
    txn: &WriteTransaction,
) -> Result<IndexNext> {
    let Some(published) = shared.ann.read().clone() else {
        return Ok(None);
    };
    let ops: Vec<IndexOp<'_>> = changes
        .iter()
        .filter_map(|change| match change {
            Change::Upsert { id, op, .. } => match &batch.ops[*op] {
                Op::Upsert { vector, record, .. } => Some(IndexOp::Upsert {
                    id: *id,
                    stored: &batch.bytes[vector.clone()],
                    record: &batch.bytes[record.clone()],
                }),
                _ => None,
            },
            Change::Delete { id, .. } => Some(IndexOp::Delete { id: *id }),
            // Only an index that keeps records in memory cares about a new record.
            Change::Record { id, record, .. } if published.records.is_some() => {
                Some(IndexOp::Record { id: *id, record })
            }
            Change::Record { .. } => None,
        })
        .collect();
    if ops.is_empty() {
        return Ok(None);
    }
    ann::apply(&published, &writer.ann_nodes, &ops, txn).map(Some)
}

/// Step 3, after the transaction committed: publishes the index version, the sequence numbers,
/// the field indexes and the mirror.
fn publish<V: VectorType, M: Record>(
    shared: &CollectionShared,
    writer: &mut WriterState,
    batch: &WriteBatch<V, M>,
    written: Written,
    index_next: IndexNext,
    durability: Durability,
) {
    if let Some((index, nodes)) = index_next {
        nodes.apply_to(&mut writer.ann_nodes);
        *shared.ann.write() = Some(Arc::new(index));
    }
    let last_seq = written.last_seq;
    shared.committed_seq.fetch_max(last_seq, Ordering::AcqRel);
    if matches!(durability, Durability::Immediate) {
        shared.durable_seq.fetch_max(last_seq, Ordering::AcqRel);
        shared.non_durable_pending.store(false, Ordering::Release);
    } else {
        shared.non_durable_pending.store(true, Ordering::Release);
    }
    if let Some(indexes) = shared.fields.write().as_mut() {
        for change in &written.changes {
            match change {
                Change::Upsert { id, old, new, .. } | Change::Record { id, old, new, .. } => {
                    indexes.remove(*id, old);
                    indexes.insert(*id, new);
                }
                Change::Delete { id, old } => indexes.remove(*id, old),
            }
        }
    }
    let mut mirror = shared.mirror.write();
    if let Some(mirror) = mirror.as_mut() {
        for change in &written.changes {
            match change {
                Change::Upsert { id, op, .. } => {
                    if let Op::Upsert { vector, .. } = &batch.ops[*op] {
                        mirror.upsert(*id, &batch.bytes[vector.clone()]);
                    }
                }
                Change::Delete { id, .. } => mirror.remove(*id),
                Change::Record { .. } => {}
            }
        }
    }
}
