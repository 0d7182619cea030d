//! A collection's configuration and its stored form.
//!
//! The configuration is written into the collection's column family when it is created
//! (table `quiver.config`, key `collection`) and compared with what the caller asks for every
//! time the collection is opened, so a program built for 384-d cosine f32 vectors cannot
//! silently read a collection of 768-d f16 ones.
//!
//! Stored form (little-endian), version 1, written for collections without indexed fields:
//! `b"qvcol" | version u8 = 1 | element u8 | metric u8 | indexed u8 | dim u32 | code u64 |
//! record type name (UTF-8, to the end)`.
//!
//! Version 2, written for collections with indexed fields: the same fixed part with version 2,
//! then `record type name length u16 | record type name | field count u8 | per field: kind u8 |
//! name length u8 | name (UTF-8)`.

use crate::error::{Error, Result};
use crate::vector::ann::AnnConfig;
use crate::vector::element::Element;
use crate::vector::fields::{Field, FieldKind};
use crate::vector::filter::ID_KEY;
use crate::vector::metric::Metric;
use crate::vector::record::Record;

const MAGIC: &[u8; 5] = b"qvcol";
const VERSION: u8 = 1;
const VERSION_WITH_FIELDS: u8 = 2;
const FIXED_LEN: usize = 5 + 1 + 1 + 1 + 1 + 4 + 8;

/// What a caller chooses when creating a collection (the vector type, and with it the dimension
/// and element type, comes from the collection's type parameter).
///
/// ```
/// use quiver::vector::{CollectionConfig, Metric};
/// let config = CollectionConfig::new(Metric::Cosine).global(false);
/// assert_eq!(config.metric, Metric::Cosine);
/// assert!(!config.indexed_globally);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionConfig {
    /// The metric searches use.
    pub metric: Metric,
    /// Whether the store's `_global_index` covers this collection (default `true`; it applies
    /// only when the store has a global index with the same vector type and metric).
    pub indexed_globally: bool,
    /// The approximate index to keep, if any (set with [`approximate`](Self::approximate)).
    /// It is created with the collection and stored in it; opening the collection later loads
    /// it whatever this field says.
    pub ann: Option<AnnConfig>,
    /// The record fields to index (set with [`field`](Self::field)); records must be
    /// self-describing ([`Doc<T>`](crate::vector::Doc) or [`Dynamic`](crate::vector::Dynamic)).
    pub fields: Vec<Field>,
    /// Whether the collection's rows carry checksums (see [`Store::verify`]); always `true`
    /// but in benchmarks that measure what the checksums cost.
    ///
    /// [`Store::verify`]: crate::vector::Store::verify
    pub(crate) row_checks: bool,
}

impl CollectionConfig {
    /// A configuration with the given metric, indexed globally.
    ///
    /// ```
    /// let c = quiver::vector::CollectionConfig::new(quiver::vector::Metric::L2);
    /// assert!(c.indexed_globally);
    /// ```
    pub fn new(metric: Metric) -> CollectionConfig {
        CollectionConfig {
            metric,
            indexed_globally: true,
            ann: None,
            fields: Vec::new(),
            row_checks: true,
        }
    }

    /// Indexes the record field `name` as `kind`, so that filter expressions can use it (see
    /// [`Expr`](crate::vector::Expr)). A write whose record holds a value of another kind in
    /// this field is refused; a record without it is fine.
    ///
    /// ```
    /// use quiver::vector::{CollectionConfig, FieldKind, Metric};
    /// let c = CollectionConfig::new(Metric::Cosine)
    ///     .field("tag", FieldKind::Keyword)
    ///     .field("ts", FieldKind::Timestamp);
    /// assert_eq!(c.fields.len(), 2);
    /// ```
    pub fn field(mut self, name: impl Into<String>, kind: FieldKind) -> CollectionConfig {
        self.fields.push(Field::new(name, kind));
        self
    }

    /// Checks the parts of the configuration that do not depend on the store, for a collection
    /// of records `M`.
    pub(crate) fn validate<M: Record>(&self) -> Result<()> {
        if let Some(ann) = &self.ann {
            ann.validate()?;
        }
        validate_fields::<M>(&self.fields)
    }

