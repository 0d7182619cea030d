//! Row checksums: a flipped bit in a stored vector or record reads as [`Error::Corrupted`],
//! never as wrong data.
//!
//! redb checksums its pages only where it recovers from a crash, not on every read, so a bit
//! that flips on the disk after a commit would otherwise come back as a slightly different
//! vector or record. Each item's row therefore has a check in `quiver.checks` (`u64 -> u64`),
//! written in the same transaction as the row: the high 32 bits are the CRC32 of the id's eight
//! little-endian bytes followed by the stored vector's bytes, the low 32 bits the same over the
//! record's bytes. Mixing the id in means a row read under the wrong key fails too. Every read
//! of a vector or a record checks it before anything decodes it (a record type's decoder may
//! panic on bytes it did not write).
//!
//! Collections written before checks existed have no `quiver.checks` table and are read
//! unchecked (their rows gain no checks until rewritten; [`crate::vector::Store::verify`] says
//! which collections are unchecked).

use crate::error::{Error, Result};
use redb::{Range, ReadOnlyTable, ReadTransaction, TableDefinition, TableError};

/// Each item's check: `(vector CRC << 32) | record CRC`.
pub(crate) const CHECKS: TableDefinition<u64, u64> = TableDefinition::new("quiver.checks");

fn crc(id: u64, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&id.to_le_bytes());
    hasher.update(bytes);
    hasher.finalize()
}

/// The check of an item with these stored vector and record bytes.
pub(crate) fn row_check(id: u64, vector: &[u8], record: &[u8]) -> u64 {
    (u64::from(crc(id, vector)) << 32) | u64::from(crc(id, record))
}

/// Which half of a check a read verifies.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Part {
    Vector,
    Record,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Vector => "vector",
            Part::Record => "record",
        }
    }
}

/// The checks of one read snapshot of a collection (none for an unchecked collection).
pub(crate) struct RowChecks {
    table: Option<ReadOnlyTable<u64, u64>>,
    collection: String,
}

impl RowChecks {
    /// Opens the checks of `read`'s collection `collection`.
    pub(crate) fn open(read: &ReadTransaction, collection: &str) -> Result<RowChecks> {
        let table = match read.open_table(CHECKS) {
            Ok(table) => Some(table),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(err) => return Err(err.into()),
        };
        Ok(RowChecks {
            table,
            collection: collection.to_owned(),
        })
    }

    /// Whether the collection's rows carry checks.
    pub(crate) fn is_checked(&self) -> bool {
        self.table.is_some()
    }

    /// `Ok` if item `id`'s `part`, read as `bytes` (`None`: no row), agrees with its check:
    /// the bytes match it, or there is neither row nor check. A missing row whose check is
    /// present was lost to damage (a flipped bit in a key or a branch page).
    pub(crate) fn verify(&self, id: u64, part: Part, bytes: Option<&[u8]>) -> Result<()> {
        let Some(table) = &self.table else {
            return Ok(());
        };
        let stored = table.get(id)?.map(|v| v.value());
        agree(&self.collection, id, part, bytes, stored)
    }

    /// [`verify`](Self::verify) for both halves of item `id`, with one lookup of its check.
    pub(crate) fn verify_item(
        &self,
        id: u64,
        vector: Option<&[u8]>,
        record: Option<&[u8]>,
    ) -> Result<()> {
        let Some(table) = &self.table else {
            return Ok(());
        };
        let stored = table.get(id)?.map(|v| v.value());
        agree(&self.collection, id, Part::Vector, vector, stored)?;
        agree(&self.collection, id, Part::Record, record, stored)
    }

    /// The checks in id order, for a pass that visits rows in increasing id order (one merged
    /// walk instead of a lookup per row).
    pub(crate) fn in_order(&self) -> Result<OrderedChecks> {
        let range = match &self.table {
            Some(table) => Some(table.range::<u64>(..)?),
            None => None,
        };
        Ok(OrderedChecks {
            range,
            next: None,
            collection: self.collection.clone(),
        })
    }
}

/// [`RowChecks`] walked in id order alongside the rows they check.
pub(crate) struct OrderedChecks {
    range: Option<Range<'static, u64, u64>>,
    /// The check read ahead of the last row verified.
    next: Option<(u64, u64)>,
    collection: String,
}

impl OrderedChecks {
    /// Like [`RowChecks::verify`]; `id`s must increase from call to call.
    pub(crate) fn verify(&mut self, id: u64, part: Part, bytes: &[u8]) -> Result<()> {
        let Some(range) = &mut self.range else {
            return Ok(());
        };
        loop {
            match self.next {
                Some((key, _)) if key >= id => break,
                _ => match range.next() {
                    Some(entry) => {
                        let (key, check) = entry?;
                        self.next = Some((key.value(), check.value()));
                    }
                    None => {
                        self.next = None;
                        break;
                    }
                },
            }
        }
        let stored = self.next.filter(|(key, _)| *key == id).map(|(_, c)| c);
        compare(&self.collection, id, part, bytes, stored)
    }
}

/// [`compare`], where `bytes` is `None` for a row that is not there.
fn agree(
    collection: &str,
    id: u64,
    part: Part,
    bytes: Option<&[u8]>,
    stored: Option<u64>,
) -> Result<()> {
    match bytes {
        Some(bytes) => compare(collection, id, part, bytes, stored),
        None if stored.is_none() => Ok(()),
        None => Err(Error::Corrupted {
            what: format!(
                "collection '{collection}': item {id}'s {} is missing but its checksum is present",
                part.name()
            ),
            offset: 0,
        }),
    }
}

fn compare(collection: &str, id: u64, part: Part, bytes: &[u8], stored: Option<u64>) -> Result<()> {
    let expected = stored.map(|check| match part {
        Part::Vector => (check >> 32) as u32,
        Part::Record => check as u32,
    });
    if expected == Some(crc(id, bytes)) {
        return Ok(());
    }
    Err(Error::Corrupted {
        what: format!(
            "collection '{collection}': item {id}'s {} {}",
            part.name(),
            if stored.is_some() {
                "does not match its checksum"
            } else {
                "has no checksum"
            }
        ),
        offset: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_covers_the_id_and_both_halves() {
        let check = row_check(7, b"vector", b"record");
        assert_ne!(check, row_check(8, b"vector", b"record"));
        assert_eq!(check >> 32, row_check(7, b"vector", b"other") >> 32);
        assert_ne!(check as u32, row_check(7, b"vector", b"other") as u32);
        assert_ne!(check >> 32, row_check(7, b"vectoR", b"record") >> 32);
    }
}
