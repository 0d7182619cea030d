//! Allow-lists prepared for the index: membership of an item id ([`AllowList`]), then of a
//! graph node ([`NodeFilter`]), which is what a walk or a scan of the index tests.

use crate::index::hnsw::NodeTest;
use crate::vector::ann::AnnIndex;
use std::borrow::Cow;
use std::sync::Arc;

/// Largest id span, per allowed id, that an allow-list is turned into a bitset for: 512 bits (64
/// bytes, the list's own 8 bytes per id times 8), so the bitset never costs more than eight
/// times the list.
const BITS_PER_ID: u64 = 512;

/// An id allow-list prepared for membership tests. Lists of ids whose span (largest less
/// smallest) is at most [`BITS_PER_ID`] times their number (the usual case: ids are row
/// numbers or counters, or string ids, which count up from 2^63) become a bitset from the
/// smallest id, tested with one load; others are sorted and binary-searched (borrowed when the
/// caller's list is already sorted).
#[derive(Debug)]
pub(crate) enum AllowList<'a> {
    /// Bit `i` stands for id `base + i`.
    Bits {
        base: u64,
        words: Vec<u64>,
    },
    Sorted(Cow<'a, [u64]>),
}

impl<'a> AllowList<'a> {
    pub fn new(ids: &'a [u64]) -> AllowList<'a> {
        let min = ids.iter().copied().min().unwrap_or(0);
        let max = ids.iter().copied().max().unwrap_or(0);
        let span = max - min;
        let span_fits = span / BITS_PER_ID <= ids.len() as u64;
        if span_fits && let Ok(bits) = usize::try_from(span) {
            let mut words = vec![0u64; bits / 64 + 1];
            for &id in ids {
                // min <= id <= max, so (id - min) / 64 < words.len().
                let bit = id - min;
                words[(bit / 64) as usize] |= 1 << (bit % 64);
            }
            return AllowList::Bits { base: min, words };
        }
        let sorted = if ids.is_sorted() {
            Cow::Borrowed(ids)
        } else {
            let mut owned = ids.to_vec();
            owned.sort_unstable();
            owned.dedup();
            Cow::Owned(owned)
        };
        AllowList::Sorted(sorted)
    }

    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        match self {
            AllowList::Bits { base, words } => id
                .checked_sub(*base)
                .and_then(|bit| Some((usize::try_from(bit / 64).ok()?, bit % 64)))
                .and_then(|(word, bit)| words.get(word).map(|w| w & (1 << bit) != 0))
                .unwrap_or(false),
            AllowList::Sorted(sorted) => sorted.binary_search(&id).is_ok(),
        }
    }
}

/// The nodes a search of one index version may return: live, and allowed by an allow-list.
///
/// With an id bitset the accepted nodes become a node bitset in one pass over the node ids
/// (about a nanosecond per node), after which each test is one load from an array of one bit
/// per node, instead of the node's id, its dead flag and the id's bit (three scattered loads,
/// tens of thousands of times per filtered walk); the set bits are also the list of nodes an
/// exact scan of the allowed items reads. With a sorted list that pass would cost a binary
/// search per node, so those are tested per node as a walk meets them.
pub(crate) enum NodeFilter<'a> {
    Nodes {
        words: Arc<[u64]>,
    },
    Ids {
        index: &'a AnnIndex,
        allow: &'a AllowList<'a>,
    },
    /// Every live node but those of the denied ids (sorted): a deny-list, or a filter that
    /// admits most items, tested by a binary search of its few exceptions per node met.
    Deny {
        index: &'a AnnIndex,
        deny: &'a [u64],
    },
}

