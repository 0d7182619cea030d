//! Indexed fields: what a collection declares about its records so that filters can be
//! answered without reading them.
//!
//! A collection whose records are self-describing ([`Doc<T>`](crate::vector::Doc) or
//! [`Dynamic`](crate::vector::Dynamic)) declares fields by name and [`FieldKind`] when it is
//! created ([`CollectionConfig::field`](crate::vector::CollectionConfig::field)).
//! - `kind.rs`: the declarations.
//! - `term.rs`: reading a field's values from a record's bytes into indexed form; a value
//!   that does not fit its declared kind refuses the write.
//! - `table.rs`: the persistent postings, `quiver.fields`, written in the same transaction as
//!   the rows.
//! - `index.rs`: the in-memory indexes (roaring bitmaps per value, ordered pairs for ranges),
//!   loaded from the table on first use and kept current by commits; they turn a filter
//!   [`Expr`](crate::vector::Expr) into the set of allowed ids.
//! - `resolved.rs`: that set as searches take it (allowed or denied ids), with the answers of
//!   recent expressions kept per generation of the indexes.

pub(crate) mod index;
pub(crate) mod kind;
#[cfg(feature = "testing")]
pub(crate) mod mutation;
pub(crate) mod resolved;
pub(crate) mod table;
pub(crate) mod term;

pub use index::FieldIndexStats;
pub use kind::{Field, FieldKind};
