//! Write batches: upserts and deletes committed as one redb transaction over all of a
//! collection's tables.
//!
//! Every vector is checked when it is added to the batch ([`check_vector`]), so a bad vector is
//! reported before anything is written and the batch stays usable. Committing a batch
//! ([`Collection::commit`](super::Collection::commit)) writes, in one transaction: the vectors,
//! the records, the string-id mappings, one change record per item for the global index (when
//! the collection is indexed), and deletes change records the global index has durably applied.

use crate::error::{Error, Result};
use crate::vector::config::StoredConfig;
use crate::vector::fields::term::extract;
use crate::vector::metric::check_vector;
use crate::vector::record::{Dynamic, Record};
use crate::vector::tables::FIRST_STRING_ID;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

/// How an item is named in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemKey {
    Id(u64),
    Str(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Upsert {
        key: ItemKey,
        vector: Range<usize>,
        record: Range<usize>,
    },
    Delete {
        key: ItemKey,
    },
    /// Replace an existing item's record, keeping its vector.
    SetRecord {
        key: ItemKey,
        record: Range<usize>,
    },
    /// Merge a map of fields into an existing item's record (self-describing records only).
    Patch {
        key: ItemKey,
        patch: Range<usize>,
    },
}

/// A group of writes to one collection, committed atomically by
/// [`Collection::commit`](super::Collection::commit).
///
/// ```
/// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("batch.qvr"))?;
/// let items = store.create_collection::<F32<2>, u64>("items", CollectionConfig::new(Metric::L2))?;
/// let mut batch = items.batch();
/// for id in 0..100u64 {
///     batch.upsert(id, &[id as f32, 1.0], &(id * 10))?;
/// }
/// batch.delete(7);
/// items.commit(batch, quiver::Durability::Immediate)?;
/// assert_eq!(items.len(), 99);
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct WriteBatch<V, M> {
    pub(crate) config: StoredConfig,
    pub(crate) ops: Vec<Op>,
    pub(crate) bytes: Vec<u8>,
    _types: PhantomData<fn() -> (V, M)>,
}

impl<V, M> fmt::Debug for WriteBatch<V, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteBatch")
            .field("ops", &self.ops.len())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Numeric ids must stay below the range string ids are allocated from.
pub(crate) fn check_id(id: u64) -> Result<()> {
    if id >= FIRST_STRING_ID {
        Err(Error::InvalidId(format!(
            "numeric id {id} is in the range reserved for string ids (2^63 and above); address a string-id item by its string (upsert_str, delete_str)"
        )))
    } else {
        Ok(())
    }
}

impl<V: crate::vector::VectorType, M: Record> WriteBatch<V, M> {
    pub(crate) fn new(config: StoredConfig) -> Self {
        WriteBatch {
            config,
            ops: Vec::new(),
            bytes: Vec::new(),
            _types: PhantomData,
        }
    }