    /// Sets whether the global index covers this collection.
    ///
    /// ```
    /// let c = quiver::vector::CollectionConfig::new(quiver::vector::Metric::Dot).global(false);
    /// assert!(!c.indexed_globally);
    /// ```
    pub fn global(mut self, indexed: bool) -> CollectionConfig {
        self.indexed_globally = indexed;
        self
    }

    /// Keeps an approximate (HNSW) index with these parameters: searches then walk the graph
    /// instead of scanning every vector (see [`AnnConfig`] for tuning).
    ///
    /// ```
    /// use quiver::vector::{AnnConfig, CollectionConfig, Metric};
    /// let c = CollectionConfig::new(Metric::Cosine).approximate(AnnConfig::default());
    /// assert_eq!(c.ann, Some(AnnConfig::default()));
    /// ```
    pub fn approximate(mut self, ann: AnnConfig) -> CollectionConfig {
        self.ann = Some(ann);
        self
    }

    /// A collection whose rows carry no checksums, as collections written before quiver had
    /// them: for benchmarks that measure the checksums' cost. Tests only.
    ///
    /// ```
    /// let c = quiver::vector::CollectionConfig::new(quiver::vector::Metric::L2).without_row_checks();
    /// # let _ = c;
    /// ```
    #[cfg(feature = "testing")]
    pub fn without_row_checks(mut self) -> CollectionConfig {
        self.row_checks = false;
        self
    }
}

/// Checks a collection's indexed fields for records `M`: named fields needed, `id` reserved,
/// names 1 to 255 bytes, no duplicates, at most 64.
pub(crate) fn validate_fields<M: Record>(fields: &[Field]) -> Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    if !M::SELF_DESCRIBING {
        return Err(Error::InvalidConfig(format!(
            "indexed fields need records whose fields have names: use Doc<YourStruct> or Dynamic as the record type, not {}",
            M::type_name()
        )));
    }
    if let Some(field) = fields.iter().find(|f| f.name() == ID_KEY) {
        return Err(Error::InvalidConfig(format!(
            "a field cannot be named '{}': filters use that name for item ids",
            field.name()
        )));
    }
    Field::check_all(fields)
}

/// What a collection was created with, readable without knowing its types (see
/// [`Store::collection_info`](crate::vector::Store::collection_info)).
///
/// ```
/// use quiver::vector::{CollectionConfig, Element, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("a.qvr"))?;
/// store.create_collection::<F32<3>, &str>("docs", CollectionConfig::new(Metric::Cosine))?;
/// let info = store.collection_info("docs")?;
/// assert_eq!((info.element, info.dim, info.metric), (Element::F32, 3, Metric::Cosine));
/// assert_eq!(info.record_type, "&str");
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    /// Component type of its vectors.
    pub element: Element,
    /// Number of components.
    pub dim: usize,
    /// The metric its searches use.
    pub metric: Metric,
    /// redb's name of its record type (what `Value::type_name` gives).
    pub record_type: String,
}

/// The configuration as stored in the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredConfig {
    pub element: Element,
    pub dim: usize,
    pub metric: Metric,
    /// Whether writes record changes for the global index.
    pub indexed: bool,
    /// Unique per created collection: a collection deleted and created again under the same
    /// name gets a new code, so the global index never mixes the two.
    pub code: u64,
    pub record_type: String,
    /// The indexed fields, in declaration order (a field's number is its position).
    pub fields: Vec<Field>,
}

