//! Approximate nearest-neighbour indexes, independent of storage: they see vectors only through
//! a distance function over node numbers, so the same graph code serves collections (whose
//! vectors the collection's index keeps in node order), benchmarks and tests.
//!
//! - [`hnsw`]: a hierarchical navigable small-world graph with the neighbour-selection heuristic,
//!   incremental inserts and a parallel bulk build.
//! - `chunked`: the copy-on-write chunked arrays the graph lives in, so that a writer can change
//!   a copy of an index while readers search the published one.

pub(crate) mod chunked;
pub mod hnsw;
pub(crate) mod prefetch;
