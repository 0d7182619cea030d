//! The vector layer: typed collections of embeddings in column families, exact search, and a
//! global index across entity types.
//!
//! - [`Store`] opens a file and holds [`Collection`]s, one column family each (one entity type:
//!   products, users, ...). A collection's vector type ([`F32<D>`](F32) or [`F16<D>`](F16))
//!   fixes its dimension and element type; its record type is any redb [`Value`](redb::Value).
//!   The configuration is stored in the collection and checked on every open.
//! - Writes ([`WriteBatch`]) are one redb transaction over all of a collection's tables; writers
//!   on different collections run in parallel.
//! - Exact search scans an in-memory mirror of each collection ([`mirror`](self) docs in
//!   `mirror.rs`) with the SIMD kernels of [`distance`], in parallel with rayon, with optional
//!   [`Filter`]s; [`Store::fetch`] does the second lookup for the final hits' records.
//! - [`global`] keeps `_global_index`, its consistency model is documented there.
//!
//! ```
//! use quiver::vector::{CollectionConfig, Filter, Metric, Store, F32};
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("shop.qvr"))?;
//! let products = store.create_collection::<F32<3>, (&str, u32)>(
//!     "products",
//!     CollectionConfig::new(Metric::Cosine),
//! )?;
//! let mut batch = products.batch();
//! batch.upsert(1, &[1.0, 0.0, 0.0], &("lamp", 40))?;
//! batch.upsert(2, &[0.9, 0.1, 0.0], &("desk lamp", 120))?;
//! batch.upsert(3, &[0.0, 1.0, 0.0], &("chair", 80))?;
//! products.commit(batch, quiver::Durability::Immediate)?;
//!
//! let cheap = Filter::predicate(|(_, price): (&str, u32)| price < 100);
//! let hits = products.search_filtered(&[1.0, 0.05, 0.0], 2, &cheap)?;
//! let records = store.fetch(&hits)?;
//! assert_eq!(records[0].record::<(&str, u32)>()?, Some(("lamp", 40)));
//! assert_eq!(records[1].record::<(&str, u32)>()?, Some(("chair", 80)));
//! # Ok::<(), quiver::Error>(())
//! ```

pub mod ann;
mod batch;
mod checks;
mod collection;
mod config;
pub mod distance;
mod element;
mod fetch;
pub(crate) mod fields;
mod filter;
pub mod global;
mod metric;
mod mirror;
mod plan;
pub mod quantize;
mod query;
mod record;
mod record_guard;
mod record_ops;
mod scan;
mod shared;
mod store;
mod store_query;
mod tables;
mod topk;
mod verify;
mod write;

pub use ann::{AnnConfig, IndexStats, MAX_EF};
pub use batch::WriteBatch;
pub use collection::{Collection, Item};
pub use config::{CollectionConfig, CollectionInfo};
pub use element::{Element, F16, F32, StoredVector, VectorType};
pub use fetch::Fetched;
pub use fields::{Field, FieldIndexStats, FieldKind};
pub use filter::{Expr, FieldRef, Filter, Literal, field, ids};
pub use global::feed::{GlobalLag, GlobalLagBound};
pub use metric::{MAX_NORM, Metric, check_vector};
pub use mirror::MirrorStats;
pub use plan::{QueryPlan, Route};
pub use query::{DEFAULT_K, Found, Query};
pub use record::{DOC_TYPE_NAME, Doc, Dynamic, Record};
pub use record_guard::RecordGuard;
pub use record_ops::{ScanItem, ScanPage};
pub use store::{STORE_CACHE_SIZE, Store, StoreBuilder};
pub use store_query::StoreQuery;
pub use topk::Hit;
pub use verify::VerifyReport;
