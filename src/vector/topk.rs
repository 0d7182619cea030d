//! Bounded top-k selection and the search result type.
//!
//! Each scan task keeps its own [`TopK`] (a max-heap of the k best so far, so the worst is
//! evicted in O(log k)); tasks merge their heaps at the end. Ties in distance are broken by id,
//! so results are deterministic whatever the task split.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// One search result: which collection, which item, how far.
///
/// ```
/// use quiver::vector::Hit;
/// let hit = Hit { collection: "products".into(), id: 7, distance: 0.25 };
/// assert_eq!(&*hit.collection, "products");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The collection (entity type) the item belongs to.
    pub collection: Arc<str>,
    /// The item's id in that collection.
    pub id: u64,
    /// Distance to the query under the collection's metric (smaller is closer).
    pub distance: f32,
}

/// A candidate: distance, then a tie-breaking key (collection index and id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub distance: f32,
    pub source: u32,
    pub id: u64,
}

impl Candidate {
    fn key(&self) -> (f32, u32, u64) {
        (self.distance, self.source, self.id)
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.key(), other.key());
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    }
}

/// The k smallest candidates seen so far.
#[derive(Debug, Clone)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
    /// The worst held distance once k are held (infinite before): most candidates of a scan are
    /// rejected by one comparison with it.
    worst: f32,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
            worst: f32::INFINITY,
        }
    }

    /// The distance a candidate must not exceed to be considered (infinite until k are held).
    #[inline(always)]
    pub fn worst(&self) -> f32 {
        if self.k == 0 {
            f32::NEG_INFINITY
        } else {
            self.worst
        }
    }

    /// Offers a candidate. Most candidates of a long scan are rejected by the inlined first
    /// comparison; the rest take the out-of-line path.
    #[inline(always)]
    pub fn push(&mut self, candidate: Candidate) {
        // Equal distances go on to the full comparison, which breaks ties by id.
        if candidate.distance <= self.worst && self.k > 0 {
            self.insert(candidate);
        }
    }

    #[inline(never)]
    fn insert(&mut self, candidate: Candidate) {
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
        if self.heap.len() == self.k {
            self.worst = self.heap.peek().map_or(f32::INFINITY, |c| c.distance);
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for candidate in other.heap {
            self.push(candidate);
        }
        self
    }

    /// The held candidates, closest first.
    pub fn into_sorted(self) -> Vec<Candidate> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_smallest_in_order_with_ties_broken_by_id() {
        let mut top = TopK::new(3);
        for (i, d) in [5.0, 1.0, 3.0, 1.0, 9.0, 0.5, 3.0].into_iter().enumerate() {
            top.push(Candidate {
                distance: d,
                source: 0,
                id: i as u64,
            });
        }
        let ids: Vec<u64> = top.into_sorted().iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![5, 1, 3]);
        let mut a = TopK::new(2);
        let mut b = TopK::new(2);
        a.push(Candidate {
            distance: 2.0,
            source: 0,
            id: 1,
        });
        b.push(Candidate {
            distance: 1.0,
            source: 1,
            id: 1,
        });
        b.push(Candidate {
            distance: 3.0,
            source: 1,
            id: 2,
        });
        let merged: Vec<f32> = a
            .merge(b)
            .into_sorted()
            .iter()
            .map(|c| c.distance)
            .collect();
        assert_eq!(merged, vec![1.0, 2.0]);
        assert!(TopK::new(0).into_sorted().is_empty());
    }
}
