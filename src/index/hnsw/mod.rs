//! A hierarchical navigable small-world graph (Malkov and Yashunin, 2016).
//!
//! Nodes are dense numbers `0..n` (a collection's mirror slots); each node has a level drawn from
//! a geometric distribution, and on every level up to its own it keeps a bounded list of
//! neighbours (`2M` on level 0, `M` above). A search descends greedily from the entry point (the
//! highest node) through the upper levels and then runs a best-first search with a candidate list
//! of `ef` on level 0.
//!
//! Layout ([`Graph`]): level 0, where nearly all the work happens, is one contiguous `u32` array
//! with a fixed stride per node (a count, then `2M` neighbour slots), so reading a node's
//! neighbours is one cache-friendly slice and never a map or tree lookup; the few nodes above
//! level 0 (about one in `M`) keep their upper lists in a small per-node vector. Visited marks are
//! a generation-stamped array reused across searches ([`Visited`]).
//!
//! Construction ([`insert`], [`build`]): a new node searches with `ef_construction` on every level
//! from its own down, keeps up to `M` (`2M` on level 0) neighbours chosen with the paper's
//! heuristic (a candidate is kept only if it is nearer to the new node than to every neighbour
//! already kept, which preserves links across clusters), and adds itself to their lists,
//! re-pruning a list with the same heuristic when it overflows. The bulk build inserts in rounds:
//! the nodes of a round search the graph as it stood before the round in parallel (rayon), then
//! their links are applied in node order, so the result does not depend on thread timing. Round
//! sizes grow with the graph (at most a sixteenth of it), so that a node rarely misses a neighbour
//! inserted in its own round.
//!
//! Distances come from a [`Space`]: any function of two node numbers (smaller is nearer), and a
//! query is any function of one node number.

mod build;
mod graph;
mod insert;
mod params;
mod search;
mod space;
mod visited;

pub use build::{build, extend};
pub use graph::Graph;
pub use insert::insert;
pub use params::HnswParams;
pub use search::{Neighbour, NodeTest, Scorer, search, search_allowed, search_two_hop};
pub use space::{DenseSpace, Space};
pub use visited::Visited;
