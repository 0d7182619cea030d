//! Records read as their stored bytes, checked, then decoded by the caller's type.
//!
//! A collection's record table is `u64 -> M` for the caller's record type `M`. quiver reads it
//! through [`RawRecord<M>`], a redb [`Value`] with `M`'s type name and width whose values are the
//! stored bytes, so that a row is checked against its checksum (see [`super::checks`]) before
//! `M` decodes it: redb's decoders may panic on bytes they did not write (`&str` on invalid
//! UTF-8). [`RecordGuard`] hands the checked bytes to `M` when the caller asks for the value.

use crate::error::Result;
use crate::vector::checks::{Part, RowChecks};
use crate::vector::record::Record;
use redb::{OwnedAccessGuard, ReadOnlyTable, TypeName, Value};
use std::fmt;
use std::marker::PhantomData;

/// The record table read as bytes: the same table as `records::<M>()` (redb matches tables by
/// name, type name and width, all `M`'s).
pub(crate) struct RawRecord<M>(PhantomData<fn() -> M>);

impl<M> fmt::Debug for RawRecord<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawRecord")
    }
}

impl<M: Record> Value for RawRecord<M> {
    type SelfType<'a>
        = &'a [u8]
    where
        Self: 'a;
    type AsBytes<'a>
        = &'a [u8]
    where
        Self: 'a;

    fn fixed_width() -> Option<usize> {
        M::fixed_width()
    }

    fn from_bytes<'a>(data: &'a [u8]) -> &'a [u8]
    where
        Self: 'a,
    {
        data
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a &'b [u8]) -> &'a [u8]
    where
        Self: 'b,
    {
        value
    }

    fn type_name() -> TypeName {
        TypeName::new(&M::type_name())
    }
}

/// The record of `id` in `table`, checked against its checksum before anything decodes it (a
/// missing record whose checksum is present is corruption too).
pub(crate) fn read_checked<M: Record>(
    table: &ReadOnlyTable<u64, RawRecord<M>>,
    checks: &RowChecks,
    id: u64,
) -> Result<Option<RecordGuard<M>>> {
    let guard = table.get_owned(id)?;
    checks.verify(id, Part::Record, guard.as_ref().map(|g| g.value()))?;
    Ok(guard.map(RecordGuard::checked))
}

/// A record read back, zero-copy: it keeps the read snapshot it came from alive, and its bytes
/// were checked against the row's checksum before it was handed out.
///
/// ```
/// use quiver::vector::{CollectionConfig, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("a.qvr"))?;
/// let docs = store.create_collection::<F32<1>, &str>("docs", CollectionConfig::new(Metric::Dot))?;
/// docs.upsert(1, &[1.0], &"hello")?;
/// let record = docs.get_record(1)?.unwrap();
/// assert_eq!(record.value()?, "hello");
/// assert_eq!(record.bytes(), b"hello");
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct RecordGuard<M: Record> {
    inner: OwnedAccessGuard<RawRecord<M>>,
}

impl<M: Record> RecordGuard<M> {
    /// Wraps a guard whose bytes the caller has checked.
    pub(crate) fn checked(inner: OwnedAccessGuard<RawRecord<M>>) -> RecordGuard<M> {
        RecordGuard { inner }
    }

    /// The record, decoded as the collection's record type ([`Error::InvalidRecord`] if a
    /// [`Doc<T>`](crate::vector::Doc) row does not decode as `T`).
    ///
    /// [`Error::InvalidRecord`]: crate::Error::InvalidRecord
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, (u32, &str)>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0], &(7, "seven"))?;
    /// assert_eq!(c.get_record(1)?.unwrap().value()?, (7, "seven"));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn value(&self) -> Result<M::Value<'_>> {
        M::decode(self.inner.value())
    }

    /// The record's stored bytes (the record type's encoding).
    ///
    /// ```
    /// # use quiver::vector::{CollectionConfig, Metric, Store, F32};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("a.qvr"))?;
    /// let c = store.create_collection::<F32<1>, u32>("c", CollectionConfig::new(Metric::Dot))?;
    /// c.upsert(1, &[1.0], &7)?;
    /// assert_eq!(c.get_record(1)?.unwrap().bytes(), 7u32.to_le_bytes());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn bytes(&self) -> &[u8] {
        self.inner.value()
    }
}

impl<M: Record> fmt::Debug for RecordGuard<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordGuard")
            .field("bytes", &self.bytes().len())
            .finish()
    }
}
