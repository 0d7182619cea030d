//! The field indexes' table in the collection's column family, `quiver.fields`.
//!
//! One key per `(field, value, item)`: `field number u16 BE | term | item id u64 BE`, where the
//! term is a keyword's UTF-8 bytes, a bool's one byte, or an ordered value's 8 bytes (BE). The
//! value is empty. Commits write these keys in the same redb transaction as the rows they come
//! from (see [`crate::vector::write`]), so after any crash the table equals what the rows say;
//! opening the collection's field indexes reads it back ([`load`]) instead of decoding every
//! record.

use crate::error::{Error, Result};
use crate::vector::checks::CHECKS;
use crate::vector::fields::index::FieldIndexes;
use crate::vector::fields::kind::Field;
use crate::vector::fields::term::{Term, Terms};
use redb::{ReadTransaction, ReadableTable, Table, TableDefinition};

/// The postings table.
pub(crate) const FIELDS: TableDefinition<&[u8], ()> = TableDefinition::new("quiver.fields");

/// The key of one posting.
pub(crate) fn key(field: u16, term: &Term, id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 8 + 8);
    out.extend_from_slice(&field.to_be_bytes());
    match term {
        Term::Bytes(bytes) => out.extend_from_slice(bytes),
        Term::Ordered(value) => out.extend_from_slice(&value.to_be_bytes()),
    }
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Splits a key back into `(field, term, id)`; `None` if it cannot be one of `fields`'.
pub(crate) fn parse(fields: &[Field], key: &[u8]) -> Option<(u16, Term, u64)> {
    if key.len() < 10 {
        return None;
    }
    let field = u16::from_be_bytes([key[0], key[1]]);
    let kind = fields.get(usize::from(field))?.kind();
    let (term, id) = key[2..].split_at(key.len() - 10);
    let id = u64::from_be_bytes(id.try_into().ok()?);
    let term = match kind.is_ordered() {
        true => Term::Ordered(u64::from_be_bytes(term.try_into().ok()?)),
        false => Term::Bytes(term.into()),
    };
    Some((field, term, id))
}

/// Replaces item `id`'s postings `old` with `new` (keys in both stay untouched).
pub(crate) fn write(
    table: &mut Table<'_, &'static [u8], ()>,
    id: u64,
    old: &Terms,
    new: &Terms,
) -> Result<()> {
    for (field, term) in old {
        if !new.iter().any(|(f, t)| f == field && t == term) {
            table.remove(key(*field, term, id).as_slice())?;
        }
    }
    for (field, term) in new {
        if !old.iter().any(|(f, t)| f == field && t == term) {
            table.insert(key(*field, term, id).as_slice(), ())?;
        }
    }
    Ok(())
}

/// Reads a collection's field indexes from `read`: the postings from `quiver.fields`, the
/// live items from the checksum table (small rows) or, for a collection older than checksums,
/// the vector table. A key that names no declared field is corruption.
pub(crate) fn load(
    read: &ReadTransaction,
    name: &str,
    fields: &[Field],
    checked: bool,
    vector_ids: impl FnOnce(&mut dyn FnMut(u64)) -> Result<()>,
) -> Result<FieldIndexes> {
    let mut index = FieldIndexes::new(fields);
    if checked {
        match read.open_table(CHECKS) {
            Ok(table) => {
                for entry in table.range::<u64>(..)? {
                    index.insert_item(entry?.0.value());
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(err) => return Err(err.into()),
        }
    } else {
        vector_ids(&mut |id| index.insert_item(id))?;
    }
    if fields.is_empty() {
        return Ok(index);
    }
    let table = match read.open_table(FIELDS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(index),
        Err(err) => return Err(err.into()),
    };
    for entry in table.iter()? {
        let (key, _) = entry?;
        let key = key.value();
        let Some((field, term, id)) = parse(fields, key) else {
            return Err(Error::CorruptIndex {
                collection: name.to_owned(),
                what: format!(
                    "a field index key of {} bytes names no declared field",
                    key.len()
                ),
            });
        };
        index.insert_term(id, field, &term);
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::fields::kind::FieldKind;

    #[test]
    fn keys_round_trip() {
        let fields = [
            Field::new("tag", FieldKind::Keyword),
            Field::new("ts", FieldKind::Int),
        ];
        for (field, term) in [
            (0u16, Term::Bytes(b"news".as_slice().into())),
            (0, Term::Bytes(Box::new([]))),
            (1, Term::Ordered(17)),
        ] {
            let k = key(field, &term, 99);
            assert_eq!(parse(&fields, &k), Some((field, term, 99)));
        }
        assert_eq!(parse(&fields, &key(2, &Term::Ordered(1), 1)), None);
        assert_eq!(parse(&fields, &[0, 1, 2]), None);
    }
}