    /// Number of operations.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// let mut batch = c.batch();
    /// batch.delete(1);
    /// assert_eq!(batch.len(), 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// assert!(c.batch().is_empty());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn push_upsert(&mut self, key: ItemKey, vector: &[f32], record: &M::Value<'_>) -> Result<()> {
        check_vector(
            vector,
            self.config.dim,
            self.config.element,
            self.config.metric,
        )?;
        let start = self.bytes.len();
        self.config.element.encode_into(vector, &mut self.bytes);
        let record = match self.append_record(record) {
            Ok(record) => record,
            Err(err) => {
                self.bytes.truncate(start);
                return Err(err);
            }
        };
        self.ops.push(Op::Upsert {
            key,
            vector: start..record.start,
            record,
        });
        Ok(())
    }

    /// Appends `record`'s encoding to the batch's bytes, checking its indexed fields' kinds;
    /// on error nothing is appended. Returns where it lies.
    fn append_record(&mut self, record: &M::Value<'_>) -> Result<Range<usize>> {
        let start = self.bytes.len();
        let encoded = M::encode(record, &mut self.bytes)
            .and_then(|()| extract(&self.config.fields, &self.bytes[start..]).map(drop));
        match encoded {
            Ok(()) => Ok(start..self.bytes.len()),
            Err(err) => {
                self.bytes.truncate(start);
                Err(err)
            }
        }
    }

    /// Inserts or replaces item `id` (below 2^63). The vector is checked now; on error nothing
    /// is added.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<2>, ()>("c", CollectionConfig::new(Metric::Cosine))?;
    /// let mut batch = c.batch();
    /// batch.upsert(1, &[0.5, 0.5], &())?;
    /// assert!(batch.upsert(2, &[0.0, 0.0], &()).is_err()); // zero vector under cosine
    /// assert!(batch.upsert(3, &[1.0], &()).is_err()); // wrong dimension
    /// assert_eq!(batch.len(), 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn upsert(&mut self, id: u64, vector: &[f32], record: &M::Value<'_>) -> Result<()> {
        check_id(id)?;
        self.push_upsert(ItemKey::Id(id), vector, record)
    }

    /// Inserts or replaces the item named `string_id`; a new name is given a numeric id (from
    /// 2^63 up) in the same transaction.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<2>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// let mut batch = c.batch();
    /// batch.upsert_str("doc-17", &[0.5, 0.5], &())?;
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// assert!(c.id_of("doc-17")?.is_some());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn upsert_str(
        &mut self,
        string_id: &str,
        vector: &[f32],
        record: &M::Value<'_>,
    ) -> Result<()> {
        self.push_upsert(ItemKey::Str(string_id.to_owned()), vector, record)
    }

    /// Deletes item `id` (nothing happens if it does not exist). Ids of 2^63 and above belong
    /// to string-id items and are refused with [`Error::InvalidId`]: delete those by their
    /// string ([`delete_str`](Self::delete_str)).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// let mut batch = c.batch();
    /// batch.delete(42)?;
    /// assert!(matches!(batch.delete(1 << 63), Err(quiver::Error::InvalidId(_))));
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn delete(&mut self, id: u64) -> Result<()> {
        check_id(id)?;
        self.ops.push(Op::Delete {
            key: ItemKey::Id(id),
        });
        Ok(())
    }

    /// Deletes the item named `string_id`, and its name.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert_str("gone", &[1.0], &())?;
    /// let mut batch = c.batch();
    /// batch.delete_str("gone");
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// assert_eq!(c.id_of("gone")?, None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn delete_str(&mut self, string_id: &str) {
        self.ops.push(Op::Delete {
            key: ItemKey::Str(string_id.to_owned()),
        });
    }

    fn push_record(&mut self, key: ItemKey, record: &M::Value<'_>) -> Result<()> {
        let record = self.append_record(record)?;
        self.ops.push(Op::SetRecord { key, record });
        Ok(())
    }

    /// Replaces the record of item `id`, keeping its vector: an indexed collection keeps the
    /// item's graph node. Nothing happens if the item does not exist. The record is checked now
    /// (encoding, indexed fields' kinds).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, u32>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0], &10)?;
    /// let mut batch = c.batch();
    /// batch.update_record(1, &11)?;
    /// batch.update_record(2, &20)?; // no item 2: skipped
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// assert_eq!(c.get_record(1)?.unwrap().value()?, 11);
    /// assert!(c.get(2)?.is_none());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn update_record(&mut self, id: u64, record: &M::Value<'_>) -> Result<()> {
        check_id(id)?;
        self.push_record(ItemKey::Id(id), record)
    }

    /// [`update_record`](Self::update_record) for the item named `string_id`.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, u32>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert_str("doc", &[1.0], &10)?;
    /// let mut batch = c.batch();
    /// batch.update_record_str("doc", &11)?;
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// let id = c.id_of("doc")?.unwrap();
    /// assert_eq!(c.get_record(id)?.unwrap().value()?, 11);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn update_record_str(&mut self, string_id: &str, record: &M::Value<'_>) -> Result<()> {
        self.push_record(ItemKey::Str(string_id.to_owned()), record)
    }

    fn push_patch(&mut self, key: ItemKey, patch: &serde_json::Value) -> Result<()> {
        if !M::SELF_DESCRIBING {
            return Err(Error::InvalidRecord(format!(
                "a patch needs records with named fields (Doc<T> or Dynamic), not {}",
                M::type_name()
            )));
        }
        if !patch.is_object() {
            return Err(Error::InvalidRecord(
                "a patch is a JSON object of fields to set (null removes one)".into(),
            ));
        }
        let start = self.bytes.len();
        Dynamic::encode(patch, &mut self.bytes)?;
        self.ops.push(Op::Patch {
            key,
            patch: start..self.bytes.len(),
        });
        Ok(())
    }

    /// Sets some fields of item `id`'s record, keeping the others and the vector: each field
    /// of `patch` (a JSON object) replaces the record's, and a null removes it. The result must
    /// still decode as the record type, and its indexed fields fit their kinds, or the commit
    /// fails with [`Error::InvalidRecord`] and writes nothing. Nothing happens if the item does
    /// not exist. Records must have named fields ([`Doc<T>`](crate::vector::Doc) or
    /// [`Dynamic`]).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Dynamic, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0], &json!({"tag": "draft", "text": "hello"}))?;
    /// let mut batch = c.batch();
    /// batch.patch(1, &json!({"tag": "published", "text": null}))?;
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// assert_eq!(c.get_record(1)?.unwrap().value()?, json!({"tag": "published"}));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn patch(&mut self, id: u64, patch: &serde_json::Value) -> Result<()> {
        check_id(id)?;
        self.push_patch(ItemKey::Id(id), patch)
    }

    /// [`patch`](Self::patch) for the item named `string_id`.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Dynamic, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("b.qvr"))?;
    /// # let c = store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert_str("doc", &[1.0], &json!({"stars": 1}))?;
    /// let mut batch = c.batch();
    /// batch.patch_str("doc", &json!({"stars": 5}))?;
    /// c.commit(batch, quiver::Durability::Immediate)?;
    /// let id = c.id_of("doc")?.unwrap();
    /// assert_eq!(c.get_record(id)?.unwrap().value()?["stars"], 5);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn patch_str(&mut self, string_id: &str, patch: &serde_json::Value) -> Result<()> {
        self.push_patch(ItemKey::Str(string_id.to_owned()), patch)
    }

    /// Deletes the items `ids` (all below 2^63; string-id items are deleted by whatever id
    /// reaches them, as `delete_where` does).
    pub(crate) fn delete_ids(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.ops.extend(ids.into_iter().map(|id| Op::Delete {
            key: ItemKey::Id(id),
        }));
    }
}
