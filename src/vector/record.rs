//! Record types: what a collection stores beside each vector, and how it is encoded.
//!
//! A collection's record type implements [`Record`]. Two families do:
//! - **Self-describing records**, [`Doc<T>`]: any type with serde's `Serialize` and
//!   `Deserialize` (a plain `#[derive]`d struct), stored as MessagePack with field names
//!   (`rmp-serde`). Because the bytes name their fields, quiver reads fields without the Rust
//!   type: field indexes and filter expressions work on them, [`Dynamic`] (a JSON-like document)
//!   reads the same rows, and so will the bindings. Every `Doc<T>` has the type name
//!   [`DOC_TYPE_NAME`], so a collection written with one struct can be opened with another (a
//!   newer version of it, or [`Dynamic`]): rows then decode as far as the types agree, and an
//!   optional field added later reads as absent (`Option`) or its `#[serde(default)]`.
//! - **redb values**: any [`redb::Value`] (integers, `&str`, tuples, fixed arrays, ...), stored
//!   in redb's own encoding and read zero-copy. Fixed-width ones of up to 64 bytes are kept in
//!   the approximate index for in-memory predicates. They have no field names, so they cannot be
//!   indexed or filtered by expressions; a predicate closure still works.
//!
//! Decoding is fallible for `Doc<T>` (a row written by an incompatible version of `T`), so
//! every read that decodes returns a [`Result`]; a redb value always decodes (rows are checked
//! against their checksums before anything decodes them).

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;

/// The stored type name of every [`Doc<T>`] collection (whatever `T` is).
///
/// ```
/// use quiver::vector::{CollectionConfig, Dynamic, Metric, Store, DOC_TYPE_NAME, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
/// assert_eq!(store.collection_info("c")?.record_type, DOC_TYPE_NAME);
/// # Ok::<(), quiver::Error>(())
/// ```
pub const DOC_TYPE_NAME: &str = "quiver.msgpack";

/// A collection's record type: how a record is encoded into its row and decoded from it.
///
/// Implemented for every [`redb::Value`] and for [`Doc<T>`]; applications do not implement it.
///
/// ```
/// use quiver::vector::{Doc, Record};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Chunk { text: String, page: u32 }
///
/// let mut bytes = Vec::new();
/// let chunk = Chunk { text: "hello".into(), page: 3 };
/// Doc::<Chunk>::encode(&chunk, &mut bytes)?;
/// assert_eq!(Doc::<Chunk>::decode(&bytes)?, chunk);
/// assert!(Doc::<Chunk>::SELF_DESCRIBING && !<u64 as Record>::SELF_DESCRIBING);
/// # Ok::<(), quiver::Error>(())
/// ```
pub trait Record: 'static {
    /// The record as the application holds it (what writes take a reference to, and what reads
    /// decode); for a redb value its `SelfType` (borrowing the row for `&str` and `&[u8]`).
    type Value<'a>;

    /// Whether the encoding names its fields, so that quiver can read them without the Rust
    /// type (field indexes and filter expressions need it).
    const SELF_DESCRIBING: bool;

    /// Appends the encoding of `value` to `out`.
    ///
    /// ```
    /// use quiver::vector::Record;
    /// let mut out = Vec::new();
    /// <u32 as Record>::encode(&7, &mut out)?;
    /// assert_eq!(out, 7u32.to_le_bytes());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    fn encode(value: &Self::Value<'_>, out: &mut Vec<u8>) -> Result<()>;

    /// Decodes a stored row. [`Error::InvalidRecord`] if the bytes are not a value of this type.
    ///
    /// ```
    /// use quiver::vector::Record;
    /// assert_eq!(<&str as Record>::decode(b"hi")?, "hi");
    /// # Ok::<(), quiver::Error>(())
    /// ```
    fn decode(bytes: &[u8]) -> Result<Self::Value<'_>>;

    /// The type's stored name, checked when a collection is opened.
    ///
    /// ```
    /// use quiver::vector::{Dynamic, Record};
    /// assert_eq!(<u64 as Record>::type_name(), "u64");
    /// assert_eq!(Dynamic::type_name(), quiver::vector::DOC_TYPE_NAME);
    /// ```
    fn type_name() -> String;

    /// The encoding's width, if every value has the same one.
    ///
    /// ```
    /// use quiver::vector::{Dynamic, Record};
    /// assert_eq!(<u64 as Record>::fixed_width(), Some(8));
    /// assert_eq!(Dynamic::fixed_width(), None);
    /// ```
    fn fixed_width() -> Option<usize>;
}

