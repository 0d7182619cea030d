//! Field values in their indexed form ([`Term`]), read from a record's MessagePack bytes.
//!
//! Ordered kinds (integers, timestamps, floats) become a `u64` whose unsigned order is the
//! values' order: integers with the sign bit flipped, floats by the usual IEEE trick (negative
//! values bit-inverted, others with the sign bit set; `-0.0` is read as `0.0`). Keywords are
//! their UTF-8 bytes and booleans one byte. The same form is the persistent table's key
//! ([`super::table`]) and the in-memory postings' key ([`super::index`]).

use crate::error::{Error, Result};
use crate::vector::fields::kind::{Field, FieldKind};
use rmpv::ValueRef;

/// One value of one field, in indexed form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Term {
    /// Keywords, keyword-list entries and booleans.
    Bytes(Box<[u8]>),
    /// Integers, timestamps and floats, order-preserving.
    Ordered(u64),
}

/// The ordered form of an integer.
pub(crate) fn int_term(value: i64) -> u64 {
    (value as u64) ^ (1 << 63)
}

/// The ordered form of a float (not NaN).
pub(crate) fn float_term(value: f64) -> u64 {
    let bits = if value == 0.0 { 0 } else { value.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// A boolean's term.
pub(crate) fn bool_term(value: bool) -> Term {
    Term::Bytes(Box::new([u8::from(value)]))
}

/// The indexed values of a record: `(field number, term)` pairs, sorted, without duplicates.
pub(crate) type Terms = Vec<(u16, Term)>;

/// Reads the declared fields of a record (MessagePack with field names). A field that is absent
/// or `nil` has no terms; one whose value does not fit its kind is [`Error::InvalidRecord`]
/// naming the field, so nothing is written.
pub(crate) fn extract(fields: &[Field], record: &[u8]) -> Result<Terms> {
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = record;
    let value = rmpv::decode::read_value_ref(&mut reader).map_err(|err| {
        Error::InvalidRecord(format!("the record is not valid MessagePack: {err}"))
    })?;
    let ValueRef::Map(entries) = value else {
        return Err(Error::InvalidRecord(
            "a record with indexed fields must be a map of named fields (a struct or an object)"
                .into(),
        ));
    };
    let mut terms = Vec::new();
    for (key, value) in &entries {
        let Some(name) = key_name(key) else { continue };
        let Some(number) = fields.iter().position(|f| f.name() == name) else {
            continue;
        };
        let field = &fields[number];
        // Fields are at most MAX_FIELDS (64), so the number fits u16.
        let number = number as u16;
        read_terms(field, value, &mut |term| terms.push((number, term)))?;
    }
    terms.sort_unstable();
    terms.dedup();
    Ok(terms)
}

fn key_name<'a>(key: &'a ValueRef<'_>) -> Option<&'a str> {
    match key {
        ValueRef::String(s) => s.as_str(),
        _ => None,
    }
}

fn mismatch(field: &Field, found: &ValueRef<'_>) -> Error {
    Error::InvalidRecord(format!(
        "field '{}' is declared as {} but the record holds {}",
        field.name(),
        field.kind().name(),
        describe(found)
    ))
}

/// A short description of a MessagePack value for messages.
fn describe(value: &ValueRef<'_>) -> String {
    match value {
        ValueRef::Nil => "null".into(),
        ValueRef::Boolean(b) => format!("the bool {b}"),
        ValueRef::Integer(i) => format!("the integer {i}"),
        ValueRef::F32(f) => format!("the float {f}"),
        ValueRef::F64(f) => format!("the float {f}"),
        ValueRef::String(_) => "a string".into(),
        ValueRef::Binary(_) => "bytes".into(),
        ValueRef::Array(_) => "a list".into(),
        ValueRef::Map(_) => "a map".into(),
        ValueRef::Ext(..) => "an extension value".into(),
    }
}

fn read_terms(field: &Field, value: &ValueRef<'_>, push: &mut impl FnMut(Term)) -> Result<()> {
    if let ValueRef::Nil = value {
        return Ok(());
    }
    let term = match (field.kind(), value) {
        (FieldKind::Keyword, ValueRef::String(s)) => string_term(field, s.as_bytes())?,
        (FieldKind::Keywords, ValueRef::String(s)) => string_term(field, s.as_bytes())?,
        (FieldKind::Keywords, ValueRef::Array(items)) => {
            for item in items {
                match item {
                    ValueRef::String(s) => push(string_term(field, s.as_bytes())?),
                    other => return Err(mismatch(field, other)),
                }
            }
            return Ok(());
        }
        (FieldKind::Int | FieldKind::Timestamp, ValueRef::Integer(i)) => match i.as_i64() {
            Some(i) => Term::Ordered(int_term(i)),
            None => {
                return Err(Error::InvalidRecord(format!(
                    "field '{}' holds {i}, above the largest {} (2^63 - 1)",
                    field.name(),
                    field.kind().name()
                )));
            }
        },
        (FieldKind::Float, ValueRef::Integer(i)) => match i.as_f64() {
            Some(f) => Term::Ordered(float_term(f)),
            None => return Err(mismatch(field, value)),
        },
        (FieldKind::Float, ValueRef::F32(f)) => float(field, f64::from(*f))?,
        (FieldKind::Float, ValueRef::F64(f)) => float(field, *f)?,
        (FieldKind::Bool, ValueRef::Boolean(b)) => bool_term(*b),
        (_, other) => return Err(mismatch(field, other)),
    };
    push(term);
    Ok(())
}

fn string_term(field: &Field, bytes: &[u8]) -> Result<Term> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(Error::InvalidRecord(format!(
            "field '{}' holds a string that is not UTF-8",
            field.name()
        )));
    }
    Ok(Term::Bytes(bytes.into()))
}

