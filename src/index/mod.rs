//! Approximate nearest-neighbour indexes, independent of storage: they see vectors only through
//! a distance function over node numbers, so the same graph code serves collections (whose
//! vectors live in the mirror), benchmarks and tests.
//!
//! - [`hnsw`]: a hierarchical navigable small-world graph with the neighbour-selection heuristic,
//!   incremental inserts and a parallel bulk build.

pub mod hnsw;
