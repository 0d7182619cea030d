//! Operations on records by filter: scan (paginated, in id order), delete by filter, record
//! updates that leave the vector alone, and indexing a field of existing rows.
//!
//! Each starts from the set of ids a filter expression allows, computed from the field indexes
//! ([`fields`](super::fields)). `delete_where` computes it under the collection's writer lock
//! and deletes in the same commit, so no write can slip between choosing the items and deleting
//! them: the deletion is atomic and exact.

use crate::error::{Error, Result};
use crate::vector::checks::RowChecks;
use crate::vector::collection::Collection;
use crate::vector::config::validate_fields;
use crate::vector::element::VectorType;
use crate::vector::fields::table::{self as field_table, FIELDS};
use crate::vector::fields::term::extract;
use crate::vector::fields::{Field, FieldKind};
use crate::vector::filter::Expr;
use crate::vector::record::Record;
use crate::vector::record_guard::{RecordGuard, read_checked};
use crate::vector::tables::{CONFIG, CONFIG_KEY, ID_STRINGS, raw_records};
use crate::vector::write;
use redb::{Durability, ReadableTable};
use std::fmt;

/// One item of a [`ScanPage`].
///
/// ```
/// use quiver::vector::{CollectionConfig, Expr, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let c = store.create_collection::<F32<1>, &str>("c", CollectionConfig::new(Metric::Dot))?;
/// c.upsert_str("doc-1", &[1.0], &"hello")?;
/// let item = &c.scan(&Expr::all(), None, 10)?.items[0];
/// assert_eq!((item.string_id.as_deref(), item.record.value()?), (Some("doc-1"), "hello"));
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct ScanItem<M: Record> {
    /// The item's id.
    pub id: u64,
    /// Its string id, if it was written with one.
    pub string_id: Option<String>,
    /// Its record, checked against its checksum.
    pub record: RecordGuard<M>,
}

impl<M: Record> fmt::Debug for ScanItem<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanItem")
            .field("id", &self.id)
            .field("string_id", &self.string_id)
            .finish()
    }
}

/// A page of a scan: items in id order, and the cursor to pass for the next page.
///
/// ```
/// use quiver::vector::{CollectionConfig, Expr, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::Dot))?;
/// for i in 0..3u64 { c.upsert(i, &[1.0], &())?; }
/// let first = c.scan(&Expr::all(), None, 2)?;
/// assert_eq!((first.items.len(), first.next), (2, Some(1)));
/// let last = c.scan(&Expr::all(), first.next, 2)?;
/// assert_eq!((last.items.len(), last.next), (1, None));
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug)]
pub struct ScanPage<M: Record> {
    /// The items, in increasing id order.
    pub items: Vec<ScanItem<M>>,
    /// `Some(cursor)` when more items match: pass it as `after` for the next page.
    pub next: Option<u64>,
}