impl<M: redb::Value + 'static> Record for M {
    type Value<'a> = M::SelfType<'a>;
    const SELF_DESCRIBING: bool = false;

    fn encode(value: &Self::Value<'_>, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(M::as_bytes(value).as_ref());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self::Value<'_>> {
        // Rows are checked against their checksums before they are decoded, so these are bytes
        // redb's own encoder wrote for this type.
        Ok(M::from_bytes(bytes))
    }

    fn type_name() -> String {
        M::type_name().name().to_owned()
    }

    fn fixed_width() -> Option<usize> {
        M::fixed_width()
    }
}

/// A record of a serde type `T`, stored as self-describing MessagePack (field names included).
/// Use it as a collection's record type: `Collection<F32<384>, Doc<Chunk>>`. Writes take `&T`
/// and reads give `T`.
///
/// ```
/// use quiver::vector::{CollectionConfig, Doc, Metric, Store, F32};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Chunk { doc: String, text: String }
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("rag.qvr"))?;
/// let chunks = store.create_collection::<F32<2>, Doc<Chunk>>("chunks", CollectionConfig::new(Metric::Cosine))?;
/// chunks.upsert(1, &[1.0, 0.0], &Chunk { doc: "a".into(), text: "first".into() })?;
/// assert_eq!(chunks.get_record(1)?.unwrap().value()?.text, "first");
/// # Ok::<(), quiver::Error>(())
/// ```
pub struct Doc<T>(PhantomData<fn() -> T>);

impl<T> fmt::Debug for Doc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Doc")
    }
}

/// A schemaless record: a JSON-like document (`serde_json::Value`), stored in the same encoding
/// as every [`Doc<T>`], so it reads any struct collection's rows and they read its.
///
/// ```
/// use quiver::vector::{CollectionConfig, Dynamic, Metric, Store, F32};
/// use serde_json::json;
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("any.qvr"))?;
/// let c = store.create_collection::<F32<1>, Dynamic>("c", CollectionConfig::new(Metric::Dot))?;
/// c.upsert(1, &[1.0], &json!({"tag": "news", "ts": 17}))?;
/// assert_eq!(c.get_record(1)?.unwrap().value()?["ts"], 17);
/// # Ok::<(), quiver::Error>(())
/// ```
pub type Dynamic = Doc<serde_json::Value>;

impl<T: Serialize + DeserializeOwned + 'static> Record for Doc<T> {
    type Value<'a> = T;
    const SELF_DESCRIBING: bool = true;

    fn encode(value: &T, out: &mut Vec<u8>) -> Result<()> {
        rmp_serde::encode::write_named(out, value)
            .map_err(|err| Error::InvalidRecord(format!("it cannot be encoded: {err}")))
    }

    fn decode(bytes: &[u8]) -> Result<T> {
        rmp_serde::from_slice(bytes).map_err(|err| {
            Error::InvalidRecord(format!(
                "a stored record does not decode as {}: {err}",
                std::any::type_name::<T>()
            ))
        })
    }

    fn type_name() -> String {
        DOC_TYPE_NAME.to_owned()
    }

    fn fixed_width() -> Option<usize> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        tag: String,
        ts: i64,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V2 {
        tag: String,
        ts: i64,
        lang: Option<String>,
        #[serde(default)]
        stars: u32,
    }

    #[test]
    fn a_struct_reads_rows_of_its_older_version_and_dynamic_reads_both() {
        let mut bytes = Vec::new();
        Doc::<V1>::encode(
            &V1 {
                tag: "a".into(),
                ts: -4,
            },
            &mut bytes,
        )
        .unwrap();
        let newer = Doc::<V2>::decode(&bytes).unwrap();
        assert_eq!(
            newer,
            V2 {
                tag: "a".into(),
                ts: -4,
                lang: None,
                stars: 0
            }
        );
        let dynamic = Dynamic::decode(&bytes).unwrap();
        assert_eq!(dynamic, serde_json::json!({"tag": "a", "ts": -4}));
    }

    #[test]
    fn an_incompatible_row_is_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        Dynamic::encode(&serde_json::json!({"tag": 5}), &mut bytes).unwrap();
        assert!(matches!(
            Doc::<V1>::decode(&bytes),
            Err(Error::InvalidRecord(_))
        ));
        assert!(matches!(
            Doc::<V1>::decode(&[0xc1, 0xff]),
            Err(Error::InvalidRecord(_))
        ));
    }
}
