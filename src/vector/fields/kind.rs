//! What a collection declares about a field: its name and kind.

use crate::error::{Error, Result};

/// How an indexed field's values are read and compared.
///
/// ```
/// use quiver::vector::FieldKind;
/// assert_eq!(FieldKind::Keyword.name(), "keyword");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A string compared for equality (`eq`, `ne`, `in`, `not in`).
    Keyword,
    /// A list of strings (tags): `contains any`, and `eq`/`in` meaning "contains". A single
    /// string counts as a list of one.
    Keywords,
    /// A signed 64-bit integer: equality and ranges.
    Int,
    /// A 64-bit float (integers are read as floats): equality and ranges. NaN is refused.
    Float,
    /// `true` or `false`.
    Bool,
    /// An instant as a signed 64-bit integer in the application's unit (seconds or
    /// milliseconds since the epoch, say): equality and ranges.
    Timestamp,
}

impl FieldKind {
    /// The kind's name in messages and in the JSON filter form's errors.
    ///
    /// ```
    /// assert_eq!(quiver::vector::FieldKind::Keywords.name(), "keyword list");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Keyword => "keyword",
            FieldKind::Keywords => "keyword list",
            FieldKind::Int => "integer",
            FieldKind::Float => "float",
            FieldKind::Bool => "bool",
            FieldKind::Timestamp => "timestamp",
        }
    }

    /// Whether values of this kind are ordered (ranges apply).
    pub(crate) fn is_ordered(self) -> bool {
        matches!(
            self,
            FieldKind::Int | FieldKind::Float | FieldKind::Timestamp
        )
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            FieldKind::Keyword => 1,
            FieldKind::Keywords => 2,
            FieldKind::Int => 3,
            FieldKind::Float => 4,
            FieldKind::Bool => 5,
            FieldKind::Timestamp => 6,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<FieldKind> {
        Some(match code {
            1 => FieldKind::Keyword,
            2 => FieldKind::Keywords,
            3 => FieldKind::Int,
            4 => FieldKind::Float,
            5 => FieldKind::Bool,
            6 => FieldKind::Timestamp,
            _ => return None,
        })
    }
}

/// An indexed field: a top-level field of a [`Doc`](crate::vector::Doc) record, by name.
///
/// ```
/// use quiver::vector::{Field, FieldKind};
/// let tag = Field::new("tag", FieldKind::Keyword);
/// assert_eq!((tag.name(), tag.kind()), ("tag", FieldKind::Keyword));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    name: String,
    kind: FieldKind,
}

/// Longest field name, in bytes.
pub(crate) const MAX_FIELD_NAME: usize = 255;

/// Most indexed fields per collection.
pub(crate) const MAX_FIELDS: usize = 64;

impl Field {
    /// A field named `name` (a top-level key of the record) of kind `kind`.
    ///
    /// ```
    /// let ts = quiver::vector::Field::new("ts", quiver::vector::FieldKind::Timestamp);
    /// assert_eq!(ts.name(), "ts");
    /// ```
    pub fn new(name: impl Into<String>, kind: FieldKind) -> Field {
        Field {
            name: name.into(),
            kind,
        }
    }

    /// The field's name.
    ///
    /// ```
    /// assert_eq!(quiver::vector::Field::new("a", quiver::vector::FieldKind::Int).name(), "a");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's kind.
    ///
    /// ```
    /// use quiver::vector::{Field, FieldKind};
    /// assert_eq!(Field::new("a", FieldKind::Bool).kind(), FieldKind::Bool);
    /// ```
    pub fn kind(&self) -> FieldKind {
        self.kind
    }

    /// Checks a list of declared fields: names 1 to 255 bytes, no duplicates, at most 64.
    pub(crate) fn check_all(fields: &[Field]) -> Result<()> {
        if fields.len() > MAX_FIELDS {
            return Err(Error::InvalidConfig(format!(
                "{} indexed fields declared; at most {MAX_FIELDS} are supported",
                fields.len()
            )));
        }
        for (at, field) in fields.iter().enumerate() {
            if field.name.is_empty() || field.name.len() > MAX_FIELD_NAME {
                return Err(Error::InvalidConfig(format!(
                    "field name {:?} must be 1 to {MAX_FIELD_NAME} bytes",
                    field.name
                )));
            }
            if fields[..at].iter().any(|f| f.name == field.name) {
                return Err(Error::InvalidConfig(format!(
                    "field '{}' is declared twice",
                    field.name
                )));
            }
        }
        Ok(())
    }
}
