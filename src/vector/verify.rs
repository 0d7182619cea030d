//! [`Store::verify`](super::Store::verify): every table of every collection walked and
//! cross-checked.
//!
//! For each collection opened with its types in this session, one read snapshot is walked:
//! every vector and record row against its checksum (see [`super::checks`]), the two tables
//! against each other and against the checks (same ids), the string ids in both directions, the
//! approximate index (one live node per item, holding the item's stored vector, and nothing
//! else) or the exact-scan mirror (one slot per item), and the field postings (exactly the
//! `(field, value, item)` keys the records give, and as many in memory). The global index is then caught up and
//! compared entry by entry with the collections it covers. A collection not opened with its
//! types has its tables' sizes compared. Finally [`Database::verify`](crate::Database::verify)
//! runs redb's own page-checksum check on every column family.

use crate::error::{Error, Result};
use crate::vector::checks::{CHECKS, Part, RowChecks};
use crate::vector::element::VectorType;
use crate::vector::fields::table::{self as field_table, FIELDS};
use crate::vector::fields::term::extract;
use crate::vector::record::Record;
use crate::vector::shared::CollectionShared;
use crate::vector::tables::{ID_STRINGS, STRING_IDS, raw_records, vectors};
use redb::{ReadableTable, ReadableTableMetadata, TableHandle};

/// What [`Store::verify`](super::Store::verify) walked (all of it consistent, or it would have
/// returned an error).
///
/// ```
/// use quiver::vector::{CollectionConfig, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("a.qvr"))?;
/// let docs = store.create_collection::<F32<2>, &str>("docs", CollectionConfig::new(Metric::L2))?;
/// docs.upsert(1, &[1.0, 0.0], &"one")?;
/// let report = store.verify()?;
/// assert_eq!((report.collections, report.items), (1, 1));
/// assert!(report.unchecked.is_empty());
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Collections checked.
    pub collections: usize,
    /// Items whose vector and record rows were read and checked.
    pub items: u64,
    /// Collections whose rows carry no checksums (written before quiver had them): their rows
    /// were compared across tables but could not be checked bit for bit.
    pub unchecked: Vec<String>,
    /// Collections not opened with their types in this session: only their tables' sizes were
    /// compared (open them with `Store::collection` to have their rows walked).
    pub untyped: Vec<String>,
    /// Entries of `_global_index` compared with their collections' vectors.
    pub global_entries: u64,
    /// Collections under `_global_index` that were written to while it was compared, so their
    /// entries were not (run `verify` again when writes pause).
    pub global_lagging: Vec<String>,
}

/// Walks one typed collection (stored as a function pointer when the collection is opened with
/// its types, as the mirror loader is). Returns the number of items.
pub(crate) type RowVerifier = fn(&CollectionShared) -> Result<u64>;

pub(crate) fn corrupt(collection: &str, what: String) -> Error {
    Error::Corrupted {
        what: format!("collection '{collection}': {what}"),
        offset: 0,
    }
}

/// Walks `shared`'s rows, with vectors `V` and records `M` (see the module docs).
pub(crate) fn verify_rows<V: VectorType, M: Record>(shared: &CollectionShared) -> Result<u64> {
    let name = &*shared.name;
    // No commit between the snapshot and the in-memory copies compared with it.
    let writer = shared.writer.lock();
    shared.check_live()?;
    let index = shared.ann.read().clone();
    let read = shared.cf.begin_read()?;
    let vector_table = read.open_table(vectors::<V>())?;
    let record_table = read.open_table(raw_records::<M>())?;
    let row_checks = RowChecks::open(&read, name)?;
    let mut ids = Vec::with_capacity(vector_table.len()? as usize);
    let mut checks = row_checks.in_order()?;
    for entry in vector_table.range::<u64>(..)? {
        let (id, vector) = entry?;
        let (id, vector) = (id.value(), vector.value());
        checks.verify(id, Part::Vector, vector.bytes())?;
        if let Some(index) = &index {
            let node = writer.ann_nodes.get(&id).copied();
            let held = node.filter(|&n| (n as usize) < index.len() && !index.is_dead(n));
            match held {
                Some(node) if index.id(node) == id && index.vectors.row(node) == vector.bytes() => {
                }
                _ => {
                    return Err(corrupt(
                        name,
                        format!(
                            "item {id}'s node in the approximate index does not hold its vector"
                        ),
                    ));
                }
            }
        }
        ids.push(id);
    }
    let mut checks = row_checks.in_order()?;
    let mut expected = ids.iter();
    let fields = &*shared.declared_fields();
    let mut postings: Vec<Vec<u8>> = Vec::new();
    for entry in record_table.range::<u64>(..)? {
        let (id, record) = entry?;
        let id = id.value();
        checks.verify(id, Part::Record, record.value())?;
        if !fields.is_empty() {
            let terms = extract(fields, record.value()).map_err(|err| {
                corrupt(
                    name,
                    format!("item {id}'s indexed fields do not read: {err}"),
                )
            })?;
            postings.extend(terms.iter().map(|(f, t)| field_table::key(*f, t, id)));
        }
        if expected.next() != Some(&id) {
            return Err(corrupt(
                name,
                format!("item {id}'s record and vector rows differ"),
            ));
        }
    }
    if expected.next().is_some() {
        return Err(corrupt(
            name,
            format!("{} vectors but fewer records", ids.len()),
        ));
    }
    if row_checks.is_checked() {
        let checks = read.open_table(CHECKS)?.len()?;
        if checks != ids.len() as u64 {
            return Err(corrupt(
                name,
                format!("{} items but {checks} row checksums", ids.len()),
            ));
        }
    }
    if !fields.is_empty() {
        verify_postings(shared, &read, postings, ids.len())?;
    }
    let string_ids = read.open_table(STRING_IDS)?;
    let id_strings = read.open_table(ID_STRINGS)?;
    if string_ids.len()? != id_strings.len()? {
        return Err(corrupt(
            name,
            "the two string id tables differ in size".into(),
        ));
    }
    for entry in string_ids.range::<&str>(..)? {
        let (string, id) = entry?;
        let (string, id) = (string.value(), id.value());
        let back = id_strings.get(id)?;
        if back.as_ref().map(|b| b.value()) != Some(string) || ids.binary_search(&id).is_err() {
            return Err(corrupt(
                name,
                format!("string id {string:?} (item {id}) does not match its item"),
            ));
        }
    }
    drop(read);
    if let Some(index) = &index
        && index.live_count() != ids.len()
    {
        return Err(corrupt(
            name,
            format!(
                "the approximate index has {} live nodes for {} items",
                index.live_count(),
                ids.len()
            ),
        ));
    }
    if let Some(mirror) = shared.mirror.read().as_ref()
        && (mirror.len() != ids.len() || ids.iter().any(|&id| mirror.slot_of(id).is_none()))
    {
        return Err(corrupt(
            name,
            format!(
                "the exact-scan mirror holds {} vectors for {} items",
                mirror.len(),
                ids.len()
            ),
        ));
    }
    Ok(ids.len() as u64)
}

