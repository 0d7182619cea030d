//! The vector layer: embeddings stored in column families and searched by similarity.
//!
//! So far it holds the distance kernels ([`distance`]); collections, search and the global index
//! build on them.

pub mod distance;