fn float(field: &Field, value: f64) -> Result<Term> {
    if value.is_nan() {
        return Err(Error::InvalidRecord(format!(
            "field '{}' holds NaN, which has no order",
            field.name()
        )));
    }
    Ok(Term::Ordered(float_term(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::record::{Dynamic, Record};
    use serde_json::json;

    fn encode(value: serde_json::Value) -> Vec<u8> {
        let mut out = Vec::new();
        Dynamic::encode(&value, &mut out).unwrap();
        out
    }

    #[test]
    fn ordered_terms_keep_the_values_order() {
        let ints = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        assert!(ints.windows(2).all(|w| int_term(w[0]) < int_term(w[1])));
        let floats = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
        ];
        assert!(
            floats
                .windows(2)
                .all(|w| float_term(w[0]) <= float_term(w[1]))
        );
        assert_eq!(float_term(-0.0), float_term(0.0));
    }

    #[test]
    fn fields_are_read_by_kind_and_mismatches_name_the_field() {
        let fields = [
            Field::new("tag", FieldKind::Keyword),
            Field::new("tags", FieldKind::Keywords),
            Field::new("ts", FieldKind::Timestamp),
            Field::new("price", FieldKind::Float),
            Field::new("ok", FieldKind::Bool),
        ];
        let terms = extract(
            &fields,
            &encode(json!({"tag": "a", "tags": ["x", "y", "x"], "ts": -3, "price": 2, "ok": true, "other": 1})),
        )
        .unwrap();
        assert_eq!(terms.len(), 6);
        assert!(terms.contains(&(3, Term::Ordered(float_term(2.0)))));
        assert!(
            extract(&fields, &encode(json!({"tag": null})))
                .unwrap()
                .is_empty()
        );
        let err = extract(&fields, &encode(json!({"ts": "yesterday"}))).unwrap_err();
        assert!(err.to_string().contains("'ts'"), "{err}");
        assert!(extract(&fields, &encode(json!([1, 2]))).is_err());
        assert!(extract(&fields, &[0xc1]).is_err());
    }
}