impl<V: VectorType, M: Record> Collection<V, M> {
    /// The items `expr` allows, in increasing id order, after the id `after` (the previous
    /// page's [`next`](ScanPage::next); `None` for the first page), at most `limit` of them.
    /// Records are read from one snapshot; an item deleted since the filter was answered is
    /// left out.
    ///
    /// ```
    /// use quiver::vector::{field, CollectionConfig, Dynamic, Expr, FieldKind, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::Dot).field("doc", FieldKind::Keyword);
    /// let c = store.create_collection::<F32<1>, Dynamic>("c", config)?;
    /// for i in 0..25u64 { c.upsert(i, &[1.0], &json!({"doc": if i % 2 == 0 { "a" } else { "b" }}))?; }
    /// let (mut seen, mut after) = (Vec::new(), None);
    /// loop {
    ///     let page = c.scan(&field("doc").eq("a"), after, 5)?;
    ///     seen.extend(page.items.iter().map(|item| item.id));
    ///     match page.next { Some(cursor) => after = Some(cursor), None => break }
    /// }
    /// assert_eq!(seen, (0..25).step_by(2).collect::<Vec<u64>>());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn scan(&self, expr: &Expr, after: Option<u64>, limit: usize) -> Result<ScanPage<M>> {
        let allowed = self.shared.allowed(expr)?;
        let mut ids = allowed.iter();
        if let Some(after) = after {
            match after.checked_add(1) {
                Some(from) => ids.advance_to(from),
                None => {
                    return Ok(ScanPage {
                        items: Vec::new(),
                        next: None,
                    });
                }
            }
        }
        let mut page: Vec<u64> = ids.by_ref().take(limit).collect();
        let more = ids.next().is_some();
        self.shared.cf.contain_panics("scanning records", || {
            let read = self.shared.cf.begin_read()?;
            let table = read.open_table(raw_records::<M>())?;
            let strings = read.open_table(ID_STRINGS)?;
            let checks = RowChecks::open(&read, &self.shared.name)?;
            let next = match more {
                true => page.last().copied(),
                false => None,
            };
            let mut items = Vec::with_capacity(page.len());
            for id in page.drain(..) {
                let Some(record) = read_checked::<M>(&table, &checks, id)? else {
                    continue;
                };
                let string_id = strings.get(id)?.map(|s| s.value().to_owned());
                items.push(ScanItem {
                    id,
                    string_id,
                    record,
                });
            }
            Ok(ScanPage { items, next })
        })
    }

    /// Deletes every item `expr` allows, in one durable transaction, and returns how many it
    /// deleted. The items are chosen under the collection's writer lock, so the deletion is
    /// exact even with concurrent writers.
    ///
    /// ```
    /// use quiver::vector::{field, CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::Dot).field("doc", FieldKind::Keyword);
    /// let chunks = store.create_collection::<F32<1>, Dynamic>("chunks", config)?;
    /// for i in 0..10u64 { chunks.upsert(i, &[1.0], &json!({"doc": format!("d{}", i / 4)}))?; }
    /// assert_eq!(chunks.delete_where(&field("doc").eq("d1"))?, 4);
    /// assert_eq!(chunks.len(), 6);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn delete_where(&self, expr: &Expr) -> Result<u64> {
        // Check the expression and load the indexes before taking the writer lock (loading
        // takes it too).
        let expected = self.shared.count(expr)?;
        if self.shared.config.indexed {
            self.feed.admit(expected);
        }
        let deleted = self.shared.cf.contain_panics("deleting by filter", || {
            let mut writer = self.shared.writer.lock();
            self.shared.check_live()?;
            let ids = self.shared.allowed_under_writer_lock(expr)?;
            if ids.is_empty() {
                return Ok(0);
            }
            let mut batch = self.batch();
            batch.delete_ids(ids.iter());
            write::commit_locked(&self.shared, &mut writer, batch, Durability::Immediate)
        })?;
        if self.shared.config.indexed && deleted > 0 {
            self.feed.notify();
        }
        Ok(deleted)
    }

    /// Replaces the record of item `id`, durably, keeping its vector (an indexed collection
    /// keeps its graph node). Returns whether the item exists.
    ///
    /// ```
    /// # use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    /// let c = store.create_collection::<F32<1>, u32>("c", config)?;
    /// c.upsert(1, &[1.0], &10)?;
    /// assert!(c.update_record(1, &11)?);
    /// assert!(!c.update_record(2, &20)?);
    /// assert_eq!(c.get_record(1)?.unwrap().value()?, 11);
    /// assert_eq!(c.index_stats().unwrap().nodes, 1);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn update_record(&self, id: u64, record: &M::Value<'_>) -> Result<bool> {
        let mut batch = self.batch();
        batch.update_record(id, record)?;
        self.commit_counted(batch, Durability::Immediate)
            .map(|n| n > 0)
    }

    /// [`update_record`](Self::update_record) for the item named `string_id` (string-id items
    /// are addressed by their string, as for every write).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, u32>("c", CollectionConfig::new(Metric::L2))?;
    /// c.upsert_str("doc", &[1.0], &10)?;
    /// assert!(c.update_record_str("doc", &11)?);
    /// assert!(!c.update_record_str("nope", &11)?);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn update_record_str(&self, string_id: &str, record: &M::Value<'_>) -> Result<bool> {
        let mut batch = self.batch();
        batch.update_record_str(string_id, record)?;
        self.commit_counted(batch, Durability::Immediate)
            .map(|n| n > 0)
    }

    /// Sets some fields of item `id`'s record, durably (see [`WriteBatch::patch`]). Returns
    /// whether the item exists.
    ///
    /// [`WriteBatch::patch`]: crate::vector::WriteBatch::patch
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Dynamic, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0], &json!({"tag": "a", "n": 1}))?;
    /// assert!(c.patch(1, &json!({"n": 2}))?);
    /// assert_eq!(c.get_record(1)?.unwrap().value()?, json!({"tag": "a", "n": 2}));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn patch(&self, id: u64, patch: &serde_json::Value) -> Result<bool> {
        let mut batch = self.batch();
        batch.patch(id, patch)?;
        self.commit_counted(batch, Durability::Immediate)
            .map(|n| n > 0)
    }

    /// [`patch`](Self::patch) for the item named `string_id`.
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Dynamic, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert_str("doc", &[1.0], &json!({"n": 1}))?;
    /// assert!(c.patch_str("doc", &json!({"n": 2}))?);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn patch_str(&self, string_id: &str, patch: &serde_json::Value) -> Result<bool> {
        let mut batch = self.batch();
        batch.patch_str(string_id, patch)?;
        self.commit_counted(batch, Durability::Immediate)
            .map(|n| n > 0)
    }

    /// Indexes the record field `name` as `kind` from now on, building its postings from every
    /// existing row in one durable transaction with the new configuration (after a crash the
    /// collection has the field with all its postings, or neither). A row whose field holds a
    /// value of another kind refuses the whole change with [`Error::InvalidRecord`] naming the
    /// item; nothing is written. Records must have named fields.
    ///
    /// [`Error::InvalidRecord`]: crate::Error::InvalidRecord
    ///
    /// ```
    /// use quiver::vector::{field, CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
    /// for i in 0..10u64 { c.upsert(i, &[1.0], &json!({"stars": i % 5}))?; }
    /// c.add_field("stars", FieldKind::Int)?;
    /// assert_eq!(c.count(&field("stars").ge(3))?, 4);
    /// assert!(c.add_field("stars", FieldKind::Int).is_err()); // declared already
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn add_field(&self, name: impl Into<String>, kind: FieldKind) -> Result<()> {
        let shared = &self.shared;
        shared.cf.contain_panics("adding an indexed field", || {
            let _writer = shared.writer.lock();
            shared.check_live()?;
            let mut fields = shared.declared_fields().to_vec();
            fields.push(Field::new(name, kind));
            validate_fields::<M>(&fields)?;
            // At most MAX_FIELDS (64), checked just above.
            let number = (fields.len() - 1) as u16;
            let mut txn = shared.cf.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            {
                let records = txn.open_table(raw_records::<M>())?;
                let mut postings = txn.open_table(FIELDS)?;
                for entry in records.range::<u64>(..)? {
                    let (id, record) = entry?;
                    let id = id.value();
                    let terms = extract(&fields, record.value()).map_err(|err| {
                        Error::InvalidRecord(format!("item {id}: {err}; the field was not added"))
                    })?;
                    for (field, term) in terms.iter().filter(|(f, _)| *f == number) {
                        postings.insert(field_table::key(*field, term, id).as_slice(), ())?;
                    }
                }
                let mut config = shared.current_config();
                config.fields = fields.clone();
                txn.open_table(CONFIG)?
                    .insert(CONFIG_KEY, config.encode().as_slice())?;
            }
            txn.commit()?;
            shared.set_declared_fields(fields);
            Ok(())
        })
    }
}