/// Compares the field postings table, and the in-memory field indexes if they are loaded, with
/// the postings the records give (`expected`, one key per `(field, value, item)`).
fn verify_postings(
    shared: &CollectionShared,
    read: &redb::ReadTransaction,
    mut expected: Vec<Vec<u8>>,
    items: usize,
) -> Result<()> {
    let name = &*shared.name;
    expected.sort_unstable();
    let table = match read.open_table(FIELDS) {
        Ok(table) => Some(table),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let mut want = expected.iter();
    if let Some(table) = &table {
        for entry in table.iter()? {
            let (key, _) = entry?;
            if want.next().map(Vec::as_slice) != Some(key.value()) {
                return Err(corrupt(
                    name,
                    "its field index table differs from what its records hold".into(),
                ));
            }
        }
    }
    if want.next().is_some() {
        return Err(corrupt(
            name,
            "its field index table lacks postings its records hold".into(),
        ));
    }
    if let Some(indexes) = shared.fields.read().as_ref() {
        let stats = indexes.stats();
        if stats.postings != expected.len() as u64 || stats.items != items as u64 {
            return Err(corrupt(
                name,
                format!(
                    "its in-memory field indexes hold {} postings of {} items, its records {} of {items}",
                    stats.postings,
                    stats.items,
                    expected.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Compares the sizes of a collection's tables without its types (vectors, records and checks
/// must count the same items).
pub(crate) fn verify_sizes(shared: &CollectionShared) -> Result<()> {
    let name = &*shared.name;
    let read = shared.cf.begin_read()?;
    let mut sizes = Vec::new();
    for table in read.list_tables()? {
        let table_name = table.name().to_owned();
        if ["quiver.vectors", "quiver.records", "quiver.checks"].contains(&table_name.as_str()) {
            sizes.push((table_name, read.open_untyped_table(table)?.len()?));
        }
    }
    if let Some((first, size)) = sizes.first()
        && let Some((other, other_size)) = sizes.iter().find(|(_, s)| s != size)
    {
        return Err(corrupt(
            name,
            format!("{first} holds {size} rows but {other} {other_size}"),
        ));
    }
    Ok(())
}

/// Compares `collection`'s entries in `_global_index` (keyed `(code, id)`) with its vector rows
/// (the caller holds the collection's writer lock and the applier lock, and has checked that
/// every commit was applied). Returns how many entries were compared.
pub(crate) fn global_entries<V: VectorType>(
    collection: &CollectionShared,
    entries: &redb::ReadOnlyTable<(u64, u64), V>,
) -> Result<u64> {
    let name = &*collection.name;
    let code = collection.config.code;
    let read = collection.cf.begin_read()?;
    let rows = read.open_table(vectors::<V>())?;
    let mut expected = rows.range::<u64>(..)?;
    let mut compared = 0;
    for entry in entries.range((code, 0)..=(code, u64::MAX))? {
        let (key, vector) = entry?;
        let (_, id) = key.value();
        let row = expected.next().transpose()?;
        let same = row.as_ref().is_some_and(|(row_id, row)| {
            row_id.value() == id && row.value().bytes() == vector.value().bytes()
        });
        if !same {
            return Err(corrupt(
                name,
                format!("its entry for item {id} in the global index differs from its row"),
            ));
        }
        compared += 1;
    }
    if expected.next().is_some() {
        return Err(corrupt(
            name,
            "the global index lacks some of its items".to_owned(),
        ));
    }
    Ok(compared)
}
