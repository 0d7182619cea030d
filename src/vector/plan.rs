//! The query planner: the one place that decides how a search is answered.
//!
//! Every search of a collection ([`Collection::query`](super::Collection::query) and the
//! conveniences over it) is planned here from what the collection has (an approximate index
//! or not, whether the index keeps records) and what the query asks (a filter's allowed items,
//! a predicate, `exact`). The routes:
//! - **Walk**: the index's best-first walk, unfiltered.
//! - **Filtered walk**: the unfiltered walk, scoring every node it meets and returning only
//!   accepted ones. It visits about `1/s` times the nodes of an unfiltered search for a share
//!   `s` of the live items allowed, so it is the fastest walk when most items are allowed.
//! - **Two-hop walk** ([`search_two_hop`]): scores only accepted nodes, reaching past a
//!   rejected neighbour to its own neighbours. Its cost stays near an unfiltered search's as
//!   `s` falls, until accepted nodes are too sparse to be found within two hops (recall drops
//!   below about 5% allowed).
//! - **Index scan**: an exact scan of the accepted nodes' vectors in the index (row-major):
//!   one distance per allowed item, recall 1, cheaper than either walk when few are allowed.
//! - **Exact scan**: the exact-scan mirror of every vector (or of the blocks holding allowed
//!   ones): a collection without an index, `exact()`, a predicate the index cannot test in
//!   memory (it reads every record), or an index scan whose allowed nodes are not listed.
//!
//! [`filtered_route`] picks among the filtered routes by the share allowed; the thresholds are
//! measured (see each constant). A walk that returns fewer than `k` results while at least `k`
//! items are allowed is redone by a scan, so a filtered search returns `k` results whenever `k`
//! match, on every route.
//!
//! [`search_two_hop`]: crate::index::hnsw::search_two_hop

/// How a search is answered, as [`QueryPlan`] reports it.
///
/// - [`Walk`](Route::Walk): the index's best-first walk, unfiltered.
/// - [`FilteredWalk`](Route::FilteredWalk): the same walk, scoring every node it meets and
///   returning only accepted ones; fastest when most items are allowed (40% or more).
/// - [`TwoHopWalk`](Route::TwoHopWalk): scores only accepted nodes, reaching past a rejected
///   neighbour to its neighbours; for a middle range (6% to 40%).
/// - [`IndexScan`](Route::IndexScan): one exact distance per allowed item, from the index's
///   row-major vectors; for few allowed items (under 6%, or under 2,000).
/// - [`ExactScan`](Route::ExactScan): the exact scan of every vector (or of the blocks holding
///   allowed ones): no index, `exact()`, a predicate the index cannot test in memory, or
///   allowed items the index cannot list.
///
/// ```
/// assert_eq!(quiver::vector::Route::TwoHopWalk.name(), "two-hop-walk");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The index's walk, unfiltered.
    Walk,
    /// The index's walk, returning only accepted nodes.
    FilteredWalk,
    /// The two-hop walk over accepted nodes.
    TwoHopWalk,
    /// An exact scan of the accepted nodes' vectors in the index.
    IndexScan,
    /// An exact scan of the collection's vectors (the exact-scan mirror).
    ExactScan,
}

impl Route {
    /// The route's name in benchmark output and messages.
    ///
    /// ```
    /// assert_eq!(quiver::vector::Route::ExactScan.name(), "exact-scan");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Route::Walk => "walk",
            Route::FilteredWalk => "filtered-walk",
            Route::TwoHopWalk => "two-hop-walk",
            Route::IndexScan => "index-scan",
            Route::ExactScan => "exact-scan",
        }
    }

    /// The walk kind a walking route uses, if it walks.
    pub(crate) fn walk(self) -> Option<Walk> {
        match self {
            Route::Walk | Route::FilteredWalk => Some(Walk::Plain),
            Route::TwoHopWalk => Some(Walk::TwoHop),
            Route::IndexScan | Route::ExactScan => None,
        }
    }
}

/// How a search would be answered: [`Collection::explain`](super::Collection::explain).
///
/// ```
/// use quiver::vector::{ids, CollectionConfig, Filter, Metric, Route, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let c = store.create_collection::<F32<1>, ()>("c", CollectionConfig::new(Metric::L2))?;
/// c.upsert(1, &[1.0], &())?;
/// let plan = c.explain(&Filter::expr(ids(&[1, 2])))?;
/// assert_eq!((plan.route, plan.allowed), (Route::ExactScan, Some(1)));
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryPlan {
    /// The route.
    pub route: Route,
    /// How many items the filter allows (`None`: no filter, or a predicate tested while
    /// scanning).
    pub allowed: Option<usize>,
    /// Live items in the collection (or in its index).
    pub live: usize,
}

/// The two kinds of graph walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Every node met is scored; only accepted ones are returned.
    Plain,
    /// Only accepted nodes are scored, reaching past rejected ones.
    TwoHop,
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

/// The route for a filtered search of an index allowing `allowed` of `live` items; `listed`:
/// whether the allowed nodes are listed as a node bitset (an index scan needs it; otherwise the
/// exact scan takes its place).
pub(crate) fn filtered_route(allowed: usize, live: usize, listed: bool) -> Route {
    let share = allowed as f64 / live.max(1) as f64;
    if allowed < WALK_MIN_ROWS || share < TWO_HOP_MIN_SHARE {
        match listed {
            true => Route::IndexScan,
            false => Route::ExactScan,
        }
    } else if share < PLAIN_MIN_SHARE {
        Route::TwoHopWalk
    } else {
        Route::FilteredWalk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planner_walks_plainly_then_in_two_hops_then_scans() {
        assert_eq!(filtered_route(50_000, 100_000, true), Route::FilteredWalk);
        assert_eq!(filtered_route(40_000, 100_000, true), Route::FilteredWalk);
        assert_eq!(filtered_route(39_999, 100_000, true), Route::TwoHopWalk);
        assert_eq!(filtered_route(6_000, 100_000, true), Route::TwoHopWalk);
        assert_eq!(filtered_route(5_999, 100_000, true), Route::IndexScan);
        assert_eq!(filtered_route(5_999, 100_000, false), Route::ExactScan);
        // Small collections: a scan of a few thousand items beats any walk.
        assert_eq!(filtered_route(1_000, 1_000, true), Route::IndexScan);
        assert_eq!(filtered_route(0, 0, true), Route::IndexScan);
    }
}
