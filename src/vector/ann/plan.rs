//! The filter planner: how a search with an id allow-list uses the index.
//!
//! Three ways to answer, each best for some share `s` of the live items allowed:
//! - **Plain walk**: the unfiltered best-first walk, scoring every node it meets and returning
//!   only accepted ones. It visits about `1/s` times the nodes of an unfiltered search, so it
//!   is the fastest walk when most items are allowed.
//! - **Two-hop walk** ([`search_two_hop`]): scores only accepted nodes, reaching past a rejected
//!   neighbour to its own neighbours. Its cost stays near an unfiltered search's as `s` falls,
//!   until accepted nodes are too sparse to be found within two hops (recall drops below about
//!   5% allowed).
//! - **Exact scan** of the accepted nodes' vectors in the index: one distance per allowed item,
//!   recall 1, cheaper than either walk when few items are allowed.
//!
//! [`route`] picks by the share; the thresholds are measured (see each constant). A walk that
//! returns fewer than `k` results while at least `k` items are allowed is redone exactly, so a
//! filtered search returns `k` results whenever `k` match, on every route. Predicate filters
//! are not planned here: evaluating a predicate needs the item's record, a redb lookup per
//! node, so they scan the rows that pass.
//!
//! [`search_two_hop`]: crate::index::hnsw::search_two_hop

/// How a filtered search uses the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The unfiltered walk, returning only accepted nodes.
    Plain,
    /// The two-hop walk over accepted nodes.
    TwoHop,
    /// An exact scan of the accepted items.
    Scan,
}

/// Smallest allowed share for the plain walk. Measured on wordnet-minilm (117,659 rows, ef 64,
/// one thread, each route forced in turn, `cargo bench --bench ann -- --index hnsw --ef 64
/// --filter 50,20,10,5,2,1`): plain 0.57x / 0.29x the unfiltered queries/s at 50% / 20%
/// allowed (recall 0.987 / 0.995), two-hop 0.44-0.54x / 0.47x (recall 0.974 / 0.974); the plain
/// walk's cost grows as `1/s`, the two-hop walk's barely, and they are level near 40%.
pub(crate) const PLAIN_MIN_SHARE: f64 = 0.4;

/// Smallest allowed share for the two-hop walk; below it the accepted items are scanned.
/// Measured as above: two-hop 2,698 / 3,086 / 3,510 queries/s at 10 / 5 / 2% allowed with
/// recall 0.981 / 0.968 / 0.900, the scan 1,457 / 2,553 / 5,007 with recall 1. The walk is
/// faster down to about 5%, but its recall falls there; the scan takes over just above.
pub(crate) const TWO_HOP_MIN_SHARE: f64 = 0.06;

/// Fewest allowed items for a walk (a scan of fewer is cheaper than any walk).
pub(crate) const WALK_MIN_ROWS: usize = 2_000;

/// The route for a search allowing `allowed` of `live` items.
pub(crate) fn route(allowed: usize, live: usize) -> Route {
    let share = allowed as f64 / live.max(1) as f64;
    if allowed < WALK_MIN_ROWS || share < TWO_HOP_MIN_SHARE {
        Route::Scan
    } else if share < PLAIN_MIN_SHARE {
        Route::TwoHop
    } else {
        Route::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planner_walks_plainly_then_in_two_hops_then_scans() {
        assert_eq!(route(50_000, 100_000), Route::Plain);
        assert_eq!(route(40_000, 100_000), Route::Plain);
        assert_eq!(route(39_999, 100_000), Route::TwoHop);
        assert_eq!(route(6_000, 100_000), Route::TwoHop);
        assert_eq!(route(5_999, 100_000), Route::Scan);
        // Small collections: a scan of a few thousand items beats any walk.
        assert_eq!(route(1_000, 1_000), Route::Scan);
        assert_eq!(route(0, 0), Route::Scan);
    }
}
