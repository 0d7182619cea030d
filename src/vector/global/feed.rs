//! What feeds the global index's applier: the wake-up after commits, and the bound on how far
//! the index may fall behind them.
//!
//! Writers of covered collections commit at their own pace; the applier copies their changes
//! into `_global_index` in rounds. A writer can outrun it (graph inserts cost more than
//! commits): unbounded, the lag grew to 1.57 million items in a minute, and `close`,
//! `sync_global_index` and the next `open` all had to apply that history first. So the lag is
//! bounded, in items and in age ([`GlobalLagBound`]): a writer about to commit to a covered
//! collection while the lag is past either bound waits for the applier (backpressure). The lag
//! in items stays within its bound plus what the writers already in flight commit; the age can
//! pass its bound while a slow round finishes (it is the softer of the two).
//!
//! The lag is counted cheaply: each commit adds its items to a counter, and each round, at its
//! end, sets the counter to what it measured (every covered collection's committed changes not
//! yet applied). The age is that of the oldest unapplied change, taken conservatively as the
//! start of the first round that ended with changes left over.

use crate::vector::shared::CollectionShared;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use web_time::Instant;

/// How far `_global_index` may fall behind the commits of the collections it covers before
/// their writers wait for it. Set with
/// [`StoreBuilder::global_lag_bound`](crate::vector::StoreBuilder::global_lag_bound).
///
/// ```
/// use quiver::vector::GlobalLagBound;
/// let bound = GlobalLagBound::default();
/// assert_eq!(bound.items, 10_000);
/// assert_eq!(bound.age, std::time::Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalLagBound {
    /// Changes committed but not yet in the index (default 10,000).
    pub items: u64,
    /// Age of the oldest such change (default 5 s).
    pub age: Duration,
}

impl Default for GlobalLagBound {
    fn default() -> Self {
        GlobalLagBound {
            items: 10_000,
            age: Duration::from_secs(5),
        }
    }
}

/// How far `_global_index` is behind right now ([`Store::global_lag`](crate::vector::Store::global_lag)).
///
/// ```
/// use quiver::vector::{Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::builder().global_index::<F32<2>>(Metric::L2).open(dir.path().join("a.qvr"))?;
/// assert_eq!(store.global_lag().items, 0);
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GlobalLag {
    /// Changes committed but not yet applied (counted at commit, measured at each round).
    pub items: u64,
    /// Age of the oldest of them (an upper bound), zero when nothing is pending. Past the
    /// bound's age writers wait, but the rounds under way still have to finish: on a busy disk
    /// (their fsyncs queue behind checkpoints) the age can stay above its bound for seconds, so
    /// the age bound is a soft one; the item bound is the hard one.
    pub age: Duration,
    /// How long the last applier round took.
    pub last_round: Duration,
}

/// Longest a waiting writer sleeps before looking at the lag again (the applier also wakes it at
/// the end of each round).
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The applier's wake-up and the lag bound, shared by the store, its collections and the
/// applier thread.
pub(crate) struct Feed {
    bound: GlobalLagBound,
    /// Set by commits; cleared by the applier when it starts a round.
    pending: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
    /// Whether an applier thread runs (without one, as on wasm32, nothing is waited for: the
    /// index is caught up inline before each use).
    applier: AtomicBool,
    /// The last round failed (its error is reported by the store): writers do not wait for an
    /// applier that cannot make progress.
    stalled: AtomicBool,
    /// Unapplied changes: added by commits, set by each round.
    lag_items: AtomicU64,
    /// When the oldest unapplied change was made, at the latest (`None`: nothing pending).
    lag_since: Mutex<Option<Instant>>,
    /// How long the last round took.
    last_round: Mutex<Duration>,
    /// Signalled at the end of each round, for waiting writers.
    round_done: Condvar,
    round_lock: Mutex<()>,
}

impl Feed {
    pub(crate) fn new(bound: GlobalLagBound) -> Feed {
        Feed {
            bound,
            pending: Mutex::new(false),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            applier: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            lag_items: AtomicU64::new(0),
            lag_since: Mutex::new(None),
            last_round: Mutex::new(Duration::ZERO),
            round_done: Condvar::new(),
            round_lock: Mutex::new(()),
        }
    }

    /// An applier thread now serves this feed: writers may wait for it.
    pub(crate) fn applier_started(&self) {
        self.applier.store(true, Ordering::Release);
    }

    /// Called by a writer before it commits `items` changes to a covered collection: waits
    /// while the lag is past its bound (and an applier runs to bring it down).
    pub(crate) fn admit(&self, items: u64) {
        loop {
            if !self.applier.load(Ordering::Acquire)
                || self.stop.load(Ordering::Acquire)
                || self.stalled.load(Ordering::Acquire)
            {
                break;
            }
            let lag = self.lag();
            if lag.items < self.bound.items && lag.age < self.bound.age {
                break;
            }
            self.notify();
            let mut guard = self.round_lock.lock();
            self.round_done.wait_for(&mut guard, WAIT_SLICE);
        }
        self.lag_items.fetch_add(items, Ordering::AcqRel);
        self.lag_since.lock().get_or_insert_with(Instant::now);
    }

    /// Wakes the applier after commits to covered collections.
    pub(crate) fn notify(&self) {
        *self.pending.lock() = true;
        self.wake.notify_one();
    }

    /// Waits for work; `false` once the store is closing.
    pub(crate) fn wait(&self) -> bool {
        let mut pending = self.pending.lock();
        while !*pending && !self.stop.load(Ordering::Acquire) {
            self.wake.wait_for(&mut pending, Duration::from_millis(500));
        }
        *pending = false;
        !self.stop.load(Ordering::Acquire)
    }

    /// Records the end of a round that started at `started` (and whether it `succeeded`): the
    /// lag is now what is left of `collections`' committed changes.
    pub(crate) fn round_finished(
        &self,
        started: Instant,
        succeeded: bool,
        collections: &[Arc<CollectionShared>],
    ) {
        self.stalled.store(!succeeded, Ordering::Release);
        *self.last_round.lock() = started.elapsed();
        let left: u64 = collections
            .iter()
            .filter(|c| c.config.indexed)
            .map(|c| {
                c.committed_seq
                    .load(Ordering::Acquire)
                    .saturating_sub(c.trim_upto.load(Ordering::Acquire))
            })
            .sum();
        self.lag_items.store(left, Ordering::Release);
        {
            let mut since = self.lag_since.lock();
            *since = match (left, *since) {
                (0, _) => None,
                // Everything older than this round's start was applied by it.
                (_, Some(oldest)) => Some(oldest.max(started)),
                (_, None) => Some(started),
            };
        }
        let _guard = self.round_lock.lock();
        self.round_done.notify_all();
    }

    /// The lag now.
    pub(crate) fn lag(&self) -> GlobalLag {
        let items = self.lag_items.load(Ordering::Acquire);
        let age = match *self.lag_since.lock() {
            Some(since) if items > 0 => since.elapsed(),
            _ => Duration::ZERO,
        };
        GlobalLag {
            items,
            age,
            last_round: *self.last_round.lock(),
        }
    }

    /// Stops the applier and releases waiting writers.
    pub(crate) fn shut_down(&self) {
        self.stop.store(true, Ordering::Release);
        {
            let _pending = self.pending.lock();
            self.wake.notify_all();
        }
        let _guard = self.round_lock.lock();
        self.round_done.notify_all();
    }
}
