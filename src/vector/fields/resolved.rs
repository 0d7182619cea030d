//! What a filter expression admits, and the answers of recent expressions.
//!
//! Applications repeat their filters (a tenant, a time window, the items in stock), and
//! answering one from the field indexes costs time that grows with the items it admits (a
//! range over half of 117,659 items: about a millisecond, next to a 0.3 ms graph walk). So the
//! last [`ENTRIES`] answers are kept, each with the generation of the field indexes it was
//! computed from; a commit that changes the indexes moves their generation on, and an answer is
//! used only for the generation it was computed at, so a hit is exactly what a fresh evaluation
//! would give.

use crate::vector::filter::Expr;
use parking_lot::Mutex;
use std::sync::Arc;

/// Answers kept per collection.
const ENTRIES: usize = 8;

/// What a filter expression admits: the allowed ids, or (when it admits most items) the denied
/// ones; both sorted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    Allow(Vec<u64>),
    Deny(Vec<u64>),
}

struct Entry {
    expr: Expr,
    generation: u64,
    resolution: Arc<Resolution>,
}

/// Recent answers, most recent first.
#[derive(Default)]
pub(crate) struct ResolutionCache {
    entries: Mutex<Vec<Entry>>,
}

impl ResolutionCache {
    /// The answer for `expr` at `generation`, if it is kept.
    pub fn get(&self, expr: &Expr, generation: u64) -> Option<Arc<Resolution>> {
        let mut entries = self.entries.lock();
        let at = entries
            .iter()
            .position(|e| e.generation == generation && e.expr == *expr)?;
        let entry = entries.remove(at);
        let resolution = entry.resolution.clone();
        entries.insert(0, entry);
        Some(resolution)
    }

    /// Keeps an answer, dropping the least recently used beyond [`ENTRIES`] and any of an older
    /// generation.
    pub fn insert(&self, expr: &Expr, generation: u64, resolution: Arc<Resolution>) {
        let mut entries = self.entries.lock();
        entries.retain(|e| e.generation == generation && e.expr != *expr);
        entries.insert(
            0,
            Entry {
                expr: expr.clone(),
                generation,
                resolution,
            },
        );
        entries.truncate(ENTRIES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::filter::field;

    #[test]
    fn answers_serve_only_their_expression_and_generation() {
        let cache = ResolutionCache::default();
        let a = field("a").eq(1);
        cache.insert(&a, 1, Arc::new(Resolution::Allow(vec![1])));
        assert!(cache.get(&a, 1).is_some());
        assert!(cache.get(&a, 2).is_none());
        assert!(cache.get(&field("a").eq(2), 1).is_none());
        // A newer generation drops the older answers.
        cache.insert(&field("b").eq(1), 2, Arc::new(Resolution::Deny(vec![])));
        assert!(cache.get(&a, 1).is_none());
        for i in 0..20 {
            cache.insert(&field("c").eq(i), 2, Arc::new(Resolution::Allow(vec![])));
        }
        assert_eq!(cache.entries.lock().len(), ENTRIES);
    }
}