impl StoredConfig {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.record_type.len());
        out.extend_from_slice(MAGIC);
        out.push(match self.fields.is_empty() {
            true => VERSION,
            false => VERSION_WITH_FIELDS,
        });
        out.push(self.element.code());
        out.push(self.metric.code());
        out.push(u8::from(self.indexed));
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        if self.fields.is_empty() {
            out.extend_from_slice(self.record_type.as_bytes());
            return out;
        }
        // Record type names are short (redb's) or DOC_TYPE_NAME; field names are checked to be
        // at most 255 bytes and fields at most 64 when the collection is created.
        out.extend_from_slice(&(self.record_type.len() as u16).to_le_bytes());
        out.extend_from_slice(self.record_type.as_bytes());
        out.push(self.fields.len() as u8);
        for field in &self.fields {
            out.push(field.kind().code());
            out.push(field.name().len() as u8);
            out.extend_from_slice(field.name().as_bytes());
        }
        out
    }

    pub fn decode(name: &str, bytes: &[u8]) -> Result<StoredConfig> {
        let corrupt = |what: &str| Error::NotACollection {
            name: name.to_owned(),
            reason: what.to_owned(),
        };
        if bytes.len() < FIXED_LEN || &bytes[..5] != MAGIC {
            return Err(corrupt("its configuration record is missing or damaged"));
        }
        if bytes[5] != VERSION && bytes[5] != VERSION_WITH_FIELDS {
            return Err(corrupt("its configuration was written by a newer quiver"));
        }
        let element =
            Element::from_code(bytes[6]).ok_or_else(|| corrupt("unknown element type"))?;
        let metric = Metric::from_code(bytes[7]).ok_or_else(|| corrupt("unknown metric"))?;
        let indexed = bytes[8] != 0;
        let dim = u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]) as usize;
        let mut code = [0u8; 8];
        code.copy_from_slice(&bytes[13..21]);
        let utf8 = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| corrupt("a name in it is not UTF-8"))
        };
        let (record_type, fields) = if bytes[5] == VERSION {
            (utf8(&bytes[FIXED_LEN..])?, Vec::new())
        } else {
            let mut rest = &bytes[FIXED_LEN..];
            let mut take = |n: usize| -> Result<&[u8]> {
                if rest.len() < n {
                    return Err(corrupt("its configuration record is cut short"));
                }
                let (head, tail) = rest.split_at(n);
                rest = tail;
                Ok(head)
            };
            let len = take(2)?;
            let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
            let record_type = utf8(take(len)?)?;
            let count = take(1)?[0];
            let mut fields = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                let head = take(2)?;
                let kind =
                    FieldKind::from_code(head[0]).ok_or_else(|| corrupt("unknown field kind"))?;
                let name = utf8(take(usize::from(head[1]))?)?;
                fields.push(Field::new(name, kind));
            }
            if !rest.is_empty() {
                return Err(corrupt("its configuration record has trailing bytes"));
            }
            (record_type, fields)
        };
        Ok(StoredConfig {
            element,
            dim,
            metric,
            indexed,
            code: u64::from_le_bytes(code),
            record_type,
            fields,
        })
    }

    /// Human-readable summary used in mismatch errors.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}-d {} {}, records {}",
            self.dim,
            self.element.name(),
            self.metric.name(),
            self.record_type
        );
        if !self.fields.is_empty() {
            let fields: Vec<String> = self
                .fields
                .iter()
                .map(|f| format!("{} {}", f.name(), f.kind().name()))
                .collect();
            out.push_str(&format!(", indexed fields [{}]", fields.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_rejects_damage() {
        let config = StoredConfig {
            element: Element::F16,
            dim: 384,
            metric: Metric::L2,
            indexed: true,
            code: 0xDEAD_BEEF_1234,
            record_type: "my::Record".into(),
            fields: Vec::new(),
        };
        let bytes = config.encode();
        assert_eq!(StoredConfig::decode("c", &bytes).unwrap(), config);
        for cut in 0..FIXED_LEN {
            assert!(StoredConfig::decode("c", &bytes[..cut]).is_err());
        }
        let mut bad = bytes.clone();
        bad[6] = 9;
        assert!(StoredConfig::decode("c", &bad).is_err());
        let mut newer = bytes;
        newer[5] = 3;
        assert!(StoredConfig::decode("c", &newer).is_err());
    }

    #[test]
    fn fields_round_trip_in_version_2() {
        let config = StoredConfig {
            element: Element::F32,
            dim: 3,
            metric: Metric::Cosine,
            indexed: false,
            code: 7,
            record_type: crate::vector::DOC_TYPE_NAME.into(),
            fields: vec![
                Field::new("tag", FieldKind::Keyword),
                Field::new("ts", FieldKind::Timestamp),
            ],
        };
        let bytes = config.encode();
        assert_eq!(bytes[5], VERSION_WITH_FIELDS);
        assert_eq!(StoredConfig::decode("c", &bytes).unwrap(), config);
        for cut in FIXED_LEN..bytes.len() {
            assert!(StoredConfig::decode("c", &bytes[..cut]).is_err(), "{cut}");
        }
        let mut longer = bytes;
        longer.push(0);
        assert!(StoredConfig::decode("c", &longer).is_err());
    }
}
