//! A collection's approximate (HNSW) index: persistent, transactional and crash-safe.
//!
//! **On disk**, in the collection's column family, written in the same redb transaction as the
//! vectors it indexes:
//! - `quiver.ann_meta`: the parameters, node and dead counts and the entry point
//!   (`AnnMeta`, its format in `config.rs`);
//! - `quiver.ann_nodes`: `u32 node -> record` with the item id, a dead flag and the neighbour
//!   lists of every level (`node.rs`);
//! - `quiver.ann_dead`: `u32 node -> vector` for dead nodes only (a live node's vector is the
//!   item's row of the vector table, so vectors are not stored twice).
//!
//! **In memory** (`index.rs`): the graph in contiguous fixed-stride arrays
//! ([`crate::index::hnsw`]), the node vectors row-major in node order (`vectors.rs`), item ids
//! and dead flags, all in copy-on-write chunks. Opening a collection loads them with three
//! ordered table scans (`load.rs`) and checks every cross-reference; nothing is rebuilt. A search
//! never touches redb: it walks the arrays and computes distances with the SIMD kernels.
//!
//! **Writes** (`update.rs`): a commit clones the published index, applies its upserts and
//! deletes, links the new nodes (in parallel for large batches), writes the changed node
//! records into its transaction, and publishes the clone after the commit. Readers keep the
//! version they started with. Dead nodes are compacted away once they are a quarter of the graph.
//!
//! **Filters** (`allow.rs`, `filter_cache.rs`): an id allow-list is turned into the set of
//! graph nodes it admits (a bitset, cached per index version for repeated filters); the
//! planner (`vector/plan.rs`) picks the walk or scan by the share admitted.

pub(crate) mod allow;
mod codes;
mod config;
pub(crate) mod filter_cache;
mod index;
mod load;
mod node;
mod space;
mod update;
mod vectors;

pub use config::{AnnConfig, MAX_EF};

/// Refuses an `ef` above [`MAX_EF`] with [`crate::Error::InvalidArgument`].
pub(crate) fn check_ef(ef: usize) -> crate::Result<()> {
    if ef > MAX_EF {
        return Err(crate::Error::InvalidArgument(format!(
            "ef is {ef}, above the largest accepted ({MAX_EF}, MAX_EF)"
        )));
    }
    Ok(())
}
pub(crate) use index::AnnIndex;
pub use index::IndexStats;
pub(crate) use load::{load, load_records, load_with};
pub(crate) use update::{IndexOp, NodeMapChange, apply, create};