impl<'a> NodeFilter<'a> {
    pub fn new(index: &'a AnnIndex, allow: &'a AllowList<'a>) -> NodeFilter<'a> {
        let AllowList::Bits { base, words: ids } = allow else {
            return NodeFilter::Ids { index, allow };
        };
        let mut words = Vec::with_capacity(index.len().div_ceil(64));
        for (node_ids, dead) in index.id_chunks() {
            // Chunks hold a multiple of 64 nodes (all but the last, which may be short), so
            // each group of 64 here is one word of the node bitset.
            for (ids64, dead64) in node_ids.chunks(64).zip(dead.chunks(64)) {
                let mut word = 0u64;
                for (bit, (&id, &dead)) in ids64.iter().zip(dead64).enumerate() {
                    let allowed = id.checked_sub(*base).map_or(0, |bit| {
                        ids.get((bit / 64) as usize)
                            .map_or(0, |w| (w >> (bit % 64)) & 1)
                    });
                    word |= (allowed & u64::from(!dead)) << bit;
                }
                words.push(word);
            }
        }
        NodeFilter::Nodes {
            words: Arc::from(words),
        }
    }

    /// How many nodes it accepts: exact for a node bitset, the allow-list's length (an upper
    /// bound) for a list, the live nodes less the denied ids (a lower bound) for a deny-list.
    pub fn accepted(&self) -> usize {
        match self {
            NodeFilter::Nodes { words } => words.iter().map(|w| w.count_ones() as usize).sum(),
            NodeFilter::Ids { allow, .. } => match allow {
                AllowList::Bits { words, .. } => {
                    words.iter().map(|w| w.count_ones() as usize).sum()
                }
                AllowList::Sorted(sorted) => sorted.len(),
            },
            NodeFilter::Deny { index, deny } => index.live_count().saturating_sub(deny.len()),
        }
    }
}

/// Whether `node`'s bit is set in a node bitset (false past its end).
#[inline]
pub(crate) fn node_bit(words: &[u64], node: u32) -> bool {
    words
        .get(node as usize / 64)
        .is_some_and(|word| word & (1 << (node % 64)) != 0)
}

impl NodeTest for NodeFilter<'_> {
    /// Whether a search may return `node`: live and allowed.
    #[inline]
    fn accepts(&self, node: u32) -> bool {
        match self {
            NodeFilter::Nodes { words } => node_bit(words, node),
            NodeFilter::Ids { index, allow } => {
                allow.contains(index.id(node)) && !index.is_dead(node)
            }
            NodeFilter::Deny { index, deny } => {
                !index.is_dead(node) && deny.binary_search(&index.id(node)).is_err()
            }
        }
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        if let NodeFilter::Ids { index, .. } | NodeFilter::Deny { index, .. } = self {
            index.prefetch_id(node);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn allow_lists_answer_membership_as_bits_or_sorted() {
        let dense = [9u64, 1, 4, 4, 700];
        let list = AllowList::new(&dense);
        assert!(matches!(list, AllowList::Bits { .. }));
        for id in 0..2_000 {
            assert_eq!(list.contains(id), dense.contains(&id), "id {id}");
        }
        assert!(!list.contains(u64::MAX));
        // String ids count up from 2^63: a bitset from the smallest.
        let named = [(1u64 << 63) + 5, (1 << 63) + 2, u64::MAX];
        let list = AllowList::new(&named[..2]);
        assert!(matches!(list, AllowList::Bits { .. }));
        assert!(list.contains((1 << 63) + 5) && !list.contains((1 << 63) + 3));
        assert!(!list.contains(5) && !list.contains(u64::MAX));
        assert!(matches!(AllowList::new(&named), AllowList::Sorted(_)));
        // A span of more than 512 ids per listed id: sorted, borrowed when already in order.
        let sparse = [1u64, 4, 1 << 40];
        let list = AllowList::new(&sparse);
        assert!(matches!(list, AllowList::Sorted(Cow::Borrowed(_))));
        assert!(list.contains(4) && list.contains(1 << 40) && !list.contains(5));
        let unsorted = [u64::MAX, 9, 1, 4, 4];
        let list = AllowList::new(&unsorted);
        assert!(matches!(list, AllowList::Sorted(Cow::Owned(_))));
        assert!(list.contains(1) && list.contains(u64::MAX) && !list.contains(2));
        assert!(!AllowList::new(&[]).contains(0));
    }

    /// An index of `n` unlinked nodes, node `i` holding item `id_of(i)`, every seventh dead.
    pub(crate) fn index_with(n: usize, id_of: impl Fn(usize) -> u64) -> AnnIndex {
        use crate::vector::{AnnConfig, Element, Metric};
        let mut index = AnnIndex::new(AnnConfig::default(), 1, Metric::L2, Element::F32, 1);
        for i in 0..n {
            let node = index.push(id_of(i), &(i as f32).to_le_bytes());
            if i.is_multiple_of(7) {
                index.mark_dead(node);
            }
        }
        index
    }

    #[test]
    fn node_filters_accept_exactly_the_live_allowed_nodes() {
        // 3,000 nodes: two full chunks of ids and a short one, so words end mid-chunk.
        for id_of in [
            |i: usize| i as u64 * 3,
            |i: usize| ((i as u64) << 40) | 1,
            |i: usize| (1 << 63) + i as u64 * 2,
        ] {
            let index = index_with(3_000, id_of);
            let allowed: Vec<u64> = (0..3_000).filter(|i| i % 3 != 1).map(id_of).collect();
            let allow = AllowList::new(&allowed);
            let filter = NodeFilter::new(&index, &allow);
            let dense = id_of(1) - id_of(0) < 512;
            assert_eq!(matches!(filter, NodeFilter::Nodes { .. }), dense);
            let mut expected = 0;
            for node in 0..3_100u32 {
                let i = node as usize;
                let want = i < 3_000 && i % 3 != 1 && !i.is_multiple_of(7);
                expected += usize::from(want);
                assert_eq!(filter.accepts(node), want, "node {node}, dense ids {dense}");
            }
            if dense {
                assert_eq!(filter.accepted(), expected);
            } else {
                // Without a node bitset, the allow-list's length bounds the count.
                assert_eq!(filter.accepted(), allowed.len());
            }
            let denied: Vec<u64> = (0..3_000).filter(|i| i % 3 == 1).map(id_of).collect();
            let deny = NodeFilter::Deny {
                index: &index,
                deny: &denied,
            };
            for node in 0..3_000u32 {
                assert_eq!(deny.accepts(node), filter.accepts(node), "node {node}");
            }
        }
    }
}
